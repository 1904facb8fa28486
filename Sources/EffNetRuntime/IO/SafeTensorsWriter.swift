import Foundation

/// Writing safetensors files.
public enum SafeTensors {
    /// Writes `tensors` as F32 to `url`, atomically (the destination is replaced only once the
    /// complete file is on disk).
    ///
    /// The JSON header has sorted keys (`__metadata__` included when `metadata` is not empty) and is
    /// padded with spaces to a multiple of 8 bytes so the data buffer is 8-byte aligned. Tensor data
    /// follows in the same sorted order. Names must be unique, non-empty and not `__metadata__`.
    public static func write(
        _ tensors: [(name: String, tensor: HostTensor)],
        metadata: [String: String] = [:],
        to url: URL
    ) throws {
        let file = AtomicFile.displayName(of: url)
        var seen = Set<String>()
        for (name, tensor) in tensors {
            guard !name.isEmpty, name != "__metadata__" else {
                throw TensorFileError.invalidTensor(file: file, name: name, reason: "this name is reserved or empty")
            }
            guard seen.insert(name).inserted else {
                throw TensorFileError.invalidTensor(file: file, name: name, reason: "the name appears more than once")
            }
            guard tensor.shape.allSatisfy({ $0 >= 0 }),
                tensor.values.count == HostTensor.elementCount(of: tensor.shape)
            else {
                throw TensorFileError.invalidTensor(
                    file: file, name: name,
                    reason: "shape \(tensor.shape) does not match its \(tensor.values.count) values")
            }
        }
        let sorted = tensors.sorted { $0.name < $1.name }

        var fields: [(key: String, json: String)] = []
        if !metadata.isEmpty {
            let items = metadata.sorted { $0.key < $1.key }
                .map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            fields.append(("__metadata__", "{" + items.joined(separator: ",") + "}"))
        }
        var offset = 0
        for (name, tensor) in sorted {
            let end = offset + tensor.values.count * MemoryLayout<Float>.size
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            fields.append((name, "{\"data_offsets\":[\(offset),\(end)],\"dtype\":\"F32\",\"shape\":[\(shape)]}"))
            offset = end
        }
        fields.sort { $0.key < $1.key }
        var header = Array(("{" + fields.map { "\(jsonString($0.key)):\($0.json)" }.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }

        try AtomicFile.write(to: url) { writer in
            try withUnsafeBytes(of: UInt64(header.count).littleEndian) { try writer.write($0) }
            try writer.write(header)
            for (_, tensor) in sorted {
                try writer.writeLittleEndian(tensor.values)
            }
        }
    }

    /// Writes a dictionary of tensors; same format and guarantees as the list form.
    public static func write(_ tensors: [String: HostTensor], metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors.map { (name: $0.key, tensor: $0.value) }, metadata: metadata, to: url)
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
