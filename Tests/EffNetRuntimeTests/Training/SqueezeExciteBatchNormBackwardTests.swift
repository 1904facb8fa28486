@testable import EffNetRuntime
import XCTest

/// The squeeze-excitation backward joined to the BatchNorm backward before it gives, bit for bit, what the
/// two calls give with the SE writing its input gradient in between: the BatchNorm's input gradient (in
/// place on the SE output's gradient), gamma and beta gradients, and the SE's parameter gradients. Shapes
/// where a 32-row statistics tile spans two images (37 and 49 pixels per image), the channel-vector walk
/// (24 and 40 channels) and the row walk in two channel blocks (144), every activation, one and two workers.
final class SqueezeExciteBatchNormBackwardTests: XCTestCase {
    private struct Case {
        var batch, pixels, channels, squeeze: Int
    }

    private let cases = [Case(batch: 1, pixels: 49, channels: 40, squeeze: 4),
                         Case(batch: 3, pixels: 37, channels: 24, squeeze: 6),
                         Case(batch: 2, pixels: 49, channels: 144, squeeze: 6),
                         Case(batch: 4, pixels: 100, channels: 72, squeeze: 8)]

    func testJoinedBackwardEqualsSqueezeExciteThenBatchNormBitForBit() {
        var rng = TestRandom(seed: 1400)
        for shape in cases {
            let (batch, pixels, C, S) = (shape.batch, shape.pixels, shape.channels, shape.squeeze)
            let m = batch * pixels
            let z = rng.floats(m * C, -3, 3), seInput = rng.floats(m * C, -2, 2), dOut = rng.floats(m * C)
            let rw = rng.floats(S * C), rb = rng.floats(S), ew = rng.floats(C * S), eb = rng.floats(C)
            let gamma = rng.floats(C, 0.5, 1.5), beta = rng.floats(C), mean = rng.floats(C, -0.5, 0.5)
            let invStd = rng.floats(C, 0.5, 2)
            for seActivation in allActivations {
                for activation in allActivations {
                    for pool in testPools {
                        var pooled = [Float](repeating: .nan, count: batch * C), scale = pooled
                        var hidden = [Float](repeating: .nan, count: batch * S)
                        var seOutput = [Float](repeating: .nan, count: m * C)
                        TrainingKernels.squeezeExciteForwardTraining(
                            input: seInput, output: &seOutput, batch: batch, pixels: pixels, channels: C,
                            squeezeChannels: S, reduceWeights: rw, reduceBias: rb, activation: seActivation,
                            expandWeights: ew, expandBias: eb, savedPooled: &pooled, savedHidden: &hidden,
                            savedScale: &scale, pool: pool)
                        let workspaceFloats = TrainingKernels.squeezeExciteBackwardWorkspaceFloats(
                            batch: batch, channels: C, squeezeChannels: S)

                        // Apart: the SE writes its input gradient, the BatchNorm backward runs in place on it.
                        var want = [Float](repeating: .nan, count: m * C)
                        var wantSE = [Float](repeating: 0.25, count: S * C + S + C * S + C)
                        var wantGamma = [Float](repeating: 0.5, count: C), wantBeta = wantGamma
                        var workspace = [Float](repeating: .nan, count: workspaceFloats)
                        wantSE.withUnsafeMutableBufferPointer { g in
                            let base = g.baseAddress!
                            TrainingKernels.squeezeExciteBackward(
                                gradOutput: dOut, input: seInput, batch: batch, pixels: pixels, channels: C,
                                squeezeChannels: S, reduceWeights: rw, activation: seActivation, expandWeights: ew,
                                savedPooled: pooled, savedHidden: hidden, savedScale: scale, gradInput: &want,
                                gradReduceWeights: base, gradReduceBias: base + S * C,
                                gradExpandWeights: base + S * C + S, gradExpandBias: base + 2 * S * C + S,
                                workspace: &workspace, pool: pool)
                        }
                        want.withUnsafeMutableBufferPointer { g in
                            TrainingKernels.batchNormActivationBackward(
                                gradOutput: g.baseAddress!, input: z, pixels: m, channels: C, gamma: gamma,
                                beta: beta, savedMean: mean, savedInvStd: invStd, activation: activation,
                                gradInput: g.baseAddress!, gradGamma: &wantGamma, gradBeta: &wantBeta, pool: pool)
                        }

                        // Joined, in place on the SE output's gradient.
                        var got = dOut
                        var gotSE = [Float](repeating: 0.25, count: wantSE.count)
                        var gotGamma = [Float](repeating: 0.5, count: C), gotBeta = gotGamma
                        workspace = [Float](repeating: .nan, count: workspaceFloats)
                        gotSE.withUnsafeMutableBufferPointer { g in
                            let base = g.baseAddress!
                            TrainingKernels.squeezeExciteBatchNormBackward(
                                gradOutput: &got, seInput: seInput, batch: batch, pixels: pixels, channels: C,
                                squeezeChannels: S, reduceWeights: rw, seActivation: seActivation,
                                expandWeights: ew, savedPooled: pooled, savedHidden: hidden, savedScale: scale,
                                gradReduceWeights: base, gradReduceBias: base + S * C,
                                gradExpandWeights: base + S * C + S, gradExpandBias: base + 2 * S * C + S,
                                preActivation: z, gamma: gamma, beta: beta, savedMean: mean, savedInvStd: invStd,
                                activation: activation, gradGamma: &gotGamma, gradBeta: &gotBeta,
                                workspace: &workspace, pool: pool)
                        }
                        let label = "batch \(batch) pixels \(pixels) channels \(C) SE \(seActivation) BN "
                            + "\(activation) threads \(pool.threadCount)"
                        XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), label + ": input gradient")
                        XCTAssertEqual(gotGamma.map(\.bitPattern), wantGamma.map(\.bitPattern), label + ": gamma")
                        XCTAssertEqual(gotBeta.map(\.bitPattern), wantBeta.map(\.bitPattern), label + ": beta")
                        XCTAssertEqual(gotSE.map(\.bitPattern), wantSE.map(\.bitPattern), label + ": SE parameters")
                    }
                }
            }
        }
    }

    /// The C pass 1 with an SE source, on every C path, over rows that start and end inside images and
    /// channel ranges with a masked tail: the sums and the stored dY of `effnet_scale_channels` followed by
    /// the plain pass 1.
    func testBackwardSumsWithSqueezeExciteSourceEqualScaleThenSumsOnEveryPath() {
        var rng = TestRandom(seed: 1401)
        let imagePixels = 37, batch = 3, pixels = imagePixels * batch
        for C in [24, 100] {
            let z = rng.floats(pixels * C, -3, 3), dOut = rng.floats(pixels * C)
            let gamma = rng.floats(C, 0.5, 1.5), beta = rng.floats(C), mean = rng.floats(C, -0.5, 0.5)
            let invStd = rng.floats(C, 0.5, 2), scale = rng.floats(batch * C, 0, 1), shift = rng.floats(batch * C)
            for path in SIMDPath.supported {
                guard let simd = CSIMDKernels(path) else { continue }
                for (b0, b1, p0, p1) in [(0, C, 0, pixels), (3, C - 2, 5, 90), (16, C, 36, 75)] {
                    for activation in allActivations {
                        var input = [Float](repeating: .nan, count: pixels * C)
                        dOut.withUnsafeBufferPointer { d in
                            scale.withUnsafeBufferPointer { s in
                                shift.withUnsafeBufferPointer { a in
                                    input.withUnsafeMutableBufferPointer { o in
                                        for n in 0..<batch {
                                            let offset = n * imagePixels * C
                                            simd.scaleChannels(d.baseAddress! + offset, scales: s.baseAddress! + n * C,
                                                               add: a.baseAddress! + n * C, pixels: imagePixels,
                                                               channels: C, 0..<C, output: o.baseAddress! + offset)
                                        }
                                    }
                                }
                            }
                        }
                        var wantSums = [Double](repeating: .nan, count: b1 - b0), wantProjections = wantSums
                        var want = [Float](repeating: 1234, count: pixels * C)
                        simd.bnBackwardSums(activation, input, z, C, b0, b1, p0, p1, tileRows: 32, gamma, beta, mean,
                                            invStd, &wantSums, &wantProjections, &want)
                        var gotSums = [Double](repeating: .nan, count: b1 - b0), gotProjections = gotSums
                        var got = [Float](repeating: 1234, count: pixels * C)
                        scale.withUnsafeBufferPointer { s in
                            shift.withUnsafeBufferPointer { a in
                                simd.bnBackwardSums(activation, dOut, z, C, b0, b1, p0, p1, tileRows: 32, gamma, beta,
                                                    mean, invStd, &gotSums, &gotProjections, &got,
                                                    se: SqueezeExciteGradientSource(scale: s.baseAddress!,
                                                                                    shift: a.baseAddress!,
                                                                                    imagePixels: imagePixels))
                            }
                        }
                        let label = "\(path.rawValue) C \(C) channels \(b0)..<\(b1) rows \(p0)..<\(p1) \(activation)"
                        XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), label + ": dY")
                        XCTAssertEqual(gotSums.map(\.bitPattern), wantSums.map(\.bitPattern), label + ": ΣdY")
                        XCTAssertEqual(gotProjections.map(\.bitPattern), wantProjections.map(\.bitPattern),
                                       label + ": ΣdY·xhat")
                    }
                }
            }
        }
    }
}
