@testable import EffNetRuntime
import Foundation
import XCTest

final class ActivationTests: XCTestCase {
    /// The vectorized SiLU (polynomial exp) must stay within a few float ulps of the Double definition,
    /// across the whole range including the saturated tails, for full vectors and tails.
    func testVectorSiLUMatchesDoublePrecisionDefinitionAcrossRange() {
        var values: [Float] = stride(from: Float(-100), through: 100, by: 0.0137).map { $0 }
        values += [0, -0, 1e-30, -1e-30, 87, -87, 88, -88, 89, -89, 1000, -1000]
        var data = values
        data.withUnsafeMutableBufferPointer {
            Kernels.applyActivation($0.baseAddress!, count: $0.count, activation: .silu, pool: testPools[1])
        }
        for (x, got) in zip(values, data) {
            let want = NaiveReference.activate(Double(x), .silu)
            let allowed = max(abs(want) * 4e-7, 1e-35)  // tails below 1e-35 are noise
            XCTAssert(abs(Double(got) - want) <= allowed, "silu(\(x)) = \(got), want \(want)")
        }
    }

    func testVectorSigmoidMatchesDoublePrecisionDefinition() {
        var x = FVec(repeating: 0)
        for start in stride(from: Float(-30), to: 30, by: 0.37) {
            for i in 0..<16 { x[i] = start + Float(i) * 0.023 }
            let s = vectorSigmoid(x)
            for i in 0..<16 {
                let want = NaiveReference.sigmoid(Double(x[i]))
                XCTAssertEqual(Double(s[i]), want, accuracy: want * 4e-7, "sigmoid(\(x[i]))")
            }
        }
    }

    func testVectorExpIsAccurateToAFewUlps() {
        var x = FVec(repeating: 0)
        for start in stride(from: Float(-86), to: 87, by: 0.61) {
            for i in 0..<16 { x[i] = start + Float(i) * 0.0371 }
            let e = vectorExp(x)
            for i in 0..<16 {
                let want = Foundation.exp(Double(x[i]))
                XCTAssertEqual(Double(e[i]), want, accuracy: want * 3e-7, "exp(\(x[i]))")
            }
        }
    }

    func testReLU6ClampsToZeroAndSixIncludingTail() {
        var data: [Float] = (0..<37).map { Float($0) * 0.5 - 9 }
        let expected = data.map { min(max($0, 0), 6) }
        data.withUnsafeMutableBufferPointer {
            Kernels.applyActivation($0.baseAddress!, count: $0.count, activation: .relu6, pool: testPools[0])
        }
        XCTAssertEqual(data, expected)
    }

    func testScalarApplyMatchesDefinitions() {
        for x: Float in [-7, -1, 0, 0.5, 3, 6.5, 20] {
            XCTAssertEqual(Activation.identity.apply(x), x)
            XCTAssertEqual(Activation.relu6.apply(x), min(max(x, 0), 6))
            XCTAssertEqual(Double(Activation.silu.apply(x)), NaiveReference.activate(Double(x), .silu),
                           accuracy: abs(Double(x)) * 2e-7 + 1e-12)
        }
    }

    /// Spec files and generated code spell activations by these raw values.
    func testActivationRawValuesAreStable() throws {
        XCTAssertEqual(Activation(rawValue: "identity"), .identity)
        XCTAssertEqual(Activation(rawValue: "silu"), .silu)
        XCTAssertEqual(Activation(rawValue: "relu6"), .relu6)
        let json = try JSONEncoder().encode([Activation.silu])
        XCTAssertEqual(String(decoding: json, as: UTF8.self), "[\"silu\"]")
    }
}
