import Foundation

/// Train-mode BatchNorm fused with its activation, and the backward passes (train and frozen/eval).
///
/// Work layout. Statistics are per channel over all `pixels` rows of an NHWC [pixels][channels] tensor.
/// The pixel rows are cut into a few contiguous parts (one or two per worker); each part is walked in
/// tiles of `bnTileRows` rows, and within a tile one 16-channel vector at a time, so per-channel
/// parameters stay in registers and the tile stays in cache. Sums are accumulated in float within a
/// tile and flushed into per-part Double totals, which live in a fixed stack buffer (so the kernels
/// allocate nothing); that buffer bounds the channels reduced at once to `bnChannelBlock`, larger
/// layers loop over channel blocks. The forward statistics use a per-channel shift (the first row's
/// value) so the one-pass variance does not cancel catastrophically when |mean| ≫ std.
/// The backward pass is two passes per channel block (sums, then gradInput); with SiLU the first pass
/// also stores dY = dOut·silu'(y) into gradInput so the exp is evaluated once per element.
extension TrainingKernels {
    /// Channels reduced per pass (bounded by the stack scratch).
    static let bnChannelBlock = 128
    /// Pixel parts per pass at most (bounded by the stack scratch).
    static let bnMaxParts = 8
    /// Rows per cache tile.
    static let bnTileRows = 32

    /// Number of contiguous pixel parts to split a pass into.
    @inline(__always) static func bnParts(pixels: Int, channels: Int, threads: Int) -> Int {
        if threads == 1 || pixels &* channels < 1 << 14 { return 1 }
        return max(1, min(2 &* threads, bnMaxParts, pixels / bnTileRows))
    }

    // MARK: - Forward

    /// Train-mode BatchNorm fused with the activation. Per channel over all `pixels`: mean, biased var;
    /// invStd = 1/sqrt(var + eps); y = gamma*(z-mean)*invStd + beta; output = act(y).
    /// Saves mean and invStd. Updates running stats like PyTorch: rm = (1-momentum)*rm + momentum*mean;
    /// rv = (1-momentum)*rv + momentum*var*pixels/(pixels-1). Statistics are accumulated in Double.
    /// `output` must not alias `input` (the backward pass needs z).
    public static func batchNormForwardTraining(
        input: UnsafePointer<Float>, pixels: Int, channels: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Double, momentum: Double,
        activation: Activation, output: UnsafeMutablePointer<Float>,
        savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
        runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        precondition(pixels >= 1, "batchNormForwardTraining: needs at least one pixel")
        batchNormStatistics(input: input, pixels: pixels, channels: channels, eps: eps, momentum: momentum,
                            savedMean: savedMean, savedInvStd: savedInvStd,
                            runningMean: runningMean, runningVar: runningVar, pool: pool)
        batchNormApply(input: input, pixels: pixels, channels: channels, gamma: gamma, beta: beta,
                       savedMean: savedMean, savedInvStd: savedInvStd, activation: activation, output: output, pool: pool)
    }

    /// output = act(gamma·(z − mean)·invStd + beta) with the statistics a train-mode forward saved:
    /// the second half of `batchNormForwardTraining`, and the recomputation of a BN+activation output
    /// in the backward pass (`TrainingOptions.recomputeActivations`). Both go through this one
    /// function, so the recomputed values equal the forward's bit for bit.
    public static func batchNormApply(
        input: UnsafePointer<Float>, pixels: Int, channels: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
        savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
        activation: Activation, output: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        switch activation {
        case .identity:
            bnApply(IdentityFunction.self, input, pixels, channels, gamma, beta, savedMean, savedInvStd, output, pool)
        case .silu:
            bnApply(SiLUFunction.self, input, pixels, channels, gamma, beta, savedMean, savedInvStd, output, pool)
        case .relu6:
            bnApply(ReLU6Function.self, input, pixels, channels, gamma, beta, savedMean, savedInvStd, output, pool)
        }
    }

    /// Batch statistics and the running-stat update (the first half of `batchNormForwardTraining`; the
    /// stem's call of its own, so that its apply can move into the first depthwise layer's call).
    public static func batchNormStatistics(
        input: UnsafePointer<Float>, pixels: Int, channels: Int, eps: Double, momentum: Double,
        savedMean: UnsafeMutablePointer<Float>, savedInvStd: UnsafeMutablePointer<Float>,
        runningMean: UnsafeMutablePointer<Float>, runningVar: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let parts = bnParts(pixels: pixels, channels: channels, threads: pool.threadCount)
        let partRows = (pixels + parts - 1) / parts
        let block = bnChannelBlock
        withStackScratch { slots in  // parts × (sum, sum of squares) × block
            var b0 = 0
            while b0 < channels {
                let b1 = min(channels, b0 &+ block)
                pool.parallelFor(parts) { t in
                    let p0 = min(pixels, t &* partRows)
                    let p1 = min(pixels, p0 &+ partRows)
                    bnStatisticsPart(input, channels, b0, b1, p0, p1, slots + t &* 2 &* block, slots + (t &* 2 &+ 1) &* block)
                }
                for c in b0..<b1 {
                    var s1 = 0.0, s2 = 0.0
                    for t in 0..<parts {
                        s1 += slots[t &* 2 &* block &+ (c &- b0)]
                        s2 += slots[(t &* 2 &+ 1) &* block &+ (c &- b0)]
                    }
                    finishBatchStatistics(channel: c, shiftedSum: s1, shiftedSquares: s2, pixels: pixels,
                                          shift: input[c], eps: eps, momentum: momentum, savedMean: savedMean,
                                          savedInvStd: savedInvStd, runningMean: runningMean, runningVar: runningVar)
                }
                b0 = b1
            }
        }
    }

    /// One channel's mean, invStd and running-stat update from its sums over all pixels of (z − K) and
    /// (z − K)², K = `shift` (row 0's value): the one place this arithmetic is written, so every path
    /// that takes batch statistics gives the same bits from the same sums.
    @inline(__always) static func finishBatchStatistics(
        channel c: Int, shiftedSum s1: Double, shiftedSquares s2: Double, pixels: Int, shift: Float,
        eps: Double, momentum: Double, savedMean: UnsafeMutablePointer<Float>,
        savedInvStd: UnsafeMutablePointer<Float>, runningMean: UnsafeMutablePointer<Float>,
        runningVar: UnsafeMutablePointer<Float>
    ) {
        let m = Double(pixels)
        let unbias = m / Double(max(1, pixels &- 1))
        let shifted = s1 / m
        let mean = Double(shift) + shifted
        let variance = max(0, s2 / m - shifted * shifted)
        savedMean[c] = Float(mean)
        savedInvStd[c] = Float(1 / (variance + eps).squareRoot())
        runningMean[c] = Float((1 - momentum) * Double(runningMean[c]) + momentum * mean)
        runningVar[c] = Float((1 - momentum) * Double(runningVar[c]) + momentum * variance * unbias)
    }

    /// Every channel's statistics from per-part Double sums laid out [part][sums of C, squares of C] (the
    /// kernels that take statistics on their way), the parts added in order as `batchNormStatistics` adds
    /// them. `shift`: row 0 of the map, which the sums are taken about.
    static func finishBatchStatistics(
        partSums slots: UnsafePointer<Double>, parts: Int, channels C: Int, pixels: Int, shift: UnsafePointer<Float>,
        eps: Double, momentum: Double, savedMean: UnsafeMutablePointer<Float>,
        savedInvStd: UnsafeMutablePointer<Float>, runningMean: UnsafeMutablePointer<Float>,
        runningVar: UnsafeMutablePointer<Float>
    ) {
        for c in 0..<C {
            var s1 = 0.0, s2 = 0.0
            for t in 0..<parts {
                s1 += slots[t &* 2 &* C &+ c]
                s2 += slots[t &* 2 &* C &+ C &+ c]
            }
            finishBatchStatistics(channel: c, shiftedSum: s1, shiftedSquares: s2, pixels: pixels, shift: shift[c],
                                  eps: eps, momentum: momentum, savedMean: savedMean, savedInvStd: savedInvStd,
                                  runningMean: runningMean, runningVar: runningVar)
        }
    }

    /// Workspace for the kernels that take batch statistics on their way (`pointwiseConvBatchStatistics`,
    /// `batchNormApplyDepthwiseConv`): a Double sum and sum of squares per channel and part.
    public static func batchStatisticsWorkspaceFloats(channels: Int, threads: Int) -> Int {
        bnPartsBound(threads: threads) &* 2 &* channels &* 2
    }

    /// The most parts `bnParts` gives on `threads` workers, whatever the map: what per-part scratch is sized for.
    static func bnPartsBound(threads: Int) -> Int {
        min(2 &* max(1, threads), bnMaxParts)
    }

    /// Σ (x − K) and Σ (x − K)² over rows p0..<p1, channels b0..<b1 (K = row 0's value), written to
    /// sums[c − b0] and squares[c − b0].
    @inline(__always) static func bnStatisticsPart(
        _ x: UnsafePointer<Float>, _ C: Int, _ b0: Int, _ b1: Int, _ p0: Int, _ p1: Int,
        _ sums: UnsafeMutablePointer<Double>, _ squares: UnsafeMutablePointer<Double>
    ) {
        if let simd = CSIMDKernels.active {
            simd.bnStatistics(x, C, b0, b1, p0, p1, tileRows: bnTileRows, sums, squares)
            return
        }
        let width = b1 &- b0
        sums.update(repeating: 0, count: width)
        squares.update(repeating: 0, count: width)
        var r0 = p0
        while r0 < p1 {
            let r1 = min(p1, r0 &+ bnTileRows)
            var c = b0
            while c < b1 {
                let w = min(16, b1 &- c)
                let shift = channelLoad(x + c, w)
                var a0 = FVec(repeating: 0), a1 = FVec(repeating: 0)
                var q0 = FVec(repeating: 0), q1 = FVec(repeating: 0)
                var p = r0
                if w == 16 {
                    while p &+ 2 <= r1 {
                        let d0 = loadVec(x + (p &* C &+ c)) - shift
                        let d1 = loadVec(x + ((p &+ 1) &* C &+ c)) - shift
                        a0 = a0 + d0; q0 = q0 + d0 * d0
                        a1 = a1 + d1; q1 = q1 + d1 * d1
                        p &+= 2
                    }
                }
                while p < r1 {
                    let d = channelLoad(x + (p &* C &+ c), w) - shift
                    a0 = a0 + d; q0 = q0 + d * d
                    p &+= 1
                }
                channelAdd(a0 + a1, into: sums + (c &- b0), w)
                channelAdd(q0 + q1, into: squares + (c &- b0), w)
                c &+= 16
            }
            r0 = r1
        }
    }

    /// output = act(gamma·(z − mean)·invStd + beta) over all channels.
    @inline(__always) static func bnApply<A: ActivationFunction>(
        _: A.Type, _ z: UnsafePointer<Float>, _ pixels: Int, _ C: Int,
        _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
        _ mean: UnsafeMutablePointer<Float>, _ invStd: UnsafeMutablePointer<Float>,
        _ output: UnsafeMutablePointer<Float>, _ pool: WorkerPool
    ) {
        let parts = bnParts(pixels: pixels, channels: C, threads: pool.threadCount)
        let partRows = (pixels + parts - 1) / parts
        let simd = CSIMDKernels.active
        pool.parallelFor(parts) { t in
            let p1 = min(pixels, (t &+ 1) &* partRows)
            var r0 = min(pixels, t &* partRows)
            if let simd {
                simd.bnApply(A.activation, z, C, r0, p1, tileRows: bnTileRows, gamma, beta, mean, invStd, output)
                return
            }
            while r0 < p1 {
                let r1 = min(p1, r0 &+ bnTileRows)
                var c = 0
                while c < C {
                    let w = min(16, C &- c)
                    let mu = channelLoad(mean + c, w)
                    let scale = channelLoad(invStd + c, w) * channelLoad(gamma + c, w)
                    let b = channelLoad(beta + c, w)
                    if w == 16 {
                        for p in r0..<r1 {
                            let i = p &* C &+ c
                            storeVec(A.apply((loadVec(z + i) - mu) * scale + b), output + i)
                        }
                    } else {
                        for p in r0..<r1 {
                            let i = p &* C &+ c
                            storePartialVec(A.apply((loadPartialVec(z + i, w) - mu) * scale + b), output + i, w)
                        }
                    }
                    c &+= 16
                }
                r0 = r1
            }
        }
    }

    // MARK: - Backward (train mode)

    /// Backward of act(BN_train(z)). Recomputes y from z and the saved stats; dY = dOut*act'(y);
    /// gradGamma += sum(dY*xhat), gradBeta += sum(dY);
    /// gradInput = gamma*invStd/M * (M*dY - sum(dY) - xhat*sum(dY*xhat)) (overwrite).
    /// Safe when gradInput == gradOutput (in place); gradInput must not alias anything else.
    public static func batchNormActivationBackward(
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, pixels: Int, channels: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
        savedInvStd: UnsafePointer<Float>, activation: Activation, gradInput: UnsafeMutablePointer<Float>,
        gradGamma: UnsafeMutablePointer<Float>, gradBeta: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        switch activation {
        case .identity:
            bnBackward(IdentityFunction.self, gradOutput, input, pixels, channels, gamma, beta, savedMean,
                       savedInvStd, gradInput, gradGamma, gradBeta, pool)
        case .silu:
            bnBackward(SiLUFunction.self, gradOutput, input, pixels, channels, gamma, beta, savedMean,
                       savedInvStd, gradInput, gradGamma, gradBeta, pool)
        case .relu6:
            bnBackward(ReLU6Function.self, gradOutput, input, pixels, channels, gamma, beta, savedMean,
                       savedInvStd, gradInput, gradGamma, gradBeta, pool)
        }
    }

    /// Pass 1 of `batchNormActivationBackward` alone, for a caller that runs pass 2 itself (where it
    /// needs the input gradient, band by band: `batchNormPointwiseConvBackward`): gradGamma and gradBeta
    /// as there, and per channel c the Float ΣdY/M in `reductions[c]` and ΣdY·xhat/M in
    /// `reductions[C + c]`. With an activation whose gradient is expensive (SiLU) dY = dOut·act'(y)
    /// replaces dOut in `gradOutput`, as the in-place backward does; pass 2 then reads dY
    /// (`batchNormInputGradientActivation`). Same values as the one-call backward.
    public static func batchNormBackwardSums(
        gradOutput: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, pixels: Int, channels: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
        savedInvStd: UnsafePointer<Float>, activation: Activation, gradGamma: UnsafeMutablePointer<Float>,
        gradBeta: UnsafeMutablePointer<Float>, reductions: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        switch activation {
        case .identity:
            bnBackward(IdentityFunction.self, gradOutput, input, pixels, channels, gamma, beta, savedMean,
                       savedInvStd, gradOutput, gradGamma, gradBeta, pool, reductionsOnly: reductions)
        case .silu:
            bnBackward(SiLUFunction.self, gradOutput, input, pixels, channels, gamma, beta, savedMean,
                       savedInvStd, gradOutput, gradGamma, gradBeta, pool, reductionsOnly: reductions)
        case .relu6:
            bnBackward(ReLU6Function.self, gradOutput, input, pixels, channels, gamma, beta, savedMean,
                       savedInvStd, gradOutput, gradGamma, gradBeta, pool, reductionsOnly: reductions)
        }
    }

    /// The activation pass 2 applies after `batchNormBackwardSums`: none where pass 1 stored dY.
    public static func batchNormInputGradientActivation(_ activation: Activation) -> Activation {
        switch activation {
        case .identity: IdentityFunction.backwardIsExpensive ? .identity : activation
        case .silu: SiLUFunction.backwardIsExpensive ? .identity : activation
        case .relu6: ReLU6Function.backwardIsExpensive ? .identity : activation
        }
    }

    /// Pass 2 of the train-mode BatchNorm backward over rows p0..<p1 of all C channels, after
    /// `batchNormBackwardSums`: gradInput = gamma·invStd·(dY − ΣdY/M − xhat·ΣdY·xhat/M), dY = dOut·act'(y)
    /// with `activation` = `batchNormInputGradientActivation` of the layer's (dOut already dY where pass 1
    /// stored it). Row p of dOut and z and row p − p0 of gradInput; gradInput may be dOut + p0·C.
    static func batchNormInputGradientRows(
        gradOutput dOut: UnsafePointer<Float>, input z: UnsafePointer<Float>, channels C: Int, rows p0: Int, _ p1: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, savedMean: UnsafePointer<Float>,
        savedInvStd: UnsafePointer<Float>, activation: Activation, reductions: UnsafeMutablePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>
    ) {
        // The kernels index rows from the pointers they are given: start all three at row p0.
        let (d, x, n) = (dOut + p0 &* C, z + p0 &* C, p1 &- p0)
        switch activation {
        case .identity:
            bnBackwardInputPart(IdentityFunction.self, d, x, C, 0, C, 0, n, gamma, beta, savedMean, savedInvStd,
                                reductions, reductions + C, gradInput)
        case .silu:
            bnBackwardInputPart(SiLUFunction.self, d, x, C, 0, C, 0, n, gamma, beta, savedMean, savedInvStd,
                                reductions, reductions + C, gradInput)
        case .relu6:
            bnBackwardInputPart(ReLU6Function.self, d, x, C, 0, C, 0, n, gamma, beta, savedMean, savedInvStd,
                                reductions, reductions + C, gradInput)
        }
    }

    /// BatchNorm's pass 2 as the banded conv backwards take it (`batchNormPointwiseConvBackward`,
    /// `batchNormDepthwiseConvBackward`).
    struct BatchNormInputGradient {
        let gradOutput: UnsafePointer<Float>, preActivation: UnsafePointer<Float>
        let gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>
        let savedMean: UnsafePointer<Float>, savedInvStd: UnsafePointer<Float>
        let activation: Activation
        let reductions: UnsafeMutablePointer<Float>

        /// dZ for rows p0..<p1 into `output` (row p at output + (p − p0)·C).
        func rows(_ p0: Int, _ p1: Int, channels C: Int, into output: UnsafeMutablePointer<Float>) {
            batchNormInputGradientRows(gradOutput: gradOutput, input: preActivation, channels: C, rows: p0, p1,
                                       gamma: gamma, beta: beta, savedMean: savedMean, savedInvStd: savedInvStd,
                                       activation: activation, reductions: reductions, gradInput: output)
        }

        /// dZ for all `pixels` rows over dY in place, in the BatchNorm passes' parts: where a conv backward
        /// cannot take it band by band.
        func inPlace(pixels: Int, channels C: Int, pool: WorkerPool) {
            let parts = bnParts(pixels: pixels, channels: C, threads: pool.threadCount)
            let partRows = (pixels + parts - 1) / parts
            let dY = UnsafeMutablePointer(mutating: gradOutput)
            pool.parallelFor(parts) { t in
                let p0 = min(pixels, t &* partRows), p1 = min(pixels, p0 &+ partRows)
                rows(p0, p1, channels: C, into: dY + p0 &* C)
            }
        }
    }

    /// `reductionsOnly`: stop after pass 1 (see `batchNormBackwardSums`). `se`: dOut is a squeeze-excitation's
    /// output gradient, taken through the SE as pass 1 reads it; pass 1 then stores dY whatever the activation,
    /// and pass 2 reads that (`squeezeExciteBatchNormBackward`).
    @inline(__always) static func bnBackward<A: ActivationGradientFunction>(
        _: A.Type, _ dOut: UnsafePointer<Float>, _ z: UnsafePointer<Float>, _ pixels: Int, _ C: Int,
        _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>, _ mean: UnsafePointer<Float>,
        _ invStd: UnsafePointer<Float>, _ gradInput: UnsafeMutablePointer<Float>,
        _ gradGamma: UnsafeMutablePointer<Float>, _ gradBeta: UnsafeMutablePointer<Float>, _ pool: WorkerPool,
        reductionsOnly: UnsafeMutablePointer<Float>? = nil, se: SqueezeExciteGradientSource? = nil
    ) {
        let storesDY = A.backwardIsExpensive || se != nil
        let parts = bnParts(pixels: pixels, channels: C, threads: pool.threadCount)
        let partRows = (pixels + parts - 1) / parts
        let block = bnChannelBlock
        withStackScratch { slots in  // parts × (ΣdY, ΣdY·xhat) × block, then per block ΣdY/M and ΣdY·xhat/M
            let meanGrad = UnsafeMutableRawPointer(slots + stackScratchSlotDoubles).assumingMemoryBound(to: Float.self)
            let projGrad = meanGrad + block
            var b0 = 0
            while b0 < C {
                let b1 = min(C, b0 &+ block)
                // Pass 1: per-part ΣdY and ΣdY·xhat.
                pool.parallelFor(parts) { t in
                    let p0 = min(pixels, t &* partRows)
                    let p1 = min(pixels, p0 &+ partRows)
                    bnBackwardSumsPart(A.self, dOut, z, C, b0, b1, p0, p1, gamma, beta, mean, invStd,
                                       slots + t &* 2 &* block, slots + (t &* 2 &+ 1) &* block,
                                       storesDY ? gradInput : nil, se: se)
                }
                let m = Double(pixels)
                for c in b0..<b1 {
                    var sumDY = 0.0, sumDYX = 0.0
                    for t in 0..<parts {
                        sumDY += slots[t &* 2 &* block &+ (c &- b0)]
                        sumDYX += slots[(t &* 2 &+ 1) &* block &+ (c &- b0)]
                    }
                    gradBeta[c] += Float(sumDY)
                    gradGamma[c] += Float(sumDYX)
                    meanGrad[c &- b0] = Float(sumDY / m)
                    projGrad[c &- b0] = Float(sumDYX / m)
                }
                if let reductions = reductionsOnly {
                    (reductions + b0).update(from: meanGrad, count: b1 &- b0)
                    (reductions + (C &+ b0)).update(from: projGrad, count: b1 &- b0)
                    b0 = b1
                    continue
                }
                // Pass 2: gradInput = gamma·invStd·(dY − ΣdY/M − xhat·ΣdY·xhat/M).
                pool.parallelFor(parts) { t in
                    let p0 = min(pixels, t &* partRows)
                    let p1 = min(pixels, p0 &+ partRows)
                    if storesDY {
                        // dY was stored into gradInput by pass 1.
                        bnBackwardInputPart(IdentityFunction.self, UnsafePointer(gradInput), z, C, b0, b1, p0, p1,
                                            gamma, beta, mean, invStd, meanGrad, projGrad, gradInput)
                    } else {
                        bnBackwardInputPart(A.self, dOut, z, C, b0, b1, p0, p1, gamma, beta, mean, invStd,
                                            meanGrad, projGrad, gradInput)
                    }
                }
                b0 = b1
            }
        }
    }

    @inline(__always) static func bnBackwardSumsPart<A: ActivationGradientFunction>(
        _: A.Type, _ dOut: UnsafePointer<Float>, _ z: UnsafePointer<Float>, _ C: Int, _ b0: Int, _ b1: Int,
        _ p0: Int, _ p1: Int, _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
        _ mean: UnsafePointer<Float>, _ invStd: UnsafePointer<Float>,
        _ sums: UnsafeMutablePointer<Double>, _ projections: UnsafeMutablePointer<Double>,
        _ dYOut: UnsafeMutablePointer<Float>?, se: SqueezeExciteGradientSource? = nil
    ) {
        if let simd = CSIMDKernels.active {
            simd.bnBackwardSums(A.activation, dOut, z, C, b0, b1, p0, p1, tileRows: bnTileRows, gamma, beta, mean,
                                invStd, sums, projections, dYOut, se: se)
            return
        }
        precondition(se == nil || dYOut != nil, "bnBackwardSumsPart: the SE source needs dYOut")
        let width = b1 &- b0
        sums.update(repeating: 0, count: width)
        projections.update(repeating: 0, count: width)
        var r0 = p0
        while r0 < p1 {
            let r1 = min(p1, r0 &+ bnTileRows)
            var c = b0
            while c < b1 {
                let w = min(16, b1 &- c)
                let mu = channelLoad(mean + c, w)
                let s = channelLoad(invStd + c, w)
                let g = channelLoad(gamma + c, w)
                let b = channelLoad(beta + c, w)
                var a0 = FVec(repeating: 0), q0 = FVec(repeating: 0)
                if let dYOut {
                    for p in r0..<r1 {
                        let i = p &* C &+ c
                        let xhat = (channelLoad(z + i, w) - mu) * s
                        let d = se?.inputGradient(dOut, row: p, channels: C, at: c, width: w) ?? channelLoad(dOut + i, w)
                        let dy = A.backward(d, xhat * g + b)
                        channelStore(dy, dYOut + i, w)
                        a0 = a0 + dy; q0 = q0 + dy * xhat
                    }
                } else if w == 16 {
                    for p in r0..<r1 {
                        let i = p &* C &+ c
                        let xhat = (loadVec(z + i) - mu) * s
                        let dy = A.backward(loadVec(dOut + i), xhat * g + b)
                        a0 = a0 + dy; q0 = q0 + dy * xhat
                    }
                } else {
                    for p in r0..<r1 {
                        let i = p &* C &+ c
                        let xhat = (loadPartialVec(z + i, w) - mu) * s
                        let dy = A.backward(loadPartialVec(dOut + i, w), xhat * g + b)
                        a0 = a0 + dy; q0 = q0 + dy * xhat
                    }
                }
                channelAdd(a0, into: sums + (c &- b0), w)
                channelAdd(q0, into: projections + (c &- b0), w)
                c &+= 16
            }
            r0 = r1
        }
    }

    @inline(__always) static func bnBackwardInputPart<A: ActivationGradientFunction>(
        _: A.Type, _ dOut: UnsafePointer<Float>, _ z: UnsafePointer<Float>, _ C: Int, _ b0: Int, _ b1: Int,
        _ p0: Int, _ p1: Int, _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>,
        _ mean: UnsafePointer<Float>, _ invStd: UnsafePointer<Float>,
        _ meanGrad: UnsafeMutablePointer<Float>, _ projGrad: UnsafeMutablePointer<Float>,
        _ gradInput: UnsafeMutablePointer<Float>
    ) {
        if let simd = CSIMDKernels.active {
            simd.bnBackwardInput(A.activation, dOut, z, C, b0, b1, p0, p1, tileRows: bnTileRows, gamma, beta, mean,
                                 invStd, meanGrad, projGrad, gradInput)
            return
        }
        var r0 = p0
        while r0 < p1 {
            let r1 = min(p1, r0 &+ bnTileRows)
            var c = b0
            while c < b1 {
                let w = min(16, b1 &- c)
                let mu = channelLoad(mean + c, w)
                let s = channelLoad(invStd + c, w)
                let g = channelLoad(gamma + c, w)
                let b = channelLoad(beta + c, w)
                let gs = g * s
                let mg = channelLoad(UnsafePointer(meanGrad + (c &- b0)), w)
                let pg = channelLoad(UnsafePointer(projGrad + (c &- b0)), w)
                if w == 16 {
                    for p in r0..<r1 {
                        let i = p &* C &+ c
                        let xhat = (loadVec(z + i) - mu) * s
                        let dy = A.backward(loadVec(dOut + i), xhat * g + b)
                        storeVec((dy - mg - xhat * pg) * gs, gradInput + i)
                    }
                } else {
                    for p in r0..<r1 {
                        let i = p &* C &+ c
                        let xhat = (loadPartialVec(z + i, w) - mu) * s
                        let dy = A.backward(loadPartialVec(dOut + i, w), xhat * g + b)
                        storePartialVec((dy - mg - xhat * pg) * gs, gradInput + i, w)
                    }
                }
                c &+= 16
            }
            r0 = r1
        }
    }

    // MARK: - Backward (eval mode, frozen layers)

    /// Eval-mode BN+activation backward for FROZEN layers (running stats, no gamma/beta grads):
    /// y = gamma*(z-rm)/sqrt(rv+eps)+beta; gradInput = dOut*act'(y)*gamma/sqrt(rv+eps) (overwrite; in-place safe).
    public static func batchNormEvalActivationBackward(
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, pixels: Int, channels: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, runningMean: UnsafePointer<Float>,
        runningVar: UnsafePointer<Float>, eps: Double, activation: Activation,
        gradInput: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        switch activation {
        case .identity:
            bnEvalBackward(IdentityFunction.self, gradOutput, input, pixels, channels, gamma, beta, runningMean,
                           runningVar, eps, gradInput, pool)
        case .silu:
            bnEvalBackward(SiLUFunction.self, gradOutput, input, pixels, channels, gamma, beta, runningMean,
                           runningVar, eps, gradInput, pool)
        case .relu6:
            bnEvalBackward(ReLU6Function.self, gradOutput, input, pixels, channels, gamma, beta, runningMean,
                           runningVar, eps, gradInput, pool)
        }
    }

    @inline(__always) static func bnEvalBackward<A: ActivationGradientFunction>(
        _: A.Type, _ dOut: UnsafePointer<Float>, _ z: UnsafePointer<Float>, _ pixels: Int, _ C: Int,
        _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>, _ runningMean: UnsafePointer<Float>,
        _ runningVar: UnsafePointer<Float>, _ eps: Double, _ gradInput: UnsafeMutablePointer<Float>,
        _ pool: WorkerPool
    ) {
        let parts = bnParts(pixels: pixels, channels: C, threads: pool.threadCount)
        let partRows = (pixels + parts - 1) / parts
        let block = bnChannelBlock
        withStackScratch { scratch in  // per block: scale, shift (y = z·scale + shift)
            let scales = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: Float.self)
            let shifts = scales + block
            var b0 = 0
            while b0 < C {
                let b1 = min(C, b0 &+ block)
                for c in b0..<b1 {
                    let scale = Double(gamma[c]) / (Double(runningVar[c]) + eps).squareRoot()
                    scales[c &- b0] = Float(scale)
                    shifts[c &- b0] = Float(Double(beta[c]) - Double(runningMean[c]) * scale)
                }
                pool.parallelFor(parts) { t in
                    let p1 = min(pixels, (t &+ 1) &* partRows)
                    var r0 = min(pixels, t &* partRows)
                    while r0 < p1 {
                        let r1 = min(p1, r0 &+ bnTileRows)
                        var c = b0
                        while c < b1 {
                            let w = min(16, b1 &- c)
                            let a = channelLoad(UnsafePointer(scales + (c &- b0)), w)
                            let b = channelLoad(UnsafePointer(shifts + (c &- b0)), w)
                            if w == 16 {
                                for p in r0..<r1 {
                                    let i = p &* C &+ c
                                    storeVec(A.backward(loadVec(dOut + i), loadVec(z + i) * a + b) * a, gradInput + i)
                                }
                            } else {
                                for p in r0..<r1 {
                                    let i = p &* C &+ c
                                    let y = loadPartialVec(z + i, w) * a + b
                                    storePartialVec(A.backward(loadPartialVec(dOut + i, w), y) * a, gradInput + i, w)
                                }
                            }
                            c &+= 16
                        }
                        r0 = r1
                    }
                }
                b0 = b1
            }
        }
    }
}

// MARK: - Stack scratch

/// 20 KB of stack memory for the BatchNorm kernels' per-part Double sums (`bnMaxParts` × 2 ×
/// `bnChannelBlock` doubles) followed by two per-block float coefficient vectors. A tuple rather
/// than InlineArray so the package still builds for macOS 15.
private typealias Doubles512 = (SIMD64<Double>, SIMD64<Double>, SIMD64<Double>, SIMD64<Double>,
                                SIMD64<Double>, SIMD64<Double>, SIMD64<Double>, SIMD64<Double>)
private struct StackScratch {
    var storage: (Doubles512, Doubles512, Doubles512, Doubles512, Doubles512)
    init() {
        let z = SIMD64<Double>(repeating: 0)
        let block = (z, z, z, z, z, z, z, z)
        storage = (block, block, block, block, block)
    }
}

extension TrainingKernels {
    /// Doubles reserved for the per-part sums at the start of the stack scratch.
    static let stackScratchSlotDoubles = 2048

    @inline(__always) static func withStackScratch<R>(_ body: (UnsafeMutablePointer<Double>) -> R) -> R {
        assert(MemoryLayout<StackScratch>.size >= (stackScratchSlotDoubles + bnChannelBlock) * 8)
        assert(bnMaxParts * 2 * bnChannelBlock <= stackScratchSlotDoubles)
        var scratch = StackScratch()
        return withUnsafeMutableBytes(of: &scratch) { body($0.baseAddress!.assumingMemoryBound(to: Double.self)) }
    }
}
