import Foundation

/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Layout: magic `\x93NUMPY`, major and minor version bytes, header length (u16 little-endian for
/// v1, u32 for v2/v3), a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
/// padded with spaces and ending in a newline, then the array data. Only C-order arrays are read.
public enum NPY {
    /// Float types ``readFloat32(_:)`` accepts (big-endian `>` variants are accepted too).
    public static let float32Readable = ["<f4", "<f8", "<f2"]
    /// Integer types ``readInt64(_:)`` accepts (big-endian `>` variants are accepted too).
    public static let int64Readable = ["<i8", "<i4", "<i2", "|i1", "|u1", "<u2", "<u4", "|b1"]

    /// Reads a float array: `<f4` as is, `<f8` rounded to float32, `<f2` widened.
    public static func readFloat32(_ url: URL) throws -> HostTensor {
        let array = try NPYArray(contentsOf: url)
        guard let values = array.decodeFloats() else {
            throw TensorFileError.unsupportedNPYDType(file: array.file, descr: array.descr, supported: float32Readable)
        }
        return HostTensor(shape: array.shape, values: values)
    }

    /// Reads an integer array (`<i8`, `<i4`, or a narrower integer type) widened to Int64.
    public static func readInt64(_ url: URL) throws -> (shape: [Int], values: [Int64]) {
        let array = try NPYArray(contentsOf: url)
        guard let values = array.decodeIntegers() else {
            throw TensorFileError.unsupportedNPYDType(file: array.file, descr: array.descr, supported: int64Readable)
        }
        return (array.shape, values)
    }

    /// Writes `tensor` as a C-order `<f4` array, atomically.
    public static func write(_ tensor: HostTensor, to url: URL) throws {
        try checkCount(tensor.values.count, shape: tensor.shape, url: url)
        try writeArray(descr: "<f4", shape: tensor.shape, to: url) { try $0.writeLittleEndian(tensor.values) }
    }

    /// Writes `values` as a C-order `<i8` array of the given shape, atomically.
    public static func write(int64 values: [Int64], shape: [Int], to url: URL) throws {
        try checkCount(values.count, shape: shape, url: url)
        try writeArray(descr: "<i8", shape: shape, to: url) { try $0.writeLittleEndian(values) }
    }

    private static func checkCount(_ count: Int, shape: [Int], url: URL) throws {
        guard shape.allSatisfy({ $0 >= 0 }), count == HostTensor.elementCount(of: shape) else {
            throw TensorFileError.invalidTensor(
                file: AtomicFile.displayName(of: url), name: url.lastPathComponent,
                reason: "shape \(shape) does not match its \(count) values")
        }
    }

    /// Everything before the data, as NumPy writes it: magic, version, header length and the
    /// header dict, padded with spaces and a newline so the data starts on a 64-byte boundary.
    /// Version 1.0 unless the header needs more than 65535 bytes, then 2.0.
    static func preamble(descr: String, shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        let version1 = dict.count + 64 <= 65535
        let prefixLength = version1 ? 10 : 12
        let padding = (64 - (prefixLength + dict.count + 1) % 64) % 64
        dict += [UInt8](repeating: 0x20, count: padding) + [0x0A]
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8)
        if version1 {
            bytes += [1, 0, UInt8(dict.count & 0xFF), UInt8(dict.count >> 8)]
        } else {
            bytes += [2, 0] + withUnsafeBytes(of: UInt32(dict.count).littleEndian) { Array($0) }
        }
        return bytes + dict
    }

    private static func writeArray(
        descr: String, shape: [Int], to url: URL, body: (AtomicFileWriter) throws -> Void
    ) throws {
        let preamble = preamble(descr: descr, shape: shape)
        try AtomicFile.write(to: url) { writer in
            try writer.write(preamble)
            try body(writer)
        }
    }
}

/// A parsed `.npy` file: validated header plus a view of the data bytes.
struct NPYArray {
    let file: String
    let descr: String
    let shape: [Int]
    /// Element type and byte order, or nil for a dtype this reader does not know.
    let element: (type: ElementType, bigEndian: Bool)?
    private let bytes: Data
    private let dataStart: Int

    init(contentsOf url: URL) throws {
        let file = AtomicFile.displayName(of: url)
        let bytes = try readTensorFileBytes(url)
        self.file = file
        self.bytes = bytes
        let size = bytes.count
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard size >= 10 else {
            if size > 0 && !magic.starts(with: bytes.prefix(6)) {
                throw TensorFileError.corruptNPY(file: file, reason: "it does not start with the \\x93NUMPY magic")
            }
            throw TensorFileError.truncated(
                file: file, expectedBytes: 10, actualBytes: size, detail: "a .npy file starts with a 10-byte preamble")
        }
        guard bytes.prefix(6).elementsEqual(magic) else {
            throw TensorFileError.corruptNPY(file: file, reason: "it does not start with the \\x93NUMPY magic")
        }
        let major = bytes[bytes.startIndex + 6]
        let minor = bytes[bytes.startIndex + 7]
        let headerStart: Int
        let headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes.loadLittleEndian(UInt16.self, at: 8))
        case 2, 3:
            guard size >= 12 else {
                throw TensorFileError.truncated(
                    file: file, expectedBytes: 12, actualBytes: size,
                    detail: "a version \(major).\(minor) .npy file starts with a 12-byte preamble")
            }
            headerStart = 12
            headerLength = Int(bytes.loadLittleEndian(UInt32.self, at: 8))
        default:
            throw TensorFileError.corruptNPY(file: file, reason: "unsupported format version \(major).\(minor)")
        }
        guard headerStart + headerLength <= size else {
            throw TensorFileError.truncated(
                file: file, expectedBytes: headerStart + headerLength, actualBytes: size,
                detail: "the preamble announces a \(headerLength)-byte header")
        }
        let headerBytes = bytes[(bytes.startIndex + headerStart)..<(bytes.startIndex + headerStart + headerLength)]
        let headerText = String(decoding: headerBytes, as: UTF8.self)
        guard case .dictionary(let dict)? = PythonLiteral.parse(headerText) else {
            throw TensorFileError.corruptNPY(file: file, reason: "the header is not a Python dict literal: \(headerText)")
        }
        guard let descrValue = dict["descr"] else {
            throw TensorFileError.corruptNPY(file: file, reason: "the header has no 'descr'")
        }
        guard case .boolean(let fortranOrder)? = dict["fortran_order"] else {
            throw TensorFileError.corruptNPY(file: file, reason: "the header has no boolean 'fortran_order'")
        }
        guard case .tuple(let dims)? = dict["shape"] else {
            throw TensorFileError.corruptNPY(file: file, reason: "the header has no 'shape' tuple")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .integer(let n) = dim, n >= 0 else {
                throw TensorFileError.corruptNPY(file: file, reason: "'shape' must hold non-negative integers")
            }
            shape.append(n)
        }
        self.shape = shape
        if case .string(let text) = descrValue {
            self.descr = text
            self.element = NPYArray.elementType(text)
        } else {
            self.descr = "structured dtype"
            self.element = nil
        }
        if fortranOrder && shape.count > 1 {
            throw TensorFileError.fortranOrderNPY(file: file, shape: shape)
        }
        self.dataStart = headerStart + headerLength
        if let element {
            var needed = element.type.byteSize
            for dimension in shape {
                let (product, overflow) = needed.multipliedReportingOverflow(by: dimension)
                guard !overflow else {
                    throw TensorFileError.corruptNPY(file: file, reason: "shape \(shape) is too large")
                }
                needed = product
            }
            guard dataStart + needed <= size else {
                throw TensorFileError.truncated(
                    file: file, expectedBytes: dataStart + needed, actualBytes: size,
                    detail: "an array of shape \(shape) and dtype '\(descr)' needs \(needed) data bytes")
            }
        }
    }

    /// Values as Float, or nil if the dtype is not a float type.
    func decodeFloats() -> [Float]? {
        guard let element, [.float32, .float64, .float16].contains(element.type) else { return nil }
        return decode { element.type.decodeFloats($0, count: $1, bigEndian: element.bigEndian) }
    }

    /// Values as Int64, or nil if the dtype is not an integer type.
    func decodeIntegers() -> [Int64]? {
        guard let element else { return nil }
        return decode { element.type.decodeIntegers($0, count: $1, bigEndian: element.bigEndian) }
    }

    private func decode<T>(_ body: (UnsafeRawBufferPointer, Int) -> [T]?) -> [T]? {
        let count = HostTensor.elementCount(of: shape)
        return bytes.withUnsafeBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[dataStart...]), count)
        }
    }

    /// Maps a NumPy type string ('<f4', '>i8', '|u1', ...) to an element type and byte order.
    static func elementType(_ descr: String) -> (type: ElementType, bigEndian: Bool)? {
        let characters = Array(descr)
        guard characters.count >= 3, "<>|=".contains(characters[0]) else { return nil }
        let bigEndian = characters[0] == ">"
        let code = String(characters[1...])
        let table: [String: ElementType] = [
            "f2": .float16, "f4": .float32, "f8": .float64,
            "i1": .int8, "i2": .int16, "i4": .int32, "i8": .int64,
            "u1": .uint8, "u2": .uint16, "u4": .uint32, "u8": .uint64, "b1": .bool,
        ]
        guard let type = table[code] else { return nil }
        return (type, bigEndian)
    }
}
