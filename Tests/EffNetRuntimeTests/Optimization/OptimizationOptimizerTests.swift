import Foundation
import XCTest

@testable import EffNetRuntime

/// Reference values written by Tools/make_optimizer_fixtures.py (PyTorch / TF formula).
enum OptimizationFixtures {
    static let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Optimization
        .deletingLastPathComponent()  // EffNetRuntimeTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures/optimization/reference.safetensors")

    static func file() throws -> SafeTensorsFile { try SafeTensorsFile(contentsOf: url) }

    /// The fixture's parameter layout: six slots in a 144-float buffer with padding between
    /// them; `frozen.weight` is in no group.
    static let slots: [String: ParameterSlot] = Dictionary(uniqueKeysWithValues: [
        ParameterSlot(name: "conv.weight", offset: 0, count: 20, kind: .convolutionWeight),
        ParameterSlot(name: "bn.weight", offset: 32, count: 5, kind: .batchNormWeight),
        ParameterSlot(name: "bn.bias", offset: 48, count: 5, kind: .batchNormBias),
        ParameterSlot(name: "frozen.weight", offset: 64, count: 7, kind: .convolutionWeight),
        ParameterSlot(name: "fc.weight", offset: 80, count: 37, kind: .linearWeight),
        ParameterSlot(name: "fc.bias", offset: 128, count: 3, kind: .bias),
    ].map { ($0.name, $0) })
    static let bufferCount = 144
    static let steps = 6

    static func groups(decayAll: Bool = false) -> [ParameterGroup] {
        [
            ParameterGroup(
                slots: [slots["conv.weight"]!, slots["bn.weight"]!, slots["bn.bias"]!],
                learningRateScale: 1, weightDecay: 0.01, decayAll: decayAll),
            ParameterGroup(
                slots: [slots["fc.weight"]!, slots["fc.bias"]!], learningRateScale: 0.5, weightDecay: 0.05,
                decayAll: decayAll),
        ]
    }

    static var trainedSlots: [ParameterSlot] { groups().flatMap(\.slots) }

    struct Run {
        var initial: [Float]
        var gradients: [[Float]]
        var learningRates: [Double]
    }

    static func run() throws -> Run {
        let f = try file()
        let grads = try f.tensor("opt.grads").values
        return Run(
            initial: try f.tensor("opt.params0").values,
            gradients: (0..<steps).map { Array(grads[($0 * bufferCount)..<(($0 + 1) * bufferCount)]) },
            learningRates: try f.tensor("opt.lrs").values.map(Double.init))
    }

    /// The expected buffer after each step, `[steps][bufferCount]`.
    static func trajectory(_ name: String) throws -> [[Float]] {
        let values = try file().tensor(name).values
        return (0..<steps).map { Array(values[($0 * bufferCount)..<(($0 + 1) * bufferCount)]) }
    }

    /// Runs `optimizer` over `steps` (a range of the fixture's steps) starting from `parameters`.
    static func step(
        _ optimizer: any Optimizer, _ parameters: inout [Float], run: Run, steps: Range<Int>,
        groups: [ParameterGroup], after: ((Int, [Float]) -> Void)? = nil
    ) {
        for s in steps {
            parameters.withUnsafeMutableBufferPointer { p in
                run.gradients[s].withUnsafeBufferPointer { g in
                    optimizer.step(
                        parameters: p.baseAddress!, gradients: g.baseAddress!, groups: groups,
                        learningRate: run.learningRates[s])
                }
            }
            after?(s, parameters)
        }
    }

    /// `|a - b| <= tolerance · max(1, |b|)` for every element.
    static func assertClose(
        _ actual: [Float], _ expected: [Float], tolerance: Float = 1e-6, _ message: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        var worst: (Int, Float) = (-1, 0)
        for i in 0..<min(actual.count, expected.count) {
            let error = abs(actual[i] - expected[i]) / max(1, abs(expected[i]))
            if !(error <= worst.1) { worst = (i, error) }
        }
        if worst.0 >= 0, !(worst.1 <= tolerance) {
            XCTFail(
                "\(message): element \(worst.0) is \(actual[worst.0]), expected \(expected[worst.0])"
                    + " (relative error \(worst.1) > \(tolerance))", file: file, line: line)
        }
    }
}

/// Each optimizer reproduces the reference trajectory (six steps, two groups with different
/// learning-rate scales and weight decays, a frozen slot, padding, varying base learning rates).
final class OptimizationOptimizerTests: XCTestCase {
    private func check(
        _ make: () -> any Optimizer, reference: String, decayAll: Bool = false, tolerance: Float = 1e-6,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let run = try OptimizationFixtures.run()
        let expected = try OptimizationFixtures.trajectory(reference)
        var parameters = run.initial
        let optimizer = make()
        OptimizationFixtures.step(
            optimizer, &parameters, run: run, steps: 0..<OptimizationFixtures.steps,
            groups: OptimizationFixtures.groups(decayAll: decayAll)
        ) { s, now in
            OptimizationFixtures.assertClose(
                now, expected[s], tolerance: tolerance, "\(reference) after step \(s + 1)", file: file, line: line)
        }
        XCTAssertEqual(optimizer.stepCount, OptimizationFixtures.steps, file: file, line: line)
        // The frozen slot and the padding between slots never change.
        let frozen = OptimizationFixtures.slots["frozen.weight"]!
        XCTAssertEqual(
            Array(parameters[frozen.offset..<(frozen.offset + frozen.count)]),
            Array(run.initial[frozen.offset..<(frozen.offset + frozen.count)]), "frozen slot changed",
            file: file, line: line)
        XCTAssertEqual(Array(parameters[20..<32]), Array(run.initial[20..<32]), "padding changed", file: file, line: line)
        XCTAssertEqual(Array(parameters[131..<144]), Array(run.initial[131..<144]), "padding changed", file: file, line: line)
    }

    func testPlainSGDMatchesTorchOptimSGD() throws {
        try check({ SGD() }, reference: "opt.sgd_plain")
    }

    func testMomentumSGDMatchesTorchOptimSGD() throws {
        try check({ SGD(momentum: 0.9) }, reference: "opt.sgd_momentum")
    }

    func testDampenedMomentumSGDMatchesTorchOptimSGD() throws {
        try check({ SGD(momentum: 0.9, dampening: 0.1) }, reference: "opt.sgd_dampening")
    }

    func testNesterovSGDMatchesTorchOptimSGD() throws {
        try check({ SGD(momentum: 0.9, nesterov: true) }, reference: "opt.sgd_nesterov")
    }

    func testDecayAllAppliesWeightDecayToBatchNormAndBias() throws {
        try check({ SGD(momentum: 0.9) }, reference: "opt.sgd_decay_all", decayAll: true)
    }

    func testAdamWMatchesTorchOptimAdamW() throws {
        try check({ AdamW() }, reference: "opt.adamw")
    }

    func testAdamWWithOtherBetasAndEpsilonMatchesTorchOptimAdamW() throws {
        try check({ AdamW(beta1: 0.8, beta2: 0.99, epsilon: 1e-3) }, reference: "opt.adamw_beta")
    }

    func testRMSPropMatchesTensorFlowApplyRMSPropWithMeanSquareStartingAtOne() throws {
        try check({ RMSProp(decay: 0.9, momentum: 0.9, epsilon: 1e-3) }, reference: "opt.rmsprop_tf")
    }

    /// The fixture tells the initialisations apart: starting the mean square at 0 (Keras
    /// RMSprop, torch.optim.RMSprop) gives a visibly different first step than TF1's 1.0.
    func testRMSPropStartingMeanSquareAtZeroDoesNotMatchTensorFlowReference() throws {
        let run = try OptimizationFixtures.run()
        let expected = try OptimizationFixtures.trajectory("opt.rmsprop_tf")
        var parameters = run.initial
        OptimizationFixtures.step(
            RMSProp(initialMeanSquare: 0), &parameters, run: run, steps: 0..<1, groups: OptimizationFixtures.groups())
        let difference = zip(parameters, expected[0]).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(difference, 0.01)
    }

    /// By default weight decay must not touch BN/bias slots: with zero gradients and plain SGD,
    /// only convolution and linear weights shrink.
    func testWeightDecaySkipsBatchNormAndBiasByDefault() {
        let slots = ParameterKind.allCases.enumerated().map { i, kind in
            ParameterSlot(name: "p\(i)", offset: i * 4, count: 4, kind: kind)
        }
        var parameters = [Float](repeating: 1, count: 20)
        let gradients = [Float](repeating: 0, count: 20)
        let optimizers: [any Optimizer] = [SGD(momentum: 0.9), AdamW(), RMSProp()]
        for optimizer in optimizers {
            parameters = [Float](repeating: 1, count: 20)
            parameters.withUnsafeMutableBufferPointer { p in
                optimizer.step(
                    parameters: p.baseAddress!, gradients: gradients, groups: [ParameterGroup(slots: slots, weightDecay: 0.1)],
                    learningRate: 0.5)
            }
            for (slot, kind) in zip(slots, ParameterKind.allCases) {
                let value = parameters[slot.offset]
                if kind.decaysByDefault {
                    XCTAssertLessThan(value, 1, "\(optimizer.kind): \(kind) should decay")
                } else {
                    XCTAssertEqual(value, 1, "\(optimizer.kind): \(kind) should not decay")
                }
            }
        }
    }

    func testGroupValidationRejectsOverlapDuplicatesAndOverflow() {
        let a = ParameterSlot(name: "a", offset: 0, count: 10, kind: .convolutionWeight)
        let b = ParameterSlot(name: "b", offset: 8, count: 4, kind: .bias)
        let c = ParameterSlot(name: "c", offset: 16, count: 4, kind: .bias)
        XCTAssertNoThrow(try ParameterGroup.validate([ParameterGroup(slots: [a, c])], bufferCount: 20))
        XCTAssertThrowsError(try ParameterGroup.validate([ParameterGroup(slots: [a]), ParameterGroup(slots: [b])], bufferCount: 20))
        XCTAssertThrowsError(try ParameterGroup.validate([ParameterGroup(slots: [a, a])], bufferCount: 20))
        XCTAssertThrowsError(try ParameterGroup.validate([ParameterGroup(slots: [a, c])], bufferCount: 19))
    }

    /// A long slot (many full vectors and a tail) updates every element like a short one.
    func testVectorisedUpdateMatchesElementwiseFormulaOnLongSlots() {
        let n = 1000
        var parameters = (0..<n).map { Float(sin(Double($0))) }
        let gradients = (0..<n).map { Float(cos(Double($0) * 0.7)) }
        let initial = parameters
        let slot = ParameterSlot(name: "w", offset: 0, count: n, kind: .linearWeight)
        let sgd = SGD(momentum: 0.9, nesterov: true)
        parameters.withUnsafeMutableBufferPointer { p in
            sgd.step(parameters: p.baseAddress!, gradients: gradients, groups: [ParameterGroup(slots: [slot], weightDecay: 0.1)],
                     learningRate: 0.1)
        }
        for i in 0..<n {
            let g = gradients[i] + Float(0.1) * initial[i]
            let expected = initial[i] - Float(0.1) * (g + Float(0.9) * g)
            XCTAssertEqual(parameters[i], expected, accuracy: 1e-6, "element \(i)")
        }
    }
}
