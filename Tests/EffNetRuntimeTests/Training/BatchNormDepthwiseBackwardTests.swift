@testable import EffNetRuntime
import XCTest

/// The BatchNorm backward's second pass computed band by band inside the depthwise backward gives, bit for
/// bit, the input and weight gradients of the two calls (the BatchNorm backward writing dZ over the map,
/// then `depthwiseConvBackward`), for every geometry with a C kernel (symmetric and TF SAME padding), bands
/// that start and end inside images, activations whose dY pass 1 stores (SiLU) or not (ReLU6), one worker
/// (no bands) and two. Also after a squeeze-excitation whose pass 1 stored dY for every activation.
final class BatchNormDepthwiseBackwardTests: XCTestCase {
    private struct Geometry {
        var kernel, stride, pad: Int
        func outSize(_ size: Int) -> Int {
            pad == (kernel - 1) / 2 ? (size + 2 * pad - kernel) / stride + 1 : (size + stride - 1) / stride
        }
    }

    private let geometries = [Geometry(kernel: 3, stride: 1, pad: 1), Geometry(kernel: 3, stride: 2, pad: 1),
                              Geometry(kernel: 5, stride: 1, pad: 2), Geometry(kernel: 5, stride: 2, pad: 2),
                              Geometry(kernel: 3, stride: 2, pad: 0)]

    /// Runs both ways; `passOne` does the BatchNorm backward's first pass in place on its argument (dOut in,
    /// dY or dOut out) and fills `reductions`, and `whole` the whole BatchNorm backward in place.
    private func compare(_ label: String, batch: Int, height: Int, width: Int, channels C: Int, _ g: Geometry,
                         activation: Activation, pool: WorkerPool, rng: inout TestRandom,
                         whole: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                 UnsafeMutablePointer<Float>) -> Void,
                         passOne: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                   UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void,
                         z: [Float], dOut: [Float], gamma: [Float], beta: [Float], mean: [Float], invStd: [Float]) {
        let outHeight = g.outSize(height), outWidth = g.outSize(width)
        let x = rng.floats(batch * height * width * C, -2, 2), w = rng.floats(g.kernel * g.kernel * C)
        // Apart.
        var dZ = dOut
        var wantGamma = [Float](repeating: 0.5, count: C), wantBeta = wantGamma
        whole(&dZ, &wantGamma, &wantBeta)
        var wantInput = [Float](repeating: .nan, count: x.count)
        var wantWeights = [Float](repeating: 0.25, count: w.count)
        TrainingKernels.depthwiseConvBackward(
            gradOutput: dZ, input: x, batch: batch, height: height, width: width, channels: C, kernel: g.kernel,
            stride: g.stride, padTop: g.pad, padLeft: g.pad, outHeight: outHeight, outWidth: outWidth, weights: w,
            gradInput: &wantInput, gradWeights: &wantWeights, pool: pool)
        // Joined.
        var dY = dOut
        var gotGamma = [Float](repeating: 0.5, count: C), gotBeta = gotGamma
        var reductions = [Float](repeating: .nan, count: 2 * C)
        passOne(&dY, &gotGamma, &gotBeta, &reductions)
        var gotInput = [Float](repeating: .nan, count: x.count)
        var gotWeights = [Float](repeating: 0.25, count: w.count)
        let asked = TrainingKernels.batchNormDepthwiseBackwardWorkspaceFloats(
            batch: batch, height: height, width: width, channels: C, kernel: g.kernel, stride: g.stride, padTop: g.pad,
            padLeft: g.pad, outHeight: outHeight, outWidth: outWidth, threads: pool.threadCount)
        var workspace = [Float](repeating: .nan, count: asked + 4096)
        TrainingKernels.batchNormDepthwiseConvBackward(
            gradOutput: &dY, preActivation: z, gamma: gamma, beta: beta, savedMean: mean, savedInvStd: invStd,
            activation: activation, reductions: &reductions, input: x, batch: batch, height: height, width: width,
            channels: C, kernel: g.kernel, stride: g.stride, padTop: g.pad, padLeft: g.pad, outHeight: outHeight,
            outWidth: outWidth, weights: w, gradInput: &gotInput, gradWeights: &gotWeights, workspace: &workspace,
            pool: pool)
        XCTAssertEqual(gotInput.map(\.bitPattern), wantInput.map(\.bitPattern), label + ": input gradient")
        XCTAssertEqual(gotWeights.map(\.bitPattern), wantWeights.map(\.bitPattern), label + ": weight gradient")
        XCTAssertEqual(gotGamma.map(\.bitPattern), wantGamma.map(\.bitPattern), label + ": gamma")
        XCTAssertEqual(gotBeta.map(\.bitPattern), wantBeta.map(\.bitPattern), label + ": beta")
        XCTAssert(workspace[asked...].allSatisfy(\.isNaN), label + ": wrote past the workspace it asked for")
        if pool.threadCount > 1 && CSIMDKernels.active != nil {
            XCTAssertGreaterThan(asked, 0, label + ": two workers should take the banded path")
        }
    }

    func testBandedSecondPassEqualsBatchNormThenDepthwiseBackwardBitForBit() {
        var rng = TestRandom(seed: 1500)
        let batch = 3, height = 29, width = 40, C = 96
        for g in geometries {
            let outHeight = g.outSize(height), outWidth = g.outSize(width), m = batch * outHeight * outWidth
            let z = rng.floats(m * C, -3, 3), dOut = rng.floats(m * C)
            let gamma = rng.floats(C, 0.5, 1.5), beta = rng.floats(C), mean = rng.floats(C, -0.5, 0.5)
            let invStd = rng.floats(C, 0.5, 2)
            for activation in [Activation.silu, .relu6] {
                for pool in testPools {
                    let label = "k\(g.kernel) s\(g.stride) pad \(g.pad) \(activation) threads \(pool.threadCount)"
                    compare(label, batch: batch, height: height, width: width, channels: C, g, activation: activation,
                            pool: pool, rng: &rng,
                            whole: { d, gg, gb in
                                TrainingKernels.batchNormActivationBackward(
                                    gradOutput: d, input: z, pixels: m, channels: C, gamma: gamma, beta: beta,
                                    savedMean: mean, savedInvStd: invStd, activation: activation, gradInput: d,
                                    gradGamma: gg, gradBeta: gb, pool: pool)
                            },
                            passOne: { d, gg, gb, r in
                                TrainingKernels.batchNormBackwardSums(
                                    gradOutput: d, input: z, pixels: m, channels: C, gamma: gamma, beta: beta,
                                    savedMean: mean, savedInvStd: invStd, activation: activation, gradGamma: gg,
                                    gradBeta: gb, reductions: r, pool: pool)
                            },
                            z: z, dOut: dOut, gamma: gamma, beta: beta, mean: mean, invStd: invStd)
                }
            }
        }
    }

    /// After `squeezeExciteBatchNormBackward` with `reductions` (pass 1 only, dY stored whatever the
    /// activation), the depthwise call with activation identity finishes what the SE backward, the whole
    /// BatchNorm backward and the depthwise backward give.
    func testAfterSqueezeExciteFirstPassWithIdentityEqualsTheThreeCalls() {
        var rng = TestRandom(seed: 1501)
        let batch = 2, height = 24, width = 24, C = 64, S = 4, g = geometries[0]
        let pixels = height * width, m = batch * pixels
        let z = rng.floats(m * C, -3, 3), dOut = rng.floats(m * C), seInput = rng.floats(m * C, -2, 2)
        let gamma = rng.floats(C, 0.5, 1.5), beta = rng.floats(C), mean = rng.floats(C, -0.5, 0.5)
        let invStd = rng.floats(C, 0.5, 2)
        let rw = rng.floats(S * C), rb = rng.floats(S), ew = rng.floats(C * S), eb = rng.floats(C)
        for activation in [Activation.silu, .relu6] {
            for pool in testPools {
                var pooled = [Float](repeating: .nan, count: batch * C), scale = pooled
                var hidden = [Float](repeating: .nan, count: batch * S)
                var seOutput = [Float](repeating: .nan, count: m * C)
                TrainingKernels.squeezeExciteForwardTraining(
                    input: seInput, output: &seOutput, batch: batch, pixels: pixels, channels: C, squeezeChannels: S,
                    reduceWeights: rw, reduceBias: rb, activation: .silu, expandWeights: ew, expandBias: eb,
                    savedPooled: &pooled, savedHidden: &hidden, savedScale: &scale, pool: pool)
                var seGradients = [Float](repeating: 0, count: 2 * S * C + S + C)
                var workspace = [Float](repeating: .nan, count: TrainingKernels.squeezeExciteBackwardWorkspaceFloats(
                    batch: batch, channels: C, squeezeChannels: S))
                func seBackward(_ gradInput: UnsafeMutablePointer<Float>?, _ d: UnsafeMutablePointer<Float>,
                                _ g: UnsafeMutablePointer<Float>) {
                    TrainingKernels.squeezeExciteBackward(
                        gradOutput: d, input: seInput, batch: batch, pixels: pixels, channels: C, squeezeChannels: S,
                        reduceWeights: rw, activation: .silu, expandWeights: ew, savedPooled: pooled,
                        savedHidden: hidden, savedScale: scale, gradInput: gradInput, gradReduceWeights: g,
                        gradReduceBias: g + S * C, gradExpandWeights: g + S * C + S, gradExpandBias: g + 2 * S * C + S,
                        workspace: &workspace, pool: pool)
                }
                let label = "after SE, \(activation) threads \(pool.threadCount)"
                compare(label, batch: batch, height: height, width: width, channels: C, g, activation: .identity,
                        pool: pool, rng: &rng,
                        whole: { d, gg, gb in
                            seGradients.withUnsafeMutableBufferPointer { seBackward(d, d, $0.baseAddress!) }
                            TrainingKernels.batchNormActivationBackward(
                                gradOutput: d, input: z, pixels: m, channels: C, gamma: gamma, beta: beta,
                                savedMean: mean, savedInvStd: invStd, activation: activation, gradInput: d,
                                gradGamma: gg, gradBeta: gb, pool: pool)
                        },
                        passOne: { d, gg, gb, r in
                            seGradients.withUnsafeMutableBufferPointer { g in
                                TrainingKernels.squeezeExciteBatchNormBackward(
                                    gradOutput: d, seInput: seInput, batch: batch, pixels: pixels, channels: C,
                                    squeezeChannels: S, reduceWeights: rw, seActivation: .silu, expandWeights: ew,
                                    savedPooled: pooled, savedHidden: hidden, savedScale: scale,
                                    gradReduceWeights: g.baseAddress!, gradReduceBias: g.baseAddress! + S * C,
                                    gradExpandWeights: g.baseAddress! + S * C + S,
                                    gradExpandBias: g.baseAddress! + 2 * S * C + S, preActivation: z, gamma: gamma,
                                    beta: beta, savedMean: mean, savedInvStd: invStd, activation: activation,
                                    gradGamma: gg, gradBeta: gb, reductions: r, workspace: &workspace, pool: pool)
                            }
                        },
                        z: z, dOut: dOut, gamma: gamma, beta: beta, mean: mean, invStd: invStd)
            }
        }
    }
}
