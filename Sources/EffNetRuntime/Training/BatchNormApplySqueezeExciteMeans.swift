/// The train-mode BatchNorm + activation that writes a squeeze-excitation's input, and the SE's squeeze (the
/// per-image channel means) taken from the rows it writes.
///
/// The SE's first step read its whole input back to take the means (B0 stage 2 at batch 16: 56x56x144 floats
/// per image, 29 MB); here each worker takes whole images, applies BatchNorm to a run of rows at a time (at
/// most `squeezeExciteMeansRunFloats`, a whole number of the means' 64-pixel blocks) and adds the run's block
/// sums into the image's totals while the rows are still in cache. The blocks and their order are those of
/// `Kernels.channelMeans` over the image, so the means have its bits; the apply is elementwise, so the output
/// has `batchNormApply`'s.
extension TrainingKernels {
    /// Floats of BatchNorm output per run: 128 KB, in L2 when the sums read it back.
    static let squeezeExciteMeansRunFloats = 32 * 1024

    /// `batchNormApply` (same arguments) over `batch` images of pixels / batch rows, and their channel means
    /// into `means` ([batch][channels]), as `squeezeExciteMeans` would take them from `output`.
    public static func batchNormApplySqueezeExciteMeans(
        input: UnsafePointer<Float>, pixels: Int, channels C: Int, gamma: UnsafePointer<Float>,
        beta: UnsafePointer<Float>, savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
        activation: Activation, output: UnsafeMutablePointer<Float>, batch: Int, means: UnsafeMutablePointer<Float>,
        pool: WorkerPool
    ) {
        let imagePixels = batch > 0 ? pixels / batch : 0
        // Whole images per task: with fewer images than workers the two passes split finer.
        guard let simd = CSIMDKernels.active, batch >= pool.threadCount, imagePixels > 0,
              imagePixels &* batch == pixels else {
            batchNormApply(input: input, pixels: pixels, channels: C, gamma: gamma, beta: beta, savedMean: savedMean,
                           savedInvStd: savedInvStd, activation: activation, output: output, pool: pool)
            if imagePixels > 0 {
                squeezeExciteMeans(input: output, batch: batch, pixels: imagePixels, channels: C, means: means,
                                   pool: pool)
            }
            return
        }
        let run = max(1, squeezeExciteMeansRunFloats / max(1, C) / 64) &* 64
        let padded = (C + 15) / 16 * 16
        let inverse = 1 / Float(imagePixels)
        pool.parallelFor(batch) { n in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: padded) { buffer in
                let total = buffer.baseAddress!
                total.initialize(repeating: 0, count: padded)
                var p = n &* imagePixels
                let end = p &+ imagePixels
                while p < end {
                    let q = min(end, p &+ run)
                    simd.bnApply(activation, input, C, p, q, tileRows: bnTileRows, gamma, beta, savedMean, savedInvStd,
                                 output)
                    simd.channelSumsAccumulate(output + p &* C, pixels: q &- p, channels: C, total: total)
                    p = q
                }
                let row = means + n &* C
                for c in 0..<C { row[c] = total[c] * inverse }
            }
        }
    }
}
