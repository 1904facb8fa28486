extension Kernels {
    /// Global average pool, NHWC [batch][pixels][channels] → [batch][channels].
    public static func globalAveragePool(input: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int,
                                         output: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let (chunk, groups) = channelSplit(batch: batch, channels: channels, threads: pool.threadCount)
        let scale = 1 / Float(pixels)
        pool.parallelFor(batch &* groups) { t in
            let n = t / groups
            let c0 = (t &- n &* groups) &* chunk
            let c1 = min(channels, c0 &+ chunk)
            channelMeans(input + n &* pixels &* channels, pixels: pixels, channels: channels,
                         c0: c0, c1: c1, scale: scale, output: output + n &* channels)
        }
    }

    /// Channel chunking for per-image channel-parallel loops: enough (n, chunk) tasks for the workers,
    /// chunks a multiple of 16 channels (whole cache lines).
    @inline(__always) static func channelSplit(batch: Int, channels: Int, threads: Int) -> (chunk: Int, groups: Int) {
        let wantTasks = threads > 1 ? 2 &* threads : 1
        let parts = batch >= wantTasks ? 1 : min((wantTasks + batch - 1) / batch, (channels + 15) / 16)
        let chunk = alignedChunk(channels, parts: parts, align: 16)
        return (chunk, (channels + chunk - 1) / chunk)
    }

    /// output[c] = scale · Σ_p x[p][c] for c in c0..<c1. Sums blocks of 64 pixels separately
    /// (pairwise-ish) to keep float rounding error small on 112×112 maps. On x86 the C kernel
    /// (ChannelPassesTemplate.h) does the same adds in the same order with wider vectors: the same bits.
    @inline(__always) static func channelMeans(_ x: UnsafePointer<Float>, pixels: Int, channels: Int,
                                               c0: Int, c1: Int, scale: Float, output: UnsafeMutablePointer<Float>) {
        if let simd = CSIMDKernels.active {
            simd.channelMeans(x, pixels: pixels, channels: channels, c0..<c1, scale: scale, output: output)
            return
        }
        channelMeansSwift(x, pixels: pixels, channels: channels, c0: c0, c1: c1, scale: scale, output: output)
    }

    /// The portable loop of `channelMeans` (and the reference the C kernel is tested against).
    @inline(__always) static func channelMeansSwift(_ x: UnsafePointer<Float>, pixels: Int, channels: Int,
                                                    c0: Int, c1: Int, scale: Float,
                                                    output: UnsafeMutablePointer<Float>) {
        var c = c0
        while c < c1 {
            let width = min(16, c1 &- c)
            var total = FVec(repeating: 0)
            var p = 0
            while p < pixels {
                let end = min(pixels, p &+ 64)
                var a0 = FVec(repeating: 0), a1 = FVec(repeating: 0)
                if width == 16 {
                    while p &+ 2 <= end {
                        a0 = a0 + loadVec(x + (p &* channels &+ c))
                        a1 = a1 + loadVec(x + ((p &+ 1) &* channels &+ c))
                        p &+= 2
                    }
                    if p < end { a0 = a0 + loadVec(x + (p &* channels &+ c)); p &+= 1 }
                } else {
                    while p < end { a0 = a0 + loadPartialVec(x + (p &* channels &+ c), width); p &+= 1 }
                }
                total = total + (a0 + a1)
            }
            let mean = total * FVec(repeating: scale)
            if width == 16 { storeVec(mean, output + c) } else { storePartialVec(mean, output + c, width) }
            c &+= 16
        }
    }
}
