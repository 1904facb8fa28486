extension TrainingKernels {
    /// The training forward's 1x1 convolution z = x·W + bias and the train-mode BatchNorm statistics of z
    /// (saved mean and invStd, running-stat update), with the bits of `Kernels.pointwiseConv` followed by
    /// `batchNormStatistics`; `batchNormApply` then writes act(BN(z)).
    ///
    /// Why one call: the statistics read all of z, which the GEMM has just written. After the early
    /// expansions that is tens of MB per layer (B0's 112x112x96 at batch 16: 77 MB), so the separate pass
    /// read it back from memory. Here each of the statistics' pixel parts (`bnParts`) computes its rows
    /// band by band (`pointwiseStatisticsBandRows`, within L2) and takes the band's statistics right
    /// after its GEMM, while z's rows are still in cache.
    ///
    /// Same bits: a row of z does not depend on how the rows are split (GemmTemplate.h). The statistics
    /// keep `batchNormStatistics`' parts, its 32-row tiles (a band is a whole number of tiles, counted
    /// from the part's first row) and its order of sums: the C kernel adds each band's tile sums onto the
    /// part's totals (`accumulate`) as one call over the part would, and the parts are added in order.
    /// Every part subtracts row 0 (the shift that keeps the one-pass variance from cancelling), so row 0 is
    /// computed first, alone. Where the layer does not qualify (`pointwiseConvFusesBatchStatistics`), or
    /// on the portable path, the two run one after the other.
    ///
    /// `workspace`: `batchStatisticsWorkspaceFloats` floats (the parts' Double sums).
    ///
    /// A projection after a squeeze-excitation gets `squeezeExcite`: where
    /// `projectionScalesSqueezeExcite` holds, each band's input rows are x·s scaled into a scratch per part
    /// (`squeezeExciteProjectionWorkspaceFloats`), and `input` (the SE output, not written) is not read.
    public static func pointwiseConvBatchStatistics(
        input: UnsafePointer<Float>, pixels: Int, inChannels: Int, inputMajorWeights: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, outChannels: Int, output z: UnsafeMutablePointer<Float>,
        eps: Double, momentum: Double, savedMean: UnsafeMutablePointer<Float>,
        savedInvStd: UnsafeMutablePointer<Float>, runningMean: UnsafeMutablePointer<Float>,
        runningVar: UnsafeMutablePointer<Float>, squeezeExcite: SqueezeExciteScaling? = nil,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        precondition(pixels >= 1, "pointwiseConvBatchStatistics: needs at least one pixel")
        let C = outChannels
        guard let simd = CSIMDKernels.active,
              pointwiseConvFusesBatchStatistics(pixels: pixels, inChannels: inChannels, outChannels: C,
                                                threads: pool.threadCount)
        else {
            Kernels.pointwiseConv(input: input, pixels: pixels, inChannels: inChannels,
                                  inputMajorWeights: inputMajorWeights, bias: bias, outChannels: C,
                                  activation: .identity, residual: nil, output: z, pool: pool)
            batchNormStatistics(input: z, pixels: pixels, channels: C, eps: eps, momentum: momentum,
                                savedMean: savedMean, savedInvStd: savedInvStd, runningMean: runningMean,
                                runningVar: runningVar, pool: pool)
            return
        }
        let parts = bnParts(pixels: pixels, channels: C, threads: pool.threadCount)
        let partRows = (pixels + parts - 1) / parts
        let band = pointwiseStatisticsBandRows(inChannels: inChannels, outChannels: C)
        let scales = squeezeExcite.flatMap { se in
            projectionScalesSqueezeExcite(pixels: pixels, inChannels: inChannels, outChannels: C,
                                          threads: pool.threadCount) ? se : nil
        }
        // Part t's scaled rows, after the parts' sums.
        let scaledRows = workspace + batchStatisticsWorkspaceFloats(channels: C, threads: pool.threadCount)
        func gemm(_ r0: Int, _ r1: Int, part: Int) {
            var x = input + r0 &* inChannels
            if let scales {
                let scratch = scaledRows + part &* band &* inChannels
                scales.rows(r0, r1, channels: inChannels, into: scratch)
                x = UnsafePointer(scratch)
            }
            simd.gemmBiasActivation(.identity, rows: r1 &- r0, cols: C, depth: inChannels,
                                    x: x, ldx: inChannels, w: inputMajorWeights, ldw: C,
                                    bias: bias, residual: nil, y: z + r0 &* C, ldy: C)
        }
        // Row 0 first: every part's statistics read it (part 0's GEMM then starts at row 1).
        gemm(0, 1, part: 0)
        workspace.withMemoryRebound(to: Double.self, capacity: parts &* 2 &* C) { slots in
            pool.parallelFor(parts) { t in
                let p0 = min(pixels, t &* partRows)
                let p1 = min(pixels, p0 &+ partRows)
                let sums = slots + t &* 2 &* C, squares = sums + C
                var r0 = p0
                repeat {
                    let r1 = min(p1, r0 &+ band)
                    gemm(max(r0, 1), r1, part: t)
                    simd.bnStatistics(z, C, 0, C, r0, r1, tileRows: bnTileRows, sums, squares, accumulate: r0 > p0)
                    r0 = r1
                } while r0 < p1
            }
            finishBatchStatistics(partSums: slots, parts: parts, channels: C, pixels: pixels, shift: z, eps: eps,
                                  momentum: momentum, savedMean: savedMean, savedInvStd: savedInvStd,
                                  runningMean: runningMean, runningVar: runningVar)
        }
    }

    /// Whether `pointwiseConvBatchStatistics` interleaves the GEMM and the statistics band by band:
    /// - the weights (at most 128 Ki floats, 512 KB) stay in L2 beside the band, as every band of a part
    ///   streams them again;
    /// - the GEMM would split rows anyway (`Kernels.pointwiseGemm` splits the output channels where the
    ///   weights outweigh the rows: the 7x7 layers);
    /// - there are at least as many statistics parts as workers, which share them out.
    /// B0 at batch 16: every 1x1 convolution from 112x112 to 14x14; not the 7x7 ones nor the head.
    public static func pointwiseConvFusesBatchStatistics(pixels: Int, inChannels: Int, outChannels: Int,
                                                         threads: Int) -> Bool {
        let splitsChannels = Kernels.pointwiseGemmSplitsOutputChannels(rows: pixels, outChannels: outChannels,
                                                                      threads: threads)
        return inChannels &* outChannels <= 1 << 17 && !splitsChannels
            && bnParts(pixels: pixels, channels: outChannels, threads: threads) >= threads
    }

    /// Rows per band: the band's input and output rows within 64 Ki floats (256 KB, a quarter of a 1 MB
    /// L2), a whole number of the statistics' 32-row tiles (`bnTileRows`), which keeps their bits.
    public static func pointwiseStatisticsBandRows(inChannels: Int, outChannels: Int) -> Int {
        max(bnTileRows, (64 * 1024 / max(1, inChannels &+ outChannels)) / bnTileRows * bnTileRows)
    }
}
