extension Kernels {
    /// Depthwise k×k convolution, NHWC in and out, zero padding.
    ///
    /// Input pixel for output (oy, ox) and tap (ky, kx) is (oy·stride − padTop + ky,
    /// ox·stride − padLeft + kx); out-of-range pixels read zero, so bottom/right padding is implied
    /// by outHeight/outWidth (symmetric (k−1)/2 and TensorFlow SAME both fit).
    /// `weights` is [kernel][kernel][channels] (WeightPrep.depthwiseWeights); output = act(conv + bias).
    ///
    /// One task per output row (and channel chunk when there are few rows), walked pixel by pixel with
    /// all channels of a pixel (block) together, so memory streams. Rows past the top/bottom edge are
    /// dropped from the ky range, so only columns near the left/right edge need per-tap checks.
    /// Interior columns are computed in blocks that share each weight load between outputs and give
    /// 8 independent add chains (see `DepthwiseBlock`); k 3 and 5 with stride 1 and 2 are specialized
    /// (`KernelGeometry`), so their tap loops unroll completely. With a C SIMD path (`SIMDPath`) those four
    /// geometries run whole rows in C (`CSIMDKernels.depthwiseRow`: same structure, wider vectors, FMA).
    public static func depthwiseConv(
        input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, activation: Activation,
        output: UnsafeMutablePointer<Float>, rowSums: UnsafeMutablePointer<Float>? = nil, pool: WorkerPool
    ) {
        precondition(kernel >= 1 && stride >= 1, "depthwiseConv: kernel and stride must be positive")
        let shape = DepthwiseShape(
            batch: batch, height: height, width: width, channels: channels, kernel: kernel, stride: stride,
            padTop: padTop, padLeft: padLeft, outHeight: outHeight, outWidth: outWidth)
        depthwiseConv(shape, input, weights, bias, activation, output, pool, simd: CSIMDKernels.active,
                      rowSums: rowSums)
    }

    /// `depthwiseConv` on the given C kernels (nil: the Swift code), so tests can run every path. With
    /// `rowSums`, also each output row's channel sums (RowChannelSums.swift): on the C path right after
    /// the task writes its row, on the Swift path in a pass over the rows afterwards.
    static func depthwiseConv(
        _ shape: DepthwiseShape, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
        _ bias: UnsafePointer<Float>, _ activation: Activation, _ output: UnsafeMutablePointer<Float>,
        _ pool: WorkerPool, simd: CSIMDKernels?, rowSums: UnsafeMutablePointer<Float>? = nil
    ) {
        let rowFloats = shape.outWidth &* shape.channels
        if let simd, CSIMDKernels.handlesDepthwise(kernel: shape.kernel, stride: shape.stride) {
            let (chunk, groups) = rowTasks(rows: shape.batch &* shape.outHeight, channels: shape.channels, pool: pool)
            pool.parallelFor(shape.batch &* shape.outHeight &* groups) { t in
                let row = t / groups
                let c0 = (t &- row &* groups) &* chunk
                let c1 = min(shape.channels, c0 &+ chunk)
                simd.depthwiseRow(activation, shape, row, c0, c1, input, weights, bias, output)
                if let rowSums {
                    simd.rowChannelSums(output + row &* rowFloats, width: shape.outWidth, channels: shape.channels,
                                        c0..<c1, sums: rowSums + row &* shape.channels)
                }
            }
            return
        }
        switch activation {
        case .identity: depthwise(IdentityFunction.self, shape, input, weights, bias, output, pool, simd)
        case .silu: depthwise(SiLUFunction.self, shape, input, weights, bias, output, pool, simd)
        case .relu6: depthwise(ReLU6Function.self, shape, input, weights, bias, output, pool, simd)
        }
        if let rowSums {
            pool.parallelFor(shape.batch &* shape.outHeight) { row in
                if let simd {
                    simd.rowChannelSums(output + row &* rowFloats, width: shape.outWidth, channels: shape.channels,
                                        0..<shape.channels, sums: rowSums + row &* shape.channels)
                } else {
                    rowChannelSumsSwift(output + row &* rowFloats, width: shape.outWidth, channels: shape.channels,
                                        c0: 0, c1: shape.channels, sums: rowSums + row &* shape.channels)
                }
            }
        }
    }

    @inline(__always) static func depthwise<A: ActivationFunction>(
        _: A.Type, _ s: DepthwiseShape, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
        _ bias: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ pool: WorkerPool,
        _ simd: CSIMDKernels?
    ) {
        switch (s.kernel, s.stride) {
        case (3, 1): depthwise(A.self, Kernel3Stride1.self, s, input, weights, bias, output, pool, simd)
        case (3, 2): depthwise(A.self, Kernel3Stride2.self, s, input, weights, bias, output, pool, simd)
        case (5, 1): depthwise(A.self, Kernel5Stride1.self, s, input, weights, bias, output, pool, simd)
        case (5, 2): depthwise(A.self, Kernel5Stride2.self, s, input, weights, bias, output, pool, simd)
        default: depthwise(A.self, AnyKernel.self, s, input, weights, bias, output, pool, simd)
        }
    }

    static func depthwise<A: ActivationFunction, G: KernelGeometry>(
        _: A.Type, _: G.Type, _ s: DepthwiseShape, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
        _ bias: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ pool: WorkerPool,
        _ simdPath: CSIMDKernels?
    ) {
        let rows = s.batch &* s.outHeight
        let (chunk, groups) = rowTasks(rows: rows, channels: s.channels, pool: pool)
        // With a C SIMD path (geometries without a C row kernel) the row is computed without activation,
        // then the C kernel applies it to the row's outputs while they are still in L1 (the SSE2
        // exp/division costs ~40 % of the kernel).
        let simd = A.activation == .identity ? nil : simdPath
        pool.parallelFor(rows &* groups) { t in
            let row = t / groups
            let c0 = (t &- row &* groups) &* chunk
            let c1 = min(s.channels, c0 &+ chunk)
            if let simd {
                depthwiseRow(IdentityFunction.self, G.self, s, row, c0, c1, input, weights, bias, output)
                simd.biasActivation(A.activation, out: output + (row &* s.outWidth &* s.channels &+ c0),
                                    ldo: s.channels, rows: s.outWidth, cols: c1 &- c0, bias: nil, residual: nil)
            } else {
                depthwiseRow(A.self, G.self, s, row, c0, c1, input, weights, bias, output)
            }
        }
    }

    /// Output row `row` (= n·outHeight + oy), channels c0..<c1.
    static func depthwiseRow<A: ActivationFunction, G: KernelGeometry>(
        _: A.Type, _: G.Type, _ s: DepthwiseShape, _ row: Int, _ c0: Int, _ c1: Int,
        _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
        _ output: UnsafeMutablePointer<Float>
    ) {
        let k = G.kernel(s), stride = G.stride(s)
        let block = DepthwiseBlock.choose(kernel: k, stride: stride)
        if block == .single {
            singleOutputRow(A.self, G.self, s, row, c0, c1, input, weights, bias, output)
            return
        }
        let C = s.channels, W = s.width
        let n = row / s.outHeight
        let iy0 = (row &- n &* s.outHeight) &* stride &- s.padTop
        let kyLo = max(0, -iy0)
        let taps = TapRows(count: max(0, min(k, s.height &- iy0) &- kyLo), rowStep: W &* C)
        let (oxLo, oxHi) = interiorColumns(k, stride, s.padLeft, W, s.outWidth)
        // Input offset (floats) of the first valid tap row at column 0 − padLeft; columns are added per pixel.
        let inTop = ((n &* s.height &+ iy0 &+ kyLo) &* W &- s.padLeft) &* C
        let wTop = weights + kyLo &* k &* C
        let outRow = output + row &* s.outWidth &* C

        var ox = 0
        while ox < s.outWidth {
            let out = outRow + ox &* C
            let x = input + (inTop &+ ox &* stride &* C)  // tap (kyLo, kx = 0) of this output
            if block == .quad && ox >= oxLo && ox &+ 4 <= oxHi {
                interiorQuad(A.self, G.self, s, taps, x, stride &* C, wTop, bias, out, c0, c1)
                ox &+= 4
            } else if ox >= oxLo && ox &+ 2 <= oxHi {
                // Pairs, and interior columns left over after the quads (7-wide rows have only 3 with k = 5).
                interiorPair(A.self, G.self, s, taps, x, stride &* C, wTop, bias, out, c0, c1)
                ox &+= 2
            } else {
                let ix0 = ox &* stride &- s.padLeft
                edgePixel(A.self, G.self, s, taps, max(0, -ix0), min(k, W &- ix0), x, wTop, bias, out, c0, c1)
                ox &+= 1
            }
        }
    }

    /// `depthwiseRow` one output at a time (the `.single` block): per pixel, every 16-channel group sums
    /// its taps in one register chain. Written as its own loop nest rather than through the block
    /// helpers; that is measurably faster for k = 3 (fewer live pointers, no per-group row-count test).
    static func singleOutputRow<A: ActivationFunction, G: KernelGeometry>(
        _: A.Type, _: G.Type, _ s: DepthwiseShape, _ row: Int, _ c0: Int, _ c1: Int,
        _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
        _ output: UnsafeMutablePointer<Float>
    ) {
        let k = G.kernel(s), stride = G.stride(s)
        let C = s.channels, H = s.height, W = s.width
        let n = row / s.outHeight
        let iy0 = (row &- n &* s.outHeight) &* stride &- s.padTop
        let kyLo = max(0, -iy0), kyHi = max(kyLo, min(k, H &- iy0))
        let (oxLo, oxHi) = interiorColumns(k, stride, s.padLeft, W, s.outWidth)
        let end16 = c0 &+ ((c1 &- c0) & ~15)
        let outRow = output + row &* s.outWidth &* C
        let inImage = input + (n &* H) &* W &* C
        for ox in 0..<s.outWidth {
            let ix0 = ox &* stride &- s.padLeft
            let interior = ox >= oxLo && ox < oxHi
            let out = outRow + ox &* C
            var c = c0
            if interior && kyLo == 0 && kyHi == k {
                // Every tap inside the image; k is a literal, so all k·k taps unroll.
                let base = inImage + (iy0 &* W &+ ix0) &* C
                while c < end16 {
                    var acc = loadVec(bias + c)
                    for ky in 0..<k {
                        let x = base + (ky &* W &* C &+ c)
                        let w = weights + (ky &* k &* C &+ c)
                        for kx in 0..<k { acc = acc + loadVec(x + kx &* C) * loadVec(w + kx &* C) }
                    }
                    storeVec(A.apply(acc), out + c)
                    c &+= 16
                }
            } else {
                let kxLo = max(0, -ix0), kxHi = max(kxLo, min(k, W &- ix0))
                while c < end16 {
                    var acc = loadVec(bias + c)
                    for ky in kyLo..<kyHi {
                        let x = inImage + (((iy0 &+ ky) &* W &+ ix0 &+ kxLo) &* C &+ c)
                        let w = weights + ((ky &* k &+ kxLo) &* C &+ c)
                        for kx in 0..<(kxHi &- kxLo) { acc = acc + loadVec(x + kx &* C) * loadVec(w + kx &* C) }
                    }
                    storeVec(A.apply(acc), out + c)
                    c &+= 16
                }
            }
            if c < c1 {
                let kxLo = max(0, -ix0), kxHi = max(kxLo, min(k, W &- ix0))
                let x = input + ((n &* H &+ iy0 &+ kyLo) &* W &+ ix0) &* C
                let taps = TapRows(count: kyHi &- kyLo, rowStep: W &* C)
                edgePixelTail(A.self, G.self, s, taps, kxLo, kxHi, x, weights + kyLo &* k &* C, bias, out, c, c1)
            }
        }
    }

    /// Output columns whose k taps all lie inside a row of `width` pixels: lo..<hi.
    @inline(__always) static func interiorColumns(_ k: Int, _ stride: Int, _ pad: Int, _ width: Int,
                                                  _ outWidth: Int) -> (Int, Int) {
        let last = width &- k &+ pad  // ox·stride ≤ last
        let hi = last >= 0 ? min(outWidth, last / stride &+ 1) : 0
        let lo = pad > 0 ? (pad &+ stride &- 1) / stride : 0  // ox·stride ≥ pad
        return (min(lo, hi), hi)
    }

    // MARK: Pixel blocks

    /// Two interior outputs (`next` floats apart in the input), 16 channels per step.
    @inline(__always) static func interiorPair<A: ActivationFunction, G: KernelGeometry>(
        _: A.Type, _: G.Type, _ s: DepthwiseShape, _ taps: TapRows, _ x: UnsafePointer<Float>, _ next: Int,
        _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ c0: Int, _ c1: Int
    ) {
        let C = s.channels
        var c = c0
        while c &+ 16 <= c1 {
            let (r0, r1) = sumTwo(G.self, s, taps, loadVec(bias + c), x + c, C, next, w + c)
            storeVec(A.apply(r0), out + c)
            storeVec(A.apply(r1), out + (C &+ c))
            c &+= 16
        }
        for p in 0..<2 where c < c1 {
            edgePixelTail(A.self, G.self, s, taps, 0, G.kernel(s), x + p &* next, w, bias, out + p &* C, c, c1)
        }
    }

    /// Four interior outputs (`next` floats apart in the input), 8 channels per step.
    @inline(__always) static func interiorQuad<A: ActivationFunction, G: KernelGeometry>(
        _: A.Type, _: G.Type, _ s: DepthwiseShape, _ taps: TapRows, _ x: UnsafePointer<Float>, _ next: Int,
        _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ c0: Int, _ c1: Int
    ) {
        let C = s.channels
        var c = c0
        while c &+ 8 <= c1 {
            let (r0, r1, r2, r3) = sumFour(G.self, s, taps, loadHalf(bias + c), x + c, C, next, w + c)
            // The activation works on 16 lanes: two pixels' 8 channels each.
            let a01 = A.apply(FVec(lowHalf: r0, highHalf: r1))
            let a23 = A.apply(FVec(lowHalf: r2, highHalf: r3))
            storeHalf(a01.lowHalf, out + c)
            storeHalf(a01.highHalf, out + (C &+ c))
            storeHalf(a23.lowHalf, out + (2 &* C &+ c))
            storeHalf(a23.highHalf, out + (3 &* C &+ c))
            c &+= 8
        }
        for p in 0..<4 where c < c1 {
            edgePixelTail(A.self, G.self, s, taps, 0, G.kernel(s), x + p &* next, w, bias, out + p &* C, c, c1)
        }
    }

    /// One output whose taps kxLo..<kxHi are inside the image (the others read zero padding).
    @inline(__always) static func edgePixel<A: ActivationFunction, G: KernelGeometry>(
        _: A.Type, _: G.Type, _ s: DepthwiseShape, _ taps: TapRows, _ kxLo: Int, _ kxHi: Int, _ x: UnsafePointer<Float>,
        _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ c0: Int, _ c1: Int
    ) {
        let C = s.channels
        var c = c0
        while c &+ 16 <= c1 {
            let r = sumEdge(G.self, s, taps, kxLo, kxHi, loadVec(bias + c), x + c, C, w + c)
            storeVec(A.apply(r), out + c)
            c &+= 16
        }
        if c < c1 { edgePixelTail(A.self, G.self, s, taps, kxLo, kxHi, x, w, bias, out, c, c1) }
    }

    /// The last c1 − c (< 16) channels of one output, taps kxLo..<kxHi.
    @inline(__always) static func edgePixelTail<A: ActivationFunction, G: KernelGeometry>(
        _: A.Type, _: G.Type, _ s: DepthwiseShape, _ taps: TapRows, _ kxLo: Int, _ kxHi: Int, _ x: UnsafePointer<Float>,
        _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ c: Int, _ c1: Int
    ) {
        let k = G.kernel(s), C = s.channels, width = c1 &- c
        var acc = loadPartialVec(bias + c, width)
        for r in 0..<taps.count {
            let xr = x + (r &* taps.rowStep &+ c)
            let wr = w + (r &* k &* C &+ c)
            for kx in kxLo..<max(kxLo, kxHi) {  // empty for columns entirely in the padding
                acc = acc + loadPartialVec(xr + kx &* C, width) * loadPartialVec(wr + kx &* C, width)
            }
        }
        storePartialVec(A.apply(acc), out + c, width)
    }

    // MARK: Tap sums (shared with the backward pass)
    //
    // Each sums `taps.count` kernel rows × the k taps of a row; x moves by taps.rowStep per kernel row and
    // by xTapStep per tap (negative for gradInput's flipped taps); w by k·C per kernel row and C per tap.
    // The full kernel height is the common case and gets its own loop with the literal trip count k, so
    // all k·k taps unroll into straight-line code.

    /// b + Σ x·w for one output.
    @inline(__always) static func sumOne<G: KernelGeometry>(
        _: G.Type, _ s: DepthwiseShape, _ taps: TapRows, _ b: FVec, _ x: UnsafePointer<Float>, _ xTapStep: Int,
        _ w: UnsafePointer<Float>
    ) -> FVec {
        let k = G.kernel(s), C = s.channels
        var a = b
        @inline(__always) func addRow(_ r: Int) {
            let xr = x + r &* taps.rowStep
            let wr = w + r &* k &* C
            for kx in 0..<k { a = a + loadVec(xr + kx &* xTapStep) * loadVec(wr + kx &* C) }
        }
        if taps.count == k { for r in 0..<k { addRow(r) } } else { for r in 0..<taps.count { addRow(r) } }
        return a
    }

    /// b + Σ x·w for two outputs `next` floats apart in x; each weight vector is loaded once for both.
    @inline(__always) static func sumTwo<G: KernelGeometry>(
        _: G.Type, _ s: DepthwiseShape, _ taps: TapRows, _ b: FVec, _ x: UnsafePointer<Float>, _ xTapStep: Int,
        _ next: Int, _ w: UnsafePointer<Float>
    ) -> (FVec, FVec) {
        let k = G.kernel(s), C = s.channels
        var a = (b, b)
        @inline(__always) func addRow(_ r: Int) {
            let xr = x + r &* taps.rowStep
            let wr = w + r &* k &* C
            for kx in 0..<k {
                let wv = loadVec(wr + kx &* C)
                let xp = xr + kx &* xTapStep
                a.0 = a.0 + loadVec(xp) * wv
                a.1 = a.1 + loadVec(xp + next) * wv
            }
        }
        if taps.count == k { for r in 0..<k { addRow(r) } } else { for r in 0..<taps.count { addRow(r) } }
        return a
    }

    /// `sumTwo` for four outputs and 8 channels: the sums take 8 of SSE's 16 registers, which leaves
    /// room for the weight and inputs (two 16-lane sums plus the inputs the neighbours share would spill).
    @inline(__always) static func sumFour<G: KernelGeometry>(
        _: G.Type, _ s: DepthwiseShape, _ taps: TapRows, _ b: HVec, _ x: UnsafePointer<Float>, _ xTapStep: Int,
        _ next: Int, _ w: UnsafePointer<Float>
    ) -> (HVec, HVec, HVec, HVec) {
        let k = G.kernel(s), C = s.channels
        var a = (b, b, b, b)
        @inline(__always) func addRow(_ r: Int) {
            let xr = x + r &* taps.rowStep
            let wr = w + r &* k &* C
            for kx in 0..<k {
                let wv = loadHalf(wr + kx &* C)
                let xp = xr + kx &* xTapStep
                a.0 = a.0 + loadHalf(xp) * wv
                a.1 = a.1 + loadHalf(xp + next) * wv
                a.2 = a.2 + loadHalf(xp + 2 &* next) * wv
                a.3 = a.3 + loadHalf(xp + 3 &* next) * wv
            }
        }
        if taps.count == k { for r in 0..<k { addRow(r) } } else { for r in 0..<taps.count { addRow(r) } }
        return a
    }

    /// b + Σ x·w for one output over taps kxLo..<kxHi only (x and w point at tap 0).
    @inline(__always) static func sumEdge<G: KernelGeometry>(
        _: G.Type, _ s: DepthwiseShape, _ taps: TapRows, _ kxLo: Int, _ kxHi: Int, _ b: FVec,
        _ x: UnsafePointer<Float>, _ xTapStep: Int, _ w: UnsafePointer<Float>
    ) -> FVec {
        let k = G.kernel(s), C = s.channels
        var a = b
        for r in 0..<taps.count {
            let xr = x + r &* taps.rowStep
            let wr = w + r &* k &* C
            // k is a literal on the fast paths: the taps unroll, and the skips are the same for every
            // channel group of the pixel, so the branches predict well.
            for kx in 0..<k where kx >= kxLo && kx < kxHi {
                a = a + loadVec(xr + kx &* xTapStep) * loadVec(wr + kx &* C)
            }
        }
        return a
    }
}

/// The kernel rows an output reads: `count` consecutive rows, `rowStep` floats apart in the input.
struct TapRows {
    var count: Int
    var rowStep: Int
}

/// How many neighbouring interior outputs one pass over the taps computes.
///
/// Sharing weight loads between outputs and having 8 independent add chains makes the k = 5 loops
/// about 1.4x faster. For stride 1 neighbours also share inputs and four 8-channel outputs fit the
/// registers best (interior columns left over after the quads go in a pair); for larger strides two
/// 16-channel outputs do. For k = 3 and stride 1 blocks do not pay: 9 taps are too few to hide the
/// extra bookkeeping, and at training batch sizes the single-pixel walk (one new input column at a
/// time, channels in memory order) is the one the hardware prefetcher follows best (quads measured
/// up to 1.35x slower there).
enum DepthwiseBlock {
    case single, pair, quad

    var outputs: Int {
        switch self {
        case .single: return 1
        case .pair: return 2
        case .quad: return 4
        }
    }

    @inline(__always) static func choose(kernel: Int, stride: Int) -> DepthwiseBlock {
        if stride != 1 { return .pair }
        return kernel <= 3 ? .single : .quad
    }
}

extension Kernels {
    /// How the row-parallel depthwise kernels split work: each output (or input) row is a task,
    /// and when rows are too few to keep every worker busy, channels are split too, in chunks of
    /// a multiple of 16. Returns the chunk size and the number of chunks per row.
    static func rowTasks(rows: Int, channels: Int, pool: WorkerPool) -> (chunk: Int, groups: Int) {
        let wantTasks = 4 &* pool.threadCount
        let parts = rows >= wantTasks ? 1 : min((wantTasks + rows - 1) / rows, (channels + 15) / 16)
        let chunk = alignedChunk(channels, parts: parts, align: 16)
        return (chunk, (channels + chunk - 1) / chunk)
    }
}

/// Kernel size and stride as compile-time constants. The kernels are generic over a geometry and get
/// specialized per type, so k 3 and 5 with stride 1 and 2 have fully unrolled tap loops whether or not
/// the helpers are inlined (Swift's inliner gives up on very large callers). `AnyKernel` reads both
/// from the shape (the generic path).
protocol KernelGeometry {
    static func kernel(_ s: DepthwiseShape) -> Int
    static func stride(_ s: DepthwiseShape) -> Int
}

enum Kernel3Stride1: KernelGeometry {
    @inline(__always) static func kernel(_: DepthwiseShape) -> Int { 3 }
    @inline(__always) static func stride(_: DepthwiseShape) -> Int { 1 }
}

enum Kernel3Stride2: KernelGeometry {
    @inline(__always) static func kernel(_: DepthwiseShape) -> Int { 3 }
    @inline(__always) static func stride(_: DepthwiseShape) -> Int { 2 }
}

enum Kernel5Stride1: KernelGeometry {
    @inline(__always) static func kernel(_: DepthwiseShape) -> Int { 5 }
    @inline(__always) static func stride(_: DepthwiseShape) -> Int { 1 }
}

enum Kernel5Stride2: KernelGeometry {
    @inline(__always) static func kernel(_: DepthwiseShape) -> Int { 5 }
    @inline(__always) static func stride(_: DepthwiseShape) -> Int { 2 }
}

enum AnyKernel: KernelGeometry {
    @inline(__always) static func kernel(_ s: DepthwiseShape) -> Int { s.kernel }
    @inline(__always) static func stride(_ s: DepthwiseShape) -> Int { s.stride }
}

struct DepthwiseShape {
    var batch, height, width, channels, kernel, stride, padTop, padLeft, outHeight, outWidth: Int
}
