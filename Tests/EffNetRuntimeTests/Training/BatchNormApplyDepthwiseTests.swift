@testable import EffNetRuntime
import XCTest

/// `batchNormApplyDepthwiseConv` promises the bits of `batchNormApply`, the depthwise convolution and
/// `batchNormStatistics` of its output one after the other: y, the depthwise output, its saved mean and
/// invStd and its running statistics.
final class BatchNormApplyDepthwiseTests: XCTestCase {
    /// Windows the C kernels take (3x3 and 5x5, strides 1 and 2, symmetric and TF-style padding, a stride
    /// that leaves the last input row outside every window), channel counts that are not whole vectors,
    /// and batches that fuse on two workers (four parts of whole images) and that do not (parts across
    /// images, too few images, too small a map for a part per worker).
    private let cases: [(batch: Int, height: Int, channels: Int, kernel: Int, stride: Int, padTop: Int)] = [
        (4, 20, 24, 3, 1, 1), (8, 16, 40, 3, 2, 1), (4, 16, 16, 5, 1, 2), (4, 26, 32, 3, 2, 0),
        (4, 19, 19, 5, 2, 2), (6, 12, 24, 3, 1, 1), (1, 9, 24, 3, 1, 1), (3, 7, 72, 5, 2, 1),
    ]

    private func outSize(_ size: Int, _ c: (batch: Int, height: Int, channels: Int, kernel: Int, stride: Int, padTop: Int)) -> Int {
        (size + 2 * c.padTop - c.kernel) / c.stride + 1
    }

    func testFusedApplyDepthwiseAndStatisticsKeepTheBitsOfTheThreeCalls() {
        for (i, c) in cases.enumerated() {
            var rng = TestRandom(seed: UInt64(800 + i))
            let (n, h, C, k) = (c.batch, c.height, c.channels, c.kernel)
            let w = h + 1  // not square
            let outH = outSize(h, c), outW = outSize(w, c)
            let z = rng.floats(n * h * w * C, -3, 3), gamma = rng.floats(C, 0.5, 2), beta = rng.floats(C, -1, 1)
            var mean = rng.floats(C, -0.5, 0.5), invStd = rng.floats(C, 0.5, 2)
            let weights = rng.floats(k * k * C, -0.5, 0.5), bias = rng.floats(C, -0.1, 0.1)
            let runningMean = rng.floats(C), runningVar = rng.floats(C, 0.5, 2)
            for activation in allActivations {
                for pool in testPools {
                    let label = "\(c) \(activation) threads \(pool.threadCount)"
                    var yWant = [Float](repeating: .nan, count: z.count), yGot = yWant
                    var dWant = [Float](repeating: .nan, count: n * outH * outW * C), dGot = dWant
                    var meanWant = [Float](repeating: .nan, count: C), invWant = meanWant, meanGot = meanWant, invGot = meanWant
                    var rmWant = runningMean, rvWant = runningVar, rmGot = runningMean, rvGot = runningVar
                    TrainingKernels.batchNormApply(input: z, pixels: n * h * w, channels: C, gamma: gamma, beta: beta,
                                                   savedMean: &mean, savedInvStd: &invStd, activation: activation,
                                                   output: &yWant, pool: pool)
                    Kernels.depthwiseConv(input: yWant, batch: n, height: h, width: w, channels: C, kernel: k,
                                          stride: c.stride, padTop: c.padTop, padLeft: c.padTop, outHeight: outH,
                                          outWidth: outW, weights: weights, bias: bias, activation: .identity,
                                          output: &dWant, pool: pool)
                    TrainingKernels.batchNormStatistics(input: dWant, pixels: n * outH * outW, channels: C, eps: 1e-3,
                                                        momentum: 0.01, savedMean: &meanWant, savedInvStd: &invWant,
                                                        runningMean: &rmWant, runningVar: &rvWant, pool: pool)
                    var workspace = [Float](repeating: .nan, count: TrainingKernels.batchStatisticsWorkspaceFloats(
                        channels: C, threads: pool.threadCount))
                    TrainingKernels.batchNormApplyDepthwiseConv(
                        input: z, gamma: gamma, beta: beta, savedMean: mean, savedInvStd: invStd, activation: activation,
                        output: &yGot, batch: n, height: h, width: w, channels: C, kernel: k, stride: c.stride,
                        padTop: c.padTop, padLeft: c.padTop, outHeight: outH, outWidth: outW, weights: weights,
                        bias: bias, depthwiseOutput: &dGot, eps: 1e-3, momentum: 0.01, depthwiseSavedMean: &meanGot,
                        depthwiseSavedInvStd: &invGot, depthwiseRunningMean: &rmGot, depthwiseRunningVar: &rvGot,
                        workspace: &workspace,
                        pool: pool)
                    XCTAssert(yGot.map(\.bitPattern) == yWant.map(\.bitPattern), "y \(label)")
                    XCTAssert(dGot.map(\.bitPattern) == dWant.map(\.bitPattern), "depthwise output \(label)")
                    XCTAssert(meanGot.map(\.bitPattern) == meanWant.map(\.bitPattern), "mean \(label)")
                    XCTAssert(invGot.map(\.bitPattern) == invWant.map(\.bitPattern), "invStd \(label)")
                    XCTAssert(rmGot.map(\.bitPattern) == rmWant.map(\.bitPattern), "running mean \(label)")
                    XCTAssert(rvGot.map(\.bitPattern) == rvWant.map(\.bitPattern), "running var \(label)")
                }
            }
        }
    }

    /// The cases above cover what they claim on two workers: the first four fuse, the rest do not.
    func testTheTestCasesCoverTheFusedPathAndTheFallback() {
        let fused = cases.map {
            TrainingKernels.batchNormApplyDepthwiseRunsFused(
                batch: $0.batch, outPixels: outSize($0.height, $0) * outSize($0.height + 1, $0), channels: $0.channels,
                threads: 2)
        }
        XCTAssertEqual(fused, [true, true, true, true, false, false, false, false])
    }

    /// B0 at batch 16 on two workers: every expansion's depthwise fuses (four parts of four images).
    func testEveryExpandedDepthwiseOfEfficientNetB0FusesAtBatch16() {
        for (outPixels, channels) in [(3_136, 96), (3_136, 144), (784, 144), (784, 240), (196, 240), (196, 480),
                                      (196, 672), (49, 672), (49, 1_152)] {
            XCTAssertTrue(TrainingKernels.batchNormApplyDepthwiseRunsFused(batch: 16, outPixels: outPixels,
                                                                           channels: channels, threads: 2),
                          "\(outPixels) x \(channels)")
        }
    }
}
