extension Kernels {
    /// Workspace for `squeezeExcite`: channel means, squeezed activations (and room for the scales).
    public static func squeezeExciteWorkspaceFloats(batch: Int, channels: Int, squeezeChannels: Int) -> Int {
        batch * (2 * channels + squeezeChannels)
    }

    /// Squeeze-and-excitation in place on NHWC `x` [batch][pixels][channels] (torchvision SqueezeExcitation):
    /// m = mean over pixels; h = act(reduceWeights·m + reduceBias) (reduceWeights [squeezeChannels][channels]);
    /// s = sigmoid(expandWeights·h + expandBias) (expandWeights [channels][squeezeChannels]); x[n,p,c] *= s[n,c].
    ///
    /// Two parallel passes over channel chunks (means; then scales computed for the chunk and applied to
    /// every pixel) around the small reduce matvec.
    public static func squeezeExcite(
        _ x: UnsafeMutablePointer<Float>, batch: Int, pixels: Int, channels: Int, squeezeChannels: Int,
        reduceWeights: UnsafePointer<Float>, reduceBias: UnsafePointer<Float>, activation: Activation,
        expandWeights: UnsafePointer<Float>, expandBias: UnsafePointer<Float>,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        switch activation {
        case .identity:
            squeezeExcite(IdentityFunction.self, x, batch, pixels, channels, squeezeChannels, reduceWeights,
                          reduceBias, expandWeights, expandBias, workspace, pool)
        case .silu:
            squeezeExcite(SiLUFunction.self, x, batch, pixels, channels, squeezeChannels, reduceWeights,
                          reduceBias, expandWeights, expandBias, workspace, pool)
        case .relu6:
            squeezeExcite(ReLU6Function.self, x, batch, pixels, channels, squeezeChannels, reduceWeights,
                          reduceBias, expandWeights, expandBias, workspace, pool)
        }
    }

    @inline(__always) static func squeezeExcite<A: ActivationFunction>(
        _: A.Type, _ x: UnsafeMutablePointer<Float>, _ batch: Int, _ pixels: Int, _ channels: Int,
        _ squeeze: Int, _ reduceWeights: UnsafePointer<Float>, _ reduceBias: UnsafePointer<Float>,
        _ expandWeights: UnsafePointer<Float>, _ expandBias: UnsafePointer<Float>,
        _ workspace: UnsafeMutablePointer<Float>, _ pool: WorkerPool
    ) {
        let hidden = workspace + batch &* channels  // [batch][squeeze], after the means
        squeezeExciteHidden(A.self, UnsafePointer(x), batch, pixels, channels, squeeze, reduceWeights, reduceBias,
                            means: workspace, hidden: hidden, pool)
        let (chunk, groups) = channelSplit(batch: batch, channels: channels, threads: pool.threadCount)

        // 3. Expand + sigmoid for a channel chunk, then scale that chunk at every pixel.
        pool.parallelFor(batch &* groups) { t in
            let n = t / groups
            let c0 = (t &- n &* groups) &* chunk
            let c1 = min(channels, c0 &+ chunk)
            let h = UnsafePointer(hidden + n &* squeeze)
            let image = x + n &* pixels &* channels
            var c = c0
            while c < c1 {
                let width = min(16, c1 &- c)
                let s = squeezeExciteChunkScales(expandWeights, expandBias, h, squeeze: squeeze, from: c, width: width)
                if width == 16 {
                    for p in 0..<pixels {
                        let q = image + (p &* channels &+ c)
                        storeVec(loadVec(q) * s, q)
                    }
                } else {
                    for p in 0..<pixels {
                        let q = image + (p &* channels &+ c)
                        storePartialVec(loadPartialVec(q, width) * s, q, width)
                    }
                }
                c &+= 16
            }
        }
    }

    /// Steps 1 and 2 of squeeze-excitation: means[n][c] over the pixels, then
    /// hidden[n][j] = act(Wr[j]·means[n] + br[j]).
    @inline(__always) static func squeezeExciteHidden<A: ActivationFunction>(
        _: A.Type, _ x: UnsafePointer<Float>, _ batch: Int, _ pixels: Int, _ channels: Int,
        _ squeeze: Int, _ reduceWeights: UnsafePointer<Float>, _ reduceBias: UnsafePointer<Float>,
        means: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, _ pool: WorkerPool
    ) {
        let (chunk, groups) = channelSplit(batch: batch, channels: channels, threads: pool.threadCount)
        let scale = 1 / Float(pixels)

        // 1. Channel means.
        pool.parallelFor(batch &* groups) { t in
            let n = t / groups
            let c0 = (t &- n &* groups) &* chunk
            channelMeans(x + n &* pixels &* channels, pixels: pixels, channels: channels,
                         c0: c0, c1: min(channels, c0 &+ chunk), scale: scale, output: means + n &* channels)
        }

        // 2. Reduce: hidden = act(Wr · m + br). Small; parallel only when it is worth a wake-up.
        let reduceTasks = batch &* squeeze &* channels >= 1 << 16 ? batch : 1
        pool.parallelFor(reduceTasks) { t in
            let nRange = reduceTasks == 1 ? 0..<batch : t..<(t &+ 1)
            for n in nRange {
                let m = UnsafePointer(means + n &* channels)
                for j in 0..<squeeze {
                    let v = dotProduct(reduceWeights + j &* channels, m, channels) + reduceBias[j]
                    hidden[n &* squeeze &+ j] = A.apply(v)
                }
            }
        }
    }

    /// sigmoid(We[c]·h + be[c]) for the `width` (≤ 16) channels from `c`: one image's scales.
    @inline(__always) static func squeezeExciteChunkScales(
        _ expandWeights: UnsafePointer<Float>, _ expandBias: UnsafePointer<Float>, _ h: UnsafePointer<Float>,
        squeeze: Int, from c: Int, width: Int
    ) -> FVec {
        var pre = FVec(repeating: 0)
        for i in 0..<width {
            pre[i] = dotProduct(expandWeights + (c &+ i) &* squeeze, h, squeeze) + expandBias[c &+ i]
        }
        return vectorSigmoid(pre)
    }
}
