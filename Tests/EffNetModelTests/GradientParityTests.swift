import EffNetRuntime
import EfficientNetB0
import EfficientNetTiny
import EfficientNetTinyLite
import Foundation
import XCTest

/// The generated backward pass reproduces torch autograd (float64) for one train-mode step at
/// batch 2 — BatchNorm with batch statistics, dropout and stochastic depth off, mean
/// cross-entropy: every parameter's gradient within 1e-3 * max|ref| per tensor (sampled entries,
/// plus the tensor's max|g|; Tools/make_grad_fixtures.py), tensors whose true gradient is zero
/// within 1e-6 absolute, the loss within 1e-5 relative, updated running statistics within 1e-4.
final class GradientParityTests: XCTestCase {
    struct Sampled: Decodable {
        let max_abs: Double
        let indices: [Int]
        let values: [Double]
    }

    struct SGDSequence: Decodable {
        let lr: Double
        let momentum: Double
        let weight_decay: Double
        let losses: [Double]
    }

    struct Reference: Decodable {
        let labels: [Int]
        let loss: Double
        let gradients: [String: Sampled]
        let running: [String: Sampled]
        let sgd: SGDSequence
    }

    func reference(_ fixture: String) throws -> Reference {
        let data = try Data(contentsOf: Fixtures.folder.appendingPathComponent("\(fixture)/grad.json"))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    /// Compares sampled entries and the max magnitude of one tensor.
    func assertMatches(_ ours: HostTensor?, _ ref: Sampled, tolerance: Double, zeroFloor: Double, _ label: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        guard let ours else { return XCTFail("\(label): missing", file: file, line: line) }
        let allowed = ref.max_abs > zeroFloor ? tolerance * ref.max_abs : zeroFloor
        var worst = 0.0
        for (index, value) in zip(ref.indices, ref.values) {
            worst = max(worst, abs(Double(ours.values[index]) - value))
        }
        let ourMax = ours.values.reduce(0.0) { max($0, abs(Double($1))) }
        XCTAssertLessThanOrEqual(worst, allowed, "\(label): max|diff| \(worst) > \(allowed) (max|ref| \(ref.max_abs))",
                                 file: file, line: line)
        XCTAssertLessThanOrEqual(abs(ourMax - ref.max_abs), allowed,
                                 "\(label): max|g| \(ourMax) vs \(ref.max_abs)", file: file, line: line)
    }

    func check<Model: TrainableModel>(_ model: Model.Type, fixture: String, recomputeActivations: Bool = false) throws {
        let ref = try reference(fixture)
        let network = try Model(weights: try fixtureWeights(fixture))
        let input = try Fixtures.npy("\(fixture)/input.npy")
        var options = TrainingOptions.deterministic
        options.recomputeActivations = recomputeActivations
        let result = try network.trainStep(images: input, labels: ref.labels, options: options)
        XCTAssertEqual(result.loss, ref.loss, accuracy: 1e-5 * abs(ref.loss), "\(fixture): loss")
        XCTAssertEqual(Set(ref.gradients.keys), Set(Model.trainingDescriptor.parameterSlots.map(\.name)))
        for (name, sampled) in ref.gradients.sorted(by: { $0.key < $1.key }) {
            assertMatches(network.gradient(name), sampled, tolerance: 1e-3, zeroFloor: 1e-6, "\(fixture) grad \(name)")
        }
        for (name, sampled) in ref.running.sorted(by: { $0.key < $1.key }) {
            assertMatches(network.parameter(name), sampled, tolerance: 1e-4, zeroFloor: 1e-6, "\(fixture) \(name)")
        }
    }

    func testTinyGradientsMatchTorchAutograd() throws { try check(EfficientNetTinyTraining.self, fixture: "EfficientNetTiny") }

    func testTinyLiteGradientsMatchTorchAutograd() throws {
        try check(EfficientNetTinyLiteTraining.self, fixture: "EfficientNetTinyLite")
    }

    func testB0GradientsMatchTorchAutograd() throws { try check(EfficientNetB0Training.self, fixture: "EfficientNetB0") }

    /// The low-memory plan (activations recomputed in the backward pass) against torch directly.
    func testB0GradientsMatchTorchAutogradWhenRecomputingActivations() throws {
        try check(EfficientNetB0Training.self, fixture: "EfficientNetB0", recomputeActivations: true)
    }

    /// SGD with momentum on one fixed batch reproduces torch.optim.SGD's loss sequence.
    func testSGDStepsReproducePyTorchLossSequence() throws {
        let ref = try reference("EfficientNetTiny")
        let network = try EfficientNetTinyTraining(weights: try fixtureWeights("EfficientNetTiny"))
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let sgd = SGD(momentum: ref.sgd.momentum)
        let groups = [ParameterGroup(slots: EfficientNetTinyTraining.trainingDescriptor.parameterSlots,
                                     weightDecay: ref.sgd.weight_decay)]
        var losses: [Double] = []
        for _ in ref.sgd.losses {
            losses.append(try network.trainStep(images: input, labels: ref.labels, options: .deterministic).loss)
            sgd.step(parameters: network.parameters, gradients: network.gradients, groups: groups, learningRate: ref.sgd.lr)
        }
        for (step, (ours, theirs)) in zip(losses, ref.sgd.losses).enumerated() {
            XCTAssertEqual(ours, theirs, accuracy: 1e-4 * abs(theirs), "SGD step \(step): \(losses) vs \(ref.sgd.losses)")
        }
    }

    func testLabelsOutOfRangeAreAClearError() throws {
        let network = try EfficientNetTinyTraining(weights: try fixtureWeights("EfficientNetTiny"))
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        XCTAssertThrowsError(try network.trainStep(images: input, labels: [0, 10], options: .deterministic)) { error in
            XCTAssertEqual("\(error)", "label 10 of image 1 is outside 0..<10")
        }
        XCTAssertThrowsError(try network.trainStep(images: input, labels: [0], options: .deterministic)) { error in
            XCTAssertEqual("\(error)", "the batch has 2 images but 1 labels")
        }
    }
}

/// Training actually learns: a handful of images is memorised by a few dozen SGD steps.
final class OverfitTests: XCTestCase {
    func testTinyOverfitsAHandfulOfImages() throws {
        let network = try EfficientNetTinyTraining(weights: try fixtureWeights("EfficientNetTiny"))
        let two = try Fixtures.npy("EfficientNetTiny/input.npy")
        // Four images: the two fixture images and their negatives, four different labels.
        let images = HostTensor(shape: [4, 3, 72, 72], values: two.values + two.values.map { -$0 })
        let labels = [1, 4, 7, 9]
        let sgd = SGD(momentum: 0.9)
        let groups = [ParameterGroup(slots: EfficientNetTinyTraining.trainingDescriptor.parameterSlots)]
        var losses: [Double] = []
        for _ in 0..<30 {
            losses.append(try network.trainStep(images: images, labels: labels, options: .deterministic).loss)
            sgd.step(parameters: network.parameters, gradients: network.gradients, groups: groups, learningRate: 0.05)
        }
        XCTAssertGreaterThan(losses[0], 1.5, "starts near ln(10)")
        XCTAssertLessThan(losses.last!, 0.05, "loss sequence \(losses)")
    }
}
