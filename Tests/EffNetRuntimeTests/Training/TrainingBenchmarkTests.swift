@testable import EffNetRuntime
import Foundation
import XCTest

/// Timings of the biggest training kernels; skipped unless EFFNET_TRAINING_BENCH=1 (run in release).
final class TrainingBenchmarkTests: XCTestCase {
    private func time(_ label: String, repeats: Int = 5, _ body: () -> Void) {
        body()
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        print(String(format: "bench %@: %.2f ms", label, best))
    }

    func testBenchmarkBiggestTrainingKernels() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["EFFNET_TRAINING_BENCH"] == "1")
        let pool = WorkerPool.shared
        let pixels = 16 * 12544
        var rng = TestRandom(seed: 1)
        let big = rng.floats(pixels * 96)
        let small = rng.floats(pixels * 24)
        let w = rng.floats(96 * 24)
        var gIn96 = [Float](repeating: 0, count: pixels * 96)
        var gIn24 = [Float](repeating: 0, count: pixels * 24)
        var gW = [Float](repeating: 0, count: 96 * 24)
        time("pointwise backward 24->96 (dZ 96, dX 24)") {
            TrainingKernels.pointwiseConvBackward(gradOutput: big, input: small, weights: w, pixels: pixels,
                inChannels: 24, outChannels: 96, gradInput: &gIn24, gradWeights: &gW, pool: pool)
        }
        time("pointwise backward 96->24 (dZ 24, dX 96)") {
            TrainingKernels.pointwiseConvBackward(gradOutput: small, input: big, weights: w, pixels: pixels,
                inChannels: 96, outChannels: 24, gradInput: &gIn96, gradWeights: &gW, pool: pool)
        }
        time("pointwise backward 96->24 weights only") {
            TrainingKernels.pointwiseConvBackward(gradOutput: small, input: big, weights: w, pixels: pixels,
                inChannels: 96, outChannels: 24, gradInput: nil, gradWeights: &gW, pool: pool)
        }
        // With the workspace: the path the generated training step takes (pixel parts, dX band by band).
        var workspace = [Float](repeating: 0, count: TrainingKernels.pointwiseConvBackwardWorkspaceFloats(
            inChannels: 672, outChannels: 112, threads: pool.threadCount))
        time("pointwise backward 96->24 with workspace (training path)") {
            TrainingKernels.pointwiseConvBackward(gradOutput: small, input: big, weights: w, pixels: pixels,
                inChannels: 96, outChannels: 24, gradInput: &gIn96, gradWeights: &gW, workspace: &workspace, pool: pool)
        }
        time("pointwise backward 16->96 with workspace (training path)") {
            TrainingKernels.pointwiseConvBackward(gradOutput: big, input: small, weights: w, pixels: 8 * 12544,
                inChannels: 16, outChannels: 96, gradInput: &gIn24, gradWeights: &gW, workspace: &workspace, pool: pool)
        }
        // B0's 14x14 projections at batch 16 (16 x 196 pixels, 672 -> 112): 28 % of the 1x1 backward time.
        let x672 = rng.floats(16 * 196 * 672), dz112 = rng.floats(16 * 196 * 112), w672 = rng.floats(672 * 112)
        var dx672 = [Float](repeating: 0, count: 16 * 196 * 672), gW672 = [Float](repeating: 0, count: 672 * 112)
        time("pointwise backward 672->112 on 3136 pixels with workspace (training path)", repeats: 20) {
            TrainingKernels.pointwiseConvBackward(gradOutput: dz112, input: x672, weights: w672, pixels: 16 * 196,
                inChannels: 672, outChannels: 112, gradInput: &dx672, gradWeights: &gW672, workspace: &workspace,
                pool: pool)
        }
        time("pointwise forward 96->24 (reference)") {
            let bias = [Float](repeating: 0, count: 24)
            Kernels.pointwiseConv(input: big, pixels: pixels, inChannels: 96, inputMajorWeights: w, bias: bias,
                                  outChannels: 24,
                                  activation: .identity, residual: nil, output: &gIn24, pool: pool)
        }
        // B0's first expansion at batch 16 as the training forward runs it: the GEMM then the statistics
        // pass, against both band by band (pointwiseConvBatchStatistics).
        do {
            let w16 = rng.floats(16 * 96), bias = [Float](repeating: 0, count: 96)
            var z = [Float](repeating: 0, count: pixels * 96)
            var mean = [Float](repeating: 0, count: 96), inv = mean, rm = mean, rv = mean
            var statisticsWorkspace = [Float](repeating: 0, count: TrainingKernels.batchStatisticsWorkspaceFloats(
                channels: 96, threads: pool.threadCount))
            time("pointwise forward 16->96 then BN statistics 200704x96") {
                Kernels.pointwiseConv(input: small, pixels: pixels, inChannels: 16, inputMajorWeights: w16, bias: bias,
                                      outChannels: 96, activation: .identity, residual: nil, output: &z, pool: pool)
                TrainingKernels.batchNormStatistics(input: z, pixels: pixels, channels: 96, eps: 1e-5, momentum: 0.1,
                                                    savedMean: &mean, savedInvStd: &inv, runningMean: &rm,
                                                    runningVar: &rv, pool: pool)
            }
            time("pointwise forward 16->96 with BN statistics band by band 200704x96") {
                TrainingKernels.pointwiseConvBatchStatistics(
                    input: small, pixels: pixels, inChannels: 16, inputMajorWeights: w16, bias: bias, outChannels: 96,
                    output: &z, eps: 1e-5, momentum: 0.1, savedMean: &mean, savedInvStd: &inv, runningMean: &rm,
                    runningVar: &rv, workspace: &statisticsWorkspace, pool: pool)
            }
        }
        var out96 = [Float](repeating: 0, count: pixels * 96)
        var mean = [Float](repeating: 0, count: 96), inv = mean, rm = mean, rv = mean
        let gamma = rng.floats(96), beta = rng.floats(96)
        var gG = mean, gB = mean
        time("BN forward train silu 200704x96") {
            TrainingKernels.batchNormForwardTraining(input: big, pixels: pixels, channels: 96, gamma: gamma, beta: beta,
                eps: 1e-5, momentum: 0.1, activation: .silu, output: &out96, savedMean: &mean, savedInvStd: &inv,
                runningMean: &rm, runningVar: &rv, pool: pool)
        }
        time("BN backward train silu 200704x96") {
            TrainingKernels.batchNormActivationBackward(gradOutput: out96, input: big, pixels: pixels, channels: 96,
                gamma: gamma, beta: beta, savedMean: mean, savedInvStd: inv, activation: .silu, gradInput: &gIn96,
                gradGamma: &gG, gradBeta: &gB, pool: pool)
        }
        time("BN backward train identity 200704x96") {
            TrainingKernels.batchNormActivationBackward(gradOutput: out96, input: big, pixels: pixels, channels: 96,
                gamma: gamma, beta: beta, savedMean: mean, savedInvStd: inv, activation: .identity, gradInput: &gIn96,
                gradGamma: &gG, gradBeta: &gB, pool: pool)
        }
        time("BN backward train silu 802816x24") {
            TrainingKernels.batchNormActivationBackward(gradOutput: out96, input: big, pixels: pixels * 4, channels: 24,
                gamma: gamma, beta: beta, savedMean: mean, savedInvStd: inv, activation: .silu, gradInput: &gIn96,
                gradGamma: &gG, gradBeta: &gB, pool: pool)
        }
        var scratch = big
        time("activation silu in place 200704x96 (reference)") {
            Kernels.applyActivation(&scratch, count: scratch.count, activation: .silu, pool: pool)
        }
        time("activation backward silu 200704x96") {
            TrainingKernels.activationBackward(gradOutput: big, preActivation: big, count: big.count, activation: .silu,
                                               gradInput: &scratch, pool: pool)
        }
        time("BN forward train identity 200704x96") {
            TrainingKernels.batchNormForwardTraining(input: big, pixels: pixels, channels: 96, gamma: gamma, beta: beta,
                eps: 1e-5, momentum: 0.1, activation: .identity, output: &out96, savedMean: &mean, savedInvStd: &inv,
                runningMean: &rm, runningVar: &rv, pool: pool)
        }
        benchDepthwise(pool: pool, big: big, rng: &rng)
    }

    private func benchDepthwise(pool: WorkerPool, big: [Float], rng: inout TestRandom) {
        let w = rng.floats(9 * 96)
        var gW = [Float](repeating: 0, count: 9 * 96)
        var gIn = [Float](repeating: 0, count: big.count)
        time("depthwise backward 16x112x112x96 k3 s1") {
            TrainingKernels.depthwiseConvBackward(gradOutput: big, input: big, batch: 16, height: 112, width: 112,
                channels: 96, kernel: 3, stride: 1, padTop: 1, padLeft: 1, outHeight: 112, outWidth: 112,
                weights: w, gradInput: &gIn, gradWeights: &gW, pool: pool)
        }
        time("depthwise backward 16x112x112x96 k3 s1 weights only") {
            TrainingKernels.depthwiseConvBackward(gradOutput: big, input: big, batch: 16, height: 112, width: 112,
                channels: 96, kernel: 3, stride: 1, padTop: 1, padLeft: 1, outHeight: 112, outWidth: 112,
                weights: w, gradInput: nil, gradWeights: &gW, pool: pool)
        }
        let dz = Array(big[0..<(16 * 56 * 56 * 96)])
        time("depthwise backward 16x112x112x96 k3 s2") {
            TrainingKernels.depthwiseConvBackward(gradOutput: dz, input: big, batch: 16, height: 112, width: 112,
                channels: 96, kernel: 3, stride: 2, padTop: 1, padLeft: 1, outHeight: 56, outWidth: 56,
                weights: w, gradInput: &gIn, gradWeights: &gW, pool: pool)
        }
        time("depthwise backward 16x112x112x96 k3 s2 weights only") {
            TrainingKernels.depthwiseConvBackward(gradOutput: dz, input: big, batch: 16, height: 112, width: 112,
                channels: 96, kernel: 3, stride: 2, padTop: 1, padLeft: 1, outHeight: 56, outWidth: 56,
                weights: w, gradInput: nil, gradWeights: &gW, pool: pool)
        }
        var out = gIn
        let bias = [Float](repeating: 0, count: 96)
        time("depthwise forward 16x112x112x96 k3 s1 (reference)") {
            Kernels.depthwiseConv(input: big, batch: 16, height: 112, width: 112, channels: 96, kernel: 3, stride: 1,
                padTop: 1, padLeft: 1, outHeight: 112, outWidth: 112, weights: w, bias: bias, activation: .identity,
                output: &out, pool: pool)
        }
    }
}
