extension TrainingKernels {
    /// Depthwise conv backward, same geometry arguments as Kernels.depthwiseConv (padTop/padLeft explicit,
    /// bottom/right implied by outHeight/outWidth). weights and gradWeights in the kernel layout [k][k][C].
    /// gradInput (overwrite; nil = skip), gradWeights (+=).
    ///
    /// gradInput is gathered: input pixel (iy, ix) sums dZ[oy, ox]·w[ky, kx] over the taps with
    /// oy·stride − padTop + ky = iy (and likewise for x); one task per input row and channel chunk, walked
    /// pixel by pixel with all channels together (memory streams). For stride 1 it is the forward kernel
    /// with the taps flipped, including its blocks of neighbouring outputs; for stride 2 an even column
    /// and its odd neighbour read the same dZ pixels through different taps, so each dZ load feeds both.
    /// Only columns near the left/right edge take the per-tap range checks. On x86 the C kernel
    /// (DepthwiseBackwardTemplate.h) gathers the same taps per pixel with full vectors and FMA instead.
    /// gradWeights: tasks walk contiguous bands of rows (x and dZ stream through memory); per output row,
    /// 8-channel group and kernel row, the kx taps are summed along the row in registers and added to
    /// the gradient once (on x86 the C kernel, DepthwiseBackwardTemplate.h, does the same with full
    /// vectors and FMA for k 3 and 5). See `depthwiseGradWeights` for how bands get their own partial sums.
    /// Where gradWeights is split over parts of the rows, each part computes both gradients band by band
    /// (`depthwiseBackwardInBands`), so dZ is read from memory once.
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
            let parts = gradWeightsParts(s, pool)
            if parts >= 2 {
                depthwiseBackwardInBands(s, gradOutput, input, inputGradient: (weights, gradInput), gradWeights,
                                         parts: parts, pool)
                return
            }
            depthwiseGradInput(s, gradOutput, weights, gradInput, pool)
        }
        depthwiseGradWeights(s, gradOutput, input, gradWeights, pool)
    }

    /// Floats of dZ plus gradInput rows per band of `depthwiseBackwardInBands`: 512 KB, half of a 1 MB L2.
    public static let depthwiseBackwardBandFloats = 128 * 1024

    /// gradWeights summed over parts of the output rows (`gradWeightsParts` >= 2), each part into its own
    /// slot of a stack scratch, the slots then added into gradWeights in a fixed order (deterministic).
    /// With `inputGradient` (the weights and gradInput) each part also computes gradInput, walking its
    /// output rows in bands: first gradInput for the input rows that start in the band (`bandInputRow`),
    /// which reads the band's dZ rows (and one or two rows either side), then the band's share of
    /// gradWeights, which reads the same dZ rows again while they are still in L2. Apart, the two passes
    /// each streamed the whole of dZ from memory. A part adds its bands in row order, as it adds its rows
    /// in one call, so gradWeights has the same bits either way; a gradInput row does not depend on which
    /// task computes it.
    ///
    /// With `batchNorm` (`batchNormDepthwiseConvBackward`), `dZ` is not there yet: each band first computes
    /// its dZ rows, and the rows either side its gradInput rows read (`bandGradientRows`), from the BatchNorm
    /// backward's dY into the part's slot of `scratch`, and both gradients read them there.
    static func depthwiseBackwardInBands(
        _ s: DepthwiseShape, _ dZ: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
        inputGradient: (weights: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>)?,
        _ gradWeights: UnsafeMutablePointer<Float>, parts: Int, _ pool: WorkerPool,
        batchNorm: (passTwo: BatchNormInputGradient, scratch: UnsafeMutablePointer<Float>)? = nil
    ) {
        let rows = s.batch &* s.outHeight
        let slot = s.kernel &* s.kernel &* s.channels
        let bandRows = depthwiseBackwardBandRows(s, inputGradient: inputGradient != nil)
        let zRowFloats = s.outWidth &* s.channels
        withFloatScratch { scratch in  // starts zeroed
            pool.parallelFor(parts) { p in
                let r0 = rows &* p / parts, r1 = rows &* (p &+ 1) / parts
                var a = r0
                while a < r1 {
                    let b = min(r1, a &+ bandRows)
                    var z = dZ
                    if let (passTwo, bands) = batchNorm {
                        // The band's dZ rows lo..<hi into this part's slot; z is where row 0 would be (an
                        // address outside the scratch: the kernels only read rows lo..<hi through it).
                        let (lo, hi) = bandGradientRows(s, a, b)
                        let band = bands + p &* (bandRows &+ s.kernel) &* zRowFloats
                        passTwo.rows(lo &* s.outWidth, hi &* s.outWidth, channels: s.channels, into: band)
                        z = UnsafePointer(band) - lo &* zRowFloats
                    }
                    if let (weights, gradInput) = inputGradient {
                        for row in bandInputRow(s, a)..<bandInputRow(s, b) {
                            gradInputRow(s, row, 0, s.channels, z, weights, gradInput)
                        }
                    }
                    gradWeightsRows(s, a, b, 0, s.channels, z, x, scratch + p &* slot)
                    a = b
                }
            }
            for p in 0..<parts {
                addInto(gradWeights, UnsafePointer(scratch + p &* slot), slot)
            }
        }
    }

    /// Output rows per band of `depthwiseBackwardInBands`: a dZ row and its gradInput rows within
    /// `depthwiseBackwardBandFloats`; all of a part's rows when there is no gradInput.
    @inline(__always) static func depthwiseBackwardBandRows(_ s: DepthwiseShape, inputGradient: Bool) -> Int {
        guard inputGradient else { return s.batch &* s.outHeight }
        let rowFloats = s.outWidth &* s.channels &* (1 &+ s.stride &* s.stride)
        return max(1, depthwiseBackwardBandFloats / max(1, rowFloats))
    }

    /// The dZ rows (n·outHeight + oy, clipped to the batch) a band of output rows a..<b reads: its own, for
    /// gradWeights, and for its gradInput rows from iy = a·stride (which reach down to output row
    /// a − (k − 1 − padTop)/stride) to b·stride − 1 (up to b − 1 + (stride − 1 + padTop)/stride). Rows of a
    /// neighbouring image may be among them; the kernels do not read those. At most bandRows + kernel rows.
    @inline(__always) static func bandGradientRows(_ s: DepthwiseShape, _ a: Int, _ b: Int) -> (Int, Int) {
        let below = max(0, s.kernel &- 1 &- s.padTop) / s.stride
        let above = (s.stride &- 1 &+ s.padTop) / s.stride
        return (max(0, a &- below), min(s.batch &* s.outHeight, b &+ above))
    }

    /// The first input row (n·height + iy) whose gradient a band starting at output row r (n·outHeight + oy)
    /// computes: iy = oy·stride, so consecutive bands cover every input row once, and an image's rows below
    /// its last output row's go with that row.
    @inline(__always) static func bandInputRow(_ s: DepthwiseShape, _ r: Int) -> Int {
        let n = r / s.outHeight
        return n &* s.height &+ min(s.height, (r &- n &* s.outHeight) &* s.stride)
    }

    // MARK: gradInput

    static func depthwiseGradInput(_ s: DepthwiseShape, _ dZ: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                                   _ gradInput: UnsafeMutablePointer<Float>, _ pool: WorkerPool) {
        let rows = s.batch &* s.height
        let (chunk, groups) = Kernels.rowTasks(rows: rows, channels: s.channels, pool: pool)
        pool.parallelFor(rows &* groups) { t in
            let row = t / groups
            let c0 = (t &- row &* groups) &* chunk
            gradInputRow(s, row, c0, min(s.channels, c0 &+ chunk), dZ, weights, gradInput)
        }
    }

    /// gradInput row `row` (= n·height + iy), channels c0..<c1: the C kernel where it has the geometry.
    @inline(__always) static func gradInputRow(
        _ s: DepthwiseShape, _ row: Int, _ c0: Int, _ c1: Int,
        _ dZ: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ gradInput: UnsafeMutablePointer<Float>
    ) {
        if let simd = CSIMDKernels.active,
           simd.depthwiseGradInputRow(s, row: row, channels: c0..<c1, dZ, weights, gradInput) {
            return
        }
        switch (s.kernel, s.stride) {
        case (3, 1): depthwiseGradInputRow(Kernel3Stride1.self, s, row, c0, c1, dZ, weights, gradInput)
        case (3, 2): depthwiseGradInputRow(Kernel3Stride2.self, s, row, c0, c1, dZ, weights, gradInput)
        case (5, 1): depthwiseGradInputRow(Kernel5Stride1.self, s, row, c0, c1, dZ, weights, gradInput)
        case (5, 2): depthwiseGradInputRow(Kernel5Stride2.self, s, row, c0, c1, dZ, weights, gradInput)
        default: depthwiseGradInputRow(AnyKernel.self, s, row, c0, c1, dZ, weights, gradInput)
        }
    }

    /// First tap index ≥ max(0, t − stride·(outCount − 1)) congruent to t mod stride, and the last tap
    /// (≤ min(k − 1, t)); the tap range that reaches input position t (t = position + pad).
    @inline(__always) static func tapRange(_ t: Int, _ k: Int, _ stride: Int, _ outCount: Int) -> (Int, Int) {
        let lo = max(0, t &- stride &* (outCount &- 1))
        let first = lo &+ (t &- lo) % stride
        return (first, min(k &- 1, t))
    }

    /// gradInput row `row` (= n·height + iy), channels c0..<c1.
    static func depthwiseGradInputRow<G: KernelGeometry>(
        _: G.Type, _ s: DepthwiseShape, _ row: Int, _ c0: Int, _ c1: Int,
        _ dZ: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ gradInput: UnsafeMutablePointer<Float>
    ) {
        let k = G.kernel(s), stride = G.stride(s)
        let C = s.channels, OW = s.outWidth
        let n = row / s.height
        let ty = row &- n &* s.height &+ s.padTop
        let (kyFirst, kyLast) = tapRange(ty, k, stride, s.outHeight)
        // Kernel rows reaching this row: kyFirst, kyFirst + stride, ...; dZ row (ty − ky)/stride.
        let tapRows = kyLast >= kyFirst ? (kyLast &- kyFirst) / stride &+ 1 : 0
        let zRowStep = OW &* C
        let zTop = ((n &* s.outHeight &+ (ty &- kyFirst) / stride) &* OW) &* C  // dZ row of tap kyFirst
        let wTop = weights + kyFirst &* k &* C
        let outRow = gradInput + row &* s.width &* C
        // Input column ix is tx = ix + padLeft in "tap space": tap kx reads dZ column (tx − kx)/stride.
        // Stride 1: columns with tx ≥ k − 1 and tx ≤ outWidth − 1 read every tap; blocks of four.
        // Stride 2: an even tx and its odd neighbour read dZ columns tx/2 − j (taps 2j and 2j + 1), all
        // inside when tx/2 ≥ (k − 1)/2 and tx/2 ≤ outWidth − 1.
        let taps = TapRows(count: tapRows, rowStep: -zRowStep)  // kernel row ky + stride reads the dZ row above
        let block = DepthwiseBlock.choose(kernel: k, stride: stride)
        var ix = 0
        while ix < s.width {
            let tx = ix &+ s.padLeft
            let out = outRow + ix &* C
            if stride == 1 && tx >= k &- 1 && tx &+ block.outputs <= OW && ix &+ block.outputs <= s.width {
                // The forward kernel's blocks with the taps flipped: tap kx reads dZ column tx − kx.
                let z = dZ + (zTop &+ tx &* C)
                var c = c0
                if block == .quad {
                    while c &+ 8 <= c1 {
                        let (r0, r1, r2, r3) = Kernels.sumFour(G.self, s, taps, HVec(repeating: 0), z + c, -C, C, wTop + c)
                        storeHalf(r0, out + c)
                        storeHalf(r1, out + (C &+ c))
                        storeHalf(r2, out + (2 &* C &+ c))
                        storeHalf(r3, out + (3 &* C &+ c))
                        c &+= 8
                    }
                } else if tapRows == k {
                    // All k kernel rows: the literal trip counts unroll every tap (as in the forward's
                    // single-output loop).
                    while c &+ 16 <= c1 {
                        var acc = FVec(repeating: 0)
                        for ky in 0..<k {
                            let zr = z + (c &- ky &* zRowStep)
                            let wr = wTop + (ky &* k &* C &+ c)
                            for kx in 0..<k { acc = acc + loadVec(zr - kx &* C) * loadVec(wr + kx &* C) }
                        }
                        storeVec(acc, out + c)
                        c &+= 16
                    }
                } else {
                    while c &+ 16 <= c1 {
                        storeVec(Kernels.sumOne(G.self, s, taps, FVec(repeating: 0), z + c, -C, wTop + c), out + c)
                        c &+= 16
                    }
                }
                for p in 0..<block.outputs where c < c1 {
                    gradInputPixel(G.self, s, tx &+ p, c, c1, kyFirst, tapRows, zTop, dZ, weights, out + p &* C)
                }
                ix &+= block.outputs
            } else if block == .quad && tx >= k &- 1 && tx &+ 2 <= OW && ix &+ 2 <= s.width {
                // Interior columns left over after the quads: a pair, 16 channels per step.
                let z = dZ + (zTop &+ tx &* C)
                var c = c0
                while c &+ 16 <= c1 {
                    let (r0, r1) = Kernels.sumTwo(G.self, s, taps, FVec(repeating: 0), z + c, -C, C, wTop + c)
                    storeVec(r0, out + c)
                    storeVec(r1, out + (C &+ c))
                    c &+= 16
                }
                for p in 0..<2 where c < c1 {
                    gradInputPixel(G.self, s, tx &+ p, c, c1, kyFirst, tapRows, zTop, dZ, weights, out + p &* C)
                }
                ix &+= 2
            } else if stride == 2 && tx & 1 == 0 && tx >= 2 &* ((k &- 1) / 2) && tx / 2 < OW && ix &+ 2 <= s.width {
                let z = dZ + (zTop &+ tx / 2 &* C)
                var c = c0
                while c &+ 16 <= c1 {
                    let (even, odd) = evenOddPair(G.self, s, tapRows, z + c, -zRowStep, wTop + c)
                    storeVec(even, out + c)
                    storeVec(odd, out + (C &+ c))
                    c &+= 16
                }
                for p in 0..<2 where c < c1 {
                    gradInputPixel(G.self, s, tx &+ p, c, c1, kyFirst, tapRows, zTop, dZ, weights, out + p &* C)
                }
                ix &+= 2
            } else {
                gradInputPixel(G.self, s, tx, c0, c1, kyFirst, tapRows, zTop, dZ, weights, out)
                ix &+= 1
            }
        }
    }

    /// Stride-2 pair (even column tx, odd column tx + 1): Σ over kernel rows and j of
    /// dZ[oy][tx/2 − j]·(w[ky][2j], w[ky][2j+1]); each dZ vector is loaded once for both columns.
    @inline(__always) static func evenOddPair<G: KernelGeometry>(
        _: G.Type, _ s: DepthwiseShape, _ rows: Int, _ z: UnsafePointer<Float>, _ zRowStep: Int,
        _ w: UnsafePointer<Float>
    ) -> (FVec, FVec) {
        let k = G.kernel(s), C = s.channels
        var even = FVec(repeating: 0), odd = FVec(repeating: 0)
        for r in 0..<rows {
            let zr = z + r &* zRowStep
            let wr = w + r &* 2 &* k &* C  // kernel rows ky, ky + 2, ...
            for j in 0..<((k &+ 1) / 2) {
                let zv = loadVec(zr - j &* C)
                even = even + zv * loadVec(wr + (2 &* j) &* C)
                if 2 &* j &+ 1 < k { odd = odd + zv * loadVec(wr + (2 &* j &+ 1) &* C) }
            }
        }
        return (even, odd)
    }

    /// One gradInput pixel at tap-space column tx (input column tx − padLeft), channels c0..<c1, any
    /// taps: kx = kxFirst + i·stride reads dZ column (tx − kxFirst)/stride − i.
    @inline(__always) static func gradInputPixel<G: KernelGeometry>(
        _: G.Type, _ s: DepthwiseShape, _ tx: Int, _ c0: Int, _ c1: Int, _ kyFirst: Int, _ tapRows: Int,
        _ zTop: Int, _ dZ: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>
    ) {
        let k = G.kernel(s), stride = G.stride(s), C = s.channels
        let (kxFirst, kxLast) = tapRange(tx, k, stride, s.outWidth)
        let taps = kxLast >= kxFirst ? (kxLast &- kxFirst) / stride &+ 1 : 0
        let maxTaps = (k &+ stride &- 1) / stride  // a literal on the fast paths: the tap loop unrolls
        let zRowStep = s.outWidth &* C
        let z = dZ + (zTop &+ (tx &- kxFirst) / stride &* C)
        let w = weights + (kyFirst &* k &+ kxFirst) &* C
        var c = c0
        while c < c1 {
            let width = min(16, c1 &- c)
            var acc = FVec(repeating: 0)
            for r in 0..<tapRows {
                let zr = z + (c &- r &* zRowStep)
                let wr = w + (c &+ r &* stride &* k &* C)
                for i in 0..<maxTaps where i < taps {
                    acc = acc + channelLoad(zr - i &* C, width) * channelLoad(wr + i &* stride &* C, width)
                }
            }
            channelStore(acc, out + c, width)
            c &+= 16
        }
    }

    // MARK: gradWeights

    /// Floats of stack scratch for the per-part partial gradients (32 KB, like BatchNorm's scratch).
    static let gradWeightsScratchFloats = 8192

    /// Work split for gradWeights. Reading x and dZ is what costs at training batch sizes, so every task
    /// walks a contiguous band of rows over all (or a wide block of) channels and the hardware
    /// prefetcher sees plain streams. With few channels the rows are cut into `gradWeightsParts` parts
    /// (`depthwiseBackwardInBands`). With many channels (k·k·C too big for the scratch) tasks own channel
    /// blocks and add straight into gradWeights.
    static func depthwiseGradWeights(_ s: DepthwiseShape, _ dZ: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                     _ gradWeights: UnsafeMutablePointer<Float>, _ pool: WorkerPool) {
        let parts = gradWeightsParts(s, pool)
        if parts >= 2 {
            depthwiseBackwardInBands(s, dZ, x, inputGradient: nil, gradWeights, parts: parts, pool)
            return
        }
        // Channel blocks, multiples of 16 (at most `gradWeightsTasks` of them).
        let rows = s.batch &* s.outHeight
        let chunk = alignedChunk(s.channels, parts: gradWeightsTasks(pool), align: 16)
        let blocks = (s.channels + chunk - 1) / chunk
        pool.parallelFor(blocks) { b in
            gradWeightsRows(s, 0, rows, b &* chunk, min(s.channels, (b &+ 1) &* chunk), dZ, x, gradWeights)
        }
    }

    /// Tasks gradWeights is split into at most: two per worker (one on a single worker).
    @inline(__always) static func gradWeightsTasks(_ pool: WorkerPool) -> Int {
        gradWeightsTasks(threads: pool.threadCount)
    }

    @inline(__always) static func gradWeightsTasks(threads: Int) -> Int {
        threads > 1 ? 2 &* threads : 1
    }

    /// Parts of the output rows that gradWeights is summed over, each into its own scratch slot (1: the
    /// rows are not split; tasks own channel blocks instead).
    static func gradWeightsParts(_ s: DepthwiseShape, _ pool: WorkerPool) -> Int {
        gradWeightsParts(s, threads: pool.threadCount)
    }

    static func gradWeightsParts(_ s: DepthwiseShape, threads: Int) -> Int {
        min(gradWeightsTasks(threads: threads), s.batch &* s.outHeight,
            gradWeightsScratchFloats / max(s.kernel &* s.kernel &* s.channels, 1))
    }

    @inline(__always) static func gradWeightsRows(
        _ s: DepthwiseShape, _ r0: Int, _ r1: Int, _ c0: Int, _ c1: Int,
        _ dZ: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>
    ) {
        if let simd = CSIMDKernels.active, simd.depthwiseGradWeightsRows(s, rows: r0..<r1, channels: c0..<c1, dZ, x,
                                                                          target) {
            return
        }
        switch (s.kernel, s.stride) {
        case (3, 1): depthwiseGradWeightsRows(Kernel3Stride1.self, s, r0, r1, c0, c1, dZ, x, target)
        case (3, 2): depthwiseGradWeightsRows(Kernel3Stride2.self, s, r0, r1, c0, c1, dZ, x, target)
        case (5, 1): depthwiseGradWeightsRows(Kernel5Stride1.self, s, r0, r1, c0, c1, dZ, x, target)
        case (5, 2): depthwiseGradWeightsRows(Kernel5Stride2.self, s, r0, r1, c0, c1, dZ, x, target)
        default: depthwiseGradWeightsRows(AnyKernel.self, s, r0, r1, c0, c1, dZ, x, target)
        }
    }

    /// target[ky][kx][c] += Σ over output rows r0..<r1 (n·outHeight + oy) and ox of
    /// dZ[n,oy,ox,c]·x[n, oy·stride−padTop+ky, ox·stride−padLeft+kx, c], for c in c0..<c1.
    ///
    /// Per output row, 8-channel group and kernel row, up to five kx taps are summed along the row in
    /// registers (one dZ load feeds all of them) and then added to target once. 8 lanes (two SSE
    /// registers) leave room for five tap sums plus operands; 16 lanes would spill.
    static func depthwiseGradWeightsRows<G: KernelGeometry>(
        _: G.Type, _ s: DepthwiseShape, _ r0: Int, _ r1: Int, _ c0: Int, _ c1: Int,
        _ dZ: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>
    ) {
        let k = G.kernel(s), stride = G.stride(s)
        let C = s.channels, W = s.width
        let groupEnd = c0 &+ ((c1 &- c0) & ~7)
        for row in r0..<r1 {
            let n = row / s.outHeight
            let iy0 = (row &- n &* s.outHeight) &* stride &- s.padTop
            let kyLo = max(0, -iy0), kyHi = min(k, s.height &- iy0)
            if kyLo >= kyHi { continue }
            let zRow = dZ + row &* s.outWidth &* C
            let xRow0 = x + ((n &* s.height &+ iy0) &* W) &* C  // row of tap ky = 0 (offsets added per ky)
            var c = c0
            while c < groupEnd {
                for ky in kyLo..<kyHi {
                    var kx0 = 0
                    while kx0 < k {
                        let taps = min(5, k &- kx0)
                        sweepTaps(G.self, s, kx0, taps, zRow + c, xRow0 + (ky &* W &* C &+ c),
                                  target + ((ky &* k &+ kx0) &* C &+ c))
                        kx0 &+= 5
                    }
                }
                c &+= 8
            }
            if c < c1 {
                let width = c1 &- c
                for ky in kyLo..<kyHi {
                    for kx in 0..<k {
                        sweepTapPartial(stride, kx, s, zRow + c, xRow0 + (ky &* W &* C &+ c),
                                        target + ((ky &* k &+ kx) &* C &+ c), width)
                    }
                }
            }
        }
    }

    /// Taps kx0..<kx0+taps (taps ≤ 5) of one kernel row, 8 channels, summed over one output row.
    /// `z` is dZ at (row, ox 0), `xRow` the input row at column 0, `out` target at tap kx0.
    @inline(__always) static func sweepTaps<G: KernelGeometry>(
        _: G.Type, _ s: DepthwiseShape, _ kx0: Int, _ taps: Int,
        _ z: UnsafePointer<Float>, _ xRow: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>
    ) {
        let stride = G.stride(s), C = s.channels, W = s.width
        // Output columns whose taps kx0..<kx0+taps all lie inside the row.
        let shift = s.padLeft &- kx0  // input column of (ox, kx0) is ox·stride − shift
        let (lo, hi) = Kernels.interiorColumns(taps, stride, shift, W, s.outWidth)
        var sums = TapSums()
        var ox = 0
        while ox < lo {
            sums.addChecked(taps, ox &* stride &- shift, W, loadHalf(z + ox &* C), xRow, C)
            ox &+= 1
        }
        while ox < hi {
            let zv = loadHalf(z + ox &* C)
            let xp = xRow + (ox &* stride &- shift) &* C
            sums.t0 = sums.t0 + loadHalf(xp) * zv
            if taps > 1 { sums.t1 = sums.t1 + loadHalf(xp + C) * zv }
            if taps > 2 { sums.t2 = sums.t2 + loadHalf(xp + 2 &* C) * zv }
            if taps > 3 { sums.t3 = sums.t3 + loadHalf(xp + 3 &* C) * zv }
            if taps > 4 { sums.t4 = sums.t4 + loadHalf(xp + 4 &* C) * zv }
            ox &+= 1
        }
        while ox < s.outWidth {
            sums.addChecked(taps, ox &* stride &- shift, W, loadHalf(z + ox &* C), xRow, C)
            ox &+= 1
        }
        storeHalf(loadHalf(out) + sums.t0, out)
        if taps > 1 { storeHalf(loadHalf(out + C) + sums.t1, out + C) }
        if taps > 2 { storeHalf(loadHalf(out + 2 &* C) + sums.t2, out + 2 &* C) }
        if taps > 3 { storeHalf(loadHalf(out + 3 &* C) + sums.t3, out + 3 &* C) }
        if taps > 4 { storeHalf(loadHalf(out + 4 &* C) + sums.t4, out + 4 &* C) }
    }

    /// One tap, the last `width` (< 8) channels, summed over one output row.
    @inline(__always) static func sweepTapPartial(
        _ stride: Int, _ kx: Int, _ s: DepthwiseShape, _ z: UnsafePointer<Float>, _ xRow: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, _ width: Int
    ) {
        let C = s.channels
        let shift = s.padLeft &- kx
        let (lo, hi) = Kernels.interiorColumns(1, stride, shift, s.width, s.outWidth)
        var acc = FVec(repeating: 0)
        for ox in lo..<hi {
            acc = acc + loadPartialVec(z + ox &* C, width) * loadPartialVec(xRow + (ox &* stride &- shift) &* C, width)
        }
        storePartialVec(loadPartialVec(out, width) + acc, out, width)
    }

    /// a[0..<count] += b[0..<count].
    @inline(__always) static func addInto(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) {
        var i = 0
        while i &+ 16 <= count { storeVec(loadVec(a + i) + loadVec(b + i), a + i); i &+= 16 }
        while i < count { a[i] += b[i]; i &+= 1 }
    }
}

/// Up to five kx tap sums (8 channels each) kept in registers during a gradWeights row sweep.
struct TapSums {
    var t0 = HVec(repeating: 0), t1 = HVec(repeating: 0), t2 = HVec(repeating: 0)
    var t3 = HVec(repeating: 0), t4 = HVec(repeating: 0)

    /// Edge column: adds z·x for the taps whose input column ix + i lies in 0..<width.
    @inline(__always) mutating func addChecked(_ taps: Int, _ ix: Int, _ width: Int, _ z: HVec,
                                               _ xRow: UnsafePointer<Float>, _ C: Int) {
        // Taps i with 0 ≤ ix + i < width, i < taps.
        let first = max(0, -ix), end = min(taps, width &- ix)
        if first <= 0 && 0 < end { t0 = t0 + loadHalf(xRow + ix &* C) * z }
        if first <= 1 && 1 < end { t1 = t1 + loadHalf(xRow + (ix &+ 1) &* C) * z }
        if first <= 2 && 2 < end { t2 = t2 + loadHalf(xRow + (ix &+ 2) &* C) * z }
        if first <= 3 && 3 < end { t3 = t3 + loadHalf(xRow + (ix &+ 3) &* C) * z }
        if first <= 4 && 4 < end { t4 = t4 + loadHalf(xRow + (ix &+ 4) &* C) * z }
    }
}

/// 32 KB of stack for gradWeights' per-part partial sums (a tuple, so it builds for macOS 15 too).
private typealias Floats512 = (SIMD64<Float>, SIMD64<Float>, SIMD64<Float>, SIMD64<Float>,
                               SIMD64<Float>, SIMD64<Float>, SIMD64<Float>, SIMD64<Float>)
private struct FloatScratch {
    var storage: (Floats512, Floats512, Floats512, Floats512, Floats512, Floats512, Floats512, Floats512,
                  Floats512, Floats512, Floats512, Floats512, Floats512, Floats512, Floats512, Floats512)
    init() {
        let z = SIMD64<Float>(repeating: 0)
        let b = (z, z, z, z, z, z, z, z)
        storage = (b, b, b, b, b, b, b, b, b, b, b, b, b, b, b, b)
    }
}

extension TrainingKernels {
    @inline(__always) static func withFloatScratch<R>(_ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        assert(MemoryLayout<FloatScratch>.size >= gradWeightsScratchFloats * 4)
        var scratch = FloatScratch()
        return withUnsafeMutableBytes(of: &scratch) { body($0.baseAddress!.assumingMemoryBound(to: Float.self)) }
    }
}
