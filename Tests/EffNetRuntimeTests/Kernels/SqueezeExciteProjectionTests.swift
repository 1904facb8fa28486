import EffNetRuntime
import XCTest

/// A squeeze-excitation folded into the next 1×1 convolution (scales applied to per-image weights
/// instead of the activation) computes what the two layers compute one after the other: the naive
/// SE followed by the naive 1×1 convolution, in double precision.
final class SqueezeExciteProjectionTests: XCTestCase {
    private func check(batch: Int, pixels: Int, channels: Int, squeezeChannels: Int, outChannels: Int,
                       residual withResidual: Bool, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let x = rng.floats(batch * pixels * channels, -3, 3)
        let reduceWeights = rng.floats(squeezeChannels * channels)
        let reduceBias = rng.floats(squeezeChannels, -4, 4)
        let expandWeights = rng.floats(channels * squeezeChannels)
        let expandBias = rng.floats(channels)
        let weights = rng.floats(outChannels * channels)
        let bias = rng.floats(outChannels)
        let residual = withResidual ? rng.floats(batch * pixels * outChannels) : nil
        for (seActivation, activation) in [(Activation.silu, Activation.identity), (.relu6, .silu), (.identity, .relu6)] {
            let excited = NaiveReference.squeezeExcite(
                x: x, batch: batch, pixels: pixels, channels: channels, squeezeChannels: squeezeChannels,
                reduceWeights: reduceWeights, reduceBias: reduceBias, activation: seActivation,
                expandWeights: expandWeights, expandBias: expandBias)
            // The naive conv takes floats; the SE output rounded to float is what the unfused model feeds it.
            let ref = NaiveReference.pointwiseConv(
                input: excited.map { Float($0) }, pixels: batch * pixels, inChannels: channels, weights: weights,
                bias: bias, outChannels: outChannels, activation: activation, residual: residual)
            for pool in testPools {
                // The workspace as sized, then a guard band that must come back untouched.
                let workspaceFloats = Kernels.squeezeExciteProjectionWorkspaceFloats(
                    batch: batch, channels: channels, squeezeChannels: squeezeChannels, outChannels: outChannels)
                let guardBand: Float = -12345
                var workspace = [Float](repeating: .nan, count: workspaceFloats)
                    + [Float](repeating: guardBand, count: 64)
                var output = [Float](repeating: .nan, count: batch * pixels * outChannels)
                workspace.withUnsafeMutableBufferPointer { ws in
                    let scales = ws.baseAddress!, scratch = ws.baseAddress! + batch * channels
                    Kernels.squeezeExciteScales(
                        x, batch: batch, pixels: pixels, channels: channels, squeezeChannels: squeezeChannels,
                        reduceWeights: reduceWeights, reduceBias: reduceBias, activation: seActivation,
                        expandWeights: expandWeights, expandBias: expandBias, scales: scales, workspace: scratch, pool: pool)
                    Kernels.pointwiseConvScaledInput(
                        input: x, batch: batch, imagePixels: pixels, inChannels: channels, inputScales: scales,
                        inputMajorWeights: NaiveReference.inputMajor(weights, outChannels: outChannels,
                                                                     inChannels: channels),
                        bias: bias, outChannels: outChannels, activation: activation,
                        residual: residual, output: &output, workspace: scratch, pool: pool)
                }
                XCTAssertEqual(Array(workspace[workspaceFloats...]), [Float](repeating: guardBand, count: 64),
                               "SE+project b\(batch) threads \(pool.threadCount): wrote past its workspace",
                               file: file, line: line)
                assertClose(output, ref, "SE+project b\(batch) p\(pixels) c\(channels) s\(squeezeChannels) "
                            + "co\(outChannels) \(seActivation)/\(activation) residual \(withResidual) "
                            + "threads \(pool.threadCount)", file: file, line: line)
            }
        }
    }

    func testFoldedSqueezeExciteMatchesSEThenConvForOddSizes() {
        check(batch: 1, pixels: 49, channels: 40, squeezeChannels: 10, outChannels: 24, residual: true, seed: 300)
        check(batch: 3, pixels: 5, channels: 13, squeezeChannels: 3, outChannels: 7, residual: false, seed: 301)
        check(batch: 2, pixels: 1, channels: 3, squeezeChannels: 1, outChannels: 1, residual: true, seed: 302)
    }

    /// Enough rows that every image is cut into several GEMM tiles, and batches larger and
    /// smaller than the thread count.
    func testFoldedSqueezeExciteMatchesSEThenConvOnLargeMaps() {
        check(batch: 1, pixels: 3136, channels: 144, squeezeChannels: 6, outChannels: 24, residual: true, seed: 303)
        check(batch: 3, pixels: 784, channels: 240, squeezeChannels: 10, outChannels: 40, residual: false, seed: 304)
    }
}
