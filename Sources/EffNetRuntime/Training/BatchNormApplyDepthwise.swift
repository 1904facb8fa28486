extension TrainingKernels {
    /// The training forward's BatchNorm + activation after an MBConv expansion, y = act(BN(z)) with the
    /// saved statistics (`batchNormApply`), the depthwise convolution that reads y (`Kernels.depthwiseConv`
    /// with `bias` and no activation, as the training step runs it) into d, and the batch statistics of d
    /// for the depthwise layer's own BatchNorm (`batchNormStatistics`: eps and momentum, and the `depthwise`
    /// saved mean, invStd and running statistics), with the bits of the three calls one after the other.
    ///
    /// Why one call: y is the block's largest map (B0's 112x112x96 at batch 16: 77 MB), and d is read whole
    /// by the statistics. Written by one pass and read back by the next, each came from memory again.
    /// Here each worker takes whole images and walks the output rows in order, applying BatchNorm to each
    /// input row just before the first output row whose window reaches it, so the depthwise kernel reads y
    /// from cache (y is still written: the backward pass reads it); and it takes d's statistics tile by tile
    /// as the rows are written.
    ///
    /// Same bits: BatchNorm's apply is elementwise and a depthwise output row does not depend on how the
    /// rows and channels are split into tasks. The statistics keep `batchNormStatistics`' parts
    /// (`bnParts`), which here must fall on whole images (the batch a multiple of the parts: B0 at batch 16
    /// has four parts of four images), its 32-row tiles counted from each part's first row, and its order of
    /// sums (each part's tiles in order, then the parts in order); row 0 of d, which every part subtracts,
    /// is computed first. Elsewhere (parts across images, fewer than two images per worker, no C kernel for
    /// the window) the three run one after the other.
    ///
    /// `workspace`: `batchStatisticsWorkspaceFloats(channels: channels, ...)` floats.
    public static func batchNormApplyDepthwiseConv(
        input z: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        savedMean: UnsafePointer<Float>, savedInvStd: UnsafePointer<Float>, activation: Activation,
        output y: UnsafeMutablePointer<Float>, batch: Int, height: Int, width: Int, channels C: Int, kernel: Int,
        stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int, weights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, depthwiseOutput d: UnsafeMutablePointer<Float>, eps: Double, momentum: Double,
        depthwiseSavedMean: UnsafeMutablePointer<Float>, depthwiseSavedInvStd: UnsafeMutablePointer<Float>,
        depthwiseRunningMean: UnsafeMutablePointer<Float>, depthwiseRunningVar: UnsafeMutablePointer<Float>,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let outPixels = outHeight &* outWidth, pixels = batch &* outPixels
        let parts = bnParts(pixels: pixels, channels: C, threads: pool.threadCount)
        guard let simd = CSIMDKernels.active, CSIMDKernels.handlesDepthwise(kernel: kernel, stride: stride),
              batchNormApplyDepthwiseRunsFused(batch: batch, outPixels: outPixels, channels: C,
                                               threads: pool.threadCount)
        else {
            batchNormApply(input: z, pixels: batch &* height &* width, channels: C, gamma: gamma, beta: beta,
                           savedMean: UnsafeMutablePointer(mutating: savedMean),
                           savedInvStd: UnsafeMutablePointer(mutating: savedInvStd), activation: activation,
                           output: y, pool: pool)
            Kernels.depthwiseConv(input: y, batch: batch, height: height, width: width, channels: C,
                                  kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft,
                                  outHeight: outHeight, outWidth: outWidth, weights: weights, bias: bias,
                                  activation: .identity, output: d, pool: pool)
            batchNormStatistics(input: d, pixels: pixels, channels: C, eps: eps, momentum: momentum,
                                savedMean: depthwiseSavedMean, savedInvStd: depthwiseSavedInvStd,
                                runningMean: depthwiseRunningMean, runningVar: depthwiseRunningVar, pool: pool)
            return
        }
        let shape = DepthwiseShape(batch: batch, height: height, width: width, channels: C, kernel: kernel,
                                   stride: stride, padTop: padTop, padLeft: padLeft, outHeight: outHeight,
                                   outWidth: outWidth)
        let imagesPerPart = batch / parts
        /// y for image n's input rows r0..<r1.
        func apply(_ n: Int, _ r0: Int, _ r1: Int) {
            simd.bnApply(activation, z, C, (n &* height &+ r0) &* width, (n &* height &+ r1) &* width,
                         tileRows: bnTileRows, gamma, beta, savedMean, savedInvStd, y)
        }
        /// Input rows the output rows up to oy read.
        func rowsRead(_ oy: Int) -> Int { min(height, oy &* stride &- padTop &+ kernel) }
        // Row 0 of d first: every part's statistics subtract it (part 0 then carries on after it).
        apply(0, 0, rowsRead(0))
        simd.depthwiseRow(.identity, shape, 0, 0, C, y, weights, bias, d)
        workspace.withMemoryRebound(to: Double.self, capacity: parts &* 2 &* C) { slots in
            pool.parallelFor(parts) { t in
                let sums = slots + t &* 2 &* C, squares = sums + C
                let p0 = t &* imagesPerPart &* outPixels
                var counted = p0  // pixels of d whose statistics are taken
                for n in (t &* imagesPerPart)..<((t &+ 1) &* imagesPerPart) {
                    let resumes = n == 0  // image 0's first output row is done
                    var applied = resumes ? rowsRead(0) : 0
                    for oy in (resumes ? 1 : 0)..<outHeight {
                        let needed = rowsRead(oy)
                        if needed > applied {
                            apply(n, applied, needed)
                            applied = needed
                        }
                        simd.depthwiseRow(.identity, shape, n &* outHeight &+ oy, 0, C, y, weights, bias, d)
                        // Whole tiles of the part's rows written so far.
                        let written = (n &* outHeight &+ oy &+ 1) &* outWidth
                        let tiles = p0 &+ (written &- p0) / bnTileRows &* bnTileRows
                        if tiles > counted {
                            simd.bnStatistics(d, C, 0, C, counted, tiles, tileRows: bnTileRows, sums, squares,
                                              accumulate: counted > p0)
                            counted = tiles
                        }
                    }
                    // Rows below every window (a stride that skips the last ones) are still part of y.
                    if applied < height { apply(n, applied, height) }
                }
                let p1 = (t &+ 1) &* imagesPerPart &* outPixels
                if p1 > counted {
                    simd.bnStatistics(d, C, 0, C, counted, p1, tileRows: bnTileRows, sums, squares,
                                      accumulate: counted > p0)
                }
            }
            finishBatchStatistics(partSums: slots, parts: parts, channels: C, pixels: pixels, shift: d, eps: eps,
                                  momentum: momentum, savedMean: depthwiseSavedMean, savedInvStd: depthwiseSavedInvStd,
                                  runningMean: depthwiseRunningMean, runningVar: depthwiseRunningVar)
        }
    }

    /// Whether `batchNormApplyDepthwiseConv` fuses (given C kernels for the window): at least two images per
    /// worker, and the statistics' parts on whole images, at least one per worker.
    public static func batchNormApplyDepthwiseRunsFused(batch: Int, outPixels: Int, channels: Int,
                                                        threads: Int) -> Bool {
        let parts = bnParts(pixels: batch &* outPixels, channels: channels, threads: threads)
        return batch >= 2 &* threads && parts >= threads && batch % parts == 0
    }
}
