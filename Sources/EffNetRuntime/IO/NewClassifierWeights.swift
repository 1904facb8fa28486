/// Pretrained weights with a new classifier: every tensor comes from `pretrained` except
/// `classifier.1.weight` and `classifier.1.bias`, which are freshly initialised the way
/// torchvision initialises EfficientNet's Linear layer (weight uniform in ±1/sqrt(out_features),
/// bias zero) for whatever class count the model asks for. This is how a model compiled for a new
/// dataset's class count starts from ImageNet weights.
public struct NewClassifierWeights: WeightStore {
    public let pretrained: any WeightStore
    public let seed: UInt64
    public static let replaced: Set<String> = ["classifier.1.weight", "classifier.1.bias"]

    public init(pretrained: any WeightStore, seed: UInt64 = 0) {
        self.pretrained = pretrained
        self.seed = seed
    }

    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        guard Self.replaced.contains(name) else { return try pretrained.tensor(name, shape: shape) }
        let count = shape.reduce(1, *)
        guard name.hasSuffix(".weight"), let outFeatures = shape.first, outFeatures > 0 else {
            return HostTensor(shape: shape, values: [Float](repeating: 0, count: count))
        }
        let range = 1 / Double(outFeatures).squareRoot()
        var random = CounterRandom(seed: seed)
        let values = (0..<count).map { _ in Float((random.nextUniform() * 2 - 1) * range) }
        return HostTensor(shape: shape, values: values)
    }
}
