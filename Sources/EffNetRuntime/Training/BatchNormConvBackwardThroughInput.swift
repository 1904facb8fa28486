extension TrainingKernels {
    /// `batchNormPointwiseConvBackward` for wide expansions over large maps, without reading the conv
    /// output z back.
    ///
    /// BatchNorm's pass 2 is linear in dY and z per channel:
    ///
    ///     dZ = a∘dY + b∘(z − mean) + e,  a = γ·invStd, b = −γ·invStd²·ΣdY·xhat/M, e = −a·ΣdY/M.
    ///
    /// z is this conv's output, so z − mean = (X − X̄)·Wᵀ in exact arithmetic, whatever the bias. With
    /// Xc = X − X̄ and PyTorch's weights W [outC][inC]:
    ///
    ///     dX = dY·(a∘W) + Xc·M + f,            M = Wᵀ·diag(b)·W [inC][inC],  f = Wᵀ·e
    ///     dW += a∘(dYᵀ·X) + b∘(W·XcᵀXc) + e⊗ΣX
    ///
    /// So the GEMMs read dY (as pass 1 left it) and X, and the z term comes from inC x inC matrices.
    ///
    /// Why: on B0's first expansion at batch 16 (16 -> 96 channels over 112x112), z and dY are 77 MB each,
    /// beyond the L3. The banded path's pass 2 read both from memory around GEMMs that ran near peak. Here
    /// z is not read at all, and X (16 channels) is a sixth of its size. The price is two small GEMMs per
    /// band: inC/outC of the main ones' work.
    ///
    /// Numerics: each term is summed in float32 as the GEMMs sum, but not in the order of the banded path,
    /// so the bits differ from `batchNormActivationBackward` followed by `pointwiseConvBackward`.
    /// Centring X first (Xc, not X with a correction afterwards) keeps b's term free of the cancellation a
    /// large mean would bring. The tests compare both paths with a float64 reference.
    ///
    /// Same work split as `weightGradientOverPixelParts`: one contiguous part of the pixels per worker,
    /// walked in bands of `weightGradientBandPixels`, partial sums added in worker order (deterministic).
    /// `workspace`: `pixelPartsWorkspaceFloats` floats (`pointwiseConvBackwardWorkspaceFloats` wherever
    /// `batchNormConvThroughInputFits`). Per worker, the dYᵀ·X partial, then the band's Xc rows and the XcᵀXc
    /// partial where the banded path keeps its dZ band (`Fits` checks that they fit there).
    static func batchNormPointwiseConvBackwardThroughInput(
        gradOutput dY: UnsafePointer<Float>, gamma: UnsafePointer<Float>, savedInvStd: UnsafePointer<Float>,
        reductions: UnsafePointer<Float>, input x: UnsafePointer<Float>, weights w: UnsafePointer<Float>,
        pixels: Int, inChannels K: Int, outChannels C: Int, gradInput: UnsafeMutablePointer<Float>?,
        gradWeights: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        guard let simd = CSIMDKernels.active else {
            preconditionFailure("batchNormPointwiseConvBackwardThroughInput needs the C kernels")
        }
        let parts = pool.threadCount
        let partRows = (pixels + parts - 1) / parts
        let band = weightGradientBandPixels(inChannels: K, outChannels: C)
        let weightFloats = K &* C
        // Small arrays: X̄ and −X̄, the coefficients, a∘W, M and f, then W·XcᵀXc.
        let small = 2 &* K &+ 3 &* C &+ 2 &* weightFloats &+ K &* K &+ K
        withUnsafeTemporaryAllocation(of: Float.self, capacity: small) { buffer in
            let xMean = buffer.baseAddress!, minusMean = xMean + K, a = minusMean + K, b = a + C, e = b + C
            let scaledWeights = e + C, m = scaledWeights + weightFloats, f = m + K &* K
            let weightedGram = f + K  // [outC][inC]: Σ_j W[c][j]·(XcᵀXc)[j][k]
            // X̄ over all pixels: each part's Σ(X − X[0]) in Double (the BatchNorm statistics kernel, whose
            // shift is row 0), added in part order.
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 &* parts &* K) { slots in
                let s = slots.baseAddress!
                pool.parallelFor(parts) { t in
                    let p0 = min(pixels, t &* partRows), p1 = min(pixels, p0 &+ partRows)
                    let sums = s + 2 &* t &* K
                    if p0 < p1 {
                        simd.bnStatistics(x, K, 0, K, p0, p1, tileRows: bnTileRows, sums, sums + K)
                    } else {
                        sums.update(repeating: 0, count: K)
                    }
                }
                for k in 0..<K {
                    var total = 0.0
                    for t in 0..<parts { total += s[2 &* t &* K &+ k] }
                    xMean[k] = Float(Double(x[k]) + total / Double(pixels))
                    minusMean[k] = -xMean[k]
                }
            }
            for c in 0..<C {
                let ac = gamma[c] * savedInvStd[c]
                a[c] = ac
                b[c] = -ac * savedInvStd[c] * reductions[C &+ c]
                e[c] = -ac * reductions[c]
                for k in 0..<K { scaledWeights[c &* K &+ k] = ac * w[c &* K &+ k] }
            }
            // M[j][k] = Σ_c W[c][j]·b[c]·W[c][k] and f[k] = Σ_c e[c]·W[c][k] (inC² x outC: small).
            for j in 0..<K {
                for k in 0..<K {
                    var sum: Float = 0
                    for c in 0..<C { sum += w[c &* K &+ j] * b[c] * w[c &* K &+ k] }
                    m[j &* K &+ k] = sum
                }
            }
            for k in 0..<K {
                var sum: Float = 0
                for c in 0..<C { sum += e[c] * w[c &* K &+ k] }
                f[k] = sum
            }
            pool.parallelFor(parts) { t in
                let k0 = min(pixels, t &* partRows)
                let rows = min(pixels, k0 &+ partRows) &- k0
                let partial = workspace + t &* weightFloats  // [inC][outC]: Σ X[p][k]·dY[p][c]
                let centred = workspace + (parts &* weightFloats &+ t &* band &* C)  // the band's Xc rows
                let gramPartial = centred + band &* K  // [inC][inC]: Σ Xc[p][j]·Xc[p][k]
                var b0 = 0
                while b0 < rows {
                    let n = min(band, rows &- b0)
                    let r0 = k0 &+ b0
                    let bandX = x + r0 &* K, bandDY = dY + r0 &* C
                    // Xc = X + (−X̄), exactly X − X̄, by the bias epilogue over a copy.
                    centred.update(from: bandX, count: n &* K)
                    simd.biasActivation(.identity, out: centred, ldo: K, rows: n, cols: K, bias: minusMean,
                                        residual: nil)
                    if let gradInput {
                        let out = gradInput + r0 &* K
                        // dY·(a∘W), asking for the next band's dY rows while it computes (as the banded path
                        // asks for dY and z; both halves of the side stream name the same rows here, as there
                        // is no second map), then + Xc·M + f on top.
                        let next = r0 &+ n
                        let nextDY = next &+ n <= k0 &+ rows ? dY + next &* C : nil
                        simd.gemmPrefetchingRows(rows: n, cols: K, depth: C, x: bandDY, ldx: C, w: scaledWeights,
                                                 ldw: K, y: out, ldy: K, nextA: nextDY, nextB: nextDY)
                        simd.gemmBiasActivation(.identity, rows: n, cols: K, depth: K, x: centred, ldx: K, w: m,
                                                ldw: K, bias: f, residual: out, y: out, ldy: K)
                    }
                    simd.weightGradientGemm(rows: K, cols: C, depth: n, bandX, lda: K, bandDY, ldb: C, partial,
                                            ldc: C, accumulate: b0 > 0)
                    simd.weightGradientGemm(rows: K, cols: K, depth: n, centred, lda: K, centred, ldb: K,
                                            gramPartial, ldc: K, accumulate: b0 > 0)
                    b0 &+= n
                }
                if rows == 0 {  // an empty part still hands in zero partials
                    partial.update(repeating: 0, count: weightFloats)
                    gramPartial.update(repeating: 0, count: K &* K)
                }
            }
            // XcᵀXc: the workers' partials added in worker order, into worker 0's, then W·XcᵀXc.
            let gram = { (t: Int) in workspace + (parts &* weightFloats &+ t &* band &* C &+ band &* K) }
            let gramTotal = gram(0)
            for t in 1..<max(parts, 1) {
                for i in 0..<K &* K { gramTotal[i] += gram(t)[i] }
            }
            for c in 0..<C {
                for k in 0..<K {
                    var sum: Float = 0
                    for j in 0..<K { sum += w[c &* K &+ j] * gramTotal[j &* K &+ k] }
                    weightedGram[c &* K &+ k] = sum
                }
            }
            // dW[c][k] += a[c]·ΣdYᵀX + b[c]·(W·XcᵀXc)[c][k] + e[c]·ΣX[k], the dYᵀX partials added in worker
            // order; rows of dW split over the workers.
            let chunk = (C + parts - 1) / parts
            let count = Float(pixels)
            pool.parallelFor(parts) { t in
                let c0 = min(C, t &* chunk), c1 = min(C, c0 &+ chunk)
                for c in c0..<c1 {
                    let row = gradWeights + c &* K
                    for k in 0..<K {
                        var gx: Float = 0
                        for p in 0..<parts { gx += workspace[p &* weightFloats &+ k &* C &+ c] }
                        row[k] += a[c] * gx + b[c] * weightedGram[c &* K &+ k] + e[c] * (count * xMean[k])
                    }
                }
            }
        }
    }

    /// Whether `batchNormPointwiseConvBackward` takes `batchNormPointwiseConvBackwardThroughInput`: the
    /// C kernels' banded path, dY stored by pass 1 (pass 2 then needs no activation), an expansion of at
    /// least 4x (the extra GEMMs cost inC/outC of the main ones) over a map of at least
    /// `batchNormConvThroughInputFloats` (z would come from memory), and room for Xc and XcᵀXc where the
    /// banded path keeps its dZ band. B0 at batch 16: its first expansion only (112x112, 16 -> 96).
    static func batchNormConvThroughInputFits(pixels: Int, inChannels: Int, outChannels: Int,
                                              passTwoActivation: Activation, threads: Int) -> Bool {
        let band = weightGradientBandPixels(inChannels: inChannels, outChannels: outChannels)
        return CSIMDKernels.active != nil && passTwoActivation == .identity
            && weightGradientSplitsPixels(pixels: pixels, inChannels: inChannels, outChannels: outChannels,
                                          threads: threads)
            && outChannels >= 4 &* inChannels && pixels &* outChannels >= batchNormConvThroughInputFloats
            && band &* inChannels &+ inChannels &* inChannels <= band &* outChannels
    }

    /// Maps of at least this many floats (32 MB, the L3's size) take the path above.
    static let batchNormConvThroughInputFloats = 8 << 20
}
