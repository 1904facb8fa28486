import Foundation

/// Reads a whole tensor file, memory-mapping it when the system considers that safe, and turns
/// Foundation's errors into ``TensorFileError``s that name the file.
func readTensorFileBytes(_ url: URL) throws -> Data {
    let file = AtomicFile.displayName(of: url)
    try requireTensorFile(url, file: file)
    do {
        return try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
        throw TensorFileError.unreadable(file: file, reason: "\(error.localizedDescription)")
    }
}

/// Throws the ``TensorFileError`` a reader reports when `url` does not exist or is a directory.
func requireTensorFile(_ url: URL, file: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw TensorFileError.fileNotFound(file: file)
    }
    if isDirectory.boolValue {
        throw TensorFileError.unreadable(file: file, reason: "it is a directory")
    }
}

extension Data {
    /// Reads a little-endian integer at `offset` (relative to `startIndex`); the caller checks bounds.
    func loadLittleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        withUnsafeBytes { raw in
            T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
    }
}
