import EffNetRuntime
import XCTest

/// The 1×1 convolution (input-major weights, the register-tiled C GEMM on x86; training and inference
/// share it) against the naive double-precision loop, with the weights re-laid by
/// `WeightPrep.inputMajorWeights` as training does each step.
final class PointwiseConvTests: XCTestCase {
    private func check(pixels: Int, inChannels: Int, outChannels: Int, seed: UInt64,
                       activations: [Activation] = allActivations, file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let input = rng.floats(pixels * inChannels, -2, 2)
        let weights = rng.floats(outChannels * inChannels)
        let bias = rng.floats(outChannels, -4, 4)
        let residual = rng.floats(pixels * outChannels)
        var inputMajor = [Float](repeating: .nan, count: weights.count)
        WeightPrep.inputMajorWeights(weights, outChannels: outChannels, inChannels: inChannels, into: &inputMajor)
        XCTAssertEqual(inputMajor, NaiveReference.inputMajor(weights, outChannels: outChannels, inChannels: inChannels),
                       "inputMajorWeights \(outChannels)x\(inChannels)", file: file, line: line)
        for activation in activations {
            for useResidual in [false, true] {
                let ref = NaiveReference.pointwiseConv(
                    input: input, pixels: pixels, inChannels: inChannels, weights: weights, bias: bias,
                    outChannels: outChannels, activation: activation, residual: useResidual ? residual : nil)
                for pool in testPools {
                    var output = [Float](repeating: .nan, count: pixels * outChannels)
                    residual.withUnsafeBufferPointer { res in
                        Kernels.pointwiseConv(
                            input: input, pixels: pixels, inChannels: inChannels, inputMajorWeights: inputMajor,
                            bias: bias, outChannels: outChannels, activation: activation,
                            residual: useResidual ? res.baseAddress! : nil, output: &output, pool: pool)
                    }
                    assertClose(output, ref, "pointwise \(pixels)x\(inChannels)->\(outChannels) "
                                + "\(activation) residual \(useResidual) threads \(pool.threadCount)",
                                file: file, line: line)
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

    /// Output-channel counts around the GEMM's 32-column panels and 16-lane vectors (full panels, a
    /// full or masked one-vector tail, a masked two-vector tail) and row counts around its 14-row tiles.
    func testPointwisePanelAndTileEdgesMatchNaive() {
        for (i, outChannels) in [8, 16, 24, 32, 40, 48, 56, 72].enumerated() {
            check(pixels: 15 + 14 * i, inChannels: 5 + i, outChannels: outChannels, seed: 10 + UInt64(i),
                  activations: [.silu])
        }
        check(pixels: 29, inChannels: 1, outChannels: 1, seed: 20, activations: [.identity])
    }
}
