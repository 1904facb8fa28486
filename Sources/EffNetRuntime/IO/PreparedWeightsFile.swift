import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A model's inference weights as the generated code reads them (BatchNorm folded, re-laid out, at the
/// planned offsets), saved so that loading is a memory mapping instead of a conversion
/// (`effnet prepare-weights`).
///
/// Why: a mapped file's pages are clean and backed by the file, so the system can drop and re-read them
/// instead of keeping them in the process's own memory. With `releaseAfterUse` the model goes further
/// and hands each block's weights back to the page cache once the forward pass is past it, so its
/// resident set holds one block's weights at a time rather than all of them (B7: 259 MB of weights).
/// The weights then come from the page cache on every run, at the cost of the page faults that maps
/// them in again; if the system evicts the file under memory pressure they come from disk.
///
/// Layout (little-endian): a 4096-byte header, then `floats` float32 values.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `EFFNETPW` |
/// | 8 | 4 | format version (1) |
/// | 12 | 4 | header size in bytes (4096: the data start on a page boundary) |
/// | 16 | 8 | number of floats |
/// | 24 | 8 | layout fingerprint (`PreparedWeightsFile.fingerprint(of:)`) |
/// | 32 | 4 | length of the model name in bytes (at most 256) |
/// | 36 | n | the model name, UTF-8 |
///
/// The fingerprint covers the descriptor's preparation steps (names, shapes, layouts, offsets), so a
/// file written for another variant, or by a generator that laid the weights out differently, is
/// refused at load time instead of producing wrong logits.
///
/// A mapping reads the file as it is now, so the file must not be truncated or rewritten in place
/// while a model uses it (reads past a shortened end fault). `write` never does: it writes a new file
/// and renames it over the old one (``AtomicFile``), and models keep the version they mapped.
public final class PreparedWeightsFile: WeightStore, Sendable {
    public static let magic = Array("EFFNETPW".utf8)
    public static let version: UInt32 = 1
    public static let headerBytes = 4096
    static let maximumNameBytes = 256

    /// The file this was opened from, and its name as error messages give it.
    public let url: URL
    public let fileName: String
    /// The model the weights were prepared for, as recorded in the header.
    public let modelName: String
    public let floats: Int
    public let fingerprint: UInt64
    /// Whether models loaded from this file give each block's weight pages back after using them.
    public let releaseAfterUse: Bool
    /// With `releaseAfterUse`: the first this many bytes of the weights (in the order the forward pass
    /// reads them) stay resident. Every released byte is mapped in again on each run, so this trades
    /// resident memory for those page faults.
    public let keepResidentBytes: Int

    /// Opens and checks the header of the prepared weights at `url` (the data are mapped when a model
    /// loads them). Throws a ``PreparedWeightsFileError`` or ``TensorFileError`` naming the file.
    public init(contentsOf url: URL, releaseAfterUse: Bool = false, keepResidentBytes: Int = 0) throws {
        precondition(keepResidentBytes >= 0, "keepResidentBytes must not be negative")
        self.url = url
        fileName = AtomicFile.displayName(of: url)
        self.releaseAfterUse = releaseAfterUse
        self.keepResidentBytes = keepResidentBytes
        let header = try Self.readHeader(of: url, file: fileName)
        guard Array(header.prefix(Self.magic.count)) == Self.magic else {
            throw PreparedWeightsFileError.notPreparedWeights(file: fileName)
        }
        guard header.count == Self.headerBytes else {
            throw PreparedWeightsFileError.truncated(file: fileName, expectedBytes: Self.headerBytes,
                                                     actualBytes: header.count)
        }
        let version = header.loadLittleEndian(UInt32.self, at: 8)
        let headerSize = Int(header.loadLittleEndian(UInt32.self, at: 12))
        guard version == Self.version, headerSize == Self.headerBytes else {
            throw PreparedWeightsFileError.unsupportedVersion(file: fileName, version: Int(version))
        }
        let count = header.loadLittleEndian(UInt64.self, at: 16)
        fingerprint = header.loadLittleEndian(UInt64.self, at: 24)
        let nameLength = Int(header.loadLittleEndian(UInt32.self, at: 32))
        guard count <= UInt64(Int.max / 8), nameLength <= Self.maximumNameBytes,
              let name = String(bytes: header[(header.startIndex + 36)..<(header.startIndex + 36 + nameLength)],
                                encoding: .utf8) else {
            throw PreparedWeightsFileError.corruptHeader(file: fileName)
        }
        floats = Int(count)
        modelName = name
        let expected = Self.headerBytes + floats * MemoryLayout<Float>.size
        let actual = try Self.fileSize(of: url, file: fileName)
        guard actual == expected else {
            throw PreparedWeightsFileError.truncated(file: fileName, expectedBytes: expected, actualBytes: actual)
        }
    }

    /// Sniffs whether `url` starts with the prepared-weights magic (false for unreadable files).
    public static func isPreparedWeights(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: magic.count)).map { Array($0) == magic } ?? false
    }

    /// A prepared weights file holds no parameters by name: training and gradient tools need the
    /// `.safetensors` it was made from.
    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        throw PreparedWeightsFileError.notParameters(file: fileName, model: modelName)
    }

    /// Writes `weights`, prepared for `descriptor`, to `url` atomically.
    public static func write(_ weights: PreparedWeights, descriptor: ModelDescriptor, to url: URL) throws {
        precondition(weights.count == descriptor.preparedFloats, "weights were prepared for another model")
        var header = [UInt8](repeating: 0, count: headerBytes)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes in
                for (i, byte) in bytes.enumerated() { header[offset + i] = byte }
            }
        }
        header.replaceSubrange(0..<8, with: magic)
        put(version, at: 8)
        put(UInt32(headerBytes), at: 12)
        put(UInt64(weights.count), at: 16)
        put(fingerprint(of: descriptor), at: 24)
        let name = Array(descriptor.name.utf8)
        precondition(name.count <= maximumNameBytes, "model name longer than \(maximumNameBytes) bytes")
        put(UInt32(name.count), at: 32)
        header.replaceSubrange(36..<(36 + name.count), with: name)
        #if _endian(big)
        #error("prepared weights files are little-endian; add a byte swap for big-endian hosts")
        #endif
        try AtomicFile.write(to: url) { writer in
            try writer.write(header)
            try writer.write(UnsafeRawBufferPointer(start: weights.pointer,
                                                    count: weights.count * MemoryLayout<Float>.size))
        }
    }

    /// FNV-1a over a canonical text of the model's name, size and preparation steps. Stable across
    /// builds: it hashes our own encoding, not Swift's `Hashable` (which is seeded per process).
    public static func fingerprint(of descriptor: ModelDescriptor) -> UInt64 {
        var text = "\(descriptor.name)|\(descriptor.preparedFloats)"
        for step in descriptor.preparation {
            switch step {
            case let .foldConvolution(weight, shape, batchNorm, eps, layout, weightOffset, biasOffset):
                let layoutName = layout == .depthwise ? "depthwise" : "inputMajor"
                text += "|fold:\(weight):\(shape):\(batchNorm):\(eps.bitPattern):\(layoutName):\(weightOffset):\(biasOffset)"
            case let .copy(name, shape, offset):
                text += "|copy:\(name):\(shape):\(offset)"
            }
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// Maps the data read-only, after checking that they were prepared for `descriptor`.
    func map(for descriptor: ModelDescriptor) throws -> WeightFileMapping {
        guard modelName == descriptor.name else {
            throw PreparedWeightsFileError.wrongModel(file: fileName, found: modelName, expected: descriptor.name)
        }
        guard floats == descriptor.preparedFloats, fingerprint == Self.fingerprint(of: descriptor) else {
            throw PreparedWeightsFileError.staleLayout(file: fileName, model: descriptor.name)
        }
        return try WeightFileMapping(url: url, file: fileName, bytes: Self.headerBytes + floats * MemoryLayout<Float>.size,
                                     dataOffset: Self.headerBytes)
    }

    private static func readHeader(of url: URL, file: String) throws -> Data {
        try requireTensorFile(url, file: file)
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            return try handle.read(upToCount: headerBytes) ?? Data()
        } catch {
            throw TensorFileError.unreadable(file: file, reason: error.localizedDescription)
        }
    }

    private static func fileSize(of url: URL, file: String) throws -> Int {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            return (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw TensorFileError.unreadable(file: file, reason: error.localizedDescription)
        }
    }
}

/// A read-only shared mapping of a whole file, unmapped when released.
final class WeightFileMapping: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let bytes: Int
    let dataOffset: Int
    static let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))

    init(url: URL, file: String, bytes: Int, dataOffset: Int) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TensorFileError.unreadable(file: file, reason: errnoText()) }
        defer { close(fd) }
        // The size was checked when the header was read; check again against the open file, which
        // could have been replaced in between (a mapping past the end faults on first touch).
        var status = stat()
        guard fstat(fd, &status) == 0, Int(status.st_size) == bytes else {
            throw PreparedWeightsFileError.truncated(file: file, expectedBytes: bytes, actualBytes: Int(status.st_size))
        }
        guard let mapped = mmap(nil, bytes, PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw TensorFileError.unreadable(file: file, reason: "mmap failed: \(errnoText())")
        }
        base = mapped
        self.bytes = bytes
        self.dataOffset = dataOffset
    }

    deinit { munmap(base, bytes) }

    var floats: UnsafePointer<Float> {
        UnsafePointer((base + dataOffset).assumingMemoryBound(to: Float.self))
    }

    /// Drops the mapping's pages for floats `range` of the data from this process's page tables; the
    /// file's pages stay in the page cache and fault back in on the next read. Whole pages only: a
    /// page that also holds floats outside the range is kept, except at the ends of the data. The
    /// first range takes the header's page with it: the kernel maps neighbouring cached pages in on a
    /// fault ("fault-around"), so the header is resident although nothing reads it through the mapping.
    func release(_ range: Range<Int>) {
        let totalFloats = (bytes - dataOffset) / MemoryLayout<Float>.size
        let page = Self.pageBytes
        let start = range.lowerBound == 0 ? 0 : (dataOffset + range.lowerBound * MemoryLayout<Float>.size) / page * page
        let endByte = dataOffset + range.upperBound * MemoryLayout<Float>.size
        let end = range.upperBound >= totalFloats ? bytes : endByte / page * page
        guard end > start else { return }
        _ = madvise(base + start, end - start, Int32(MADV_DONTNEED))
    }
}

/// Why a prepared weights file (``PreparedWeightsFile``) cannot be used; each names the file.
public enum PreparedWeightsFileError: Error, CustomStringConvertible, Equatable, Sendable {
    case notPreparedWeights(file: String)
    case unsupportedVersion(file: String, version: Int)
    case corruptHeader(file: String)
    case truncated(file: String, expectedBytes: Int, actualBytes: Int)
    case wrongModel(file: String, found: String, expected: String)
    case staleLayout(file: String, model: String)
    case notParameters(file: String, model: String)

    public var description: String {
        switch self {
        case let .notPreparedWeights(file):
            return "\(file): not a prepared weights file (it does not start with \"EFFNETPW\")"
        case let .unsupportedVersion(file, version):
            return "\(file): prepared weights format version \(version) is not supported (this build reads version"
                + " \(PreparedWeightsFile.version)); prepare the weights again with `effnet prepare-weights`"
        case let .corruptHeader(file):
            return "\(file): the prepared weights header is corrupt (bad float count or model name)"
        case let .truncated(file, expected, actual):
            return "\(file): the prepared weights file should be \(expected) bytes but is \(actual)"
                + " (truncated or damaged); prepare it again with `effnet prepare-weights`"
        case let .wrongModel(file, found, expected):
            return "\(file): these weights were prepared for \(found), not \(expected)"
        case let .staleLayout(file, model):
            return "\(file): these \(model) weights were prepared for a different weight layout (an older or"
                + " newer generator, or an edited spec); prepare them again with `effnet prepare-weights`"
        case let .notParameters(file, model):
            return "\(file): prepared \(model) weights hold BatchNorm-folded inference weights, not named"
                + " parameters; training and gradients need the .safetensors file they were prepared from"
        }
    }
}
