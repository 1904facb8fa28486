import EffNetRuntime
import XCTest

final class GlobalAveragePoolTests: XCTestCase {
    func testGlobalAveragePoolMatchesNaive() {
        var rng = TestRandom(seed: 300)
        for (batch, pixels, channels) in [(1, 49, 40), (3, 5, 13), (1, 1, 3), (2, 300, 1280), (1, 12544, 32)] {
            let input = rng.floats(batch * pixels * channels, -3, 3)
            let ref = NaiveReference.globalAveragePool(input: input, batch: batch, pixels: pixels, channels: channels)
            for pool in testPools {
                var output = [Float](repeating: .nan, count: batch * channels)
                Kernels.globalAveragePool(input: input, batch: batch, pixels: pixels, channels: channels,
                                          output: &output, pool: pool)
                assertClose(output, ref, "avgpool b\(batch) p\(pixels) c\(channels) threads \(pool.threadCount)")
            }
        }
    }
}

final class LinearTests: XCTestCase {
    func testLinearMatchesNaiveForBatchOneAndThree() {
        var rng = TestRandom(seed: 400)
        for (batch, inFeatures, outFeatures) in [(1, 13, 10), (3, 13, 10), (1, 320, 1000), (3, 64, 37), (2, 100, 600)] {
            let input = rng.floats(batch * inFeatures)
            let weights = rng.floats(outFeatures * inFeatures)
            let bias = rng.floats(outFeatures)
            let ref = NaiveReference.linear(input: input, batch: batch, inFeatures: inFeatures, weights: weights,
                                            bias: bias, outFeatures: outFeatures)
            for pool in testPools {
                var output = [Float](repeating: .nan, count: batch * outFeatures)
                Kernels.linear(input: input, batch: batch, inFeatures: inFeatures, weights: weights, bias: bias,
                               outFeatures: outFeatures, output: &output, pool: pool)
                assertClose(output, ref, "linear b\(batch) \(inFeatures)->\(outFeatures) threads \(pool.threadCount)")
            }
        }
    }
}
