import COpenBLAS

/// Squeeze-and-excitation for training (torchvision SqueezeExcitation), with the intermediate
/// values saved for the backward pass. The per-image vectors are small: the two 1×1 convs run as one
/// sgemm each on the caller's thread; only the passes over the activations are split across the pool.
extension TrainingKernels {
    /// Squeeze-excitation, training: NOT in place. m = mean over pixels (per n,c); h = reduceW·m + reduceB
    /// (pre-activation, saved); s = sigmoid(expandW·act(h) + expandB) (saved); output[n,p,c] = input[n,p,c]*s[n,c].
    /// reduceWeights [S][C], expandWeights [C][S] (PyTorch [S,C,1,1] / [C,S,1,1] flattened).
    /// savedPooled [batch][C], savedHidden [batch][S], savedScale [batch][C]. `output` also serves as
    /// scratch for act(h) before it is written. `meansTaken`: savedPooled already holds m, taken by the
    /// pass that wrote the input (`batchNormApplySqueezeExciteMeans`). `writesOutput` false: stop before
    /// writing x·s, which the projection after the SE then scales for itself band by band
    /// (`projectionScalesSqueezeExcite`); s is saved either way.
    public static func squeezeExciteForwardTraining(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, pixels: Int, channels: Int,
        squeezeChannels: Int, reduceWeights: UnsafePointer<Float>, reduceBias: UnsafePointer<Float>,
        activation: Activation, expandWeights: UnsafePointer<Float>, expandBias: UnsafePointer<Float>,
        savedPooled: UnsafeMutablePointer<Float>, savedHidden: UnsafeMutablePointer<Float>,
        savedScale: UnsafeMutablePointer<Float>, meansTaken: Bool = false, writesOutput: Bool = true, pool: WorkerPool
    ) {
        let C = channels, S = squeezeChannels
        precondition(pixels >= 1 && S <= C, "squeezeExciteForwardTraining: needs pixels ≥ 1 and S ≤ C")
        // 1. m = channel means.
        if !meansTaken {
            squeezeExciteMeans(input: input, batch: batch, pixels: pixels, channels: C, means: savedPooled, pool: pool)
        }
        // 2. h = m·Wrᵀ + br; act(h) goes to the scratch (the first batch·S floats of output).
        let activated = output
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(S), Int32(C), 1,
                    savedPooled, Int32(C), reduceWeights, Int32(C), 0, savedHidden, Int32(S))
        for n in 0..<batch {
            for j in 0..<S {
                let h = savedHidden[n &* S &+ j] + reduceBias[j]
                savedHidden[n &* S &+ j] = h
                activated[n &* S &+ j] = activation.apply(h)
            }
        }
        // 3. s = sigmoid(act(h)·Weᵀ + be).
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batch), Int32(C), Int32(S), 1,
                    activated, Int32(S), expandWeights, Int32(S), 0, savedScale, Int32(C))
        for n in 0..<batch {
            let row = savedScale + n &* C
            var c = 0
            while c < C {
                let w = min(16, C &- c)
                channelStore(vectorSigmoid(channelLoad(UnsafePointer(row + c), w) + channelLoad(expandBias + c, w)),
                             row + c, w)
                c &+= 16
            }
        }
        // 4. output = input · s.
        guard writesOutput else { return }
        squeezeExciteScale(input: input, savedScale: savedScale, batch: batch, pixels: pixels, channels: C,
                           output: output, pool: pool)
    }

    /// m[n][c] = the mean over an image's pixels of input[n][p][c]: the squeeze, per image and channel range.
    public static func squeezeExciteMeans(input: UnsafePointer<Float>, batch: Int, pixels: Int, channels C: Int,
                                          means: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let (chunk, groups) = Kernels.channelSplit(batch: batch, channels: C, threads: pool.threadCount)
        let inverse = 1 / Float(pixels)
        pool.parallelFor(batch &* groups) { t in
            let n = t / groups
            let c0 = (t &- n &* groups) &* chunk
            Kernels.channelMeans(input + n &* pixels &* C, pixels: pixels, channels: C, c0: c0,
                                 c1: min(C, c0 &+ chunk), scale: inverse, output: means + n &* C)
        }
    }

    /// output[n,p,c] = input[n,p,c]·savedScale[n,c]: the last step of `squeezeExciteForwardTraining`,
    /// and the recomputation of the SE output in the backward pass (`TrainingOptions.recomputeActivations`),
    /// one function for both so the recomputed values equal the forward's bit for bit.
    public static func squeezeExciteScale(
        input: UnsafePointer<Float>, savedScale: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int,
        output: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let C = channels
        let (chunk, groups) = Kernels.channelSplit(batch: batch, channels: C, threads: pool.threadCount)
        pool.parallelFor(batch &* groups) { t in
            let n = t / groups
            let c0 = (t &- n &* groups) &* chunk
            let c1 = min(C, c0 &+ chunk)
            let offset = n &* pixels &* C
            Kernels.scaleChannels(input + offset, savedScale + n &* C, nil, pixels, C, c0, c1, output + offset)
        }
    }

    /// Where `squeezeExciteBackward` leaves dL/dm / pixels ([batch][channels]) in its workspace.
    @inline(__always) public static func squeezeExciteMeanGradient(workspace: UnsafeMutablePointer<Float>, batch: Int,
                                                                   channels: Int) -> UnsafeMutablePointer<Float> {
        workspace + batch &* channels
    }

    /// Workspace for `squeezeExciteBackward`: 2·batch·(channels + squeezeChannels) floats.
    public static func squeezeExciteBackwardWorkspaceFloats(batch: Int, channels: Int, squeezeChannels: Int) -> Int {
        2 * batch * (channels + squeezeChannels)
    }

    /// Backward of `squeezeExciteForwardTraining`. pixels here = H*W per image.
    /// gradInput (overwrite; may alias gradOutput) = dOut*s + (dm broadcast)/pixels; all parameter grads (+=).
    /// Without gradInput that last pass is left to the caller, which finds dm/pixels per image at
    /// `squeezeExciteMeanGradient(workspace:batch:channels:)` (`squeezeExciteBatchNormBackward`).
    public static func squeezeExciteBackward(
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int,
        squeezeChannels: Int, reduceWeights: UnsafePointer<Float>, activation: Activation,
        expandWeights: UnsafePointer<Float>, savedPooled: UnsafePointer<Float>, savedHidden: UnsafePointer<Float>,
        savedScale: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
        gradReduceWeights: UnsafeMutablePointer<Float>, gradReduceBias: UnsafeMutablePointer<Float>,
        gradExpandWeights: UnsafeMutablePointer<Float>, gradExpandBias: UnsafeMutablePointer<Float>,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        switch activation {
        case .identity:
            seBackward(IdentityFunction.self, gradOutput, input, batch, pixels, channels, squeezeChannels, reduceWeights,
                       expandWeights, savedPooled, savedHidden, savedScale, gradInput, gradReduceWeights,
                       gradReduceBias, gradExpandWeights, gradExpandBias, workspace, pool)
        case .silu:
            seBackward(SiLUFunction.self, gradOutput, input, batch, pixels, channels, squeezeChannels, reduceWeights,
                       expandWeights, savedPooled, savedHidden, savedScale, gradInput, gradReduceWeights,
                       gradReduceBias, gradExpandWeights, gradExpandBias, workspace, pool)
        case .relu6:
            seBackward(ReLU6Function.self, gradOutput, input, batch, pixels, channels, squeezeChannels, reduceWeights,
                       expandWeights, savedPooled, savedHidden, savedScale, gradInput, gradReduceWeights,
                       gradReduceBias, gradExpandWeights, gradExpandBias, workspace, pool)
        }
    }

    @inline(__always) static func seBackward<A: ActivationGradientFunction>(
        _: A.Type, _ dOut: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ batch: Int, _ pixels: Int, _ C: Int,
        _ S: Int, _ reduceWeights: UnsafePointer<Float>, _ expandWeights: UnsafePointer<Float>,
        _ pooled: UnsafePointer<Float>, _ hidden: UnsafePointer<Float>, _ scale: UnsafePointer<Float>,
        _ gradInput: UnsafeMutablePointer<Float>?, _ gradReduceWeights: UnsafeMutablePointer<Float>,
        _ gradReduceBias: UnsafeMutablePointer<Float>, _ gradExpandWeights: UnsafeMutablePointer<Float>,
        _ gradExpandBias: UnsafeMutablePointer<Float>, _ workspace: UnsafeMutablePointer<Float>, _ pool: WorkerPool
    ) {
        let dA = workspace                        // [batch][C]: dL/ds, then dL/d(expand pre-activation)
        let dM = squeezeExciteMeanGradient(workspace: workspace, batch: batch, channels: C)  // [batch][C]: dL/dm / pixels
        let activated = dM + batch &* C           // [batch][S]: act(h)
        let dH = activated + batch &* S           // [batch][S]: dL/dh
        let (chunk, groups) = Kernels.channelSplit(batch: batch, channels: C, threads: pool.threadCount)

        // 1. dL/ds[n,c] = Σ_p dOut·x.
        pool.parallelFor(batch &* groups) { t in
            let n = t / groups
            let c0 = (t &- n &* groups) &* chunk
            let offset = n &* pixels &* C
            channelDots(dOut + offset, x + offset, pixels, C, c0, min(C, c0 &+ chunk), dA + n &* C)
        }
        // 2. Through the sigmoid: dA = ds·s·(1 − s); expand parameters.
        for i in 0..<(batch &* C) {
            let s = scale[i]
            dA[i] = dA[i] * s * (1 - s)
        }
        for n in 0..<batch {
            for c in 0..<C { gradExpandBias[c] += dA[n &* C &+ c] }
            for j in 0..<S { activated[n &* S &+ j] = A.apply(hidden[n &* S &+ j]) }
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(C), Int32(S), Int32(batch), 1,
                    dA, Int32(C), activated, Int32(S), 1, gradExpandWeights, Int32(S))
        // 3. dH = (dA·We) ⊙ act'(h); reduce parameters.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(S), Int32(C), 1,
                    dA, Int32(C), expandWeights, Int32(S), 0, dH, Int32(S))
        for n in 0..<batch {
            for j in 0..<S {
                let i = n &* S &+ j
                let g = A.backward(dH[i], hidden[i])
                dH[i] = g
                gradReduceBias[j] += g
            }
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(S), Int32(C), Int32(batch), 1,
                    dH, Int32(S), pooled, Int32(C), 1, gradReduceWeights, Int32(C))
        // 4. dM = dH·Wr / pixels; gradInput = dOut·s + dM.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(batch), Int32(C), Int32(S), 1 / Float(pixels),
                    dH, Int32(S), reduceWeights, Int32(C), 0, dM, Int32(C))
        guard let gradInput else { return }
        pool.parallelFor(batch &* groups) { t in
            let n = t / groups
            let c0 = (t &- n &* groups) &* chunk
            let offset = n &* pixels &* C
            Kernels.scaleChannels(dOut + offset, scale + n &* C, UnsafePointer(dM + n &* C), pixels, C, c0,
                          min(C, c0 &+ chunk), gradInput + offset)
        }
    }

    /// out[c] = Σ_p a[p][c]·b[p][c] for c in c0..<c1 (float blocks of 64 pixels summed separately). On the C
    /// kernel where there is one (ChannelPassesTemplate.h: row by row, the same sums in the same order).
    @inline(__always) static func channelDots(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ pixels: Int,
                                              _ C: Int, _ c0: Int, _ c1: Int, _ out: UnsafeMutablePointer<Float>) {
        if let simd = CSIMDKernels.active {
            simd.channelDots(a, b, pixels: pixels, channels: C, c0..<c1, output: out)
            return
        }
        channelDotsSwift(a, b, pixels, C, c0, c1, out)
    }

    /// The portable loop of `channelDots` (and the reference the C kernel is tested against).
    @inline(__always) static func channelDotsSwift(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                                   _ pixels: Int, _ C: Int, _ c0: Int, _ c1: Int,
                                                   _ out: UnsafeMutablePointer<Float>) {
        var c = c0
        while c < c1 {
            let w = min(16, c1 &- c)
            var total = FVec(repeating: 0)
            var p = 0
            while p < pixels {
                let end = min(pixels, p &+ 64)
                var acc = FVec(repeating: 0)
                if w == 16 {
                    while p < end { let i = p &* C &+ c; acc = acc + loadVec(a + i) * loadVec(b + i); p &+= 1 }
                } else {
                    while p < end {
                        let i = p &* C &+ c
                        acc = acc + loadPartialVec(a + i, w) * loadPartialVec(b + i, w)
                        p &+= 1
                    }
                }
                total = total + acc
            }
            channelStore(total, out + c, w)
            c &+= 16
        }
    }
}
