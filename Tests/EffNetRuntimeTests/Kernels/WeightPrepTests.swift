import EffNetRuntime
import XCTest

final class WeightPrepTests: XCTestCase {
    /// conv(x, folded) + foldedBias must equal BN(conv(x, w)) in eval mode.
    func testFoldedBatchNormEqualsConvFollowedByBatchNorm() {
        var rng = TestRandom(seed: 500)
        let outChannels = 13, perChannel = 7
        let weights = rng.floats(outChannels * perChannel)
        let gamma = rng.floats(outChannels, 0.5, 1.5)
        let beta = rng.floats(outChannels)
        let mean = rng.floats(outChannels)
        let variance = rng.floats(outChannels, 0.01, 2)
        let x = rng.floats(perChannel)
        for eps in [1e-5, 1e-3] {
            var folded = [Float](repeating: .nan, count: weights.count)
            var foldedBias = [Float](repeating: .nan, count: outChannels)
            WeightPrep.foldBatchNorm(weights: weights, outChannels: outChannels, weightsPerChannel: perChannel,
                                     gamma: gamma, beta: beta, mean: mean, variance: variance, eps: eps,
                                     foldedWeights: &folded, foldedBias: &foldedBias)
            var got = [Float](), want = [Double]()
            for co in 0..<outChannels {
                var conv = 0.0, convFolded = 0.0
                for i in 0..<perChannel {
                    conv += Double(weights[co * perChannel + i]) * Double(x[i])
                    convFolded += Double(folded[co * perChannel + i]) * Double(x[i])
                }
                let bn = (conv - Double(mean[co])) / (Double(variance[co]) + eps).squareRoot() * Double(gamma[co])
                    + Double(beta[co])
                want.append(bn)
                got.append(Float(convFolded + Double(foldedBias[co])))
            }
            assertClose(got, want, "fold eps \(eps)")
        }
    }

    func testFoldBatchNormMayWorkInPlace() {
        var weights: [Float] = [1, 2, 3, 4]
        var bias: [Float] = [0, 0]
        let gamma: [Float] = [2, 1], beta: [Float] = [1, -1], mean: [Float] = [0.5, 0], variance: [Float] = [1, 4]
        weights.withUnsafeMutableBufferPointer { w in
            WeightPrep.foldBatchNorm(weights: w.baseAddress!, outChannels: 2, weightsPerChannel: 2, gamma: gamma,
                                     beta: beta, mean: mean, variance: variance, eps: 0,
                                     foldedWeights: w.baseAddress!, foldedBias: &bias)
        }
        XCTAssertEqual(weights, [2, 4, 1.5, 2])
        XCTAssertEqual(bias, [0, -1])
    }

    func testInputMajorWeightsPutOutputChannelsInnermost() {
        let outChannels = 3, inChannels = 2
        let torch: [Float] = [0, 1, 10, 11, 20, 21]  // value = co*10 + ci
        var out = [Float](repeating: .nan, count: torch.count)
        WeightPrep.inputMajorWeights(torch, outChannels: outChannels, inChannels: inChannels, into: &out)
        XCTAssertEqual(out, [0, 10, 20, 1, 11, 21])
    }

    func testDepthwiseWeightsMovesChannelsInnermost() {
        let channels = 3, kernel = 3
        let torch = (0..<(channels * kernel * kernel)).map { Float($0) }  // value = c*9 + ky*3 + kx
        var out = [Float](repeating: .nan, count: torch.count)
        WeightPrep.depthwiseWeights(torch, channels: channels, kernel: kernel, into: &out)
        for ky in 0..<kernel {
            for kx in 0..<kernel {
                for c in 0..<channels {
                    XCTAssertEqual(out[(ky * kernel + kx) * channels + c], Float(c * 9 + ky * 3 + kx))
                }
            }
        }
    }
}
