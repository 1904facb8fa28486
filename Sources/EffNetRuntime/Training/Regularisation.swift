/// Counter-based random numbers for dropout and stochastic depth: splitmix64, whose whole state is
/// one UInt64 advanced by a constant per draw, so a run is reproducible from its seed and resumable
/// from `state` (saved in checkpoints).
public struct CounterRandom: Sendable {
    /// Number of draws so far times the splitmix64 increment, plus the seed.
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Next 64 random bits (splitmix64).
    @inline(__always) public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always) public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}

/// Dropout (inverted, PyTorch semantics) and stochastic depth (torchvision "row" mode).
/// An element / sample is kept when a uniform draw u satisfies u < 1 − p, and kept values are scaled
/// by 1/(1 − p); p == 0 draws nothing and keeps everything, p == 1 drops everything.
extension TrainingKernels {
    /// Dropout (inverted, PyTorch semantics): keep with probability 1-p, kept values scaled by 1/(1-p).
    /// mask receives 0 or 1/(1-p) per element; one draw from `random` per element (none when p == 0,
    /// which copies and writes mask 1). In place (output == input) is allowed.
    public static func dropoutForward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int,
                                      probability: Double, mask: UnsafeMutablePointer<Float>,
                                      random: inout CounterRandom) {
        precondition(probability >= 0 && probability <= 1, "dropout probability must be in [0, 1]")
        if probability == 0 {
            if UnsafePointer(output) != input { output.update(from: input, count: count) }
            mask.update(repeating: 1, count: count)
            return
        }
        let keepProbability = 1 - probability
        let scale: Float = keepProbability > 0 ? Float(1 / keepProbability) : 0
        for i in 0..<count {
            let m: Float = random.nextUniform() < keepProbability ? scale : 0
            mask[i] = m
            output[i] = input[i] * m
        }
    }

    /// gradInput = gradOutput · mask (overwrite; in place allowed).
    public static func dropoutBackward(gradOutput: UnsafePointer<Float>, mask: UnsafePointer<Float>, count: Int,
                                       gradInput: UnsafeMutablePointer<Float>) {
        var i = 0
        while i &+ 16 <= count {
            storeVec(loadVec(gradOutput + i) * loadVec(mask + i), gradInput + i)
            i &+= 16
        }
        while i < count { gradInput[i] = gradOutput[i] * mask[i]; i &+= 1 }
    }

    /// keep[n] = 0 or 1/(1-p) per sample, one draw per sample (none, and all 1, when p == 0).
    public static func stochasticDepthMask(batch: Int, probability: Double, into keep: UnsafeMutablePointer<Float>,
                                           random: inout CounterRandom) {
        precondition(probability >= 0 && probability <= 1, "stochastic depth probability must be in [0, 1]")
        if probability == 0 {
            keep.update(repeating: 1, count: batch)
            return
        }
        let survival = 1 - probability
        let scale: Float = survival > 0 ? Float(1 / survival) : 0
        for n in 0..<batch {
            keep[n] = random.nextUniform() < survival ? scale : 0
        }
    }

    /// Residual add with stochastic depth (torchvision "row" mode): output = shortcut + keep[n]*branch
    /// over `perImage` floats per sample; keep nil = all 1. output may alias shortcut or branch.
    public static func residualAdd(shortcut: UnsafePointer<Float>, branch: UnsafePointer<Float>,
                                   keep: UnsafePointer<Float>?, batch: Int, perImage: Int,
                                   output: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let (chunk, tasksPerImage) = elementwiseSplit(perImage, batch, pool)
        pool.parallelFor(batch &* tasksPerImage) { t in
            let n = t / tasksPerImage
            let start = (t &- n &* tasksPerImage) &* chunk
            let end = min(perImage, start &+ chunk)
            let base = n &* perImage
            let s = shortcut + base, b = branch + base, o = output + base
            let k = keep?[n] ?? 1
            let kv = FVec(repeating: k)
            var i = start
            while i &+ 16 <= end { storeVec(loadVec(s + i) + loadVec(b + i) * kv, o + i); i &+= 16 }
            while i < end { o[i] = s[i] + b[i] * k; i &+= 1 }
        }
    }

    /// Backward: gradBranch = keep[n]*gradOutput (overwrite; in place allowed); the shortcut's gradient
    /// is gradOutput itself (the caller accumulates it).
    public static func residualAddBackward(gradOutput: UnsafePointer<Float>, keep: UnsafePointer<Float>?,
                                           batch: Int, perImage: Int, gradBranch: UnsafeMutablePointer<Float>,
                                           pool: WorkerPool) {
        guard let keep else {
            if UnsafePointer(gradBranch) != gradOutput { gradBranch.update(from: gradOutput, count: batch &* perImage) }
            return
        }
        let (chunk, tasksPerImage) = elementwiseSplit(perImage, batch, pool)
        pool.parallelFor(batch &* tasksPerImage) { t in
            let n = t / tasksPerImage
            let start = (t &- n &* tasksPerImage) &* chunk
            let end = min(perImage, start &+ chunk)
            let base = n &* perImage
            let g = gradOutput + base, o = gradBranch + base
            let k = keep[n]
            let kv = FVec(repeating: k)
            var i = start
            while i &+ 16 <= end { storeVec(loadVec(g + i) * kv, o + i); i &+= 16 }
            while i < end { o[i] = g[i] * k; i &+= 1 }
        }
    }

    /// Per-image elementwise chunking: splits each image only when there are fewer images than workers.
    @inline(__always) static func elementwiseSplit(_ perImage: Int, _ batch: Int, _ pool: WorkerPool)
        -> (chunk: Int, tasksPerImage: Int) {
        let threads = pool.threadCount
        let parts = (batch &* perImage >= 1 << 15 && batch < 2 &* threads) ? (2 &* threads + batch - 1) / batch : 1
        let chunk = alignedChunk(perImage, parts: parts, align: 16)
        return (chunk, max(1, (perImage + chunk - 1) / chunk))
    }
}
