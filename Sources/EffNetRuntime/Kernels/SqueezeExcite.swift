extension Kernels {
    /// Maps of at most this many floats (all images together) get squeeze-excitation's passes on the
    /// calling thread. Measured on B0's 7x7x1152 layer at batch 1, in isolation: 18 µs on one thread,
    /// 39 µs split over two, where the map's cache lines move between the cores for the means and again
    /// for the scaling. In noisy profiles of the whole network B0's 16 SE layers took 0.78-0.80 ms split
    /// and 0.65-0.79 ms with this threshold.
    static let squeezeExciteSerialFloats = 1 << 17

    /// Whether squeeze-excitation's passes over a map of `floats` floats stay on the calling thread.
    @inline(__always) static func squeezeExciteRunsSerially(floats: Int) -> Bool {
        floats <= squeezeExciteSerialFloats
    }

    /// `body(t)` for every t in 0..<count: split over the pool, or one after another on the calling
    /// thread when `serially` (still as one pool job, so denormals are flushed as in every kernel).
    @inline(__always) static func forEachTask(_ count: Int, serially: Bool, pool: WorkerPool,
                                              _ body: (Int) -> Void) {
        if serially {
            pool.parallelFor(1) { _ in for t in 0..<count { body(t) } }
        } else {
            pool.parallelFor(count, body)
        }
    }

    /// Workspace for `squeezeExcite`: channel means, squeezed activations and the scales.
    public static func squeezeExciteWorkspaceFloats(batch: Int, channels: Int, squeezeChannels: Int) -> Int {
        batch * (2 * channels + squeezeChannels)
    }

    /// Squeeze-and-excitation in place on NHWC `x` [batch][pixels][channels] (torchvision SqueezeExcitation):
    /// m = mean over pixels; h = act(reduceWeights·m + reduceBias) (reduceWeights [squeezeChannels][channels]);
    /// s = sigmoid(expandWeights·h + expandBias) (expandWeights [channels][squeezeChannels]); x[n,p,c] *= s[n,c].
    ///
    /// A parallel pass over channel chunks for the means (or, given the depthwise layer's `rowSums` with
    /// `rowsPerImage` rows per image, their sum: see `squeezeExciteScales`), the small matrix-vector products
    /// per image, then a parallel pass that scales every pixel. `workspace` holds
    /// `squeezeExciteWorkspaceFloats` floats.
    public static func squeezeExcite(
        _ x: UnsafeMutablePointer<Float>, batch: Int, pixels: Int, channels: Int, squeezeChannels: Int,
        reduceWeights: UnsafePointer<Float>, reduceBias: UnsafePointer<Float>, activation: Activation,
        expandWeights: UnsafePointer<Float>, expandBias: UnsafePointer<Float>,
        rowSums: UnsafePointer<Float>? = nil, rowsPerImage: Int = 0,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let scales = workspace + batch &* (channels &+ squeezeChannels)  // after the means and the hidden vectors
        squeezeExciteScales(UnsafePointer(x), batch: batch, pixels: pixels, channels: channels,
                            squeezeChannels: squeezeChannels, reduceWeights: reduceWeights, reduceBias: reduceBias,
                            activation: activation, expandWeights: expandWeights, expandBias: expandBias,
                            rowSums: rowSums, rowsPerImage: rowsPerImage, scales: scales, workspace: workspace,
                            pool: pool)
        let serially = squeezeExciteRunsSerially(floats: batch &* pixels &* channels)
        let (chunk, groups) = channelSplit(batch: batch, channels: channels, threads: serially ? 1 : pool.threadCount)
        forEachTask(batch &* groups, serially: serially, pool: pool) { t in
            let n = t / groups
            let c0 = (t &- n &* groups) &* chunk
            let c1 = min(channels, c0 &+ chunk)
            let image = x + n &* pixels &* channels
            scaleChannels(image, scales + n &* channels, nil, pixels, channels, c0, c1, image)
        }
    }

    /// out[p][c] = x[p][c]·s[c] (+ add[c], multiplied then added) for c in c0..<c1; `out` may be `x`: the
    /// SE's excitation, in place at inference and into a new map in training, where the backward pass also
    /// uses it for dOut·s + dm. On the C kernel where there is one (ChannelPassesTemplate.h: row by row,
    /// the same bits).
    @inline(__always) static func scaleChannels(
        _ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ add: UnsafePointer<Float>?, _ pixels: Int, _ C: Int,
        _ c0: Int, _ c1: Int, _ out: UnsafeMutablePointer<Float>
    ) {
        if let simd = CSIMDKernels.active {
            simd.scaleChannels(x, scales: s, add: add, pixels: pixels, channels: C, c0..<c1, output: out)
            return
        }
        scaleChannelsSwift(x, s, add, pixels, C, c0, c1, out)
    }

    /// The portable loop of `scaleChannels` (and the reference the C kernel is tested against).
    @inline(__always) static func scaleChannelsSwift(
        _ x: UnsafePointer<Float>, _ s: UnsafePointer<Float>, _ add: UnsafePointer<Float>?, _ pixels: Int, _ C: Int,
        _ c0: Int, _ c1: Int, _ out: UnsafeMutablePointer<Float>
    ) {
        var c = c0
        while c < c1 {
            let w = min(16, c1 &- c)
            let sv = w == 16 ? loadVec(s + c) : loadPartialVec(s + c, w)
            // Without `add` nothing is added (x·s, as PyTorch computes it: x·s + 0 would turn -0 into +0).
            let av = add.map { w == 16 ? loadVec($0 + c) : loadPartialVec($0 + c, w) } ?? FVec(repeating: 0)
            let adds = add != nil
            if w == 16 {
                for p in 0..<pixels {
                    let i = p &* C &+ c
                    let y = loadVec(x + i) * sv
                    storeVec(adds ? y + av : y, out + i)
                }
            } else {
                for p in 0..<pixels {
                    let i = p &* C &+ c
                    let y = loadPartialVec(x + i, w) * sv
                    storePartialVec(adds ? y + av : y, out + i, w)
                }
            }
            c &+= 16
        }
    }

    /// The SE's scales without applying them: scales[n][c] = sigmoid(We·act(Wr·mean_p(x[n]) + br) + be)[c].
    /// `workspace` holds batch·(channels + squeezeChannels) floats (means, hidden).
    ///
    /// The means are a parallel pass over channel chunks, or, given the depthwise layer's `rowSums`
    /// (`rowsPerImage` rows per image, RowChannelSums.swift), the sum of those; the two matrix-vector
    /// products (batch × channels × squeezeChannels MACs each) run per image, on the C kernel where there is one.
    public static func squeezeExciteScales(
        _ x: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int, squeezeChannels: Int,
        reduceWeights: UnsafePointer<Float>, reduceBias: UnsafePointer<Float>, activation: Activation,
        expandWeights: UnsafePointer<Float>, expandBias: UnsafePointer<Float>,
        rowSums: UnsafePointer<Float>? = nil, rowsPerImage: Int = 0,
        scales: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let means = workspace, hidden = workspace + batch &* channels
        let serially = squeezeExciteRunsSerially(floats: batch &* pixels &* channels)
        let scale = 1 / Float(pixels)
        if rowSums == nil {
            let (chunk, groups) = channelSplit(batch: batch, channels: channels,
                                               threads: serially ? 1 : pool.threadCount)
            forEachTask(batch &* groups, serially: serially, pool: pool) { t in
                let n = t / groups
                let c0 = (t &- n &* groups) &* chunk
                channelMeans(x + n &* pixels &* channels, pixels: pixels, channels: channels,
                             c0: c0, c1: min(channels, c0 &+ chunk), scale: scale, output: means + n &* channels)
            }
        }
        // Per image (one image's products take a few µs; its row sums, rowsPerImage x channels, less).
        forEachTask(batch, serially: serially, pool: pool) { n in
            if let rowSums {
                precondition(rowsPerImage >= 1, "squeezeExciteScales: rowSums need rowsPerImage >= 1")
                channelMeansFromRowSums(rowSums + n &* rowsPerImage &* channels, rows: rowsPerImage,
                                        channels: channels, scale: scale, means: means + n &* channels)
            }
            squeezeExciteScales(ofImage: UnsafePointer(means + n &* channels), activation: activation,
                                channels: channels, squeezeChannels: squeezeChannels, reduceWeights: reduceWeights,
                                reduceBias: reduceBias, expandWeights: expandWeights, expandBias: expandBias,
                                hidden: hidden + n &* squeezeChannels, scales: scales + n &* channels)
        }
    }

    /// One image's SE scales from its channel means `m`: hidden = act(Wr·m + br), scales = sigmoid(We·hidden
    /// + be), on the C kernel where there is one. `squeezeExciteScales` calls it per image, and so do the
    /// per-image paths (`squeezeAndProjectImage`), which must give the same bits.
    @inline(__always) static func squeezeExciteScales(
        ofImage m: UnsafePointer<Float>, activation: Activation, channels: Int, squeezeChannels: Int,
        reduceWeights: UnsafePointer<Float>, reduceBias: UnsafePointer<Float>, expandWeights: UnsafePointer<Float>,
        expandBias: UnsafePointer<Float>, hidden h: UnsafeMutablePointer<Float>, scales s: UnsafeMutablePointer<Float>
    ) {
        if let simd = CSIMDKernels.active {
            simd.squeezeExciteScales(activation, channels: channels, squeezeChannels: squeezeChannels, means: m,
                                     reduceWeights: reduceWeights, reduceBias: reduceBias,
                                     expandWeights: expandWeights, expandBias: expandBias, hidden: h, scales: s)
            return
        }
        switch activation {
        case .identity:
            squeezeExciteImageScales(IdentityFunction.self, m, channels, squeezeChannels, reduceWeights,
                                     reduceBias, expandWeights, expandBias, h, s)
        case .silu:
            squeezeExciteImageScales(SiLUFunction.self, m, channels, squeezeChannels, reduceWeights,
                                     reduceBias, expandWeights, expandBias, h, s)
        case .relu6:
            squeezeExciteImageScales(ReLU6Function.self, m, channels, squeezeChannels, reduceWeights,
                                     reduceBias, expandWeights, expandBias, h, s)
        }
    }

    /// One image's hidden[j] = act(Wr[j]·m + br[j]) and scales[c] = sigmoid(We[c]·hidden + be[c]): the
    /// portable path of `squeezeExciteScales` (CEffNetSIMD's SqueezeExciteTemplate.h otherwise).
    @inline(__always) static func squeezeExciteImageScales<A: ActivationFunction>(
        _: A.Type, _ m: UnsafePointer<Float>, _ channels: Int, _ squeeze: Int, _ reduceWeights: UnsafePointer<Float>,
        _ reduceBias: UnsafePointer<Float>, _ expandWeights: UnsafePointer<Float>, _ expandBias: UnsafePointer<Float>,
        _ hidden: UnsafeMutablePointer<Float>, _ scales: UnsafeMutablePointer<Float>
    ) {
        for j in 0..<squeeze {
            hidden[j] = A.apply(dotProduct(reduceWeights + j &* channels, m, channels) + reduceBias[j])
        }
        var c = 0
        while c < channels {
            let width = min(16, channels &- c)
            var pre = FVec(repeating: 0)
            for i in 0..<width {
                pre[i] = dotProduct(expandWeights + (c &+ i) &* squeeze, hidden, squeeze) + expandBias[c &+ i]
            }
            storePartialVec(vectorSigmoid(pre), scales + c, width)
            c &+= 16
        }
    }
}
