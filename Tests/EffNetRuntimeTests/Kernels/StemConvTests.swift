import EffNetRuntime
import XCTest

final class StemConvTests: XCTestCase {
    private func check(batch: Int, inChannels: Int, height: Int, width: Int, kernel: Int, stride: Int,
                       padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int, outChannels: Int, seed: UInt64,
                       activations: [Activation] = allActivations,
                       file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let input = rng.floats(batch * inChannels * height * width, -2, 2)
        let weights = rng.floats(outChannels * inChannels * kernel * kernel)
        let bias = rng.floats(outChannels, -4, 4)
        for activation in activations {
            let ref = NaiveReference.conv2d(
                input: input, batch: batch, inChannels: inChannels, height: height, width: width, kernel: kernel,
                stride: stride, padTop: padTop, padLeft: padLeft, outHeight: outHeight, outWidth: outWidth,
                weights: weights, bias: bias, outChannels: outChannels, activation: activation)
            for pool in testPools {
                var output = [Float](repeating: .nan, count: batch * outHeight * outWidth * outChannels)
                var workspace = [Float](repeating: .nan, count: Kernels.stemConvWorkspaceFloats(
                    inChannels: inChannels, kernel: kernel, threads: pool.threadCount))
                Kernels.stemConv(
                    input: input, batch: batch, inChannels: inChannels, height: height, width: width,
                    kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft,
                    outHeight: outHeight, outWidth: outWidth, weights: weights, bias: bias,
                    outChannels: outChannels, activation: activation, output: &output, workspace: &workspace,
                    pool: pool)
                assertClose(output, ref, "stem b\(batch) \(inChannels)x\(height)x\(width) k\(kernel) s\(stride) "
                            + "pad \(padTop),\(padLeft) -> \(outChannels) \(activation) threads \(pool.threadCount)",
                            file: file, line: line)
                // The inference stem: the same weights input-major, through the GEMM kernel.
                output = [Float](repeating: .nan, count: output.count)
                Kernels.stemConv(
                    input: input, batch: batch, inChannels: inChannels, height: height, width: width,
                    kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft,
                    outHeight: outHeight, outWidth: outWidth,
                    inputMajorWeights: NaiveReference.inputMajor(weights, outChannels: outChannels,
                                                                 inChannels: inChannels * kernel * kernel),
                    bias: bias, outChannels: outChannels, activation: activation, output: &output,
                    workspace: &workspace, pool: pool)
                assertClose(output, ref, "input-major stem b\(batch) \(inChannels)x\(height)x\(width) k\(kernel) "
                            + "s\(stride) pad \(padTop),\(padLeft) -> \(outChannels) \(activation) "
                            + "threads \(pool.threadCount)", file: file, line: line)
            }
        }
    }

    func testStemSymmetricPaddingOddAndEvenSizesMatchesNaive() {
        check(batch: 1, inChannels: 3, height: 9, width: 9, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 5, outWidth: 5, outChannels: 13, seed: 100)
        check(batch: 3, inChannels: 3, height: 8, width: 10, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 4, outWidth: 5, outChannels: 32, seed: 101)
    }

    /// Lite variants: TF SAME, stride 2, extra pixel bottom/right (H=8: padTop 0, out 4).
    func testStemTensorFlowSamePaddingMatchesNaive() {
        check(batch: 1, inChannels: 3, height: 8, width: 8, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
              outHeight: 4, outWidth: 4, outChannels: 16, seed: 102)
    }

    /// More output pixels than one im2col tile (256): several tiles per worker, crossing image boundaries.
    func testStemManyTilesAcrossBatchMatchesNaive() {
        check(batch: 3, inChannels: 3, height: 34, width: 30, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 17, outWidth: 15, outChannels: 24, seed: 103, activations: [.silu])
    }

    func testStemOtherKernelAndStrideOneMatchesNaive() {
        check(batch: 2, inChannels: 2, height: 7, width: 6, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
              outHeight: 7, outWidth: 6, outChannels: 8, seed: 104, activations: [.relu6])
    }
}
