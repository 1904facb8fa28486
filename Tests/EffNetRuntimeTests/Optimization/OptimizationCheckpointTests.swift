import Foundation
import XCTest

@testable import EffNetRuntime

final class OptimizationCheckpointTests: XCTestCase {
    private func temporaryURL() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("effnet-opt-\(UUID().uuidString).safetensors")
    }

    /// Steps 0..<3, saves weights + optimizer + EMA, restores into fresh objects, steps 3..<6:
    /// the parameters and shadows equal (bit for bit) an uninterrupted six-step run.
    private func checkResume(_ make: () -> any Optimizer, file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try OptimizationFixtures.run()
        let groups = OptimizationFixtures.groups()
        let slots = OptimizationFixtures.trainedSlots
        func makeEMA(_ p: [Float]) -> ExponentialMovingAverage {
            p.withUnsafeBufferPointer { ExponentialMovingAverage(slots: slots, parameters: $0.baseAddress!, decay: 0.99, warmup: true) }
        }

        var straight = run.initial
        let straightOptimizer = make()
        let straightEMA = makeEMA(straight)
        OptimizationFixtures.step(straightOptimizer, &straight, run: run, steps: 0..<6, groups: groups) { _, p in
            p.withUnsafeBufferPointer { straightEMA.update(parameters: $0.baseAddress!) }
        }

        var first = run.initial
        let firstOptimizer = make()
        let firstEMA = makeEMA(first)
        OptimizationFixtures.step(firstOptimizer, &first, run: run, steps: 0..<3, groups: groups) { _, p in
            p.withUnsafeBufferPointer { firstEMA.update(parameters: $0.baseAddress!) }
        }
        let url = temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        let weights = slots.map { ($0.name, HostTensor(shape: [$0.count], values: Array(first[$0.offset..<($0.offset + $0.count)]))) }
        try OptimizerCheckpoint.save(
            weights: weights, optimizer: firstOptimizer, ema: firstEMA, metadata: ["epoch": "1"], to: url)

        let checkpoint = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(checkpoint.metadata["optimizer"], firstOptimizer.kind, file: file, line: line)
        XCTAssertEqual(checkpoint.metadata["step"], "3", file: file, line: line)
        XCTAssertEqual(checkpoint.metadata["ema.updates"], "3", file: file, line: line)
        XCTAssertEqual(checkpoint.metadata["epoch"], "1", file: file, line: line)
        var resumed = run.initial  // padding and frozen values as before; trained slots from the file
        for slot in slots {
            let values = try checkpoint.tensor(slot.name, shape: [slot.count]).values
            resumed.replaceSubrange(slot.offset..<(slot.offset + slot.count), with: values)
        }
        let resumedOptimizer = make()
        let resumedEMA = makeEMA(resumed)
        try OptimizerCheckpoint.restore(from: checkpoint, optimizer: resumedOptimizer, ema: resumedEMA, slots: slots)
        XCTAssertEqual(resumedOptimizer.stepCount, 3, file: file, line: line)
        XCTAssertEqual(resumedEMA.updateCount, 3, file: file, line: line)
        OptimizationFixtures.step(resumedOptimizer, &resumed, run: run, steps: 3..<6, groups: groups) { _, p in
            p.withUnsafeBufferPointer { resumedEMA.update(parameters: $0.baseAddress!) }
        }
        XCTAssertEqual(resumed, straight, "\(resumedOptimizer.kind): resumed trajectory differs", file: file, line: line)
        XCTAssertEqual(resumedEMA.stateTensors().map(\.tensor), straightEMA.stateTensors().map(\.tensor), file: file, line: line)
        XCTAssertEqual(resumedOptimizer.stateTensors().map(\.name), straightOptimizer.stateTensors().map(\.name), file: file, line: line)
        XCTAssertEqual(resumedOptimizer.stateTensors().map(\.tensor), straightOptimizer.stateTensors().map(\.tensor), file: file, line: line)
    }

    func testSGDResumesIdenticallyFromCheckpoint() throws {
        try checkResume { SGD(momentum: 0.9, nesterov: true) }
    }

    func testRMSPropResumesIdenticallyFromCheckpoint() throws {
        try checkResume { RMSProp() }
    }

    func testAdamWResumesIdenticallyFromCheckpoint() throws {
        try checkResume { AdamW() }
    }

    func testStateTensorNamesFollowTheParameterNames() throws {
        let run = try OptimizationFixtures.run()
        var p = run.initial
        let sgd = SGD(momentum: 0.9), rms = RMSProp(), adam = AdamW()
        for optimizer in [sgd, rms, adam] as [any Optimizer] {
            OptimizationFixtures.step(optimizer, &p, run: run, steps: 0..<1, groups: OptimizationFixtures.groups())
        }
        XCTAssertTrue(sgd.stateTensors().map(\.name).contains("optimizer.momentum.fc.weight"))
        XCTAssertEqual(sgd.stateTensors().count, 5)
        XCTAssertEqual(Set(rms.stateTensors().map { $0.name.split(separator: ".")[1] }), ["rms", "momentum"])
        XCTAssertEqual(Set(adam.stateTensors().map { $0.name.split(separator: ".")[1] }), ["exp_avg", "exp_avg_sq", "step"])
        XCTAssertEqual(adam.stateTensors().first { $0.name == "optimizer.step.bn.bias" }?.tensor.values, [1])
        XCTAssertFalse(sgd.stateTensors().contains { $0.name.hasSuffix("frozen.weight") })
        // Plain SGD keeps no state.
        XCTAssertTrue(SGD().stateTensors().isEmpty)
    }

    func testRestoreRejectsOtherOptimizerKind() throws {
        let (tensors, metadata) = OptimizerCheckpoint.state(optimizer: SGD(momentum: 0.9), ema: nil)
        XCTAssertThrowsError(try OptimizerCheckpoint.restore(from: Dictionary(uniqueKeysWithValues: tensors), metadata: metadata,
                                                             optimizer: AdamW(), ema: nil)) { error in
            XCTAssertTrue("\(error)".contains("holds sgd state, the optimizer is adamw"), "\(error)")
        }
    }

    func testRestoreRejectsMissingStateAndWrongSizes() throws {
        let slot = ParameterSlot(name: "w", offset: 0, count: 4, kind: .linearWeight)
        let optimizer = SGD(momentum: 0.9)
        // No optimizer metadata at all.
        XCTAssertThrowsError(try OptimizerCheckpoint.restore(from: [:], metadata: [:], optimizer: optimizer, ema: nil))
        // A momentum buffer of the wrong size for the slot.
        let wrong = ["optimizer.momentum.w": HostTensor(shape: [3], values: [1, 2, 3])]
        XCTAssertThrowsError(try OptimizerCheckpoint.restore(
            from: wrong, metadata: ["optimizer": "sgd", "step": "2"], optimizer: optimizer, ema: nil, slots: [slot])) { error in
            XCTAssertTrue("\(error)".contains("holds 3 values, the parameter has 4"), "\(error)")
        }
        XCTAssertEqual(optimizer.stepCount, 0)
        // EMA shadow missing: nothing changes, not even the optimizer.
        let parameters: [Float] = [1, 2, 3, 4]
        let ema = parameters.withUnsafeBufferPointer { ExponentialMovingAverage(slots: [slot], parameters: $0.baseAddress!) }
        let good = ["optimizer.momentum.w": HostTensor(shape: [4], values: [1, 2, 3, 4])]
        XCTAssertThrowsError(try OptimizerCheckpoint.restore(
            from: good, metadata: ["optimizer": "sgd", "step": "2", "ema.updates": "2"], optimizer: optimizer, ema: ema))
        XCTAssertEqual(optimizer.stepCount, 0)
        XCTAssertTrue(optimizer.stateTensors().isEmpty)
        XCTAssertEqual(ema.shadowValues(of: "w"), parameters)
        // Non-finite state is refused.
        let nan = ["optimizer.momentum.w": HostTensor(shape: [4], values: [1, .nan, 3, 4])]
        XCTAssertThrowsError(try optimizer.loadState(nan, stepCount: 1))
        // AdamW needs all three kinds of state per parameter.
        XCTAssertThrowsError(try AdamW().loadState(["optimizer.exp_avg.w": HostTensor(shape: [4], repeating: 0)], stepCount: 1))
    }

    func testSaveRefusesWeightNamesThatCollideWithState() {
        let url = temporaryURL()
        XCTAssertThrowsError(try OptimizerCheckpoint.save(
            weights: [("ema.w", HostTensor(shape: [1], values: [0]))], optimizer: SGD(), ema: nil, to: url))
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    /// PyTorch counts AdamW steps per parameter: a slot that starts training later (unfrozen)
    /// gets bias correction for its own first step, exactly like a fresh optimizer.
    func testAdamWCountsStepsPerParameterLikePyTorch() {
        let a = ParameterSlot(name: "a", offset: 0, count: 3, kind: .linearWeight)
        let b = ParameterSlot(name: "b", offset: 16, count: 3, kind: .linearWeight)
        var parameters = [Float](repeating: 0.5, count: 19)
        let gradients = (0..<19).map { Float($0) * 0.1 - 0.7 }
        let adam = AdamW()
        for _ in 0..<5 {
            parameters.withUnsafeMutableBufferPointer {
                adam.step(parameters: $0.baseAddress!, gradients: gradients, groups: [ParameterGroup(slots: [a])], learningRate: 0.01)
            }
        }
        parameters.withUnsafeMutableBufferPointer {
            adam.step(parameters: $0.baseAddress!, gradients: gradients, groups: [ParameterGroup(slots: [a, b])], learningRate: 0.01)
        }
        var fresh = [Float](repeating: 0.5, count: 19)
        fresh.withUnsafeMutableBufferPointer {
            AdamW().step(parameters: $0.baseAddress!, gradients: gradients, groups: [ParameterGroup(slots: [b])], learningRate: 0.01)
        }
        XCTAssertEqual(Array(parameters[16..<19]), Array(fresh[16..<19]))
        XCTAssertEqual(adam.stepCount, 6)
    }
}
