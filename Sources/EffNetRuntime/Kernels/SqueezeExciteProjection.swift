import COpenBLAS

/// Squeeze-excitation folded into the projection that follows it (inference).
///
/// An MBConv block computes project(x · s) with s[n][c] the SE scales of image n. For a 1×1
/// convolution that equals x · (W · diag(s[n])): the scales can multiply the projection's weights
/// (Cout × C per image) instead of the activation (pixels × C per image). Early in the network the
/// activation is far larger (B0 stage 2: 3,136 pixels against 24 output channels), so folding saves
/// a full read-modify-write pass over the largest tensors; late layers (49 pixels, 320 outputs) keep
/// the in-place SE. The generator decides per layer (`pixels > outChannels`).
extension Kernels {
    /// Workspace of a folded SE + projection pair: the scales [batch][channels], then the larger of
    /// the SE's means and hidden vectors and the per-image scaled projection weights.
    public static func squeezeExciteProjectionWorkspaceFloats(batch: Int, channels: Int, squeezeChannels: Int,
                                                               outChannels: Int) -> Int {
        batch * channels + max(batch * (channels + squeezeChannels), batch * outChannels * channels)
    }

    /// The SE's scales without applying them: scales[n][c] = sigmoid(We·act(Wr·mean_p(x[n]) + br) + be)[c].
    /// `workspace` holds batch·(channels + squeezeChannels) floats (means, hidden).
    public static func squeezeExciteScales(
        _ x: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int, squeezeChannels: Int,
        reduceWeights: UnsafePointer<Float>, reduceBias: UnsafePointer<Float>, activation: Activation,
        expandWeights: UnsafePointer<Float>, expandBias: UnsafePointer<Float>,
        scales: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let hidden = workspace + batch &* channels
        switch activation {
        case .identity:
            squeezeExciteHidden(IdentityFunction.self, x, batch, pixels, channels, squeezeChannels, reduceWeights,
                                reduceBias, means: workspace, hidden: hidden, pool)
        case .silu:
            squeezeExciteHidden(SiLUFunction.self, x, batch, pixels, channels, squeezeChannels, reduceWeights,
                                reduceBias, means: workspace, hidden: hidden, pool)
        case .relu6:
            squeezeExciteHidden(ReLU6Function.self, x, batch, pixels, channels, squeezeChannels, reduceWeights,
                                reduceBias, means: workspace, hidden: hidden, pool)
        }
        // Tiny (batch × channels × squeeze MACs): on the calling thread.
        for n in 0..<batch {
            let h = UnsafePointer(hidden + n &* squeezeChannels)
            var c = 0
            while c < channels {
                let width = min(16, channels &- c)
                let s = squeezeExciteChunkScales(expandWeights, expandBias, h, squeeze: squeezeChannels, from: c, width: width)
                storePartialVec(s, scales + (n &* channels &+ c), width)
                c &+= 16
            }
        }
    }

    /// output[n][p][co] = act(Σ_ci input[n][p][ci]·inputScales[n][ci]·weights[co][ci] + bias[co]) (+ residual):
    /// a 1×1 convolution of an input whose channels are scaled per image, computed with per-image
    /// scaled weights. `workspace` holds batch·outChannels·inChannels floats.
    public static func pointwiseConvScaledInput(
        input: UnsafePointer<Float>, batch: Int, imagePixels: Int, inChannels: Int, inputScales: UnsafePointer<Float>,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
        activation: Activation, residual: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        switch activation {
        case .identity:
            pointwiseConvScaledInput(IdentityFunction.self, input, batch, imagePixels, inChannels, inputScales, weights,
                                     bias, outChannels, residual, output, workspace, pool)
        case .silu:
            pointwiseConvScaledInput(SiLUFunction.self, input, batch, imagePixels, inChannels, inputScales, weights,
                                     bias, outChannels, residual, output, workspace, pool)
        case .relu6:
            pointwiseConvScaledInput(ReLU6Function.self, input, batch, imagePixels, inChannels, inputScales, weights,
                                     bias, outChannels, residual, output, workspace, pool)
        }
    }

    @inline(__always) static func pointwiseConvScaledInput<A: ActivationFunction>(
        _: A.Type, _ input: UnsafePointer<Float>, _ batch: Int, _ imagePixels: Int, _ inChannels: Int,
        _ inputScales: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
        _ outChannels: Int, _ residual: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>,
        _ workspace: UnsafeMutablePointer<Float>, _ pool: WorkerPool
    ) {
        let matrix = outChannels &* inChannels
        // 1. Each image's weights: W[co][ci] · s[n][ci].
        let weightTasks = batch &* matrix >= 1 << 15 ? min(batch &* outChannels, 2 &* pool.threadCount) : 1
        let rowsPerTask = (batch &* outChannels + weightTasks - 1) / weightTasks
        pool.parallelFor(weightTasks) { t in
            let end = min(batch &* outChannels, (t &+ 1) &* rowsPerTask)
            var row = t &* rowsPerTask
            while row < end {
                let n = row / outChannels, co = row &- n &* outChannels
                // One weight row times the image's scales: the SE's own per-channel scaling.
                TrainingKernels.scaleChannels(weights + co &* inChannels, inputScales + n &* inChannels, nil, 1,
                                              inChannels, 0, inChannels, workspace + row &* inChannels)
                row &+= 1
            }
        }
        // 2. One GEMM per row tile of an image, with that image's weights; the tiles of all images
        //    are shared out together.
        let tile = pointwiseRowTile(pixels: imagePixels, inChannels: inChannels, outChannels: outChannels,
                                    threads: batch >= pool.threadCount ? 1 : pool.threadCount)
        let tilesPerImage = (imagePixels + tile - 1) / tile
        pool.parallelFor(batch &* tilesPerImage) { t in
            let n = t / tilesPerImage
            let r0 = (t &- n &* tilesPerImage) &* tile
            let rows = min(tile, imagePixels &- r0)
            let first = n &* imagePixels &+ r0
            let out = output + first &* outChannels
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                        Int32(rows), Int32(outChannels), Int32(inChannels), 1,
                        input + first &* inChannels, Int32(inChannels), workspace + n &* matrix, Int32(inChannels),
                        0, out, Int32(outChannels))
            biasActivationEpilogue(A.self, out: out, ldo: outChannels, rows: rows, cols: outChannels,
                                   bias: bias, residual: residual.map { $0 + first &* outChannels })
        }
    }
}
