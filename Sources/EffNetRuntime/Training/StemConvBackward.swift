import COpenBLAS

extension TrainingKernels {
    /// Output pixels per im2col tile in the stem's weight gradient.
    static let stemBackwardTilePixels = 1024

    /// Workspace for `stemConvBackwardWeights`: per worker one im2col tile and one partial weight gradient.
    /// Pass `threads` ≥ the pool's threadCount.
    public static func stemConvBackwardWorkspaceFloats(inChannels: Int, kernel: Int, outChannels: Int,
                                                       threads: Int) -> Int {
        let depth = inChannels * kernel * kernel
        return max(1, threads) * (stemBackwardTilePixels * depth + outChannels * depth)
    }

    /// Stem (dense kxk, NCHW input, NHWC output) weight gradient only (the image needs no gradient):
    /// gradWeights [outC][inC][k][k] += sum over output pixels of dZ ⊗ patch.
    ///
    /// Each worker takes every threadCount-th tile of output pixels, builds its im2col tile (columns
    /// ordered (ci, ky, kx), as in `Kernels.stemConv`) and accumulates dZ_tileᵀ·tile into its own
    /// partial gradient; the partials are then added into gradWeights. On the C paths the partial is the
    /// weight-gradient GEMM's [depth][outC] (the output channels are its vector axis; OpenBLAS's sgemm
    /// packed both operands of every 1,024-pixel tile and took 1.5x the time, B0 at batch 16), on the
    /// portable path sgemm's [outC][depth].
    public static func stemConvBackwardWeights(
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int, inChannels: Int,
        height: Int, width: Int, kernel: Int, stride: Int, padTop: Int, padLeft: Int,
        outHeight: Int, outWidth: Int, outChannels: Int,
        gradWeights: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let k = kernel
        let depth = inChannels &* k &* k
        let tileP = stemBackwardTilePixels
        let imagePixels = outHeight &* outWidth
        let totalPixels = batch &* imagePixels
        let tiles = (totalPixels + tileP - 1) / tileP
        if tiles == 0 { return }
        let workers = min(pool.threadCount, tiles)
        let perWorker = tileP &* depth &+ outChannels &* depth
        let simd = CSIMDKernels.active
        pool.parallelFor(workers) { w in
            let col = workspace + w &* perWorker
            let partial = col + tileP &* depth
            var tile = w
            var first = true
            while tile < tiles {
                let p0 = tile &* tileP
                let count = min(tileP, totalPixels &- p0)
                if let simd {
                    // The C copy prefetches the image rows of this worker's next tile as it goes.
                    simd.stemIm2col(input: input, inChannels: inChannels, height: height, width: width, kernel: k,
                                    stride: stride, padTop: padTop, padLeft: padLeft, outHeight: outHeight,
                                    outWidth: outWidth, pixels: p0..<(p0 &+ count), ahead: workers &* tileP,
                                    total: totalPixels, col: col)
                    // Partial laid out [depth][outC]: the output channels are the GEMM tile's vector axis.
                    simd.weightGradientGemm(rows: depth, cols: outChannels, depth: count, col, lda: depth,
                                            gradOutput + p0 &* outChannels, ldb: outChannels, partial,
                                            ldc: outChannels, accumulate: !first)
                } else {
                    Kernels.stemIm2col(input, inChannels, height, width, k, stride, padTop, padLeft, outHeight,
                                       outWidth, p0, count, col)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                                Int32(outChannels), Int32(depth), Int32(count), 1,
                                gradOutput + p0 &* outChannels, Int32(outChannels), col, Int32(depth),
                                first ? 0 : 1, partial, Int32(depth))
                }
                first = false
                tile &+= workers
            }
        }
        let size = outChannels &* depth
        for w in 0..<workers {
            let partial = UnsafePointer(workspace + w &* perWorker + tileP &* depth)
            if simd != nil {
                for o in 0..<outChannels {
                    for j in 0..<depth { gradWeights[o &* depth &+ j] += partial[j &* outChannels &+ o] }
                }
                continue
            }
            var i = 0
            while i &+ 16 <= size { storeVec(loadVec(gradWeights + i) + loadVec(partial + i), gradWeights + i); i &+= 16 }
            while i < size { gradWeights[i] += partial[i]; i &+= 1 }
        }
    }
}
