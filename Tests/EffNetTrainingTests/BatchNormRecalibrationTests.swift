import EffNetRuntime
import EffNetTraining
import EfficientNetTiny
import Foundation
import XCTest

/// Forward-only training passes, the BatchNorm momentum override, and the training loop's
/// BatchNorm re-estimation built on them.
final class BatchNormRecalibrationTests: XCTestCase {
    typealias Tiny = EfficientNetTinyTraining

    func runningStatistics(_ model: Tiny) -> [Float] {
        Tiny.trainingDescriptor.stateSlots.flatMap { slot in
            Array(UnsafeBufferPointer(start: model.parameters + slot.offset, count: slot.count))
        }
    }

    func forwardOnly(momentum: Double) -> TrainingOptions {
        TrainingOptions(dropout: false, stochasticDepth: false, batchNormMomentum: momentum, computeGradients: false)
    }

    /// Momentum 1 makes the running statistics the batch's; momentum 1/2 at the second batch then
    /// averages two batches — what re-estimation relies on.
    func testMomentumOverrideGivesThePlainAverageOfBatches() throws {
        let (a, labelsA) = noiseImages(count: 3, seed: 11)
        let (b, labelsB) = noiseImages(count: 3, seed: 12)
        func statistics(after batches: [(HostTensor, [Int], Double)]) throws -> [Float] {
            let model = try makeModel()
            for (images, labels, momentum) in batches {
                _ = try model.trainStep(images: images, labels: labels, options: forwardOnly(momentum: momentum))
            }
            return runningStatistics(model)
        }
        let onlyA = try statistics(after: [(a, labelsA, 1)])
        let onlyB = try statistics(after: [(b, labelsB, 1)])
        let both = try statistics(after: [(a, labelsA, 1), (b, labelsB, 0.5)])
        XCTAssertNotEqual(onlyA, onlyB)
        XCTAssertNotEqual(onlyA, runningStatistics(try makeModel()), "momentum 1 replaces the statistics")
        for i in both.indices {
            XCTAssertEqual(both[i], (onlyA[i] + onlyB[i]) / 2, accuracy: 1e-5 * max(1, abs(both[i])), "statistic \(i)")
        }
    }

    /// Without gradients the step is a forward pass: the gradient buffer is neither cleared nor
    /// written, the loss is the same as the full step's.
    func testForwardOnlyStepLeavesGradientsAlone() throws {
        let (images, labels) = noiseImages(count: 2, seed: 5)
        let model = try makeModel()
        let count = Tiny.trainingDescriptor.parameterFloats
        model.gradients.update(repeating: 7, count: count)
        let forward = try model.trainStep(images: images, labels: labels,
                                          options: TrainingOptions(dropout: false, stochasticDepth: false, computeGradients: false))
        XCTAssertTrue(UnsafeBufferPointer(start: model.gradients, count: count).allSatisfy { $0 == 7 })
        let full = try makeModel().trainStep(images: images, labels: labels, options: .deterministic)
        XCTAssertEqual(forward.loss, full.loss)
    }

    /// Re-estimation replaces the trained layers' running statistics by the average over the
    /// batches, whatever they were before, and leaves frozen layers alone.
    func testLoopReestimatesTrainedBatchNormLayersOnly() throws {
        let (images, labels) = noiseImages(count: 8, seed: 21)
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 4)
        let frozen = Tiny.trainingDescriptor.frozenBlocks(trainingLastStages: 1)
        let trainedMask = trainedStatistics(frozenBlocks: frozen)
        let initial = runningStatistics(try makeModel())
        func fitted(scrambleTrainedStatistics: Bool) throws -> [Float] {
            let model = try makeModel()
            if scrambleTrainedStatistics {
                var at = 0
                for slot in Tiny.trainingDescriptor.stateSlots {
                    for i in 0..<slot.count where trainedMask[at + i] { model.parameters[slot.offset + i] *= 1.5 }
                    at += slot.count
                }
            }
            let loop = TrainingLoop(model: model, optimizer: SGD(), schedule: ConstantSchedule(0),  // weights stay
                                    options: TrainingOptions(frozenBlocks: frozen), epochs: 1, train: source)
            loop.batchNormRecalibrationBatches = 2
            try loop.fit()
            return runningStatistics(model)
        }
        let plain = try fitted(scrambleTrainedStatistics: false)
        let scrambled = try fitted(scrambleTrainedStatistics: true)
        var trained = 0
        for i in plain.indices {
            if trainedMask[i] {
                trained += 1
                XCTAssertEqual(plain[i], scrambled[i], accuracy: 1e-5 * max(1, abs(plain[i])),
                               "trained statistic \(i) should not remember its start")
            } else {
                XCTAssertEqual(plain[i], initial[i], "frozen statistic \(i) must stay")
                XCTAssertEqual(scrambled[i], initial[i], "frozen statistic \(i) must stay")
            }
        }
        XCTAssertGreaterThan(trained, 0)
        XCTAssertLessThan(trained, plain.count)
        XCTAssertNotEqual(zip(plain, initial).filter { $0 != $1 }.count, 0, "re-estimation changed the trained statistics")
    }

    /// For each running-statistics float: whether its layer is in a trained (not frozen) block.
    func trainedStatistics(frozenBlocks: Int) -> [Bool] {
        let d = Tiny.trainingDescriptor
        return d.stateSlots.flatMap { slot -> [Bool] in
            let block = d.blockNames.lastIndex { slot.name.hasPrefix($0 + ".") } ?? 0
            return Array(repeating: block >= frozenBlocks, count: slot.count)
        }
    }
}
