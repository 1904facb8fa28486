extension Kernels {
    /// Depthwise k×k convolution, NHWC in and out, zero padding.
    ///
    /// Input pixel for output (oy, ox) and tap (ky, kx) is (oy·stride − padTop + ky,
    /// ox·stride − padLeft + kx); out-of-range pixels read zero, so bottom/right padding is implied
    /// by outHeight/outWidth (symmetric (k−1)/2 and TensorFlow SAME both fit).
    /// `weights` is [kernel][kernel][channels] (WeightPrep.depthwiseWeights); output = act(conv + bias).
    ///
    /// Vectorized over channels (16 lanes), one task per output row (and channel chunk when there are
    /// few rows); interior pixels skip all bounds checks; k 3 and 5 with stride 1 and 2 are unrolled.
    public static func depthwiseConv(
        input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, activation: Activation,
        output: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        precondition(kernel >= 1 && stride >= 1, "depthwiseConv: kernel and stride must be positive")
        let shape = DepthwiseShape(
            batch: batch, height: height, width: width, channels: channels, kernel: kernel, stride: stride,
            padTop: padTop, padLeft: padLeft, outHeight: outHeight, outWidth: outWidth)
        switch activation {
        case .identity: depthwise(IdentityFunction.self, shape, input, weights, bias, output, pool)
        case .silu: depthwise(SiLUFunction.self, shape, input, weights, bias, output, pool)
        case .relu6: depthwise(ReLU6Function.self, shape, input, weights, bias, output, pool)
        }
    }

    @inline(__always) static func depthwise<A: ActivationFunction>(
        _: A.Type, _ s: DepthwiseShape, _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
        _ bias: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, _ pool: WorkerPool
    ) {
        let rows = s.batch &* s.outHeight
        let (chunk, groups) = rowTasks(rows: rows, channels: s.channels, pool: pool)
        pool.parallelFor(rows &* groups) { t in
            let row = t / groups
            let c0 = (t &- row &* groups) &* chunk
            let c1 = min(s.channels, c0 &+ chunk)
            let n = row / s.outHeight
            let oy = row &- n &* s.outHeight
            switch (s.kernel, s.stride) {
            case (3, 1): depthwiseRow(A.self, 3, 1, s, n, oy, c0, c1, input, weights, bias, output)
            case (3, 2): depthwiseRow(A.self, 3, 2, s, n, oy, c0, c1, input, weights, bias, output)
            case (5, 1): depthwiseRow(A.self, 5, 1, s, n, oy, c0, c1, input, weights, bias, output)
            case (5, 2): depthwiseRow(A.self, 5, 2, s, n, oy, c0, c1, input, weights, bias, output)
            default: depthwiseRow(A.self, s.kernel, s.stride, s, n, oy, c0, c1, input, weights, bias, output)
            }
        }
    }

    /// One output row (n, oy), channels c0..<c1. `k` and `stride` are literals at the fast-path call sites.
    @inline(__always) static func depthwiseRow<A: ActivationFunction>(
        _: A.Type, _ k: Int, _ stride: Int, _ s: DepthwiseShape, _ n: Int, _ oy: Int, _ c0: Int, _ c1: Int,
        _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
        _ output: UnsafeMutablePointer<Float>
    ) {
        let C = s.channels
        let H = s.height, W = s.width
        let iy0 = oy &* stride &- s.padTop
        let kyLo = max(0, -iy0)
        let kyHi = min(k, H &- iy0)
        // Interior columns: every kx tap in range.
        var oxLo = (s.padLeft + stride - 1) / stride
        var oxHi = W &- k &+ s.padLeft >= 0 ? (W &- k &+ s.padLeft) / stride &+ 1 : 0
        oxHi = min(oxHi, s.outWidth)
        oxLo = min(oxLo, oxHi)
        let fullEnd = c0 &+ ((c1 &- c0) & ~15)
        let tail = c1 &- fullEnd
        let outRow = output + ((n &* s.outHeight &+ oy) &* s.outWidth) &* C
        let inImage = input + (n &* H) &* W &* C

        for ox in 0..<s.outWidth {
            let ix0 = ox &* stride &- s.padLeft
            let interior = ox >= oxLo && ox < oxHi
            let kxLo = interior ? 0 : max(0, -ix0)
            let kxHi = interior ? k : min(k, W &- ix0)
            let out = outRow + ox &* C
            var c = c0
            if interior && kyLo == 0 && kyHi == k {
                // No bounds checks at all: k is a literal here, so the taps unroll.
                let base = inImage + (iy0 &* W &+ ix0) &* C
                while c < fullEnd {
                    var acc = loadVec(bias + c)
                    for ky in 0..<k {
                        let inp = base + ((ky &* W) &* C &+ c)
                        let wp = weights + ((ky &* k) &* C &+ c)
                        for kx in 0..<k {
                            acc = acc + loadVec(inp + kx &* C) * loadVec(wp + kx &* C)
                        }
                    }
                    storeVec(A.apply(acc), out + c)
                    c &+= 16
                }
            } else {
                while c < fullEnd {
                    var acc = loadVec(bias + c)
                    for ky in kyLo..<kyHi {
                        let inp = inImage + (((iy0 &+ ky) &* W &+ ix0 &+ kxLo) &* C &+ c)
                        let wp = weights + ((ky &* k &+ kxLo) &* C &+ c)
                        for kx in 0..<(kxHi &- kxLo) {
                            acc = acc + loadVec(inp + kx &* C) * loadVec(wp + kx &* C)
                        }
                    }
                    storeVec(A.apply(acc), out + c)
                    c &+= 16
                }
            }
            if tail > 0 {
                var acc = loadPartialVec(bias + c, tail)
                for ky in kyLo..<kyHi {
                    let inp = inImage + (((iy0 &+ ky) &* W &+ ix0 &+ kxLo) &* C &+ c)
                    let wp = weights + ((ky &* k &+ kxLo) &* C &+ c)
                    for kx in 0..<(kxHi &- kxLo) {
                        acc = acc + loadPartialVec(inp + kx &* C, tail) * loadPartialVec(wp + kx &* C, tail)
                    }
                }
                storePartialVec(A.apply(acc), out + c, tail)
            }
        }
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

struct DepthwiseShape {
    var batch, height, width, channels, kernel, stride, padTop, padLeft, outHeight, outWidth: Int
}
