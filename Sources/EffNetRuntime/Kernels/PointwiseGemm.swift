import COpenBLAS

/// The 1×1 convolution: a GEMM on NHWC activations against weights stored input-major
/// ([inChannels][outChannels], `WeightPreparation.Layout.inputMajor`), so that the C kernel
/// (GemmTemplate.h) reads rows of output channels without packing and applies bias, activation and
/// residual while the sums are still in registers. Inference prepares those weights once at load;
/// training re-lays PyTorch's [outChannels][inChannels] parameters before each forward call
/// (`WeightPrep.inputMajorWeights`), and its input gradient uses the PyTorch layout as it is.
///
/// On the portable `.swift` SIMD path the same contract runs as single-threaded OpenBLAS sgemm per tile
/// followed by the Swift epilogue.
extension Kernels {
    /// output[p][co] = act(Σ_ci input[p][ci] · inputMajorWeights[ci][co] + bias[co]) (+ residual[p][co],
    /// added after the activation). `pixels` = batch·H·W.
    public static func pointwiseConv(
        input: UnsafePointer<Float>, pixels: Int, inChannels: Int,
        inputMajorWeights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
        activation: Activation, residual: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        pointwiseGemm(activation, rows: pixels, inChannels: inChannels, outChannels: outChannels, input: input,
                      weights: inputMajorWeights, bias: bias, residual: residual, output: output,
                      threads: pool.threadCount) { tasks, body in pool.parallelFor(tasks, body) }
    }

    /// Splits rows × outChannels into tasks and runs one GEMM tile per task through `run` (a pool's
    /// parallelFor, or a caller that shares the tasks of several GEMMs out together).
    ///
    /// Row tiles by default: each keeps its input rows (re-read once per 48-column panel) within
    /// ~256 KB of L2, and there are about four per worker so an uneven finish costs little. When the
    /// weights outweigh the activations (the late 7×7 layers at small batch) the output channels are
    /// split instead, so each worker streams only its share of the weights.
    @inline(__always) static func pointwiseGemm(
        _ activation: Activation, rows: Int, inChannels: Int, outChannels: Int, input: UnsafePointer<Float>,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, threads: Int, run: (Int, (Int) -> Void) -> Void
    ) {
        if pointwiseGemmSplitsOutputChannels(rows: rows, outChannels: outChannels, threads: threads) {
            let chunk = alignedChunk(outChannels, parts: threads, align: 32)
            let tasks = (outChannels + chunk - 1) / chunk
            run(tasks) { t in
                let c0 = t &* chunk
                pointwiseGemmTile(activation, rows: rows, cols: min(chunk, outChannels &- c0), inChannels: inChannels,
                                  input: input, weights: weights + c0, ldw: outChannels, bias: bias.map { $0 + c0 },
                                  residual: residual.map { $0 + c0 }, output: output + c0, ldo: outChannels)
            }
        } else {
            let tile = pointwiseGemmRowTile(rows: rows, inChannels: inChannels, threads: threads)
            let tasks = (rows + tile - 1) / tile
            run(tasks) { t in
                let r0 = t &* tile
                pointwiseGemmTile(activation, rows: min(tile, rows &- r0), cols: outChannels, inChannels: inChannels,
                                  input: input + r0 &* inChannels, weights: weights, ldw: outChannels, bias: bias,
                                  residual: residual.map { $0 + r0 &* outChannels },
                                  output: output + r0 &* outChannels, ldo: outChannels)
            }
        }
    }

    /// Whether `pointwiseGemm` splits the output channels across workers rather than the rows: when the
    /// weights outweigh the activations (few rows, many output channels).
    @inline(__always) static func pointwiseGemmSplitsOutputChannels(rows: Int, outChannels: Int, threads: Int) -> Bool {
        threads > 1 && rows < 2 * outChannels && outChannels >= 64 * threads
    }

    /// Rows per task: about a quarter of each worker's share, to the nearest multiple of 8 (whole register
    /// strips on both C paths: 8 rows on AVX-512, 4 on AVX2), and input rows within 64 Ki floats.
    ///
    /// Four tasks per worker, not two: with two, B0's 14x14 layers (196 rows) split as 56/56/56/28 and
    /// 56x56 (3,136 rows, cache-capped at 448) as seven tasks, so one worker did 14-15 % more than the
    /// other; quarter shares keep the dynamic scheduling within one small task of even.
    @inline(__always) static func pointwiseGemmRowTile(rows: Int, inChannels: Int, threads: Int) -> Int {
        let step = 8
        let byCache = max(step, (64 * 1024 / max(1, inChannels)) / step * step)
        let share = rows / (4 * max(1, threads))
        let byBalance = max(step, (share + step / 2) / step * step)
        return min(byCache, byBalance)
    }

    /// One tile: the C kernel, or sgemm plus the epilogue on the portable path. Without bias, residual and
    /// activation (training's input gradient) there is no epilogue; an activation or residual without a
    /// bias is not supported.
    ///
    /// The C kernel takes every shape. Up to 1,024 input channels (or 64 rows) it streams each 48-column
    /// panel of the weights once per 8-row strip; deeper tiles with more rows (B3's and B7's late
    /// projections) it blocks over K and rows (GemmTemplate.h `gemm_blocked`) with the same bits, so a
    /// block's output does not depend on how its rows are split into tasks or images. Those tiles used to
    /// go to OpenBLAS's packed sgemm; in B3 and B7 at batch 1 they take about the time they took there.
    @inline(__always) static func pointwiseGemmTile(
        _ activation: Activation, rows: Int, cols: Int, inChannels: Int, input: UnsafePointer<Float>,
        weights: UnsafePointer<Float>, ldw: Int, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        if let simd = CSIMDKernels.active {
            simd.gemmBiasActivation(activation, rows: rows, cols: cols, depth: inChannels, x: input, ldx: inChannels,
                                    w: weights, ldw: ldw, bias: bias, residual: residual, y: output, ldy: ldo)
            return
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(cols), Int32(inChannels), 1,
                    input, Int32(inChannels), weights, Int32(ldw), 0, output, Int32(ldo))
        guard let bias else {
            precondition(activation == .identity && residual == nil, "pointwiseGemmTile: an epilogue needs a bias")
            return
        }
        biasActivationEpilogue(activation, out: output, ldo: ldo, rows: rows, cols: cols, bias: bias,
                               residual: residual)
    }
}
