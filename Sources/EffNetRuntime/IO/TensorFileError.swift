/// Everything that can go wrong reading or writing a tensor file (safetensors or `.npy`) or
/// looking a weight up in a ``WeightStore``.
///
/// Every case names the file (or store) it concerns, and `description` is a complete sentence a
/// user can act on, for example:
/// `weights.safetensors: tensor "features.1.0.block.0.0.weight" has shape [32, 1, 3, 3], expected [16, 1, 3, 3]`.
public enum TensorFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file does not exist.
    case fileNotFound(file: String)
    /// The file exists but could not be read (permissions, I/O error, ...).
    case unreadable(file: String, reason: String)
    /// Writing (or atomically replacing) the file failed; the destination was left untouched.
    case writeFailed(file: String, reason: String)
    /// No tensor called `name`; `suggestions` lists similar names present in the file.
    case missingTensor(file: String, name: String, suggestions: [String])
    /// The tensor exists but its shape is not the one the caller needs.
    case shapeMismatch(file: String, name: String, expected: [Int], found: [Int])
    /// The tensor is stored with an element type this reader cannot convert; `supported` lists
    /// the ones it can.
    case unsupportedDType(file: String, name: String, dtype: String, supported: [String])
    /// The file ends before the data it announces: `expectedBytes` is the size the header implies,
    /// `actualBytes` the size on disk; `detail` says what was being read.
    case truncated(file: String, expectedBytes: Int, actualBytes: Int, detail: String)
    /// The safetensors header is malformed; `reason` says how.
    case corruptHeader(file: String, reason: String)
    /// The `.npy` header is malformed (bad magic, version, or dictionary); `reason` says how.
    case corruptNPY(file: String, reason: String)
    /// The `.npy` array has an element type (`descr`) this reader does not accept.
    case unsupportedNPYDType(file: String, descr: String, supported: [String])
    /// The `.npy` array is stored in Fortran (column-major) order.
    case fortranOrderNPY(file: String, shape: [Int])
    /// A tensor handed to a writer is inconsistent (value count vs shape, bad or duplicate name).
    case invalidTensor(file: String, name: String, reason: String)

    /// The file (or store) the error concerns.
    public var file: String {
        switch self {
        case .fileNotFound(let file), .unreadable(let file, _), .writeFailed(let file, _),
            .missingTensor(let file, _, _), .shapeMismatch(let file, _, _, _),
            .unsupportedDType(let file, _, _, _), .truncated(let file, _, _, _),
            .corruptHeader(let file, _), .corruptNPY(let file, _),
            .unsupportedNPYDType(let file, _, _), .fortranOrderNPY(let file, _),
            .invalidTensor(let file, _, _):
            return file
        }
    }

    public var description: String {
        switch self {
        case .fileNotFound(let file):
            return "\(file): no such file"
        case .unreadable(let file, let reason):
            return "\(file): cannot read file: \(reason)"
        case .writeFailed(let file, let reason):
            return "\(file): cannot write file: \(reason) (the destination was not modified)"
        case .missingTensor(let file, let name, let suggestions):
            var text = "\(file): no tensor named \"\(name)\""
            if suggestions.count == 1 {
                text += "; did you mean \"\(suggestions[0])\"?"
            } else if !suggestions.isEmpty {
                text += "; did you mean one of " + suggestions.map { "\"\($0)\"" }.joined(separator: ", ") + "?"
            }
            return text
        case .shapeMismatch(let file, let name, let expected, let found):
            return "\(file): tensor \"\(name)\" has shape \(found), expected \(expected)"
        case .unsupportedDType(let file, let name, let dtype, let supported):
            return "\(file): tensor \"\(name)\" has dtype \(dtype), which cannot be read here"
                + " (supported: \(supported.joined(separator: ", ")))"
        case .truncated(let file, let expected, let actual, let detail):
            if actual == 0 {
                return "\(file): file is empty (0 bytes); expected at least \(expected) bytes: \(detail)"
            }
            return "\(file): file is truncated: expected at least \(expected) bytes, found \(actual): \(detail)"
        case .corruptHeader(let file, let reason):
            return "\(file): not a valid safetensors file: \(reason)"
        case .corruptNPY(let file, let reason):
            return "\(file): not a valid .npy file: \(reason)"
        case .unsupportedNPYDType(let file, let descr, let supported):
            return "\(file): .npy array has dtype '\(descr)', which cannot be read here"
                + " (supported: \(supported.map { "'\($0)'" }.joined(separator: ", ")))"
        case .fortranOrderNPY(let file, let shape):
            return "\(file): .npy array of shape \(shape) is stored in Fortran (column-major) order;"
                + " save it in C order, e.g. np.save(path, np.ascontiguousarray(a))"
        case .invalidTensor(let file, let name, let reason):
            return "\(file): tensor \"\(name)\": \(reason)"
        }
    }
}

extension TensorFileError {
    /// Names among `candidates` close to `name` (edit distance, or one contains the other),
    /// best first, at most `limit`. Used to suggest corrections for a missing tensor.
    static func suggestions(for name: String, among candidates: [String], limit: Int = 3) -> [String] {
        let target = Array(name.utf8)
        let threshold = max(2, target.count / 5)
        var scored: [(distance: Int, name: String)] = []
        for candidate in candidates {
            let bytes = Array(candidate.utf8)
            let d = editDistance(target, bytes)
            let related = !name.isEmpty && !candidate.isEmpty
                && (candidate.hasSuffix(name) || name.hasSuffix(candidate))
            if d <= threshold || related {
                scored.append((d, candidate))
            }
        }
        scored.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.name < $1.name }
        return scored.prefix(limit).map(\.name)
    }

    /// Levenshtein distance between two byte strings.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
