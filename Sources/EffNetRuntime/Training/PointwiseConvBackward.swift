import COpenBLAS

extension TrainingKernels {
    /// 1x1 conv backward. input X [pixels][inC], weights W [outC][inC], gradOutput dZ [pixels][outC].
    /// gradInput dX = dZ·W (overwrite; skip when nil). gradWeights dW += dZᵀ·X.
    ///
    /// dX: the inference GEMM (`Kernels.pointwiseGemm`: row tiles, or output-channel slices when the
    /// weights outweigh the rows), with no epilogue.
    /// dW: a skinny GEMM with the long pixel axis as its inner dimension; the larger of outC / inC is
    /// split across the workers (each streams its slice of one operand and all of the smaller other one),
    /// so no per-worker partial sums are needed.
    public static func pointwiseConvBackward(
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        pixels: Int, inChannels: Int, outChannels: Int,
        gradInput: UnsafeMutablePointer<Float>?, gradWeights: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        if pixels <= 0 { return }
        let threads = pool.threadCount
        if let gradInput {
            // PyTorch's [outC][inC] is already input-major for this product (K = outC, N = inC).
            Kernels.pointwiseGemm(.identity, rows: pixels, inChannels: outChannels, outChannels: inChannels,
                                  input: gradOutput, weights: weights, bias: nil, residual: nil, output: gradInput,
                                  threads: threads) { tasks, body in pool.parallelFor(tasks, body) }
        }
        gemmTransposedAccumulate(a: gradOutput, b: input, inner: pixels, rows: outChannels, cols: inChannels,
                                 c: gradWeights, pool: pool)
    }

    /// c[rows][cols] += aᵀ·b for a [inner][rows], b [inner][cols] (row-major), the larger output axis
    /// split across the pool's workers.
    static func gemmTransposedAccumulate(a: UnsafePointer<Float>, b: UnsafePointer<Float>, inner: Int, rows: Int,
                                         cols: Int, c: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let work = inner &* rows &* cols
        let splitRows = rows >= cols
        let axis = splitRows ? rows : cols
        let parts = work >= 1 << 16 ? pool.threadCount : 1
        let chunk = alignedChunk(axis, parts: parts, align: 16)
        let tasks = (axis + chunk - 1) / chunk
        pool.parallelFor(tasks) { t in
            let s0 = t &* chunk
            let n = min(chunk, axis &- s0)
            if splitRows {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                            Int32(n), Int32(cols), Int32(inner), 1,
                            a + s0, Int32(rows), b, Int32(cols),
                            1, c + s0 &* cols, Int32(cols))
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                            Int32(rows), Int32(n), Int32(inner), 1,
                            a, Int32(rows), b + s0, Int32(cols),
                            1, c + s0, Int32(cols))
            }
        }
    }
}
