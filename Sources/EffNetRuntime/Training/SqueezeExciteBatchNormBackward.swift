/// The squeeze-excitation backward joined to the backward of the BatchNorm + activation before it (an MBConv
/// block's depthwise layer).
///
/// Apart, the SE backward's last pass wrote its input gradient, dOut·scale + dm/pixels, over the block's
/// largest map (B0 stage 2 at batch 16: 56x56x144 floats per image, 29 MB), and the BatchNorm backward's
/// first pass read all of it back. Here that first pass reads dOut and takes it through the SE as it goes
/// (per image, a multiply and an add per element: the arithmetic of the SE's own pass, `scaleChannels`, so
/// the values and every bit after them are the same), and the pass over memory is gone. The BatchNorm
/// backward then runs in place on dOut's buffer, which the generator gives the depthwise layer as its
/// output gradient; the SE input gradient buffer is not needed at all.

/// The squeeze-excitation's input gradient as a function of its output gradient, for a pass that reads the
/// latter: at map row p of image n = p / imagePixels, dOut[p]·scale[n] + shift[n] ([C] rows per image).
public struct SqueezeExciteGradientSource {
    public let scale: UnsafePointer<Float>
    public let shift: UnsafePointer<Float>
    public let imagePixels: Int

    /// Channels c..<c + width of map row p (of `channels`), on the portable path: multiply, then add, as
    /// `scaleChannelsSwift` computes it.
    @inline(__always) func inputGradient(_ dOut: UnsafePointer<Float>, row p: Int, channels C: Int, at c: Int,
                                         width w: Int) -> FVec {
        let image = p / imagePixels &* C &+ c
        return TrainingKernels.channelLoad(dOut + (p &* C &+ c), w) * TrainingKernels.channelLoad(scale + image, w)
            + TrainingKernels.channelLoad(shift + image, w)
    }
}

extension TrainingKernels {
    /// `squeezeExciteBackward` (without its input gradient) then `batchNormActivationBackward` of the layer
    /// that produced the SE's input (pre-activation `preActivation`, its BatchNorm's parameters and saved
    /// statistics), whose output gradient is the SE's input gradient, taken from `gradOutput` as it is read.
    /// `gradOutput` (the SE output's gradient) is overwritten with that BatchNorm's input gradient. `seInput`
    /// is the SE's input (the BatchNorm + activation output). `workspace`:
    /// `squeezeExciteBackwardWorkspaceFloats`. Same values as the two calls with the SE writing its input
    /// gradient in between. With `reductions`, only the BatchNorm backward's first pass, as
    /// `batchNormBackwardSums` (the sums there, dY in `gradOutput` whatever the activation), for
    /// `batchNormDepthwiseConvBackward` to finish with activation identity.
    public static func squeezeExciteBatchNormBackward(
        gradOutput: UnsafeMutablePointer<Float>, seInput: UnsafePointer<Float>, batch: Int, pixels: Int,
        channels: Int, squeezeChannels: Int, reduceWeights: UnsafePointer<Float>, seActivation: Activation,
        expandWeights: UnsafePointer<Float>, savedPooled: UnsafePointer<Float>, savedHidden: UnsafePointer<Float>,
        savedScale: UnsafePointer<Float>, gradReduceWeights: UnsafeMutablePointer<Float>,
        gradReduceBias: UnsafeMutablePointer<Float>, gradExpandWeights: UnsafeMutablePointer<Float>,
        gradExpandBias: UnsafeMutablePointer<Float>, preActivation: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
        savedInvStd: UnsafePointer<Float>, activation: Activation, gradGamma: UnsafeMutablePointer<Float>,
        gradBeta: UnsafeMutablePointer<Float>, reductions: UnsafeMutablePointer<Float>? = nil,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        squeezeExciteBackward(
            gradOutput: gradOutput, input: seInput, batch: batch, pixels: pixels, channels: channels,
            squeezeChannels: squeezeChannels, reduceWeights: reduceWeights, activation: seActivation,
            expandWeights: expandWeights, savedPooled: savedPooled, savedHidden: savedHidden, savedScale: savedScale,
            gradInput: nil, gradReduceWeights: gradReduceWeights, gradReduceBias: gradReduceBias,
            gradExpandWeights: gradExpandWeights, gradExpandBias: gradExpandBias, workspace: workspace, pool: pool)
        let se = SqueezeExciteGradientSource(
            scale: savedScale,
            shift: UnsafePointer(squeezeExciteMeanGradient(workspace: workspace, batch: batch, channels: channels)),
            imagePixels: pixels)
        let m = batch &* pixels
        switch activation {
        case .identity:
            bnBackward(IdentityFunction.self, gradOutput, preActivation, m, channels, gamma, beta, savedMean,
                       savedInvStd, gradOutput, gradGamma, gradBeta, pool, reductionsOnly: reductions, se: se)
        case .silu:
            bnBackward(SiLUFunction.self, gradOutput, preActivation, m, channels, gamma, beta, savedMean,
                       savedInvStd, gradOutput, gradGamma, gradBeta, pool, reductionsOnly: reductions, se: se)
        case .relu6:
            bnBackward(ReLU6Function.self, gradOutput, preActivation, m, channels, gamma, beta, savedMean,
                       savedInvStd, gradOutput, gradGamma, gradBeta, pool, reductionsOnly: reductions, se: se)
        }
    }
}
