/// The BatchNorm backward's second pass joined to the depthwise convolution backward that reads its result.
///
/// After its first pass (the sums, dY in place), the BatchNorm backward of a depthwise layer wrote dZ over
/// the whole map (B0 stage 2 at batch 16: 56x56x144 floats per image, 29 MB) and the depthwise backward read
/// it all back, band by band. Here, where the depthwise backward runs in bands (its weight gradient split
/// over parts of the rows), each band computes its own dZ rows, and the few rows either side that its input
/// gradient reaches, into a per-part scratch right before the band's two gradients read them: dZ never goes
/// to memory. The halo rows are computed by both neighbouring bands, from the same dY and z with the same
/// arithmetic, so every value, and every bit downstream, is what the two calls give.
extension TrainingKernels {
    /// Workspace of `batchNormDepthwiseConvBackward`: a band of dZ rows (with its halo) per part of the rows.
    public static func batchNormDepthwiseBackwardWorkspaceFloats(
        batch: Int, height: Int, width: Int, channels: Int, kernel: Int, stride: Int, padTop: Int, padLeft: Int,
        outHeight: Int, outWidth: Int, threads: Int
    ) -> Int {
        let s = DepthwiseShape(batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                               stride: stride, padTop: padTop, padLeft: padLeft, outHeight: outHeight,
                               outWidth: outWidth)
        let parts = gradWeightsParts(s, threads: threads)
        guard parts >= 2 else { return 0 }
        return parts * (depthwiseBackwardBandRows(s, inputGradient: true) + kernel) * outWidth * channels
    }

    /// The second pass of the train-mode BatchNorm backward (after `batchNormBackwardSums`, or
    /// `squeezeExciteBatchNormBackward` with `reductions`: dY in `gradOutput`, the sums in `reductions`)
    /// followed by `depthwiseConvBackward` on its result, dZ: same arguments as those two. `activation` is
    /// the layer's, or identity where pass 1 stored dY whatever the activation (after an SE); pass 2 applies
    /// `batchNormInputGradientActivation` of it. Where the depthwise backward runs in bands, dZ goes band by band
    /// through `workspace` (`batchNormDepthwiseBackwardWorkspaceFloats`); elsewhere it is written over
    /// `gradOutput` first. The weight gradient is added to `gradWeights` (kernel layout); gradInput is
    /// overwritten.
    public static func batchNormDepthwiseConvBackward(
        gradOutput: UnsafeMutablePointer<Float>, preActivation z: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
        savedInvStd: UnsafePointer<Float>, activation: Activation, reductions: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int, kernel: Int, stride: Int,
        padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int, weights: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>, gradWeights: UnsafeMutablePointer<Float>,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let s = DepthwiseShape(batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                               stride: stride, padTop: padTop, padLeft: padLeft, outHeight: outHeight,
                               outWidth: outWidth)
        let passTwo = BatchNormInputGradient(
            gradOutput: UnsafePointer(gradOutput), preActivation: z, gamma: gamma, beta: beta, savedMean: savedMean,
            savedInvStd: savedInvStd, activation: batchNormInputGradientActivation(activation), reductions: reductions)
        let parts = gradWeightsParts(s, threads: pool.threadCount)
        if parts >= 2 {
            depthwiseBackwardInBands(s, UnsafePointer(gradOutput), input, inputGradient: (weights, gradInput),
                                     gradWeights, parts: parts, pool, batchNorm: (passTwo, workspace))
            return
        }
        passTwo.inPlace(pixels: batch &* outHeight &* outWidth, channels: channels, pool: pool)
        depthwiseConvBackward(gradOutput: gradOutput, input: input, batch: batch, height: height, width: width,
                              channels: channels, kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft,
                              outHeight: outHeight, outWidth: outWidth, weights: weights, gradInput: gradInput,
                              gradWeights: gradWeights, pool: pool)
    }
}
