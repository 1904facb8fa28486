@testable import EffNetRuntime
import XCTest

/// `batchNormApplyDepthwiseConv` promises the bits of `batchNormApply` followed by the depthwise
/// convolution, for y and for the depthwise output.
final class BatchNormApplyDepthwiseTests: XCTestCase {
    /// Windows the C kernels take (3x3 and 5x5, strides 1 and 2, symmetric and TF-style padding, a stride
    /// that leaves the last input row outside every window), channel counts that are not whole vectors, and
    /// batches with whole images per worker and without (the fallback).
    private let cases: [(batch: Int, height: Int, channels: Int, kernel: Int, stride: Int, padTop: Int)] = [
        (4, 9, 24, 3, 1, 1), (5, 12, 40, 3, 2, 1), (4, 11, 19, 5, 2, 2), (6, 8, 16, 5, 1, 2), (4, 10, 32, 3, 2, 0),
        (1, 9, 24, 3, 1, 1), (3, 7, 72, 5, 2, 1),
    ]

    func testFusedApplyAndDepthwiseKeepTheBitsOfTheTwoCalls() {
        for (i, c) in cases.enumerated() {
            var rng = TestRandom(seed: UInt64(800 + i))
            let (n, h, C, k) = (c.batch, c.height, c.channels, c.kernel)
            let w = h + 1  // not square
            let outH = (h + 2 * c.padTop - k) / c.stride + 1, outW = (w + 2 * c.padTop - k) / c.stride + 1
            let z = rng.floats(n * h * w * C, -3, 3), gamma = rng.floats(C, 0.5, 2), beta = rng.floats(C, -1, 1)
            var mean = rng.floats(C, -0.5, 0.5), invStd = rng.floats(C, 0.5, 2)
            let weights = rng.floats(k * k * C, -0.5, 0.5), bias = rng.floats(C, -0.1, 0.1)
            for activation in allActivations {
                for pool in testPools {
                    let label = "\(c) \(activation) threads \(pool.threadCount)"
                    var yWant = [Float](repeating: .nan, count: z.count), yGot = yWant
                    var dWant = [Float](repeating: .nan, count: n * outH * outW * C), dGot = dWant
                    TrainingKernels.batchNormApply(input: z, pixels: n * h * w, channels: C, gamma: gamma, beta: beta,
                                                   savedMean: &mean, savedInvStd: &invStd, activation: activation,
                                                   output: &yWant, pool: pool)
                    Kernels.depthwiseConv(input: yWant, batch: n, height: h, width: w, channels: C, kernel: k,
                                          stride: c.stride, padTop: c.padTop, padLeft: c.padTop, outHeight: outH,
                                          outWidth: outW, weights: weights, bias: bias, activation: .identity,
                                          output: &dWant, pool: pool)
                    TrainingKernels.batchNormApplyDepthwiseConv(
                        input: z, gamma: gamma, beta: beta, savedMean: mean, savedInvStd: invStd, activation: activation,
                        output: &yGot, batch: n, height: h, width: w, channels: C, kernel: k, stride: c.stride,
                        padTop: c.padTop, padLeft: c.padTop, outHeight: outH, outWidth: outW, weights: weights,
                        bias: bias, depthwiseOutput: &dGot, pool: pool)
                    XCTAssert(yGot.map(\.bitPattern) == yWant.map(\.bitPattern), "y \(label)")
                    XCTAssert(dGot.map(\.bitPattern) == dWant.map(\.bitPattern), "depthwise output \(label)")
                }
            }
        }
    }
}
