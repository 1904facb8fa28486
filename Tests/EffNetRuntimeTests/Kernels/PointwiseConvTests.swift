import EffNetRuntime
import XCTest

final class PointwiseConvTests: XCTestCase {
    private func check(pixels: Int, inChannels: Int, outChannels: Int, seed: UInt64,
                       activations: [Activation] = allActivations, file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let input = rng.floats(pixels * inChannels, -2, 2)
        let weights = rng.floats(outChannels * inChannels)
        let bias = rng.floats(outChannels, -4, 4)
        let residual = rng.floats(pixels * outChannels)
        for activation in activations {
            for useResidual in [false, true] {
                let ref = NaiveReference.pointwiseConv(
                    input: input, pixels: pixels, inChannels: inChannels, weights: weights, bias: bias,
                    outChannels: outChannels, activation: activation, residual: useResidual ? residual : nil)
                for pool in testPools {
                    var output = [Float](repeating: .nan, count: pixels * outChannels)
                    residual.withUnsafeBufferPointer { res in
                        Kernels.pointwiseConv(
                            input: input, pixels: pixels, inChannels: inChannels, weights: weights, bias: bias,
                            outChannels: outChannels, activation: activation,
                            residual: useResidual ? res.baseAddress! : nil, output: &output, pool: pool)
                    }
                    assertClose(output, ref, "pointwise \(pixels)x\(inChannels)->\(outChannels) \(activation) "
                                + "residual \(useResidual) threads \(pool.threadCount)", file: file, line: line)
                }
            }
        }
    }

    func testPointwiseMatchesNaiveForOddChannelCounts() {
        check(pixels: 37, inChannels: 13, outChannels: 40, seed: 1)
        check(pixels: 5, inChannels: 3, outChannels: 13, seed: 2)
        check(pixels: 64, inChannels: 40, outChannels: 24, seed: 3)
    }

    /// Few pixels, many output channels: the output-channel split path (7×7 late layers).
    func testPointwiseChannelSplitPathMatchesNaive() {
        check(pixels: 9, inChannels: 24, outChannels: 100, seed: 4)
        check(pixels: 1, inChannels: 16, outChannels: 64, seed: 5)
    }

    /// Many pixels: several row tiles per worker, last tile partial.
    func testPointwiseManyRowTilesMatchNaive() {
        check(pixels: 500, inChannels: 200, outChannels: 40, seed: 6, activations: [.silu])
    }
}
