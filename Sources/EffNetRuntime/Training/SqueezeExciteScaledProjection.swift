/// The squeeze-excitation's scaling x·s taken by the projection 1x1 convolution after it, in training.
///
/// Why: the SE output x·s is read only by the projection, forward (its GEMM) and backward (its weight
/// gradient). Written out, it cost a pass over the expanded map that reads x from memory and writes x·s
/// back (B0 at batch 16: 4-7 ms per step over its 16 SE blocks), and the projection then read x·s from memory
/// again. Where the projection runs band by band (forward: `pointwiseConvBatchStatistics`; backward:
/// `weightGradientOverPixelParts`), each band scales its rows of x into an L2 scratch just before the
/// GEMM reads them, and the SE forward skips its output (`squeezeExciteForwardTraining(writesOutput:)`).
///
/// Same bits: a scaled row is the same single multiply x·s (`Kernels.scaleChannels`), and a GEMM row does
/// not depend on where its input row is stored.
public struct SqueezeExciteScaling {
    /// The SE's input x, [batch][imagePixels][channels].
    public let input: UnsafePointer<Float>
    /// The SE's saved scale s, [batch][channels].
    public let scale: UnsafePointer<Float>
    public let imagePixels: Int

    public init(input: UnsafePointer<Float>, scale: UnsafePointer<Float>, imagePixels: Int) {
        precondition(imagePixels >= 1, "SqueezeExciteScaling: needs at least one pixel per image")
        self.input = input
        self.scale = scale
        self.imagePixels = imagePixels
    }

    /// Rows r0..<r1 of x·s (rows counted over the whole batch) into `output` (row r at output + (r − r0)·C).
    /// A band may cross images: each image's rows take that image's scale.
    public func rows(_ r0: Int, _ r1: Int, channels C: Int, into output: UnsafeMutablePointer<Float>) {
        var r = r0
        while r < r1 {
            let image = r / imagePixels
            let end = min(r1, (image &+ 1) &* imagePixels)
            Kernels.scaleChannels(input + r &* C, scale + image &* C, nil, end &- r, C, 0, C, output + (r &- r0) &* C)
            r = end
        }
    }
}

extension TrainingKernels {
    /// Whether a projection after a squeeze-excitation takes the SE's scaling into its own passes: only where
    /// both its forward and its backward run band by band, so the SE output is never needed. The generated
    /// step asks this once per layer for the SE forward (`writesOutput`), the projection forward and its
    /// backward; where it says no, the SE writes x·s and both read it as before.
    public static func projectionScalesSqueezeExcite(pixels: Int, inChannels: Int, outChannels: Int,
                                                     threads: Int) -> Bool {
        CSIMDKernels.active != nil
            && pointwiseConvFusesBatchStatistics(pixels: pixels, inChannels: inChannels, outChannels: outChannels,
                                                 threads: threads)
            && weightGradientSplitsPixels(pixels: pixels, inChannels: inChannels, outChannels: outChannels,
                                          threads: threads)
            && !batchNormConvThroughInputFits(pixels: pixels, inChannels: inChannels, outChannels: outChannels,
                                              passTwoActivation: .identity, threads: threads)
    }

    /// Workspace of a projection's forward and backward calls given its SE's scaling: forward, the statistics'
    /// sums, and one band of scaled rows per statistics part; backward, the pixel split's partials and dZ
    /// bands (`pointwiseConvBackwardWorkspaceFloats`), and one band of scaled rows per worker. No scaled rows
    /// where the layer never scales (one worker, or weights over the pixel split's limit: B0's 1152 x 192
    /// and 1152 x 320).
    public static func squeezeExciteProjectionWorkspaceFloats(inChannels: Int, outChannels: Int, threads: Int) -> Int {
        let mayScale = threads > 1 && inChannels * outChannels <= weightGradientPartialFloatsLimit
        let forwardBand = pointwiseStatisticsBandRows(inChannels: inChannels, outChannels: outChannels)
        let forward = batchStatisticsWorkspaceFloats(channels: outChannels, threads: threads)
            + (mayScale ? bnPartsBound(threads: threads) * forwardBand * inChannels : 0)
        let backwardBand = weightGradientBandPixels(inChannels: inChannels, outChannels: outChannels)
        let backward = pointwiseConvBackwardWorkspaceFloats(inChannels: inChannels, outChannels: outChannels,
                                                            threads: threads)
            + (mayScale ? threads * backwardBand * inChannels : 0)
        return max(forward, backward)
    }
}
