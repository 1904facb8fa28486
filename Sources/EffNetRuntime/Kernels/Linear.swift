import COpenBLAS

extension Kernels {
    /// Fully connected layer, PyTorch Linear layout: output[n][o] = Σ_i input[n][i]·weights[o][i] + bias[o].
    /// Output features are split across workers (each streams its share of the weight matrix). Batch 1
    /// takes the C matrix-vector kernel where there is one (four weight rows in flight: from memory about
    /// 0.6x the time of OpenBLAS's sgemv, MatVecTemplate.h), else sgemv; larger batches sgemm.
    public static func linear(input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
                              weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outFeatures: Int,
                              output: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let parts = outFeatures * inFeatures * batch >= 1 << 15 ? pool.threadCount : 1
        let chunk = alignedChunk(outFeatures, parts: parts, align: 16)
        let tasks = (outFeatures + chunk - 1) / chunk
        pool.parallelFor(tasks) { t in
            let o0 = t &* chunk
            let features = min(chunk, outFeatures &- o0)
            if batch == 1, let simd = CSIMDKernels.active {
                simd.matvecBias(rows: features, cols: inFeatures, w: weights + o0 &* inFeatures, x: input,
                                bias: bias + o0, y: output + o0)
                return
            }
            if batch == 1 {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(features), Int32(inFeatures), 1,
                            weights + o0 &* inFeatures, Int32(inFeatures), input, 1, 0, output + o0, 1)
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                            Int32(batch), Int32(features), Int32(inFeatures), 1,
                            input, Int32(inFeatures), weights + o0 &* inFeatures, Int32(inFeatures),
                            0, output + o0, Int32(outFeatures))
            }
            biasActivationEpilogue(IdentityFunction.self, out: output + o0, ldo: outFeatures, rows: batch,
                                   cols: features, bias: bias + o0, residual: nil)
        }
    }
}
