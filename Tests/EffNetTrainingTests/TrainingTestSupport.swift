import EffNetRuntime
import EffNetTraining
import EfficientNetTiny
import Foundation
import XCTest

/// Noise images `[count, 3, 72, 72]` with labels, deterministic by seed.
func noiseImages(count: Int, seed: UInt64) -> (HostTensor, [Int]) {
    var random = CounterRandom(seed: seed)
    let shape = EfficientNetTinyTraining.descriptor.inputShape
    let per = shape.reduce(1, *)
    let values = (0..<(count * per)).map { _ in Float(random.nextUniform() * 2 - 1) }
    let labels = (0..<count).map { _ in Int(random.next() % UInt64(EfficientNetTinyTraining.descriptor.classes)) }
    return (HostTensor(shape: [count] + shape, values: values), labels)
}

func makeModel() throws -> EfficientNetTinyTraining {
    try EfficientNetTinyTraining(weights: SyntheticWeights(seed: 1))
}

func temporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("effnet-training-tests-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func parameterArray(_ model: EfficientNetTinyTraining) -> [Float] {
    Array(UnsafeBufferPointer(start: model.parameters, count: EfficientNetTinyTraining.trainingDescriptor.parameterFloats))
}

/// A source that poisons one batch of one epoch with a value that overflows the forward pass.
struct PoisonedSource: BatchSource {
    let base: ArrayBatchSource
    let epoch: Int
    let batch: Int
    let value: Float

    var batchesPerEpoch: Int { base.batchesPerEpoch }

    func batches(epoch: Int) -> AnySequence<(images: HostTensor, labels: [Int])> {
        let poisonEpoch = self.epoch, poisonBatch = batch, value = value
        return AnySequence(base.batches(epoch: epoch).enumerated().map { index, item in
            guard epoch == poisonEpoch, index == poisonBatch else { return item }
            var images = item.images
            for i in images.values.indices { images.values[i] = i % 2 == 0 ? value : -value }
            return (images, item.labels)
        })
    }
}
