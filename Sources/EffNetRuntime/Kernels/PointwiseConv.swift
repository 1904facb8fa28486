import COpenBLAS

/// Kernel namespace. The generated model code calls these with every size as a literal.
public enum Kernels {}

extension Kernels {
    /// The training step's 1×1 convolution as a GEMM on NHWC activations, on weights in PyTorch's layout
    /// (the trained parameters, which change every step; inference uses `pointwiseConv(inputMajorWeights:)`):
    /// output[p][co] = act(Σ_ci input[p][ci] · weights[co][ci] + bias[co]) (+ residual[p][co], added
    /// after the activation). `pixels` = batch·H·W; `weights` row-major [outChannels][inChannels].
    ///
    /// Work split: large pixel counts are cut into row tiles (each an independent single-threaded
    /// sgemm followed by the fused bias/activation/residual pass while the tile is still in cache);
    /// when the weights outweigh the activations (late 7×7 layers at small batch) the output
    /// channels are split instead so each worker streams only its share of the weights.
    public static func pointwiseConv(
        input: UnsafePointer<Float>, pixels: Int, inChannels: Int,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
        activation: Activation, residual: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        switch activation {
        case .identity:
            pointwiseConv(IdentityFunction.self, input, pixels, inChannels, weights, bias, outChannels,
                          residual, output, pool)
        case .silu:
            pointwiseConv(SiLUFunction.self, input, pixels, inChannels, weights, bias, outChannels,
                          residual, output, pool)
        case .relu6:
            pointwiseConv(ReLU6Function.self, input, pixels, inChannels, weights, bias, outChannels,
                          residual, output, pool)
        }
    }

    /// Rows per GEMM tile: keep a tile's input + output within ~192 KB of L2, at least 64 rows.
    @inline(__always) static func pointwiseRowTile(pixels: Int, inChannels: Int, outChannels: Int,
                                                   threads: Int) -> Int {
        let budget = 48 * 1024  // floats
        var rows = max(64, budget / max(1, inChannels + outChannels))
        rows = rows / 16 * 16
        // Enough tiles for every worker.
        let perWorker = (pixels + threads - 1) / threads
        return max(1, min(rows, perWorker))
    }

    @inline(__always) static func pointwiseConv<A: ActivationFunction>(
        _: A.Type, _ input: UnsafePointer<Float>, _ pixels: Int, _ inChannels: Int,
        _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ outChannels: Int,
        _ residual: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>, _ pool: WorkerPool
    ) {
        let threads = pool.threadCount
        if threads > 1 && pixels < 2 * outChannels && outChannels >= 32 * threads {
            // Split output channels (columns of C).
            let chunk = alignedChunk(outChannels, parts: threads, align: 16)
            let tasks = (outChannels + chunk - 1) / chunk
            pool.parallelFor(tasks) { t in
                let c0 = t &* chunk
                let cols = min(chunk, outChannels &- c0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                            Int32(pixels), Int32(cols), Int32(inChannels), 1,
                            input, Int32(inChannels), weights + c0 &* inChannels, Int32(inChannels),
                            0, output + c0, Int32(outChannels))
                biasActivationEpilogue(A.self, out: output + c0, ldo: outChannels, rows: pixels, cols: cols,
                                       bias: bias + c0, residual: residual.map { $0 + c0 })
            }
        } else {
            let tile = pointwiseRowTile(pixels: pixels, inChannels: inChannels, outChannels: outChannels,
                                        threads: threads)
            let tasks = (pixels + tile - 1) / tile
            pool.parallelFor(tasks) { t in
                let r0 = t &* tile
                let rows = min(tile, pixels &- r0)
                let out = output + r0 &* outChannels
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                            Int32(rows), Int32(outChannels), Int32(inChannels), 1,
                            input + r0 &* inChannels, Int32(inChannels), weights, Int32(inChannels),
                            0, out, Int32(outChannels))
                biasActivationEpilogue(A.self, out: out, ldo: outChannels, rows: rows, cols: outChannels,
                                       bias: bias, residual: residual.map { $0 + r0 &* outChannels })
            }
        }
    }
}
