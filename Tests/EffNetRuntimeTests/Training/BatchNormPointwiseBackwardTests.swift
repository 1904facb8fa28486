@testable import EffNetRuntime
import XCTest

/// `batchNormBackwardSums` then `batchNormPointwiseConvBackward` promise the bits of the in-place
/// `batchNormActivationBackward` followed by `pointwiseConvBackward`: dX, dW, dGamma and dBeta.
final class BatchNormPointwiseBackwardTests: XCTestCase {
    /// Pixel-split layers (banded, dZ never written) in both orientations of the weight gradient, with
    /// channel counts that are not whole vectors, several bands per part and a short last band; and layers
    /// that take the whole-map path (too few pixels, weights over the partial limit).
    private let shapes: [(pixels: Int, inChannels: Int, outChannels: Int)] = [
        (5_000, 16, 96), (4_100, 96, 24), (3_000, 40, 240), (2_500, 112, 40), (700, 24, 144), (2_100, 480, 320),
    ]

    func testBandedInputGradientKeepsTheBitsOfTheInPlaceBackwardThenTheConvBackward() {
        for (i, shape) in shapes.enumerated() {
            let (pixels, inC, C) = shape
            var rng = TestRandom(seed: UInt64(700 + i))
            let z = rng.floats(pixels * C, -3, 3), x = rng.floats(pixels * inC, -2, 2), dOut = rng.floats(pixels * C)
            let weights = rng.floats(C * inC, -0.5, 0.5)
            let gamma = rng.floats(C, 0.5, 2), beta = rng.floats(C, -1, 1)
            let mean = rng.floats(C, -0.5, 0.5), invStd = rng.floats(C, 0.5, 2)
            for activation in allActivations {
                for pool in testPools {
                    for wantsInputGradient in [true, false] {
                        let label = "\(shape) \(activation) threads \(pool.threadCount) dX \(wantsInputGradient)"
                        var workspace = [Float](repeating: .nan, count: max(1, TrainingKernels.pointwiseConvBackwardWorkspaceFloats(
                            inChannels: inC, outChannels: C, threads: pool.threadCount)))
                        // The one-call BatchNorm backward in place, then the conv backward on its dZ.
                        var dZ = dOut
                        var gGammaWant = [Float](repeating: 0.25, count: C), gBetaWant = gGammaWant
                        var dXWant = [Float](repeating: .nan, count: pixels * inC), dWWant = rng.floats(C * inC)
                        let dWStart = dWWant
                        dZ.withUnsafeMutableBufferPointer { d in
                            TrainingKernels.batchNormActivationBackward(
                                gradOutput: d.baseAddress!, input: z, pixels: pixels, channels: C, gamma: gamma,
                                beta: beta, savedMean: mean, savedInvStd: invStd, activation: activation,
                                gradInput: d.baseAddress!, gradGamma: &gGammaWant, gradBeta: &gBetaWant, pool: pool)
                        }
                        dXWant.withUnsafeMutableBufferPointer { dX in
                            TrainingKernels.pointwiseConvBackward(
                                gradOutput: dZ, input: x, weights: weights, pixels: pixels, inChannels: inC,
                                outChannels: C, gradInput: wantsInputGradient ? dX.baseAddress! : nil,
                                gradWeights: &dWWant, workspace: &workspace, pool: pool)
                        }
                        // Pass 1 alone, then pass 2 inside the conv backward.
                        var gradOutput = dOut
                        var gGammaGot = [Float](repeating: 0.25, count: C), gBetaGot = gGammaGot
                        var dXGot = [Float](repeating: .nan, count: pixels * inC), dWGot = dWStart
                        var reductions = [Float](repeating: .nan, count: 2 * C)
                        TrainingKernels.batchNormBackwardSums(
                            gradOutput: &gradOutput, input: z, pixels: pixels, channels: C, gamma: gamma, beta: beta,
                            savedMean: mean, savedInvStd: invStd, activation: activation, gradGamma: &gGammaGot,
                            gradBeta: &gBetaGot, reductions: &reductions, pool: pool)
                        dXGot.withUnsafeMutableBufferPointer { dX in
                            TrainingKernels.batchNormPointwiseConvBackward(
                                gradOutput: &gradOutput, preActivation: z, gamma: gamma, beta: beta, savedMean: mean,
                                savedInvStd: invStd, activation: activation, reductions: &reductions, input: x,
                                weights: weights, pixels: pixels, inChannels: inC, outChannels: C,
                                gradInput: wantsInputGradient ? dX.baseAddress! : nil, gradWeights: &dWGot,
                                workspace: &workspace, pool: pool)
                        }
                        XCTAssert(gGammaGot.map(\.bitPattern) == gGammaWant.map(\.bitPattern), "dGamma \(label)")
                        XCTAssert(gBetaGot.map(\.bitPattern) == gBetaWant.map(\.bitPattern), "dBeta \(label)")
                        XCTAssert(dWGot.map(\.bitPattern) == dWWant.map(\.bitPattern), "dW \(label)")
                        if wantsInputGradient {
                            XCTAssert(dXGot.map(\.bitPattern) == dXWant.map(\.bitPattern), "dX \(label)")
                        }
                    }
                }
            }
        }
    }

    /// The shapes above cover both paths on two workers: four banded, two on the whole map; and the first
    /// has several bands per worker.
    func testTheTestShapesCoverTheBandedAndTheWholeMapPaths() {
        let banded = shapes.map {
            TrainingKernels.weightGradientSplitsPixels(pixels: $0.pixels, inChannels: $0.inChannels,
                                                       outChannels: $0.outChannels, threads: 2)
        }
        XCTAssertEqual(banded, [true, true, true, true, false, false])
        XCTAssertGreaterThan(5_000 / 2, 2 * TrainingKernels.weightGradientBandPixels(inChannels: 16, outChannels: 96))
    }
}
