/// A source of named model parameters.
///
/// Generated models ask for every parameter by its canonical (torchvision `state_dict`) name and the
/// exact shape the plan expects; a store throws a ``TensorFileError`` when the name is missing or the
/// shape differs, so a wrong weights file fails loudly at load time with a message naming the tensor.
///
/// Conformers: ``SafeTensorsFile`` (a file on disk), ``DictionaryWeightStore`` (tensors in memory)
/// and ``SyntheticWeights`` (deterministic pseudo-random values for tests and benchmarks).
public protocol WeightStore {
    /// The parameter `name`, which must have exactly `shape`.
    func tensor(_ name: String, shape: [Int]) throws -> HostTensor
}

/// A ``WeightStore`` over tensors held in memory, e.g. weights built by a test or converted in process.
public struct DictionaryWeightStore: WeightStore, Sendable {
    /// The tensors by name.
    public var tensors: [String: HostTensor]
    /// What error messages call this store (in place of a file name).
    public var label: String

    public init(_ tensors: [String: HostTensor], label: String = "in-memory weights") {
        self.tensors = tensors
        self.label = label
    }

    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        guard let tensor = tensors[name] else {
            throw TensorFileError.missingTensor(
                file: label, name: name,
                suggestions: TensorFileError.suggestions(for: name, among: Array(tensors.keys)))
        }
        guard tensor.shape == shape else {
            throw TensorFileError.shapeMismatch(file: label, name: name, expected: shape, found: tensor.shape)
        }
        return tensor
    }
}
