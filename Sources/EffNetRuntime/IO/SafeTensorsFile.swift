import Foundation

/// A safetensors file opened for reading (<https://github.com/huggingface/safetensors>).
///
/// Layout: an 8-byte little-endian header length `N`, `N` bytes of JSON
/// (`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}`),
/// then the data buffer; offsets are relative to the start of the buffer.
///
/// The whole header is validated when the file is opened — header length, JSON, every entry's dtype,
/// shape and offsets (in range, non-overlapping, exactly `product(shape) * dtype size` bytes) — so a
/// file that opens can only fail later on a missing name, a shape the caller did not expect, or a
/// dtype the caller cannot use. The file is memory-mapped when possible; tensors are decoded on demand.
public final class SafeTensorsFile: WeightStore, Sendable {
    /// One tensor's header entry.
    struct Entry: Sendable {
        let dtype: ElementType
        let shape: [Int]
        /// Byte range within the data buffer.
        let begin: Int
        let end: Int
    }

    /// The file this was read from.
    public let url: URL
    /// The file as named in error messages.
    public let fileName: String
    /// The `__metadata__` string map (empty if the file has none).
    public let metadata: [String: String]

    private let bytes: Data
    private let dataStart: Int
    private let entries: [String: Entry]

    /// Opens and validates the file at `url`; throws a ``TensorFileError`` naming the file and the problem.
    public init(contentsOf url: URL) throws {
        let file = AtomicFile.displayName(of: url)
        let bytes = try readTensorFileBytes(url)
        let size = bytes.count
        guard size >= 8 else {
            throw TensorFileError.truncated(
                file: file, expectedBytes: 8, actualBytes: size,
                detail: "a safetensors file starts with an 8-byte header length")
        }
        let announced = bytes.loadLittleEndian(UInt64.self, at: 0)
        guard announced <= 100_000_000 else {
            throw TensorFileError.corruptHeader(
                file: file,
                reason: "the header length field says \(announced) bytes, more than the 100 MB limit"
                    + " (is this a safetensors file?)")
        }
        let headerLength = Int(announced)
        guard 8 + headerLength <= size else {
            throw TensorFileError.truncated(
                file: file, expectedBytes: 8 + headerLength, actualBytes: size,
                detail: "the header length field announces a \(headerLength)-byte JSON header")
        }
        let header = bytes.subdata(in: (bytes.startIndex + 8)..<(bytes.startIndex + 8 + headerLength))
        guard header.first(where: { $0 != 0x20 }) == UInt8(ascii: "{") else {
            throw TensorFileError.corruptHeader(file: file, reason: "the JSON header does not start with '{'")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: header, options: [])
        } catch {
            throw TensorFileError.corruptHeader(file: file, reason: "the header is not valid JSON")
        }
        guard let object = json as? [String: Any] else {
            throw TensorFileError.corruptHeader(file: file, reason: "the JSON header is not an object")
        }

        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else {
                    throw TensorFileError.corruptHeader(file: file, reason: "\"__metadata__\" is not an object")
                }
                for (key, item) in map {
                    guard let text = item as? String else {
                        throw TensorFileError.corruptHeader(
                            file: file, reason: "\"__metadata__\" value for \"\(key)\" is not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            entries[name] = try SafeTensorsFile.parseEntry(name: name, value: value, file: file)
        }

        try SafeTensorsFile.checkNoOverlap(entries, file: file)
        let bufferLength = size - 8 - headerLength
        if let (name, last) = entries.max(by: { $0.value.end < $1.value.end }), last.end > bufferLength {
            throw TensorFileError.truncated(
                file: file, expectedBytes: 8 + headerLength + last.end, actualBytes: size,
                detail: "tensor \"\(name)\" occupies bytes [\(last.begin), \(last.end)) of the data buffer,"
                    + " which holds only \(bufferLength) bytes (file cut short, or offsets out of range)")
        }

        self.url = url
        self.fileName = file
        self.metadata = metadata
        self.bytes = bytes
        self.dataStart = 8 + headerLength
        self.entries = entries
    }

    /// Names of all tensors, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Shape of tensor `name`, or nil if the file has no such tensor.
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// The safetensors dtype string of tensor `name` ("F32", "BF16", ...), or nil if absent.
    public func dtype(of name: String) -> String? { entries[name]?.dtype.safetensorsName }

    /// Tensor `name` as float32. F32 is copied as is; F64 is rounded, F16 and BF16 are widened
    /// exactly. Integer dtypes are refused (read them with ``int64Tensor(_:)``).
    public func tensor(_ name: String) throws -> HostTensor {
        let entry = try lookUp(name)
        let count = HostTensor.elementCount(of: entry.shape)
        let values = bytes.withUnsafeBytes { raw in
            entry.dtype.decodeFloats(
                UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)]),
                count: count)
        }
        guard let values else {
            throw TensorFileError.unsupportedDType(
                file: fileName, name: name, dtype: entry.dtype.safetensorsName,
                supported: ElementType.floatReadable.map(\.safetensorsName))
        }
        return HostTensor(shape: entry.shape, values: values)
    }

    /// Tensor `name` as float32, which must have shape `expectedShape`.
    public func tensor(_ name: String, expectedShape: [Int]) throws -> HostTensor {
        let entry = try lookUp(name)
        guard entry.shape == expectedShape else {
            throw TensorFileError.shapeMismatch(file: fileName, name: name, expected: expectedShape, found: entry.shape)
        }
        return try tensor(name)
    }

    /// ``WeightStore`` conformance: same as ``tensor(_:expectedShape:)``.
    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        try tensor(name, expectedShape: shape)
    }

    /// Integer tensor `name` (I64, I32, I16, I8, U32, U16, U8 or BOOL) widened to Int64.
    public func int64Tensor(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        let entry = try lookUp(name)
        let count = HostTensor.elementCount(of: entry.shape)
        let values = bytes.withUnsafeBytes { raw in
            entry.dtype.decodeIntegers(
                UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)]),
                count: count)
        }
        guard let values else {
            throw TensorFileError.unsupportedDType(
                file: fileName, name: name, dtype: entry.dtype.safetensorsName,
                supported: ElementType.integerReadable.map(\.safetensorsName))
        }
        return (entry.shape, values)
    }

    private func lookUp(_ name: String) throws -> Entry {
        guard let entry = entries[name] else {
            throw TensorFileError.missingTensor(
                file: fileName, name: name,
                suggestions: TensorFileError.suggestions(for: name, among: Array(entries.keys)))
        }
        return entry
    }

    // MARK: Header validation

    private static func parseEntry(name: String, value: Any, file: String) throws -> Entry {
        guard let fields = value as? [String: Any] else {
            throw TensorFileError.corruptHeader(file: file, reason: "entry \"\(name)\" is not an object")
        }
        guard let dtypeName = fields["dtype"] as? String else {
            throw TensorFileError.corruptHeader(file: file, reason: "tensor \"\(name)\" has no \"dtype\" string")
        }
        guard let dtype = ElementType(safetensorsName: dtypeName) else {
            throw TensorFileError.unsupportedDType(
                file: file, name: name, dtype: dtypeName,
                supported: (ElementType.floatReadable + ElementType.integerReadable).map(\.safetensorsName))
        }
        guard let shape = nonNegativeIntegers(fields["shape"]) else {
            throw TensorFileError.corruptHeader(
                file: file, reason: "tensor \"\(name)\": \"shape\" must be a list of non-negative integers")
        }
        guard let offsets = nonNegativeIntegers(fields["data_offsets"]), offsets.count == 2 else {
            throw TensorFileError.corruptHeader(
                file: file, reason: "tensor \"\(name)\": \"data_offsets\" must be two non-negative integers")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else {
            throw TensorFileError.corruptHeader(
                file: file, reason: "tensor \"\(name)\": data_offsets [\(begin), \(end)] end before they begin")
        }
        var byteCount = dtype.byteSize
        for dimension in shape {
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw TensorFileError.corruptHeader(file: file, reason: "tensor \"\(name)\": shape \(shape) is too large")
            }
            byteCount = product
        }
        guard end - begin == byteCount else {
            throw TensorFileError.corruptHeader(
                file: file,
                reason: "tensor \"\(name)\" of dtype \(dtypeName) and shape \(shape) needs \(byteCount) bytes,"
                    + " but its data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return Entry(dtype: dtype, shape: shape, begin: begin, end: end)
    }

    private static func checkNoOverlap(_ entries: [String: Entry], file: String) throws {
        let ranges = entries.filter { $0.value.begin < $0.value.end }
            .sorted { ($0.value.begin, $0.key) < ($1.value.begin, $1.key) }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.value.begin < previous.value.end {
            throw TensorFileError.corruptHeader(
                file: file,
                reason: "tensors \"\(previous.key)\" (bytes [\(previous.value.begin), \(previous.value.end)))"
                    + " and \"\(next.key)\" (bytes [\(next.value.begin), \(next.value.end))) overlap")
        }
    }

    /// `value` as a list of non-negative Ints, or nil if it is anything else.
    private static func nonNegativeIntegers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var result: [Int] = []
        result.reserveCapacity(list.count)
        for item in list {
            guard let number = item as? Int, number >= 0 else { return nil }
            result.append(number)
        }
        return result
    }
}
