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

    /// output[n][p][co] = act(Σ_ci input[n][p][ci]·inputScales[n][ci]·inputMajorWeights[ci][co] + bias[co])
    /// (+ residual): a 1×1 convolution of an input whose channels are scaled per image, computed with
    /// per-image scaled weights (weights input-major, as for `pointwiseConv(inputMajorWeights:)`).
    /// `workspace` holds batch·inChannels·outChannels floats.
    public static func pointwiseConvScaledInput(
        input: UnsafePointer<Float>, batch: Int, imagePixels: Int, inChannels: Int, inputScales: UnsafePointer<Float>,
        inputMajorWeights weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
        activation: Activation, residual: UnsafePointer<Float>?,
        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let matrix = outChannels &* inChannels
        // 1. Each image's weights: row ci of W times s[n][ci].
        let weightRows = batch &* inChannels
        let weightTasks = batch &* matrix >= 1 << 15 ? min(weightRows, 2 &* pool.threadCount) : 1
        let rowsPerTask = (weightRows + weightTasks - 1) / weightTasks
        pool.parallelFor(weightTasks) { t in
            let end = min(weightRows, (t &+ 1) &* rowsPerTask)
            var row = t &* rowsPerTask
            while row < end {
                let ci = row % inChannels
                scaleRow(weights + ci &* outChannels, by: inputScales[row], count: outChannels,
                         into: workspace + row &* outChannels)
                row &+= 1
            }
        }
        // 2. The GEMM tiles of every image, shared out together; each uses its image's weights.
        let threads = batch >= pool.threadCount ? 1 : pool.threadCount
        let tile = pointwiseGemmRowTile(rows: imagePixels, inChannels: inChannels, threads: threads)
        let tilesPerImage = (imagePixels + tile - 1) / tile
        pool.parallelFor(batch &* tilesPerImage) { t in
            let n = t / tilesPerImage
            let r0 = (t &- n &* tilesPerImage) &* tile
            let first = n &* imagePixels &+ r0
            pointwiseGemmTile(activation, rows: min(tile, imagePixels &- r0), cols: outChannels, inChannels: inChannels,
                              input: input + first &* inChannels, weights: workspace + n &* matrix, ldw: outChannels,
                              bias: bias, residual: residual.map { $0 + first &* outChannels },
                              output: output + first &* outChannels, ldo: outChannels)
        }
    }

    /// into[i] = row[i] · scale for i < count.
    @inline(__always) static func scaleRow(_ row: UnsafePointer<Float>, by scale: Float, count: Int,
                                           into: UnsafeMutablePointer<Float>) {
        let s = FVec(repeating: scale)
        var c = 0
        while c &+ 16 <= count {
            storeVec(loadVec(row + c) * s, into + c)
            c &+= 16
        }
        if c < count { storePartialVec(loadPartialVec(row + c, count &- c) * s, into + c, count &- c) }
    }
}
