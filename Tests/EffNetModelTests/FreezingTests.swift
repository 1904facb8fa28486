import EffNetRuntime
import EfficientNetB0
import EfficientNetTiny
import XCTest

/// Freezing the first blocks: their BatchNorm runs in eval mode with running statistics left
/// alone, their gradients stay zero, and the backward pass stops before them.
final class FreezingTests: XCTestCase {
    func testFrozenBackboneForwardIsTheEvalModelAndOnlyTheClassifierLearns() throws {
        let weights = try fixtureWeights("EfficientNetTiny")
        let training = try EfficientNetTinyTraining(weights: weights)
        let descriptor = EfficientNetTinyTraining.trainingDescriptor
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let before = descriptor.stateSlots.map { training.parameter($0.name)! }
        let options = TrainingOptions(dropout: false, stochasticDepth: false, frozenBlocks: descriptor.backboneBlocks)
        let step = try training.trainStep(images: input, labels: [3, 8], options: options)

        // With every BatchNorm in eval mode the training forward is the inference forward.
        let eval = try EfficientNetTiny(weights: weights).logits(for: input)
        assertClose(step.logits, eval, relative: 1e-5, "frozen-backbone logits vs eval model")

        XCTAssertEqual(descriptor.stateSlots.map { training.parameter($0.name)! }, before, "running statistics untouched")
        let trainable = Set(descriptor.trainableSlots(frozenBlocks: descriptor.backboneBlocks).map(\.name))
        XCTAssertEqual(trainable, ["classifier.1.weight", "classifier.1.bias"])
        for slot in descriptor.parameterSlots {
            let gradient = training.gradient(slot.name)!.values
            if trainable.contains(slot.name) {
                XCTAssertTrue(gradient.contains { $0 != 0 }, "\(slot.name) should learn")
            } else {
                XCTAssertTrue(gradient.allSatisfy { $0 == 0 }, "\(slot.name) is frozen")
            }
        }
    }

    /// Only the stem frozen (`--train-last-stages` at least the number of stages): its BatchNorm runs in eval
    /// mode while the first block's depthwise layer, whose call otherwise takes the stem's BatchNorm apply,
    /// runs on its own and still takes its own batch statistics (its running statistics move).
    func testFreezingOnlyTheStemStillTakesTheFirstBlocksBatchStatistics() throws {
        let training = try EfficientNetTinyTraining(weights: try fixtureWeights("EfficientNetTiny"))
        let descriptor = EfficientNetTinyTraining.trainingDescriptor
        let frozen = descriptor.frozenBlocks(trainingLastStages: 99)
        XCTAssertEqual(frozen, 1)
        let stemMean = training.parameter("features.0.1.running_mean")!
        let depthwiseMean = training.parameter("features.1.0.block.0.1.running_mean")!.values
        _ = try training.trainStep(images: try Fixtures.npy("EfficientNetTiny/input.npy"), labels: [1, 2],
                                   options: TrainingOptions(dropout: false, stochasticDepth: false, frozenBlocks: frozen))
        XCTAssertEqual(training.parameter("features.0.1.running_mean")!, stemMean, "the stem is frozen")
        XCTAssertTrue(training.gradient("features.0.0.weight")!.values.allSatisfy { $0 == 0 }, "the stem is frozen")
        let moved = training.parameter("features.1.0.block.0.1.running_mean")!.values
        XCTAssertTrue(moved.allSatisfy(\.isFinite))
        XCTAssertTrue(zip(moved, depthwiseMean).allSatisfy { $0 != $1 }, "every channel's batch mean moves it")
        XCTAssertTrue(training.gradient("features.1.0.block.0.0.weight")!.values.contains { $0 != 0 })
    }

    func testFreezingAllButTheLastStagesKeepsEarlierGradientsZero() throws {
        let training = try EfficientNetTinyTraining(weights: try fixtureWeights("EfficientNetTiny"))
        let descriptor = EfficientNetTinyTraining.trainingDescriptor
        let frozen = descriptor.frozenBlocks(trainingLastStages: 2)
        XCTAssertEqual(descriptor.blockNames[frozen], "features.6.0", "Tiny's last two stages are features.6 and .7")
        _ = try training.trainStep(images: try Fixtures.npy("EfficientNetTiny/input.npy"), labels: [1, 2],
                                   options: TrainingOptions(dropout: false, stochasticDepth: false, frozenBlocks: frozen))
        for (slot, block) in zip(descriptor.parameterSlots, descriptor.parameterBlocks) {
            let nonZero = training.gradient(slot.name)!.values.contains { $0 != 0 }
            if block < frozen { XCTAssertFalse(nonZero, "\(slot.name) is frozen") }
        }
        XCTAssertTrue(training.gradient("features.6.0.block.0.0.weight")!.values.contains { $0 != 0 })
    }

    /// B0 with its stem and first block frozen, at batch 2: maps large enough for the projections to take the
    /// squeeze-excitation's scaling (`projectionScalesSqueezeExcite`). The frozen block's SE must still write
    /// its output, which its frozen projection reads; the trained blocks' projections scale x for themselves.
    /// Two workers (scaling taken) agree with one (never taken) on the logits and every gradient.
    func testFrozenFirstBlockBesideScaledProjectionsAgreesWithOneWorker() throws {
        let input = try Fixtures.npy("EfficientNetB0/input.npy")
        let descriptor = EfficientNetB0Training.trainingDescriptor
        let frozen = 2
        XCTAssertEqual(descriptor.blockNames[frozen], "features.2.0")
        // Block 1.0's projection would scale if it were trained, and 2.0's does.
        XCTAssertTrue(TrainingKernels.projectionScalesSqueezeExcite(pixels: 2 * 12_544, inChannels: 32, outChannels: 16,
                                                                   threads: 2))
        XCTAssertTrue(TrainingKernels.projectionScalesSqueezeExcite(pixels: 2 * 3_136, inChannels: 96, outChannels: 24,
                                                                   threads: 2))
        let options = TrainingOptions(dropout: false, stochasticDepth: false, frozenBlocks: frozen)
        func step(threads: Int) throws -> (logits: HostTensor, model: EfficientNetB0Training) {
            let model = try EfficientNetB0Training(weights: try fixtureWeights("EfficientNetB0"),
                                                   pool: WorkerPool(threads: threads))
            return (try model.trainStep(images: input, labels: [1, 2], options: options).logits, model)
        }
        let one = try step(threads: 1), two = try step(threads: 2)
        assertClose(two.logits, one.logits, relative: 1e-5, "logits, 2 workers vs 1")
        // Gradients within 1e-4 of their largest entry; those whose true value is zero (the projections'
        // BatchNorm biases, about 1e-8 here) within 1e-6 absolute, as in GradientParityTests.
        for slot in descriptor.parameterSlots {
            let reference = one.model.gradient(slot.name)!, got = two.model.gradient(slot.name)!
            if reference.values.allSatisfy({ $0 == 0 }) {
                XCTAssertTrue(got.values.allSatisfy { $0 == 0 }, "\(slot.name) is frozen")
                continue
            }
            assertClose(got, reference, relative: 1e-4, absoluteFloor: 1e-6, "\(slot.name), 2 workers vs 1")
        }
    }

    func testNewClassifierIsInitialisedLikeTorchvision() throws {
        let store = NewClassifierWeights(pretrained: SyntheticWeights(seed: 1), seed: 7)
        let weight = try store.tensor("classifier.1.weight", shape: [10, 640])
        XCTAssertTrue(weight.values.allSatisfy { abs($0) <= 1 / Float(10).squareRoot() })
        XCTAssertGreaterThan(weight.values.map { abs($0) }.max()!, 0.3, "spans the torchvision range ±1/sqrt(10)")
        XCTAssertEqual(try store.tensor("classifier.1.bias", shape: [10]).values, [Float](repeating: 0, count: 10))
        XCTAssertEqual(try store.tensor("features.0.0.weight", shape: [16, 3, 3, 3]),
                       SyntheticWeights(seed: 1).tensor("features.0.0.weight", shape: [16, 3, 3, 3]))
    }
}
