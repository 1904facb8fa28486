@testable import EffNetRuntime
import XCTest

/// The train-mode BatchNorm apply that also takes the squeeze-excitation's channel means gives, bit for bit,
/// what `batchNormApply` followed by the SE's own `squeezeExciteMeans` gives: the output and the means. Images
/// whose pixels are not a whole number of the means' 64-pixel blocks (and runs of several blocks), channel
/// counts with a partial vector, a partial 16-channel group and more than one 512-channel chunk, every
/// activation, one to three workers (three and four images: the image-per-task path and the two-pass
/// fallback with fewer images than workers).
final class BatchNormApplySqueezeExciteMeansTests: XCTestCase {
    func testMatchesApplyThenSqueezeExciteMeansBitForBit() {
        var rng = TestRandom(seed: 1500)
        for (batch, imagePixels, C) in [(3, 100, 24), (4, 49, 37), (2, 300, 144), (3, 130, 600), (1, 64, 16)] {
            let pixels = batch * imagePixels
            let z = rng.floats(pixels * C, -3, 3)
            let gamma = rng.floats(C, 0.5, 1.5), beta = rng.floats(C), invStd = rng.floats(C, 0.5, 2)
            var mean = rng.floats(C, -0.5, 0.5), inv = invStd
            for activation in allActivations {
                for pool in testPools + [WorkerPool(threads: 3)] {
                    var want = [Float](repeating: .nan, count: pixels * C)
                    var wantMeans = [Float](repeating: .nan, count: batch * C)
                    TrainingKernels.batchNormApply(input: z, pixels: pixels, channels: C, gamma: gamma, beta: beta,
                                                   savedMean: &mean, savedInvStd: &inv, activation: activation,
                                                   output: &want, pool: pool)
                    TrainingKernels.squeezeExciteMeans(input: want, batch: batch, pixels: imagePixels, channels: C,
                                                       means: &wantMeans, pool: pool)
                    var got = [Float](repeating: .nan, count: pixels * C)
                    var gotMeans = [Float](repeating: .nan, count: batch * C)
                    TrainingKernels.batchNormApplySqueezeExciteMeans(
                        input: z, pixels: pixels, channels: C, gamma: gamma, beta: beta, savedMean: &mean,
                        savedInvStd: &inv, activation: activation, output: &got, batch: batch, means: &gotMeans,
                        pool: pool)
                    let label = "batch \(batch) pixels \(imagePixels) channels \(C) \(activation) "
                        + "threads \(pool.threadCount)"
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), label + ": output")
                    XCTAssertEqual(gotMeans.map(\.bitPattern), wantMeans.map(\.bitPattern), label + ": means")
                }
            }
        }
    }

    /// The C block sums on every path, over runs of one image's rows (whole blocks, then the rest), scaled at
    /// the end: the bits of `channelMeans` over the image; nothing written past the padded total.
    func testChannelSumsOverRunsGiveTheMeansBitsOnEveryPath() {
        var rng = TestRandom(seed: 1501)
        for (pixels, C, run) in [(200, 37, 64), (130, 600, 128), (64, 16, 64), (10, 40, 64)] {
            let x = rng.floats(pixels * C, -2, 2)
            let scale = 1 / Float(pixels)
            for path in SIMDPath.supported {
                guard let simd = CSIMDKernels(path) else { continue }
                var want = [Float](repeating: .nan, count: C)
                simd.channelMeans(x, pixels: pixels, channels: C, 0..<C, scale: scale, output: &want)
                let padded = (C + 15) / 16 * 16
                var total = [Float](repeating: 0, count: padded) + [Float](repeating: 7, count: 16)
                x.withUnsafeBufferPointer { rows in
                    var p = 0
                    while p < pixels {
                        let q = min(pixels, p + run)
                        simd.channelSumsAccumulate(rows.baseAddress! + p * C, pixels: q - p, channels: C, total: &total)
                        p = q
                    }
                }
                let got = (0..<C).map { total[$0] * scale }
                let label = "\(path.rawValue) pixels \(pixels) channels \(C) runs of \(run)"
                XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), label)
                XCTAssertEqual(Array(total[padded...]), [Float](repeating: 7, count: 16), label + ": wrote past the total")
            }
        }
    }
}
