@testable import EffNetRuntime
import XCTest

/// A projection after a squeeze-excitation that scales x by s band by band (`SqueezeExciteScaling`) promises
/// the bits of the same calls on the SE output x·s written out (`squeezeExciteScale`): forward z and the
/// BatchNorm statistics, backward dX and dW. Where `projectionScalesSqueezeExcite` says yes the SE output is
/// never written, so the scaled calls get a NaN buffer in its place: reading it would show.
final class SqueezeExciteScaledProjectionTests: XCTestCase {
    /// (images, pixels per image, in, out): projections as B0 has them (shrinking, channels not whole
    /// vectors), several images so that bands cross from one image to the next at places that are not a
    /// band's edge (per-image pixel counts off the band sizes); the last is too small to scale (too few
    /// pixels for the weight gradient's pixel split) and reads the written SE output.
    private let shapes: [(images: Int, imagePixels: Int, inChannels: Int, outChannels: Int)] = [
        (4, 2_001, 32, 16), (4, 700, 144, 24), (2, 1_500, 40, 24), (7, 333, 96, 40), (2, 500, 96, 24),
    ]

    private struct Case {
        let pixels: Int, inC: Int, C: Int, imagePixels: Int
        let x: [Float], scale: [Float], scaled: [Float]
    }

    /// x, s and x·s as the SE forward writes it (`squeezeExciteScale`).
    private func makeCase(_ shape: (images: Int, imagePixels: Int, inChannels: Int, outChannels: Int),
                          rng: inout TestRandom, pool: WorkerPool) -> Case {
        let (images, imagePixels, inC, C) = shape
        let pixels = images * imagePixels
        let x = rng.floats(pixels * inC, -2, 2), scale = rng.floats(images * inC, 0.05, 1)
        var scaled = [Float](repeating: .nan, count: pixels * inC)
        TrainingKernels.squeezeExciteScale(input: x, savedScale: scale, batch: images, pixels: imagePixels,
                                           channels: inC, output: &scaled, pool: pool)
        return Case(pixels: pixels, inC: inC, C: C, imagePixels: imagePixels, x: x, scale: scale, scaled: scaled)
    }

    /// `run` with the SE's scaling, and in place of the SE output a NaN buffer where the layer scales (nothing
    /// writes the output then), the written output where it does not.
    private func withScaling<R>(_ c: Case, threads: Int,
                                _ run: (_ input: [Float], _ squeezeExcite: SqueezeExciteScaling?) -> R) -> R {
        let scales = TrainingKernels.projectionScalesSqueezeExcite(pixels: c.pixels, inChannels: c.inC,
                                                                   outChannels: c.C, threads: threads)
        let unwritten = [Float](repeating: .nan, count: c.pixels * c.inC)
        return c.x.withUnsafeBufferPointer { x in
            c.scale.withUnsafeBufferPointer { s in
                run(scales ? unwritten : c.scaled,
                    SqueezeExciteScaling(input: x.baseAddress!, scale: s.baseAddress!, imagePixels: c.imagePixels))
            }
        }
    }

    func testForwardScalingKeepsTheBitsOfTheConvolutionOnTheWrittenOutput() {
        for (i, shape) in shapes.enumerated() {
            var rng = TestRandom(seed: UInt64(900 + i))
            for pool in testPools {
                let c = makeCase(shape, rng: &rng, pool: pool)
                let label = "\(shape) threads \(pool.threadCount)"
                let w = rng.floats(c.inC * c.C, -0.5, 0.5), bias = rng.floats(c.C, -3, 3)
                let runningMean = rng.floats(c.C), runningVar = rng.floats(c.C, 0.5, 2)
                let workspaceFloats = TrainingKernels.squeezeExciteProjectionWorkspaceFloats(
                    inChannels: c.inC, outChannels: c.C, threads: pool.threadCount)
                func run(input: [Float], squeezeExcite: SqueezeExciteScaling?) -> [[Float]] {
                    var z = [Float](repeating: .nan, count: c.pixels * c.C)
                    var mean = [Float](repeating: .nan, count: c.C), invStd = mean
                    var rm = runningMean, rv = runningVar
                    var workspace = [Float](repeating: .nan, count: workspaceFloats)
                    TrainingKernels.pointwiseConvBatchStatistics(
                        input: input, pixels: c.pixels, inChannels: c.inC, inputMajorWeights: w, bias: bias,
                        outChannels: c.C, output: &z, eps: 1e-3, momentum: 0.01, savedMean: &mean, savedInvStd: &invStd,
                        runningMean: &rm, runningVar: &rv, squeezeExcite: squeezeExcite, workspace: &workspace,
                        pool: pool)
                    return [z, mean, invStd, rm, rv]
                }
                let want = run(input: c.scaled, squeezeExcite: nil)
                let got = withScaling(c, threads: pool.threadCount, run)
                for (name, (g, e)) in zip(["z", "mean", "invStd", "running mean", "running var"], zip(got, want)) {
                    XCTAssert(g.map(\.bitPattern) == e.map(\.bitPattern), "\(name) \(label)")
                }
            }
        }
    }

    func testBackwardScalingKeepsTheBitsOfTheConvBackwardOnTheWrittenOutput() {
        for (i, shape) in shapes.enumerated() {
            var rng = TestRandom(seed: UInt64(950 + i))
            for pool in testPools {
                let c = makeCase(shape, rng: &rng, pool: pool)
                let label = "\(shape) threads \(pool.threadCount)"
                let z = rng.floats(c.pixels * c.C, -3, 3), dOut = rng.floats(c.pixels * c.C)
                let weights = rng.floats(c.C * c.inC, -0.5, 0.5), dWStart = rng.floats(c.C * c.inC)
                let gamma = rng.floats(c.C, 0.5, 2), beta = rng.floats(c.C, -1, 1)
                let mean = rng.floats(c.C, -0.5, 0.5), invStd = rng.floats(c.C, 0.5, 2)
                let workspaceFloats = TrainingKernels.squeezeExciteProjectionWorkspaceFloats(
                    inChannels: c.inC, outChannels: c.C, threads: pool.threadCount)
                func run(input: [Float], squeezeExcite: SqueezeExciteScaling?) -> (dX: [Float], dW: [Float]) {
                    var gradOutput = dOut
                    var gGamma = [Float](repeating: 0, count: c.C), gBeta = gGamma
                    var reductions = [Float](repeating: .nan, count: 2 * c.C)
                    TrainingKernels.batchNormBackwardSums(
                        gradOutput: &gradOutput, input: z, pixels: c.pixels, channels: c.C, gamma: gamma, beta: beta,
                        savedMean: mean, savedInvStd: invStd, activation: .identity, gradGamma: &gGamma,
                        gradBeta: &gBeta, reductions: &reductions, pool: pool)
                    var dX = [Float](repeating: .nan, count: c.pixels * c.inC), dW = dWStart
                    var workspace = [Float](repeating: .nan, count: workspaceFloats)
                    TrainingKernels.batchNormPointwiseConvBackward(
                        gradOutput: &gradOutput, preActivation: z, gamma: gamma, beta: beta, savedMean: mean,
                        savedInvStd: invStd, activation: .identity, reductions: &reductions, input: input,
                        squeezeExcite: squeezeExcite, weights: weights, pixels: c.pixels, inChannels: c.inC,
                        outChannels: c.C, gradInput: &dX, gradWeights: &dW, workspace: &workspace, pool: pool)
                    return (dX, dW)
                }
                let want = run(input: c.scaled, squeezeExcite: nil)
                let got = withScaling(c, threads: pool.threadCount, run)
                XCTAssert(got.dX.map(\.bitPattern) == want.dX.map(\.bitPattern), "dX \(label)")
                XCTAssert(got.dW.map(\.bitPattern) == want.dW.map(\.bitPattern), "dW \(label)")
            }
        }
    }

    /// The shapes above take the scaled path on two workers (all but the last, with several bands per worker
    /// and bands that cross images) and never on one.
    func testTheTestShapesCoverTheScaledPathAndTheWrittenOutput() {
        let pixels = shapes.map { $0.images * $0.imagePixels }
        let two = zip(shapes, pixels).map { shape, pixels in
            TrainingKernels.projectionScalesSqueezeExcite(pixels: pixels, inChannels: shape.inChannels,
                                                          outChannels: shape.outChannels, threads: 2)
        }
        XCTAssertEqual(two, [true, true, true, true, false])
        XCTAssertFalse(TrainingKernels.projectionScalesSqueezeExcite(pixels: pixels[0], inChannels: 32, outChannels: 16,
                                                                    threads: 1))
        let backwardBand = TrainingKernels.weightGradientBandPixels(inChannels: 32, outChannels: 16)
        let forwardBand = TrainingKernels.pointwiseStatisticsBandRows(inChannels: 32, outChannels: 16)
        XCTAssertGreaterThan(pixels[0] / 4, max(backwardBand, forwardBand),
                             "more than one band per worker and per statistics part (up to 4 on two workers)")
        XCTAssertNotEqual(shapes[0].imagePixels % backwardBand, 0)
        XCTAssertNotEqual(shapes[0].imagePixels % forwardBand, 0)
    }

    /// B0 at batch 16 on two workers: every projection from 112x112 to 14x14 scales its SE input; the 7x7
    /// ones (too few pixels for the pixel split; 1152 x 192 weights) read the written output.
    func testPolicyOnEfficientNetB0AtBatch16() {
        let f = { (p: Int, i: Int, o: Int) in
            TrainingKernels.projectionScalesSqueezeExcite(pixels: 16 * p, inChannels: i, outChannels: o, threads: 2)
        }
        XCTAssertTrue(f(12_544, 32, 16))
        XCTAssertTrue(f(3_136, 144, 24))
        XCTAssertTrue(f(784, 240, 40))
        XCTAssertTrue(f(196, 672, 112))
        XCTAssertFalse(f(49, 672, 192))
        XCTAssertFalse(f(49, 1_152, 320))
        // Those that never scale ask for no more workspace than their calls without the SE.
        for (i, o, threads) in [(1_152, 320, 2), (32, 16, 1)] {
            XCTAssertEqual(TrainingKernels.squeezeExciteProjectionWorkspaceFloats(inChannels: i, outChannels: o,
                                                                                 threads: threads),
                           max(TrainingKernels.batchStatisticsWorkspaceFloats(channels: o, threads: threads),
                               TrainingKernels.pointwiseConvBackwardWorkspaceFloats(inChannels: i, outChannels: o,
                                                                                    threads: threads)))
        }
    }
}
