import EffNetRuntime
import EfficientNetB0
import EfficientNetTiny
import EfficientNetTinyLite
import XCTest

/// `TrainingOptions.recomputeActivations` trades time for memory without changing a single bit:
/// the BN+activation and squeeze-excitation outputs recomputed in the backward pass go through the
/// forward's own kernels on the forward's saved inputs, so the loss, logits, every gradient and the
/// running statistics equal those of the standard plan exactly, with dropout, stochastic depth,
/// label smoothing and frozen blocks (whose BatchNorm is recomputed in eval mode) in play.
final class RecomputationTests: XCTestCase {
    func assertRecomputingChangesNothing<Model: TrainableModel>(
        _ model: Model.Type, fixture: String, frozenBlocks: [Int], file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let weights = try fixtureWeights(fixture)
        let input = try Fixtures.npy("\(fixture)/input.npy")
        let descriptor = Model.trainingDescriptor
        for frozen in frozenBlocks {
            let label = "\(fixture), \(frozen) frozen blocks"
            let standard = try Model(weights: weights)
            let recomputing = try Model(weights: weights)
            for step in 0..<2 {  // two steps: the second starts from updated running statistics
                var options = TrainingOptions(dropout: true, stochasticDepth: true, labelSmoothing: 0.1, frozenBlocks: frozen)
                let expected = try standard.trainStep(images: input, labels: [3, 8], options: options)
                options.recomputeActivations = true
                let actual = try recomputing.trainStep(images: input, labels: [3, 8], options: options)
                XCTAssertEqual(actual.loss, expected.loss, "\(label), step \(step): loss", file: file, line: line)
                XCTAssertEqual(actual.logits.values, expected.logits.values, "\(label), step \(step): logits", file: file, line: line)
                for slot in descriptor.parameterSlots where standard.gradient(slot.name)!.values != recomputing.gradient(slot.name)!.values {
                    XCTFail("\(label), step \(step): gradient of \(slot.name) differs", file: file, line: line)
                }
                for slot in descriptor.stateSlots where standard.parameter(slot.name)!.values != recomputing.parameter(slot.name)!.values {
                    XCTFail("\(label), step \(step): \(slot.name) differs", file: file, line: line)
                }
            }
        }
    }

    func testTinyStepsAreBitIdenticalWhenRecomputing() throws {
        let descriptor = EfficientNetTinyTraining.trainingDescriptor
        // 1: the stem is frozen and the first trained block recomputes its output in eval mode.
        try assertRecomputingChangesNothing(EfficientNetTinyTraining.self, fixture: "EfficientNetTiny",
                                            frozenBlocks: [0, 1, 2, descriptor.frozenBlocks(trainingLastStages: 2),
                                                           descriptor.backboneBlocks])
    }

    func testTinyLiteStepsAreBitIdenticalWhenRecomputing() throws {
        // ReLU6 and no squeeze-excitation.
        try assertRecomputingChangesNothing(EfficientNetTinyLiteTraining.self, fixture: "EfficientNetTinyLite", frozenBlocks: [0, 1])
    }

    func testB0StepIsBitIdenticalWhenRecomputing() throws {
        try assertRecomputingChangesNothing(EfficientNetB0Training.self, fixture: "EfficientNetB0", frozenBlocks: [0])
    }

    /// The option is worth having: B0's recomputing arena is less than 60 % of the standard one.
    func testRecomputingHalvesB0sTrainingArena() {
        let descriptor = EfficientNetB0Training.trainingDescriptor
        XCTAssertLessThan(Double(descriptor.recomputingArenaFloatsPerImage), 0.6 * Double(descriptor.arenaFloatsPerImage))
        XCTAssertLessThan(descriptor.bytes(batch: 16, recomputing: true), descriptor.bytes(batch: 16))
    }
}
