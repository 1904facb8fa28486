@testable import EffNetRuntime
import Foundation
import XCTest

/// The C squeeze-excitation kernel (SqueezeExciteTemplate.h: means -> hidden -> scales) of every
/// instruction set this CPU supports, against a Double evaluation of torchvision's definition: channel
/// and squeeze counts around the vector width and the four-row blocks (tails in both products), every
/// activation, and nothing written past the S hidden values or the C scales.
final class SqueezeExciteScalesKernelTests: XCTestCase {
    func testMatchesDoubleDefinitionAcrossShapesAndActivations() {
        let paths = SIMDPath.supported.compactMap { path in CSIMDKernels(path).map { (path.rawValue, $0) } }
        var rng = TestRandom(seed: 811)
        let shapes = [(1, 1), (7, 3), (16, 4), (20, 5), (33, 8), (96, 4), (144, 6), (240, 10), (1152, 48)]
        for (C, S) in shapes {
            let means = rng.floats(C, -3, 3)
            let reduceWeights = rng.floats(S * C, -1, 1).map { $0 / Float(C).squareRoot() }
            let reduceBias = rng.floats(S, -0.5, 0.5)
            let expandWeights = rng.floats(C * S, -1, 1).map { $0 / Float(S).squareRoot() }
            let expandBias = rng.floats(C, -0.5, 0.5)
            for activation in [Activation.silu, .relu6, .identity] {
                // Double reference, and the scale of each sum (for the float rounding allowance).
                var hiddenWant = [Double](repeating: 0, count: S), hiddenMagnitude = [Double](repeating: 0, count: S)
                for j in 0..<S {
                    var sum = Double(reduceBias[j]), magnitude = abs(Double(reduceBias[j]))
                    for c in 0..<C {
                        let term = Double(reduceWeights[j * C + c]) * Double(means[c])
                        sum += term
                        magnitude += abs(term)
                    }
                    hiddenWant[j] = NaiveReference.activate(sum, activation)
                    hiddenMagnitude[j] = magnitude
                }
                var scalesWant = [Double](repeating: 0, count: C)
                for c in 0..<C {
                    var sum = Double(expandBias[c])
                    for j in 0..<S { sum += Double(expandWeights[c * S + j]) * hiddenWant[j] }
                    scalesWant[c] = NaiveReference.sigmoid(sum)
                }
                for (name, simd) in paths {
                    var hidden = [Float](repeating: .nan, count: S + 1)
                    var scales = [Float](repeating: .nan, count: C + 1)
                    simd.squeezeExciteScales(activation, channels: C, squeezeChannels: S, means: means,
                                             reduceWeights: reduceWeights, reduceBias: reduceBias,
                                             expandWeights: expandWeights, expandBias: expandBias,
                                             hidden: &hidden, scales: &scales)
                    let label = "\(name) \(activation) C \(C) S \(S)"
                    for j in 0..<S {
                        let allowed = 1e-6 * (hiddenMagnitude[j] + 1)
                        XCTAssert(abs(Double(hidden[j]) - hiddenWant[j]) <= allowed,
                                  "\(label): hidden[\(j)] = \(hidden[j]), want \(hiddenWant[j])")
                    }
                    for c in 0..<C {
                        XCTAssert(abs(Double(scales[c]) - scalesWant[c]) <= 2e-6,
                                  "\(label): scales[\(c)] = \(scales[c]), want \(scalesWant[c])")
                    }
                    XCTAssert(hidden[S].isNaN && scales[C].isNaN, "\(label): wrote past the outputs")
                }
            }
        }
    }
}
