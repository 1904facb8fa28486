import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers only ever see the old contents or the complete new contents.
///
/// The bytes go to a temporary file in the destination's directory (`.<name>.tmp-<uuid>`), which is
/// flushed to disk and then renamed over the destination. If anything fails — including an error
/// thrown by the caller's `body` — the temporary file is removed and the destination is untouched.
public enum AtomicFile {
    /// Creates or replaces the file at `url` with what `body` writes through the given writer.
    public static func write(to url: URL, _ body: (AtomicFileWriter) throws -> Void) throws {
        let file = displayName(of: url)
        let destination = url.path
        let directory = url.deletingLastPathComponent().path
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)").path

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw TensorFileError.writeFailed(
                file: file, reason: "cannot create a temporary file in \(directory): \(errnoText())")
        }
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        let writer = AtomicFileWriter(descriptor: fd, file: file)
        do {
            try body(writer)
            try writer.flush()
            if fsync(fd) != 0 {
                throw TensorFileError.writeFailed(file: file, reason: "fsync failed: \(errnoText())")
            }
        } catch {
            close(fd)
            throw error
        }
        if close(fd) != 0 {
            throw TensorFileError.writeFailed(file: file, reason: "close failed: \(errnoText())")
        }
        if rename(temporary, destination) != 0 {
            throw TensorFileError.writeFailed(file: file, reason: "rename into place failed: \(errnoText())")
        }
        renamed = true
        // Make the rename itself durable; failure here does not undo a completed write.
        let directoryFD = open(directory, O_RDONLY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Removes temporary files that a killed writer of `url` left behind (`.<name>.tmp-*` beside it)
    /// and returns how many. Only call it when no other process is writing `url`: it cannot tell a
    /// stale temporary file from one being written right now.
    @discardableResult
    public static func removeStaleTemporaries(of url: URL) -> Int {
        let directory = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return 0 }
        var removed = 0
        for name in names where name.hasPrefix(prefix) {
            if (try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))) != nil { removed += 1 }
        }
        return removed
    }

    /// How files are named in error messages: the path as the user gave it.
    static func displayName(of url: URL) -> String {
        url.isFileURL ? url.relativePath : url.absoluteString
    }
}

/// Sink handed to the body of ``AtomicFile/write(to:_:)``; buffers writes to the temporary file.
public final class AtomicFileWriter {
    private let descriptor: Int32
    private let file: String
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20

    fileprivate init(descriptor: Int32, file: String) {
        self.descriptor = descriptor
        self.file = file
        buffer.reserveCapacity(bufferLimit)
    }

    /// Appends raw bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count <= bufferLimit {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count <= bufferLimit {
            buffer.append(contentsOf: bytes)
        } else {
            try writeAll(bytes)
        }
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends float32 values in little-endian byte order.
    public func writeLittleEndian(_ values: [Float]) throws {
        #if _endian(little)
        try values.withUnsafeBytes { try write($0) }
        #else
        try values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try write($0) }
        #endif
    }

    /// Appends int64 values in little-endian byte order.
    public func writeLittleEndian(_ values: [Int64]) throws {
        #if _endian(little)
        try values.withUnsafeBytes { try write($0) }
        #else
        try values.map { $0.littleEndian }.withUnsafeBytes { try write($0) }
        #endif
    }

    /// Writes any buffered bytes to the temporary file.
    func flush() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let n = systemWrite(descriptor, pointer, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                throw TensorFileError.writeFailed(file: file, reason: errnoText())
            }
            pointer += n
            remaining -= n
        }
    }
}

/// `write(2)`, named apart from the writer's own `write` methods.
@inline(__always)
private func systemWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, pointer, count)
    #elseif canImport(Musl)
    return Musl.write(fd, pointer, count)
    #else
    return Darwin.write(fd, pointer, count)
    #endif
}

/// The current `errno` as text, e.g. "No such file or directory (errno 2)".
func errnoText() -> String {
    let code = errno
    return "\(String(cString: strerror(code))) (errno \(code))"
}
