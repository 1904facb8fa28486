extension TrainingKernels {
    /// The training forward's BatchNorm + activation after an MBConv expansion, y = act(BN(z)) with the
    /// saved statistics (`batchNormApply`), and the depthwise convolution that reads y
    /// (`Kernels.depthwiseConv` with `bias` and no activation, as the training step runs it), with the
    /// bits of the two calls one after the other.
    ///
    /// Why one call: y is the block's largest map (B0's 112x112x96 at batch 16: 77 MB). Written by one
    /// pass and read back by the next, it came from memory twice. Here, with at least two images per
    /// worker, each worker takes whole images and walks the output rows in order, applying BatchNorm to
    /// each input row just before the first output row whose window reaches it: the depthwise kernel reads
    /// rows written a moment ago, from cache. y is still written out, as the backward pass reads it.
    ///
    /// Same bits: BatchNorm's apply is elementwise and a depthwise output row does not depend on how the
    /// rows and channels are split into tasks. Elsewhere (fewer images, no C kernel for the window) the
    /// two run one after the other.
    public static func batchNormApplyDepthwiseConv(
        input z: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        savedMean: UnsafePointer<Float>, savedInvStd: UnsafePointer<Float>, activation: Activation,
        output y: UnsafeMutablePointer<Float>, batch: Int, height: Int, width: Int, channels: Int, kernel: Int,
        stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int, weights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, depthwiseOutput: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let threads = pool.threadCount
        guard let simd = CSIMDKernels.active, CSIMDKernels.handlesDepthwise(kernel: kernel, stride: stride),
              batch >= 2 &* threads
        else {
            batchNormApply(input: z, pixels: batch &* height &* width, channels: channels, gamma: gamma, beta: beta,
                           savedMean: UnsafeMutablePointer(mutating: savedMean),
                           savedInvStd: UnsafeMutablePointer(mutating: savedInvStd), activation: activation,
                           output: y, pool: pool)
            Kernels.depthwiseConv(input: y, batch: batch, height: height, width: width, channels: channels,
                                  kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft,
                                  outHeight: outHeight, outWidth: outWidth, weights: weights, bias: bias,
                                  activation: .identity, output: depthwiseOutput, pool: pool)
            return
        }
        let shape = DepthwiseShape(batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                                   stride: stride, padTop: padTop, padLeft: padLeft, outHeight: outHeight,
                                   outWidth: outWidth)
        pool.parallelFor(batch) { n in
            // y for image n's input rows applied..<rows (pixel rows of the whole map).
            func apply(_ applied: Int, _ rows: Int) {
                simd.bnApply(activation, z, channels, (n &* height &+ applied) &* width, (n &* height &+ rows) &* width,
                             tileRows: bnTileRows, gamma, beta, savedMean, savedInvStd, y)
            }
            var applied = 0
            for oy in 0..<outHeight {
                let needed = min(height, oy &* stride &- padTop &+ kernel)
                if needed > applied {
                    apply(applied, needed)
                    applied = needed
                }
                simd.depthwiseRow(.identity, shape, n &* outHeight &+ oy, 0, channels, y, weights, bias, depthwiseOutput)
            }
            // Rows below every window (a stride that skips the last ones) are still part of y.
            if applied < height { apply(applied, height) }
        }
    }
}
