/// The inference weights of one model in a single block of memory: BatchNorm folded into each
/// convolution, depthwise kernels re-laid out, everything at the offsets the generated code uses.
///
/// Made from named parameters (a safetensors file, synthetic weights) into memory of its own, or mapped
/// read-only from a ``PreparedWeightsFile`` written earlier, which skips the preparation and lets the
/// system page the weights (see there).
public final class PreparedWeights: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafePointer<Float>
    /// The file mapping the weights live in; nil when they are in a buffer of their own.
    private let mapping: WeightFileMapping?
    /// Whether `release(_:)` gives pages back (weights mapped from a file with `releaseAfterUse`).
    public let releasesAfterUse: Bool
    /// Floats at the start that `release(_:)` keeps (the file's `keepResidentBytes`).
    private let keptFloats: Int

    /// Reads every parameter the descriptor names from `store` (which checks names and shapes)
    /// and prepares it; maps it instead when `store` is a ``PreparedWeightsFile``. Throws the store's
    /// error on a missing or mis-shaped tensor, or a file prepared for another model or layout.
    public init(descriptor: ModelDescriptor, store: any WeightStore) throws {
        count = descriptor.preparedFloats
        if let file = store as? PreparedWeightsFile {
            let mapped = try file.map(for: descriptor)
            mapping = mapped
            releasesAfterUse = file.releaseAfterUse
            keptFloats = file.keepResidentBytes / MemoryLayout<Float>.size
            pointer = mapped.floats
            return
        }
        mapping = nil
        releasesAfterUse = false
        keptFloats = 0
        let storage = LargeBuffer.allocate(floats: count)
        storage.initialize(repeating: 0, count: max(count, 1))
        pointer = UnsafePointer(storage)
        // On a throw the object is fully initialised, so deinit runs and frees the storage.
        for step in descriptor.preparation { try Self.prepare(step, from: store, into: storage) }
    }

    deinit {
        if mapping == nil { LargeBuffer.deallocate(UnsafeMutablePointer(mutating: pointer), floats: count) }
    }

    /// Called by the generated forward pass once no later layer reads floats `range`: weights mapped
    /// with `releaseAfterUse` drop those pages from the resident set (they stay in the page cache and
    /// fault back in on the next run), except the first `keepResidentBytes`. Does nothing otherwise.
    /// Call only between kernel calls.
    public func release(_ range: Range<Int>) {
        guard releasesAfterUse else { return }
        let lower = max(range.lowerBound, keptFloats)
        if lower < range.upperBound { mapping?.release(lower..<range.upperBound) }
    }

    private static func prepare(_ step: WeightPreparation, from store: any WeightStore,
                                into storage: UnsafeMutablePointer<Float>) throws {
        switch step {
        case let .foldConvolution(weight, shape, batchNorm, eps, layout, weightOffset, biasOffset):
            let outChannels = shape[0]
            let perChannel = shape.dropFirst().reduce(1, *)
            let w = try store.tensor(weight, shape: shape)
            let gamma = try store.tensor("\(batchNorm).weight", shape: [outChannels])
            let beta = try store.tensor("\(batchNorm).bias", shape: [outChannels])
            let mean = try store.tensor("\(batchNorm).running_mean", shape: [outChannels])
            let variance = try store.tensor("\(batchNorm).running_var", shape: [outChannels])
            var folded = [Float](repeating: 0, count: w.values.count)
            folded.withUnsafeMutableBufferPointer { foldedWeights in
                WeightPrep.foldBatchNorm(
                    weights: w.values, outChannels: outChannels, weightsPerChannel: perChannel,
                    gamma: gamma.values, beta: beta.values, mean: mean.values, variance: variance.values, eps: eps,
                    foldedWeights: foldedWeights.baseAddress!, foldedBias: storage + biasOffset)
            }
            switch layout {
            case .depthwise:
                WeightPrep.depthwiseWeights(folded, channels: outChannels, kernel: shape[2], into: storage + weightOffset)
            case .inputMajor:
                WeightPrep.inputMajorWeights(folded, outChannels: outChannels, inChannels: perChannel,
                                             into: storage + weightOffset)
            }
        case let .copy(name, shape, offset):
            let tensor = try store.tensor(name, shape: shape)
            (storage + offset).update(from: tensor.values, count: tensor.values.count)
        }
    }
}
