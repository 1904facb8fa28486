import Foundation
import XCTest

@testable import EffNetRuntime

final class OptimizationScheduleTests: XCTestCase {
    private func check(
        _ schedule: some LearningRateSchedule, against key: String, stepsPerEpoch: Int = 10,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let expected = try OptimizationFixtures.file().tensor(key).values  // torch values (f64 rounded to f32)
        for (step, value) in expected.enumerated() {
            let actual = schedule.learningRate(step: step, stepsPerEpoch: stepsPerEpoch)
            XCTAssertEqual(actual, Double(value), accuracy: 1e-6 * max(Double(abs(value)), 1e-3),
                           "\(key) step \(step)", file: file, line: line)
        }
    }

    func testCosineMatchesTorchCosineAnnealingLR() throws {
        try check(CosineSchedule(base: 0.1, totalSteps: 50, floor: 0.001), against: "lr.cosine")
    }

    func testCosineStaysAtFloorAfterTotalSteps() {
        let schedule = CosineSchedule(base: 0.1, totalSteps: 50, floor: 0.001)
        XCTAssertEqual(schedule.learningRate(step: 50, stepsPerEpoch: 1), 0.001, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(step: 80, stepsPerEpoch: 1), 0.001, accuracy: 1e-15)
    }

    func testLinearWarmupMatchesTorchLinearLR() throws {
        try check(LinearWarmup(wrapping: ConstantSchedule(0.2), warmupSteps: 10, startFactor: 0.1), against: "lr.linear_warmup")
    }

    func testWarmupThenCosineMatchesTorchSequentialLR() throws {
        let schedule = LinearWarmup(
            wrapping: CosineSchedule(base: 0.256, totalSteps: 20, floor: 1e-4), warmupSteps: 5, startFactor: 0.01,
            offsetInner: true)
        try check(schedule, against: "lr.sequential")
    }

    func testExponentialDecayStaircaseMatchesPaperSchedule() throws {
        try check(ExponentialDecaySchedule(base: 0.256), against: "lr.exp_staircase")
        // 0.97 every 2.4 epochs: with 10 steps per epoch, the first drop happens at step 24.
        let schedule = ExponentialDecaySchedule(base: 0.256, rate: 0.97, decayEpochs: 2.4, staircase: true)
        XCTAssertEqual(schedule.learningRate(step: 23, stepsPerEpoch: 10), 0.256)
        XCTAssertEqual(schedule.learningRate(step: 24, stepsPerEpoch: 10), 0.256 * 0.97, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(step: 48, stepsPerEpoch: 10), 0.256 * 0.97 * 0.97, accuracy: 1e-15)
    }

    func testExponentialDecayWithoutStaircaseIsSmooth() throws {
        try check(ExponentialDecaySchedule(base: 0.256, staircase: false), against: "lr.exp_smooth")
    }

    func testEfficientNetReferenceWarmupStartsAtZeroAndJoinsTheDecay() {
        // TF build_learning_rate: lr·step/warmup_steps before warm-up ends, decayed(step) after.
        let schedule = LinearWarmup(wrapping: ExponentialDecaySchedule(base: 0.256), warmupSteps: 50)
        XCTAssertEqual(schedule.learningRate(step: 0, stepsPerEpoch: 10), 0)
        XCTAssertEqual(schedule.learningRate(step: 25, stepsPerEpoch: 10), 0.128, accuracy: 1e-15)
        XCTAssertEqual(schedule.learningRate(step: 50, stepsPerEpoch: 10), 0.256 * 0.97 * 0.97, accuracy: 1e-15)
    }

    func testConstantIsConstant() {
        XCTAssertEqual(ConstantSchedule(0.3).learningRate(step: 12345, stepsPerEpoch: 7), 0.3)
    }
}
