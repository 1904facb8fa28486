/// Kernels for the training pass: train-mode BatchNorm, the backward pass of every layer kind,
/// dropout / stochastic depth and gradient bookkeeping. Same conventions as `Kernels`: float32,
/// NHWC activations with the batch outermost, PyTorch parameter layouts unless stated, sizes as
/// arguments, no allocation. "(+=)" gradient outputs accumulate (the caller zeroes them once per
/// step); "(overwrite)" outputs are written.
public enum TrainingKernels {}

extension TrainingKernels {
    /// a += b elementwise over `count` floats (e.g. the shortcut's gradient joining the branch's).
    public static func accumulate(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int,
                                  pool: WorkerPool) {
        let (chunk, tasks) = elementwiseSplit(count, pool)
        pool.parallelFor(tasks) { t in
            let start = t &* chunk
            let end = min(count, start &+ chunk)
            var i = start
            while i &+ 16 <= end { storeVec(loadVec(a + i) + loadVec(b + i), a + i); i &+= 16 }
            while i < end { a[i] += b[i]; i &+= 1 }
        }
    }

    /// a[0..<count] = 0.
    public static func zero(_ a: UnsafeMutablePointer<Float>, count: Int) {
        if count > 0 { a.update(repeating: 0, count: count) }
    }

    /// Chunking for flat elementwise loops: one chunk per worker once the work is worth a wake-up,
    /// chunk starts on multiples of 16 floats. Returns (chunk length, number of chunks).
    @inline(__always) static func elementwiseSplit(_ count: Int, _ pool: WorkerPool) -> (chunk: Int, tasks: Int) {
        let parts = count >= 1 << 15 ? pool.threadCount : 1
        let chunk = alignedChunk(count, parts: parts, align: 16)
        return (chunk, (count + chunk - 1) / chunk)
    }
}

extension TrainingKernels {
    /// Loads `width` (1...16) floats; the full-width case is a single vector load.
    @inline(__always) static func channelLoad(_ p: UnsafePointer<Float>, _ width: Int) -> FVec {
        width == 16 ? loadVec(p) : loadPartialVec(p, width)
    }

    /// Stores the low `width` (1...16) lanes.
    @inline(__always) static func channelStore(_ v: FVec, _ p: UnsafeMutablePointer<Float>, _ width: Int) {
        if width == 16 { storeVec(v, p) } else { storePartialVec(v, p, width) }
    }

    /// slot[i] += Double(v[i]) for the low `width` lanes (flushes a float block sum into Double totals).
    @inline(__always) static func channelAdd(_ v: FVec, into slot: UnsafeMutablePointer<Double>, _ width: Int) {
        var i = 0
        while i < width { slot[i] += Double(v[i]); i &+= 1 }
    }
}
