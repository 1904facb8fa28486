import EffNetRuntime
import XCTest

final class SqueezeExciteTests: XCTestCase {
    private func check(batch: Int, pixels: Int, channels: Int, squeezeChannels: Int, seed: UInt64,
                       file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let x = rng.floats(batch * pixels * channels, -3, 3)
        let reduceWeights = rng.floats(squeezeChannels * channels)
        let reduceBias = rng.floats(squeezeChannels, -4, 4)
        let expandWeights = rng.floats(channels * squeezeChannels)
        let expandBias = rng.floats(channels)
        for activation in allActivations {
            let ref = NaiveReference.squeezeExcite(
                x: x, batch: batch, pixels: pixels, channels: channels, squeezeChannels: squeezeChannels,
                reduceWeights: reduceWeights, reduceBias: reduceBias, activation: activation,
                expandWeights: expandWeights, expandBias: expandBias)
            for pool in testPools {
                var data = x
                var workspace = [Float](repeating: .nan, count: Kernels.squeezeExciteWorkspaceFloats(
                    batch: batch, channels: channels, squeezeChannels: squeezeChannels))
                Kernels.squeezeExcite(
                    &data, batch: batch, pixels: pixels, channels: channels, squeezeChannels: squeezeChannels,
                    reduceWeights: reduceWeights, reduceBias: reduceBias, activation: activation,
                    expandWeights: expandWeights, expandBias: expandBias, workspace: &workspace, pool: pool)
                assertClose(data, ref, "SE b\(batch) p\(pixels) c\(channels) s\(squeezeChannels) \(activation) "
                            + "threads \(pool.threadCount)", file: file, line: line)
            }
        }
    }

    func testSqueezeExciteMatchesNaiveForOddChannelCounts() {
        check(batch: 1, pixels: 49, channels: 40, squeezeChannels: 10, seed: 200)
        check(batch: 3, pixels: 5, channels: 13, squeezeChannels: 3, seed: 201)
        check(batch: 1, pixels: 1, channels: 3, squeezeChannels: 1, seed: 202)
    }

    /// Large enough that the reduce step runs in parallel per image and channels are chunked.
    func testSqueezeExciteLargeShapesMatchNaive() {
        check(batch: 3, pixels: 16, channels: 240, squeezeChannels: 100, seed: 203)
        check(batch: 1, pixels: 144, channels: 96, squeezeChannels: 4, seed: 204)
    }
}
