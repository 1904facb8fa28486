extension TrainingKernels {
    /// Depthwise conv backward, same geometry arguments as Kernels.depthwiseConv (padTop/padLeft explicit,
    /// bottom/right implied by outHeight/outWidth). weights and gradWeights in the kernel layout [k][k][C].
    /// gradInput (overwrite; nil = skip), gradWeights (+=).
    ///
    /// gradInput is gathered: input pixel (iy, ix) sums dZ[oy, ox]·w[ky, kx] over the taps with
    /// oy·stride − padTop + ky = iy (and likewise for x); one task per input row and channel chunk, and
    /// stride-1 interior pixels take an unrolled path without bounds checks.
    /// gradWeights: one task per 16-channel chunk (plus kernel row when there are few chunks), so every
    /// task owns its gradient entries; each output row's tap sums are accumulated in registers first.
    public static func depthwiseConvBackward(
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
        channels: Int, kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
        weights: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
        gradWeights: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        precondition(kernel >= 1 && stride >= 1, "depthwiseConvBackward: kernel and stride must be positive")
        precondition(padTop >= 0 && padLeft >= 0, "depthwiseConvBackward: padding must be non-negative")
        let s = DepthwiseShape(
            batch: batch, height: height, width: width, channels: channels, kernel: kernel, stride: stride,
            padTop: padTop, padLeft: padLeft, outHeight: outHeight, outWidth: outWidth)
        if let gradInput {
            depthwiseGradInput(s, gradOutput, weights, gradInput, pool)
        }
        depthwiseGradWeights(s, gradOutput, input, gradWeights, pool)
    }

    // MARK: gradInput

    static func depthwiseGradInput(_ s: DepthwiseShape, _ dZ: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                                   _ gradInput: UnsafeMutablePointer<Float>, _ pool: WorkerPool) {
        let rows = s.batch &* s.height
        let (chunk, groups) = Kernels.rowTasks(rows: rows, channels: s.channels, pool: pool)
        pool.parallelFor(rows &* groups) { t in
            let row = t / groups
            let c0 = (t &- row &* groups) &* chunk
            let c1 = min(s.channels, c0 &+ chunk)
            let n = row / s.height
            let iy = row &- n &* s.height
            switch (s.kernel, s.stride) {
            case (3, 1): depthwiseGradInputRow(3, 1, s, n, iy, c0, c1, dZ, weights, gradInput)
            case (3, 2): depthwiseGradInputRow(3, 2, s, n, iy, c0, c1, dZ, weights, gradInput)
            case (5, 1): depthwiseGradInputRow(5, 1, s, n, iy, c0, c1, dZ, weights, gradInput)
            case (5, 2): depthwiseGradInputRow(5, 2, s, n, iy, c0, c1, dZ, weights, gradInput)
            default: depthwiseGradInputRow(s.kernel, s.stride, s, n, iy, c0, c1, dZ, weights, gradInput)
            }
        }
    }

    /// First tap index ≥ max(0, t − stride·(outCount − 1)) congruent to t mod stride, and the last tap
    /// (≤ min(k − 1, t)); the tap range that reaches input position t (t = position + pad).
    @inline(__always) static func tapRange(_ t: Int, _ k: Int, _ stride: Int, _ outCount: Int) -> (Int, Int) {
        let lo = max(0, t &- stride &* (outCount &- 1))
        let first = lo &+ (t &- lo) % stride
        return (first, min(k &- 1, t))
    }

    /// gradInput row (n, iy), channels c0..<c1.
    @inline(__always) static func depthwiseGradInputRow(
        _ k: Int, _ stride: Int, _ s: DepthwiseShape, _ n: Int, _ iy: Int, _ c0: Int, _ c1: Int,
        _ dZ: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ gradInput: UnsafeMutablePointer<Float>
    ) {
        let C = s.channels
        let ty = iy &+ s.padTop
        let (kyFirst, kyLast) = tapRange(ty, k, stride, s.outHeight)
        let zImage = dZ + (n &* s.outHeight) &* s.outWidth &* C
        let outRow = gradInput + ((n &* s.height &+ iy) &* s.width) &* C
        let fullEnd = c0 &+ ((c1 &- c0) & ~15)
        for ix in 0..<s.width {
            let tx = ix &+ s.padLeft
            let (kxFirst, kxLast) = tapRange(tx, k, stride, s.outWidth)
            let out = outRow + ix &* C
            var c = c0
            if stride == 1 && kyFirst == 0 && kyLast == k &- 1 && kxFirst == 0 && kxLast == k &- 1 {
                // Every tap in range: dZ[ty − ky][tx − kx]; k is a literal here, so the taps unroll.
                let base = zImage + (ty &* s.outWidth &+ tx) &* C
                while c < fullEnd {
                    var acc = FVec(repeating: 0)
                    for ky in 0..<k {
                        let zp = base - ((ky &* s.outWidth) &* C &- c)
                        let wp = weights + ((ky &* k) &* C &+ c)
                        for kx in 0..<k {
                            acc = acc + loadVec(zp - kx &* C) * loadVec(wp + kx &* C)
                        }
                    }
                    storeVec(acc, out + c)
                    c &+= 16
                }
            }
            while c < c1 {
                let w = min(16, c1 &- c)
                var acc = FVec(repeating: 0)
                var ky = kyFirst
                while ky <= kyLast {
                    let oy = (ty &- ky) / stride
                    let zRow = zImage + ((oy &* s.outWidth) &* C &+ c)
                    let wRow = weights + ((ky &* k) &* C &+ c)
                    var kx = kxFirst
                    while kx <= kxLast {
                        let ox = (tx &- kx) / stride
                        acc = acc + channelLoad(zRow + ox &* C, w) * channelLoad(wRow + kx &* C, w)
                        kx &+= stride
                    }
                    ky &+= stride
                }
                channelStore(acc, out + c, w)
                c &+= 16
            }
        }
    }

    // MARK: gradWeights

    static func depthwiseGradWeights(_ s: DepthwiseShape, _ dZ: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                     _ gradWeights: UnsafeMutablePointer<Float>, _ pool: WorkerPool) {
        let chunks = (s.channels + 15) / 16
        // Few chunks: also split by kernel row (each task then reads the activations once more).
        let splitRows = pool.threadCount > 1 && chunks < 2 &* pool.threadCount
        let kyGroups = splitRows ? s.kernel : 1
        pool.parallelFor(chunks &* kyGroups) { t in
            let chunk = t / kyGroups
            let g = t &- chunk &* kyGroups
            let c = chunk &* 16
            let w = min(16, s.channels &- c)
            let kyRange = splitRows ? g..<(g &+ 1) : 0..<s.kernel
            switch (s.kernel, s.stride) {
            case (3, 1): depthwiseGradWeightsChunk(3, 1, s, c, w, kyRange, dZ, x, gradWeights)
            case (3, 2): depthwiseGradWeightsChunk(3, 2, s, c, w, kyRange, dZ, x, gradWeights)
            case (5, 1): depthwiseGradWeightsChunk(5, 1, s, c, w, kyRange, dZ, x, gradWeights)
            case (5, 2): depthwiseGradWeightsChunk(5, 2, s, c, w, kyRange, dZ, x, gradWeights)
            default: depthwiseGradWeightsChunk(s.kernel, s.stride, s, c, w, kyRange, dZ, x, gradWeights)
            }
        }
    }

    /// gradWeights[ky][kx][c..<c+w] += Σ_{n,oy,ox} dZ[n,oy,ox,c]·x[n, oy·stride−padTop+ky, ox·stride−padLeft+kx, c].
    @inline(__always) static func depthwiseGradWeightsChunk(
        _ k: Int, _ stride: Int, _ s: DepthwiseShape, _ c: Int, _ w: Int, _ kyRange: Range<Int>,
        _ dZ: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ gradWeights: UnsafeMutablePointer<Float>
    ) {
        let C = s.channels
        let zStep = C
        let xStep = stride &* C
        for n in 0..<s.batch {
            let zImage = dZ + ((n &* s.outHeight) &* s.outWidth &* C &+ c)
            let xImage = x + ((n &* s.height) &* s.width &* C &+ c)
            for oy in 0..<s.outHeight {
                let zRow = zImage + (oy &* s.outWidth) &* C
                for ky in kyRange {
                    let iy = oy &* stride &- s.padTop &+ ky
                    if iy < 0 || iy >= s.height { continue }
                    let xRow = xImage + (iy &* s.width) &* C
                    for kx in 0..<k {
                        // ox with 0 ≤ ox·stride − padLeft + kx < width.
                        let shift = s.padLeft &- kx
                        let oxLo = shift > 0 ? (shift &+ stride &- 1) / stride : 0
                        let last = s.width &- 1 &+ shift
                        let oxHi = last < 0 ? 0 : min(s.outWidth, last / stride &+ 1)
                        if oxLo >= oxHi { continue }
                        var zp = zRow + oxLo &* zStep
                        var xp = xRow + (oxLo &* stride &- shift) &* C
                        var a0 = FVec(repeating: 0), a1 = FVec(repeating: 0)
                        var count = oxHi &- oxLo
                        if w == 16 {
                            while count >= 2 {
                                a0 = a0 + loadVec(zp) * loadVec(xp)
                                a1 = a1 + loadVec(zp + zStep) * loadVec(xp + xStep)
                                zp += 2 &* zStep; xp += 2 &* xStep
                                count &-= 2
                            }
                            if count == 1 { a0 = a0 + loadVec(zp) * loadVec(xp) }
                        } else {
                            while count > 0 {
                                a0 = a0 + loadPartialVec(zp, w) * loadPartialVec(xp, w)
                                zp += zStep; xp += xStep
                                count &-= 1
                            }
                        }
                        let g = gradWeights + ((ky &* k &+ kx) &* C &+ c)
                        channelStore(channelLoad(UnsafePointer(g), w) + (a0 + a1), g, w)
                    }
                }
            }
        }
    }
}
