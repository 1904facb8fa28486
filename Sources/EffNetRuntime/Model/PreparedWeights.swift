/// The inference weights of one model in a single allocation: BatchNorm folded into each
/// convolution, depthwise kernels re-laid out, everything at the offsets the generated code uses.
public final class PreparedWeights: @unchecked Sendable {
    public let storage: UnsafeMutablePointer<Float>
    public let count: Int

    /// Reads every parameter the descriptor names from `store` (which checks names and shapes)
    /// and prepares it. Throws the store's error on a missing or mis-shaped tensor.
    public init(descriptor: ModelDescriptor, store: any WeightStore) throws {
        count = descriptor.preparedFloats
        storage = LargeBuffer.allocate(floats: count)
        storage.initialize(repeating: 0, count: max(count, 1))
        // On a throw the object is fully initialised, so deinit runs and frees the storage.
        for step in descriptor.preparation { try prepare(step, from: store) }
    }

    deinit { LargeBuffer.deallocate(storage, floats: count) }

    public var pointer: UnsafePointer<Float> { UnsafePointer(storage) }

    private func prepare(_ step: WeightPreparation, from store: any WeightStore) throws {
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
