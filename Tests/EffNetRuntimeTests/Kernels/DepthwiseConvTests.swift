import EffNetRuntime
import XCTest

final class DepthwiseConvTests: XCTestCase {
    private func check(batch: Int, height: Int, width: Int, channels: Int, kernel: Int, stride: Int,
                       padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int, seed: UInt64,
                       activations: [Activation] = allActivations,
                       file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let input = rng.floats(batch * height * width * channels, -2, 2)
        let torchWeights = rng.floats(channels * kernel * kernel)
        let bias = rng.floats(channels, -4, 4)
        var weights = [Float](repeating: 0, count: torchWeights.count)
        WeightPrep.depthwiseWeights(torchWeights, channels: channels, kernel: kernel, into: &weights)
        for activation in activations {
            let ref = NaiveReference.depthwiseConv(
                input: input, batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                stride: stride, padTop: padTop, padLeft: padLeft, outHeight: outHeight, outWidth: outWidth,
                torchWeights: torchWeights, bias: bias, activation: activation)
            for pool in testPools {
                var output = [Float](repeating: .nan, count: batch * outHeight * outWidth * channels)
                Kernels.depthwiseConv(
                    input: input, batch: batch, height: height, width: width, channels: channels,
                    kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft,
                    outHeight: outHeight, outWidth: outWidth, weights: weights, bias: bias,
                    activation: activation, output: &output, pool: pool)
                assertClose(output, ref, "depthwise b\(batch) \(height)x\(width)x\(channels) k\(kernel) s\(stride) "
                            + "pad \(padTop),\(padLeft) out \(outHeight)x\(outWidth) \(activation) "
                            + "threads \(pool.threadCount)", file: file, line: line)
            }
        }
    }

    func testStrideOneSymmetricPaddingMatchesNaiveForOddAndEvenSizes() {
        check(batch: 1, height: 9, width: 7, channels: 13, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
              outHeight: 9, outWidth: 7, seed: 10)
        check(batch: 3, height: 8, width: 8, channels: 40, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
              outHeight: 8, outWidth: 8, seed: 11)
        check(batch: 1, height: 7, width: 10, channels: 3, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
              outHeight: 7, outWidth: 10, seed: 12)
        check(batch: 3, height: 6, width: 6, channels: 48, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
              outHeight: 6, outWidth: 6, seed: 13)
    }

    func testStrideTwoSymmetricPaddingMatchesNaive() {
        // H=8, k=3, s=2, symmetric: padTop 1, out 4.
        check(batch: 1, height: 8, width: 8, channels: 40, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 4, outWidth: 4, seed: 20)
        // H=7, k=5, s=2, symmetric: padTop 2, out 4.
        check(batch: 3, height: 7, width: 7, channels: 13, kernel: 5, stride: 2, padTop: 2, padLeft: 2,
              outHeight: 4, outWidth: 4, seed: 21)
        check(batch: 1, height: 9, width: 11, channels: 19, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 5, outWidth: 6, seed: 22)
    }

    /// TensorFlow SAME: for stride 2 the extra padding pixel goes bottom/right.
    func testStrideTwoTensorFlowSamePaddingMatchesNaive() {
        // H=8, k=3, s=2: pad total 1 → top 0, bottom 1; out 4.
        check(batch: 1, height: 8, width: 8, channels: 40, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
              outHeight: 4, outWidth: 4, seed: 30)
        // H=8, k=5, s=2: pad total 3 → top 1, bottom 2; out 4.
        check(batch: 3, height: 8, width: 8, channels: 13, kernel: 5, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 4, outWidth: 4, seed: 31)
        // H=7, k=5, s=2: pad total 4 → top 2, bottom 2; out 4 (non-square: W=6 → pad 3, left 1).
        check(batch: 1, height: 7, width: 6, channels: 24, kernel: 5, stride: 2, padTop: 2, padLeft: 1,
              outHeight: 4, outWidth: 3, seed: 32)
    }

    /// Kernels other than 3 and 5 and stride 3 take the generic path.
    func testGenericKernelSizeAndStrideMatchNaive() {
        check(batch: 1, height: 9, width: 9, channels: 17, kernel: 7, stride: 1, padTop: 3, padLeft: 3,
              outHeight: 9, outWidth: 9, seed: 40, activations: [.silu])
        check(batch: 2, height: 10, width: 10, channels: 16, kernel: 3, stride: 3, padTop: 1, padLeft: 1,
              outHeight: 4, outWidth: 4, seed: 41, activations: [.relu6])
        check(batch: 1, height: 4, width: 4, channels: 8, kernel: 1, stride: 1, padTop: 0, padLeft: 0,
              outHeight: 4, outWidth: 4, seed: 42, activations: [.identity])
    }

    /// Fewer output rows than workers want: channels are split into chunks too.
    func testFewRowsManyChannelsSplitsChannelsCorrectly() {
        check(batch: 1, height: 2, width: 2, channels: 72, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
              outHeight: 2, outWidth: 2, seed: 50)
        check(batch: 1, height: 3, width: 3, channels: 96, kernel: 5, stride: 2, padTop: 2, padLeft: 2,
              outHeight: 2, outWidth: 2, seed: 51)
    }

    /// Kernel larger than the image: no interior pixels at all.
    func testKernelLargerThanImageMatchesNaive() {
        check(batch: 1, height: 2, width: 3, channels: 20, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
              outHeight: 2, outWidth: 3, seed: 60)
    }
}
