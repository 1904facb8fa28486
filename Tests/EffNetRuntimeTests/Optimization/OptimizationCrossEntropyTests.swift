import Foundation
import XCTest

@testable import EffNetRuntime

final class OptimizationCrossEntropyTests: XCTestCase {
    private func fixture() throws -> (logits: [Float], labels: [Int], file: SafeTensorsFile) {
        let file = try OptimizationFixtures.file()
        return (try file.tensor("ce.logits").values, try file.int64Tensor("ce.labels").values.map { Int($0) }, file)
    }

    private func checkAgainstTorch(smoothing: Double, key: String) throws {
        let (logits, labels, file) = try fixture()
        var grad = [Float](repeating: .nan, count: logits.count)
        let loss = try CrossEntropy.forwardBackward(
            logits: logits, labels: labels, classes: 5, labelSmoothing: smoothing, gradLogits: &grad)
        let expectedLoss = Double(try file.tensor("ce.loss.\(key)").values[0])
        XCTAssertEqual(loss, expectedLoss, accuracy: 1e-6 * abs(expectedLoss))
        let lossOnly = try logits.withUnsafeBufferPointer {
            try CrossEntropy.loss(logits: $0.baseAddress!, labels: labels, classes: 5, labelSmoothing: smoothing)
        }
        XCTAssertEqual(lossOnly, loss)
        let expectedGrad = try file.tensor("ce.grad.\(key)").values
        for i in 0..<grad.count {
            XCTAssertEqual(grad[i], expectedGrad[i], accuracy: 1e-7, "gradient element \(i)")
        }
    }

    func testLossAndGradientMatchTorchWithoutLabelSmoothing() throws {
        try checkAgainstTorch(smoothing: 0, key: "0")
    }

    func testLossAndGradientMatchTorchWithLabelSmoothing() throws {
        try checkAgainstTorch(smoothing: 0.1, key: "0.1")
    }

    func testGradientMatchesFiniteDifferencesOfTheLoss() throws {
        let (logits, labels, _) = try fixture()
        for smoothing in [0.0, 0.1, 0.3] {
            var grad = [Float](repeating: 0, count: logits.count)
            _ = try CrossEntropy.forwardBackward(
                logits: logits, labels: labels, classes: 5, labelSmoothing: smoothing, gradLogits: &grad)
            for i in 0..<logits.count {
                let h: Float = 1.0 / 256  // exactly representable, so x ± h is exact
                var plus = logits, minus = logits
                plus[i] += h
                minus[i] -= h
                let lossPlus = try plus.withUnsafeBufferPointer {
                    try CrossEntropy.loss(logits: $0.baseAddress!, labels: labels, classes: 5, labelSmoothing: smoothing)
                }
                let lossMinus = try minus.withUnsafeBufferPointer {
                    try CrossEntropy.loss(logits: $0.baseAddress!, labels: labels, classes: 5, labelSmoothing: smoothing)
                }
                let numeric = (lossPlus - lossMinus) / (2 * Double(h))
                XCTAssertEqual(Double(grad[i]), numeric, accuracy: 1e-5, "ε \(smoothing), element \(i)")
            }
        }
    }

    func testHugeLogitsStayFinite() throws {
        let logits: [Float] = [1000, -1000, 0, 3e4, 3e4 + 1, -3e4]
        var grad = [Float](repeating: 0, count: 6)
        let loss = try CrossEntropy.forwardBackward(
            logits: logits, labels: [0, 2], classes: 3, labelSmoothing: 0.1, gradLogits: &grad)
        XCTAssertTrue(loss.isFinite)
        XCTAssertTrue(grad.allSatisfy(\.isFinite))
        // Each gradient row sums to zero (softmax and target both sum to one).
        XCTAssertEqual(Double(grad[0] + grad[1] + grad[2]), 0, accuracy: 1e-7)
        XCTAssertEqual(Double(grad[3] + grad[4] + grad[5]), 0, accuracy: 1e-7)
    }

    func testOutOfRangeLabelThrowsAndWritesNothing() throws {
        let logits = [Float](repeating: 0.5, count: 10)
        for bad in [-1, 5] {
            var grad = [Float](repeating: 42, count: 10)
            XCTAssertThrowsError(
                try CrossEntropy.forwardBackward(logits: logits, labels: [1, bad], classes: 5, labelSmoothing: 0, gradLogits: &grad)
            ) { error in
                XCTAssertEqual(error as? CrossEntropyError, .labelOutOfRange(index: 1, label: bad, classes: 5))
                XCTAssertTrue("\(error)".contains("label \(bad) of sample 1 is outside 0..<5"), "\(error)")
            }
            XCTAssertEqual(grad, [Float](repeating: 42, count: 10))
        }
    }

    func testNonFiniteLogitsThrowAndWriteNothing() throws {
        for value in [Float.nan, .infinity, -.infinity] {
            var logits = [Float](repeating: 0.5, count: 10)
            logits[7] = value
            var grad = [Float](repeating: 42, count: 10)
            XCTAssertThrowsError(
                try CrossEntropy.forwardBackward(logits: logits, labels: [1, 2], classes: 5, labelSmoothing: 0.1, gradLogits: &grad)
            ) { error in
                guard case .nonFiniteLogit(let sample, let classIndex, _)? = error as? CrossEntropyError else {
                    return XCTFail("unexpected error \(error)")
                }
                XCTAssertEqual(sample, 1)
                XCTAssertEqual(classIndex, 2)
            }
            XCTAssertEqual(grad, [Float](repeating: 42, count: 10))
        }
    }

    func testInvalidArgumentsThrow() {
        var grad: [Float] = []
        XCTAssertThrowsError(try CrossEntropy.forwardBackward(logits: [], labels: [], classes: 5, labelSmoothing: 0, gradLogits: &grad))
        XCTAssertThrowsError(try CrossEntropy.forwardBackward(logits: [0, 0], labels: [0], classes: 2, labelSmoothing: 1.5, gradLogits: &grad))
        XCTAssertThrowsError(try CrossEntropy.forwardBackward(logits: [0, 0, 0], labels: [0], classes: 2, labelSmoothing: 0, gradLogits: &grad))
    }
}
