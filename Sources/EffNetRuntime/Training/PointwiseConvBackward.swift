import COpenBLAS

extension TrainingKernels {
    /// 1x1 conv backward. input X [pixels][inC], weights W [outC][inC], gradOutput dZ [pixels][outC].
    /// gradInput dX = dZ·W (overwrite; skip when nil). gradWeights dW += dZᵀ·X.
    ///
    /// dX: the inference GEMM (`Kernels.pointwiseGemm`: row tiles, or output-channel slices when the
    /// weights outweigh the rows), with no epilogue.
    /// dW: a GEMM whose inner dimension is the long pixel axis. Where `workspace` holds
    /// `pointwiseConvBackwardWorkspaceFloats` floats and the layer qualifies (`weightGradientSplitsPixels`),
    /// each worker sums its own share of the pixels into a partial dW and the partials are then added in a
    /// fixed order; otherwise the larger of outC / inC is split (`gemmTransposedAccumulate`).
    /// With the pixel split and the C kernels, each worker also computes dX for its share, band by band
    /// just before that band's dW (`weightGradientOverPixelParts`), so dZ comes from memory once, not twice.
    public static func pointwiseConvBackward(
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
        pixels: Int, inChannels: Int, outChannels: Int,
        gradInput: UnsafeMutablePointer<Float>?, gradWeights: UnsafeMutablePointer<Float>,
        workspace: UnsafeMutablePointer<Float>? = nil, pool: WorkerPool
    ) {
        if pixels <= 0 { return }
        let threads = pool.threadCount
        let splitsPixels = workspace != nil && weightGradientSplitsPixels(
            pixels: pixels, inChannels: inChannels, outChannels: outChannels, threads: threads)
        if let workspace, splitsPixels, let gradInput, CSIMDKernels.active != nil {
            weightGradientOverPixelParts(gradOutput: gradOutput, input: input, pixels: pixels,
                                         inChannels: inChannels, outChannels: outChannels, gradWeights: gradWeights,
                                         partials: workspace, inputGradient: (weights, gradInput), pool: pool)
            return
        }
        if let gradInput {
            // PyTorch's [outC][inC] is already input-major for this product (K = outC, N = inC).
            Kernels.pointwiseGemm(.identity, rows: pixels, inChannels: outChannels, outChannels: inChannels,
                                  input: gradOutput, weights: weights, bias: nil, residual: nil, output: gradInput,
                                  threads: threads) { tasks, body in pool.parallelFor(tasks, body) }
        }
        if let workspace, splitsPixels {
            weightGradientOverPixelParts(gradOutput: gradOutput, input: input, pixels: pixels, inChannels: inChannels,
                                         outChannels: outChannels, gradWeights: gradWeights, partials: workspace,
                                         pool: pool)
            return
        }
        gemmTransposedAccumulate(a: gradOutput, b: input, inner: pixels, rows: outChannels, cols: inChannels,
                                 c: gradWeights, pool: pool)
    }

    /// The backward of BatchNorm's pass 2 and the 1x1 convolution before it, after `batchNormBackwardSums`:
    /// dZ = gamma·invStd·(dY − ΣdY/M − xhat·ΣdY·xhat/M) from `gradOutput` (dY, or dOut: see
    /// `batchNormInputGradientActivation`) and the conv output z, then dX = dZ·W and dW += dZᵀ·X as
    /// `pointwiseConvBackward`.
    ///
    /// Why one call: pass 2 wrote dZ over a whole map that the GEMMs then read back, both from memory on
    /// the early layers (B0's 112x112x96 at batch 16: 77 MB each way). Where the weight gradient is split
    /// over pixel parts (`weightGradientSplitsPixels`, with the C kernels), each worker computes dZ for one
    /// band of its part at a time into its own scratch (`weightGradientBandPixels` rows, in L2) and the band's
    /// dX and dW read it there: dZ never goes to memory. Elsewhere pass 2 runs in place over the whole map
    /// first. dZ is the same elementwise function either way and the GEMMs read the same values, so the
    /// bits are those of `batchNormActivationBackward` followed by `pointwiseConvBackward`.
    ///
    /// Wide expansions over maps larger than the L3 (B0's first at batch 16) skip pass 2 altogether and take
    /// its z term through the conv (`batchNormPointwiseConvBackwardThroughInput`): other bits, same values.
    ///
    /// `gradOutput` is left holding dY or dOut (not dZ) on the banded paths, dZ on the other.
    ///
    /// A projection after a squeeze-excitation gets `squeezeExcite`: where `projectionScalesSqueezeExcite`
    /// holds, the bands scale their rows of X = x·s into a scratch per worker
    /// (`squeezeExciteProjectionWorkspaceFloats`), and `input` (the SE output, not written) is not read.
    public static func batchNormPointwiseConvBackward(
        gradOutput: UnsafeMutablePointer<Float>, preActivation z: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
        savedInvStd: UnsafePointer<Float>, activation: Activation, reductions: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>, squeezeExcite: SqueezeExciteScaling? = nil, weights: UnsafePointer<Float>,
        pixels: Int, inChannels: Int, outChannels: Int,
        gradInput: UnsafeMutablePointer<Float>?, gradWeights: UnsafeMutablePointer<Float>,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        if pixels <= 0 { return }
        let passTwoActivation = batchNormInputGradientActivation(activation)
        if batchNormConvThroughInputFits(pixels: pixels, inChannels: inChannels, outChannels: outChannels,
                                         passTwoActivation: passTwoActivation, threads: pool.threadCount) {
            batchNormPointwiseConvBackwardThroughInput(
                gradOutput: UnsafePointer(gradOutput), gamma: gamma, savedInvStd: savedInvStd,
                reductions: UnsafePointer(reductions), input: input, weights: weights, pixels: pixels,
                inChannels: inChannels, outChannels: outChannels, gradInput: gradInput, gradWeights: gradWeights,
                workspace: workspace, pool: pool)
            return
        }
        let passTwo = BatchNormInputGradient(
            gradOutput: UnsafePointer(gradOutput), preActivation: z, gamma: gamma, beta: beta, savedMean: savedMean,
            savedInvStd: savedInvStd, activation: passTwoActivation, reductions: reductions)
        if CSIMDKernels.active != nil, weightGradientSplitsPixels(pixels: pixels, inChannels: inChannels,
                                                                  outChannels: outChannels, threads: pool.threadCount) {
            let scales = squeezeExcite.flatMap { se in
                projectionScalesSqueezeExcite(pixels: pixels, inChannels: inChannels, outChannels: outChannels,
                                              threads: pool.threadCount) ? se : nil
            }
            weightGradientOverPixelParts(gradOutput: UnsafePointer(gradOutput), input: input, pixels: pixels,
                                         inChannels: inChannels, outChannels: outChannels, gradWeights: gradWeights,
                                         partials: workspace, inputGradient: gradInput.map { (weights, $0) },
                                         batchNorm: passTwo, squeezeExcite: scales, pool: pool)
            return
        }
        passTwo.inPlace(pixels: pixels, channels: outChannels, pool: pool)
        pointwiseConvBackward(gradOutput: gradOutput, input: input, weights: weights, pixels: pixels,
                              inChannels: inChannels, outChannels: outChannels, gradInput: gradInput,
                              gradWeights: gradWeights, workspace: workspace, pool: pool)
    }

    /// Pixels per band when dX is computed with the pixel-split weight gradient: the band's dZ, X and dX
    /// rows within about 256 KB (a quarter of a 1 MB L2), and a multiple of the weight-gradient kernel's
    /// 64-pixel blocks (WG_BLOCK in WeightGradientTemplate.h), which keeps the bits of one call per part.
    public static func weightGradientBandPixels(inChannels: Int, outChannels: Int) -> Int {
        let block = 64
        return max(block, (64 * 1024 / max(1, outChannels &+ 2 &* inChannels)) / block * block)
    }

    /// Weight gradients of at most this many floats may be split over the pixels (one partial per worker
    /// in the workspace: 512 KB each); B0's largest below it is 672 x 112.
    static let weightGradientPartialFloatsLimit = 1 << 17
    /// Fewer pixels than this keep the output split: on B0's 7x7 layers at batch 16 (784 pixels) the GEMM
    /// split over the outputs was as fast as the pixel split or faster (measured with sgemm).
    public static let weightGradientSplitMinimumPixels = 2048

    /// Whether the weight gradient of a 1x1 conv is summed over pixel parts, one per worker. Splitting the
    /// outputs instead makes each worker stream all the rows of both maps for its slice of the columns; on
    /// the early layers (16-240 channels, 12-200 K pixels at batch 16) that took 1.5-2.9x the time per
    /// worker in a single-thread harness (sgemm split over the outputs against our kernel over pixels).
    public static func weightGradientSplitsPixels(pixels: Int, inChannels: Int, outChannels: Int,
                                                  threads: Int) -> Bool {
        threads > 1 && pixels >= weightGradientSplitMinimumPixels
            && inChannels &* outChannels <= weightGradientPartialFloatsLimit
    }

    /// Workspace for `pointwiseConvBackward`'s pixel split: one partial weight gradient per worker where the
    /// layer can split its pixels (at some batch size), else 0.
    /// With `batchNormPointwiseConvBackward` each worker also keeps one band of dZ after its partial.
    public static func pointwiseConvBackwardWorkspaceFloats(inChannels: Int, outChannels: Int, threads: Int) -> Int {
        threads > 1 && inChannels * outChannels <= weightGradientPartialFloatsLimit
            ? pixelPartsWorkspaceFloats(inChannels: inChannels, outChannels: outChannels, threads: threads) : 0
    }

    /// Per worker, a partial weight gradient and a band of `weightGradientBandPixels` rows of outC floats:
    /// the pixel split's workspace (`weightGradientOverPixelParts`, `batchNormPointwiseConvBackwardThroughInput`).
    static func pixelPartsWorkspaceFloats(inChannels: Int, outChannels: Int, threads: Int) -> Int {
        let band = weightGradientBandPixels(inChannels: inChannels, outChannels: outChannels)
        return threads * (inChannels * outChannels + band * outChannels)
    }

    /// dW += dZᵀ·X with the pixels cut into one contiguous part per worker, each summed into its own
    /// partial (in `partials`), then the partials added into dW in worker order: the same bits whichever
    /// thread ran which part. The partial is laid out with its wider side as the vector axis of the GEMM
    /// tile: [outC][inC] when inC >= outC, transposed otherwise (an expansion's 96 x 16 gradient would
    /// otherwise give the 48-wide tile a single column vector).
    ///
    /// With `inputGradient` (PyTorch's [outC][inC] weights and dX; C kernels only) each worker walks its part
    /// in bands of `weightGradientBandPixels`: dX = dZ·W for the band's rows, then the band's share of dW,
    /// which reads the band's dZ rows again while they are still in L2. A band is a whole number of the
    /// weight-gradient kernel's 64-pixel blocks (WeightGradientTemplate.h), so the partial receives the same
    /// block sums in the same order as in one call over the part: the same bits as unfused. dX's rows do not
    /// depend on how the rows are split (GemmTemplate.h), so they have the bits of `Kernels.pointwiseGemm`.
    /// With `batchNorm` (BatchNorm's pass 2, `batchNormPointwiseConvBackward`) the bands are taken too, and
    /// each band's dZ is first computed into the worker's scratch after the partials (`partials` then holds
    /// `pointwiseConvBackwardWorkspaceFloats`); `gradOutput` is then BatchNorm's dY or dOut, not dZ. The pass
    /// reads its dY and z rows from memory (B0's first expansion at batch 16: 154 MB), and alone it streamed at
    /// one core's memory speed while the band's GEMMs ran with the memory idle; so dX's GEMM prefetches the
    /// next band's rows of both as it computes (`gemmPrefetchingRows`). Harness, one worker's half of that
    /// layer: 6.3 -> 5.0 ms alone, 6.8-7.2 -> 5.6-6.4 ms with the other core doing the same.
    /// With `squeezeExcite` (banded only: a projection after an SE), `x` is not read: each band's X rows are
    /// x·s scaled into the worker's scratch after the dZ bands (`squeezeExciteProjectionWorkspaceFloats`).
    static func weightGradientOverPixelParts(
        gradOutput dZ: UnsafePointer<Float>, input x: UnsafePointer<Float>, pixels: Int, inChannels: Int,
        outChannels: Int, gradWeights: UnsafeMutablePointer<Float>, partials: UnsafeMutablePointer<Float>,
        inputGradient: (weights: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>)? = nil,
        batchNorm: BatchNormInputGradient? = nil, squeezeExcite: SqueezeExciteScaling? = nil, pool: WorkerPool
    ) {
        let parts = pool.threadCount
        let weights = inChannels &* outChannels
        let transposed = outChannels > inChannels
        let partRows = (pixels + parts - 1) / parts
        let simd = CSIMDKernels.active
        precondition((inputGradient == nil && batchNorm == nil) || simd != nil,
                     "weightGradientOverPixelParts: dX or dZ fused needs the C kernels")
        let banded = inputGradient != nil || batchNorm != nil
        precondition(squeezeExcite == nil || banded, "weightGradientOverPixelParts: X = x·s is scaled band by band")
        let band = banded ? weightGradientBandPixels(inChannels: inChannels, outChannels: outChannels) : pixels
        pool.parallelFor(parts) { t in
            let k0 = min(pixels, t &* partRows)
            let k = min(pixels, k0 &+ partRows) &- k0
            let partial = partials + t &* weights
            // With BatchNorm's pass 2, each band's dZ goes to this worker's scratch after the partials.
            let bandScratch = partials + (parts &* weights &+ t &* band &* outChannels)
            // With the SE's scaling, each band's X rows go to this worker's scratch after the dZ bands.
            let scaledX = partials + (pixelPartsWorkspaceFloats(inChannels: inChannels, outChannels: outChannels,
                                                                threads: parts) &+ t &* band &* inChannels)
            let (rows, cols) = transposed ? (inChannels, outChannels) : (outChannels, inChannels)
            if let simd {
                var b0 = 0
                repeat {
                    let n = min(band, k &- b0)
                    let r0 = k0 &+ b0
                    var bandDZ = dZ + r0 &* outChannels
                    if let batchNorm, n > 0 {
                        batchNorm.rows(r0, r0 &+ n, channels: outChannels, into: bandScratch)
                        bandDZ = UnsafePointer(bandScratch)
                    }
                    if let (w, gradInput) = inputGradient, n > 0 {
                        // With BatchNorm's pass 2 here, the next band's pass reads n rows of dY and z from
                        // memory; dX's GEMM asks for them while it computes (the same bits as without).
                        let next = r0 &+ n
                        if let batchNorm, next &+ n <= k0 &+ k {  // a whole next band
                            simd.gemmPrefetchingRows(rows: n, cols: inChannels, depth: outChannels, x: bandDZ,
                                                     ldx: outChannels, w: w, ldw: inChannels,
                                                     y: gradInput + r0 &* inChannels, ldy: inChannels,
                                                     nextA: batchNorm.gradOutput + next &* outChannels,
                                                     nextB: batchNorm.preActivation + next &* outChannels)
                        } else {
                            simd.gemmBiasActivation(.identity, rows: n, cols: inChannels, depth: outChannels,
                                                    x: bandDZ, ldx: outChannels, w: w, ldw: inChannels, bias: nil,
                                                    residual: nil, y: gradInput + r0 &* inChannels, ldy: inChannels)
                        }
                    }
                    // Natural: [outC][inC] = dZᵀ·X; transposed: [inC][outC] = Xᵀ·dZ.
                    var bandX = x + r0 &* inChannels
                    if let squeezeExcite, n > 0 {
                        squeezeExcite.rows(r0, r0 &+ n, channels: inChannels, into: scaledX)
                        bandX = UnsafePointer(scaledX)
                    }
                    let (a, lda, b, ldb) = transposed ? (bandX, inChannels, bandDZ, outChannels)
                                                      : (bandDZ, outChannels, bandX, inChannels)
                    simd.weightGradientGemm(rows: rows, cols: cols, depth: n, a, lda: lda, b, ldb: ldb, partial,
                                            ldc: cols, accumulate: b0 > 0)
                    b0 &+= n
                } while b0 < k
            } else {
                let (a, lda, b, ldb) = transposed ? (x + k0 &* inChannels, inChannels, dZ + k0 &* outChannels, outChannels)
                                                  : (dZ + k0 &* outChannels, outChannels, x + k0 &* inChannels, inChannels)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows), Int32(cols), Int32(k), 1,
                            a, Int32(lda), b, Int32(ldb), 0, partial, Int32(cols))
            }
        }
        // dW[o][i] += partial_0 + partial_1 + ..., rows of dW split over the workers.
        let chunk = (outChannels + parts - 1) / parts
        pool.parallelFor(parts) { t in
            let o0 = min(outChannels, t &* chunk), o1 = min(outChannels, o0 &+ chunk)
            for o in o0..<o1 {
                let row = gradWeights + o &* inChannels
                for i in 0..<inChannels {
                    let at = transposed ? i &* outChannels &+ o : o &* inChannels &+ i
                    var g = row[i]
                    for p in 0..<parts { g += partials[p &* weights &+ at] }
                    row[i] = g
                }
            }
        }
    }

    /// c[rows][cols] += aᵀ·b for a [inner][rows], b [inner][cols] (row-major), the larger output axis
    /// split across the pool's workers.
    ///
    /// With the C kernels, each worker runs the weight-gradient GEMM (WeightGradientTemplate.h) on its slice,
    /// adding into c; elsewhere OpenBLAS's sgemm. Why not sgemm everywhere: its speed depends on the kernel
    /// set OpenBLAS runs, which the machine decides (the AMD EPYC this was measured on sets
    /// `OPENBLAS_CORETYPE=Haswell` in its environment: AVX2 on an AVX-512 CPU). B0's 7x7 layers at batch 16
    /// (784 pixels), whole backward per layer: 2.28-2.36 ms with sgemm's Haswell kernels, 1.68-1.80 ms with
    /// its SkylakeX ones, 1.72-1.85 ms here whichever OpenBLAS runs.
    static func gemmTransposedAccumulate(a: UnsafePointer<Float>, b: UnsafePointer<Float>, inner: Int, rows: Int,
                                         cols: Int, c: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let work = inner &* rows &* cols
        let splitRows = rows >= cols
        let axis = splitRows ? rows : cols
        let parts = work >= 1 << 16 ? pool.threadCount : 1
        let chunk = alignedChunk(axis, parts: parts, align: 16)
        let tasks = (axis + chunk - 1) / chunk
        let simd = CSIMDKernels.active
        pool.parallelFor(tasks) { t in
            let s0 = t &* chunk
            let n = min(chunk, axis &- s0)
            // This task's slice: rows s0..<s0+n of c (columns of a), or columns s0..<s0+n (of b and c).
            let (m, w, aSlice, bSlice, cSlice) = splitRows ? (n, cols, a + s0, b, c + s0 &* cols)
                                                           : (rows, n, a, b + s0, c + s0)
            if let simd {
                simd.weightGradientGemm(rows: m, cols: w, depth: inner, aSlice, lda: rows, bSlice, ldb: cols, cSlice,
                                        ldc: cols, accumulate: true)
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(w), Int32(inner), 1,
                            aSlice, Int32(rows), bSlice, Int32(cols), 1, cSlice, Int32(cols))
            }
        }
    }
}
