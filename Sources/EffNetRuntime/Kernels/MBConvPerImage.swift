/// An MBConv block's expansion, depthwise convolution, squeeze-excitation and projection, one image at a
/// time on one worker (inference, batch >= 2 x threads).
///
/// Run layer by layer, each of these four steps handles every image before the next starts, so between
/// them the block's largest map (the depthwise output: 56x56x144 floats, 1.8 MB per image in B0's second
/// stage) goes out to L3 or memory for all 16 images of a batch and comes back: the projection that reads
/// it ran at 84-88 GFLOP/s at batch 16, against 130-170 on maps in cache. When tasks hold whole images
/// anyway, one worker can take its image through all four steps while the map is still in its L2 (all of
/// it from B0's third stage on; stage 2's 1.2-1.8 MB share the 2 MB with the band): the fused
/// expand+depthwise kernel with row sums, that image's SE scales from them, its scaled projection weights
/// and the projection GEMM. The depthwise output goes to one image's worth of the worker's scratch, used
/// again for its next image, not to the batch's tensor: the next image then writes lines that are still in
/// L2 instead of fetching fresh ones from L3 or memory (1.2-1.8 MB per image in stage 2) and pushing the
/// old ones out. Every step is the kernel the layer-by-layer calls use, on the same data in the
/// same order, so the output has the same bits (`ExpandDepthwise.swift`, `RowChannelSums.swift`,
/// `SqueezeExcite.swift`, `SqueezeExciteProjection.swift`); the GEMM's sums do not depend on how its rows
/// are split into tasks, also where it blocks over K (`pointwiseGemmTile`).
extension Kernels {
    /// Whether `mbconvPerImage` takes this block: a C depthwise row kernel, whole images per task, and an
    /// expansion the fused kernel takes. The images must also share out evenly, or at least 4 to a worker:
    /// at batch 5 on two workers one would take 3 whole blocks to the other's 2, where layer by layer the
    /// SE and the projection still split finely.
    public static func mbconvRunsPerImage(batch: Int, height: Int, width: Int, inChannels: Int,
                                          expandedChannels: Int, kernel: Int, stride: Int, outHeight: Int,
                                          threads: Int) -> Bool {
        guard depthwiseRunsPerImage(batch: batch, kernel: kernel, stride: stride, threads: threads) else {
            return false
        }
        return expandDepthwiseRunsFused(batch: batch, height: height, width: width, inChannels: inChannels,
                                        expandedChannels: expandedChannels, kernel: kernel, stride: stride,
                                        outHeight: outHeight, threads: threads)
    }

    /// Scratch of `mbconvPerImage`: the row sums of every image, then per worker a band, the image's
    /// depthwise output, and its means, hidden vector, scales and scaled projection weights. Zero where the
    /// block can never run per image (fewer than 2 images per worker, or one worker).
    public static func mbconvPerImageWorkspaceFloats(batch: Int, width: Int, expandedChannels: Int, kernel: Int,
                                                     outHeight: Int, outWidth: Int, squeezeChannels: Int,
                                                     outChannels: Int, threads: Int) -> Int {
        guard threads > 1, batch >= 2 * threads else { return 0 }
        return rowSumsFloats(batch: batch, outHeight: outHeight, channels: expandedChannels)
            + threads * mbconvWorkerFloats(width: width, expandedChannels: expandedChannels, kernel: kernel,
                                           outPixels: outHeight * outWidth, squeezeChannels: squeezeChannels,
                                           outChannels: outChannels)
    }

    @inline(__always) static func mbconvWorkerFloats(width: Int, expandedChannels: Int, kernel: Int, outPixels: Int,
                                                     squeezeChannels: Int, outChannels: Int) -> Int {
        expandDepthwiseBandRows(width: width, expandedChannels: expandedChannels, kernel: kernel) * width
            * expandedChannels
            + PerImageScratch.floats(outPixels: outPixels, channels: expandedChannels,
                                     squeezeChannels: squeezeChannels, outChannels: outChannels)
    }

    /// One worker's scratch for the image it is on, after the band if there is one: the image's depthwise
    /// output (used again for its next image), its channel means, SE hidden vector and scales, and its scaled
    /// projection weights. Both per-image paths lay it out with this.
    struct PerImageScratch {
        let depthwiseOutput, means, hidden, scales, weights: UnsafeMutablePointer<Float>

        static func floats(outPixels: Int, channels: Int, squeezeChannels: Int, outChannels: Int) -> Int {
            outPixels * channels + 2 * channels + squeezeChannels + channels * outChannels
        }

        init(at base: UnsafeMutablePointer<Float>, outPixels: Int, channels: Int, squeezeChannels: Int) {
            depthwiseOutput = base
            means = base + outPixels &* channels
            hidden = means + channels
            scales = hidden + squeezeChannels
            weights = scales + channels
        }
    }

    /// output = project(se(depthwise(act(expand(input))))) (+ residual) for blocks `mbconvRunsPerImage`
    /// takes, with the arguments of `expandDepthwise`, `squeezeExciteScales` and
    /// `pointwiseConvScaledInput`, except that the depthwise output stays in `workspace` (it is not
    /// written to a tensor of the batch). `workspace` holds `mbconvPerImageWorkspaceFloats` floats.
    public static func mbconvPerImage(
        input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, inChannels: Int,
        expandWeights: UnsafePointer<Float>, expandBias: UnsafePointer<Float>, expandActivation: Activation,
        expandedChannels: Int, kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
        depthwiseWeights: UnsafePointer<Float>, depthwiseBias: UnsafePointer<Float>, depthwiseActivation: Activation,
        squeezeChannels: Int, reduceWeights: UnsafePointer<Float>, reduceBias: UnsafePointer<Float>,
        squeezeActivation: Activation, squeezeExpandWeights: UnsafePointer<Float>,
        squeezeExpandBias: UnsafePointer<Float>,
        projectWeights: UnsafePointer<Float>, projectBias: UnsafePointer<Float>, outChannels: Int,
        projectActivation: Activation, residual: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let threads = pool.threadCount
        guard let simd = CSIMDKernels.active,
              mbconvRunsPerImage(batch: batch, height: height, width: width, inChannels: inChannels,
                                 expandedChannels: expandedChannels, kernel: kernel, stride: stride,
                                 outHeight: outHeight, threads: threads) else {
            preconditionFailure("mbconvPerImage: the block does not run per image (check mbconvRunsPerImage)")
        }
        let ce = expandedChannels, pixels = outHeight &* outWidth
        let rowSums = workspace
        let workers = workspace + rowSumsFloats(batch: batch, outHeight: outHeight, channels: ce)
        let workerFloats = mbconvWorkerFloats(width: width, expandedChannels: ce, kernel: kernel, outPixels: pixels,
                                              squeezeChannels: squeezeChannels, outChannels: outChannels)
        let bandRows = expandDepthwiseBandRows(width: width, expandedChannels: ce, kernel: kernel)
        // Images are claimed one by one (see expandDepthwise: a descheduled worker leaves its share).
        let claims = TwoEndedTasks(count: batch)
        pool.parallelFor(min(threads, batch)) { worker in
            let band = workers + worker &* workerFloats
            let scratch = PerImageScratch(at: band + bandRows &* width &* ce, outPixels: pixels, channels: ce,
                                          squeezeChannels: squeezeChannels)
            while let n = claims.claim(fromFront: worker == 0) {
                // Image n as image 0 of a batch that starts at it, so its output lands at the scratch's start.
                _ = simd.expandDepthwiseRows(
                    expandActivation, depthwiseActivation, input: input + n &* height &* width &* inChannels,
                    height: height, width: width,
                    inChannels: inChannels, expandedChannels: ce, expandWeights: expandWeights,
                    expandBias: expandBias, kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft,
                    outHeight: outHeight, outWidth: outWidth, depthwiseWeights: depthwiseWeights,
                    depthwiseBias: depthwiseBias, output: scratch.depthwiseOutput, image: 0, rows: 0..<outHeight,
                    band: band, bandRows: bandRows, rowSums: rowSums + n &* outHeight &* ce)
                squeezeAndProjectImage(
                    n, scratch: scratch, rowSums: rowSums, outHeight: outHeight, pixels: pixels,
                    channels: ce, squeezeChannels: squeezeChannels, reduceWeights: reduceWeights,
                    reduceBias: reduceBias, squeezeActivation: squeezeActivation,
                    squeezeExpandWeights: squeezeExpandWeights, squeezeExpandBias: squeezeExpandBias,
                    projectWeights: projectWeights, projectBias: projectBias, outChannels: outChannels,
                    projectActivation: projectActivation, residual: residual, output: output)
            }
        }
    }

    /// Image n's SE scales from its row sums, its scaled projection weights and the projection GEMM, on the
    /// calling worker: the steps after the depthwise layer that `mbconvPerImage` and `depthwisePerImage`
    /// share. `scratch.depthwiseOutput` holds image n's map alone.
    @inline(__always) static func squeezeAndProjectImage(
        _ n: Int, scratch: PerImageScratch, rowSums: UnsafePointer<Float>, outHeight: Int,
        pixels: Int, channels ce: Int, squeezeChannels: Int, reduceWeights: UnsafePointer<Float>,
        reduceBias: UnsafePointer<Float>, squeezeActivation: Activation, squeezeExpandWeights: UnsafePointer<Float>,
        squeezeExpandBias: UnsafePointer<Float>, projectWeights: UnsafePointer<Float>,
        projectBias: UnsafePointer<Float>, outChannels: Int, projectActivation: Activation,
        residual: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>
    ) {
        let means = scratch.means, scales = scratch.scales, weights = scratch.weights
        channelMeansFromRowSums(rowSums + n &* outHeight &* ce, rows: outHeight, channels: ce,
                                scale: 1 / Float(pixels), means: means)
        squeezeExciteScales(ofImage: means, activation: squeezeActivation, channels: ce,
                            squeezeChannels: squeezeChannels, reduceWeights: reduceWeights,
                            reduceBias: reduceBias, expandWeights: squeezeExpandWeights,
                            expandBias: squeezeExpandBias, hidden: scratch.hidden, scales: scales)
        for ci in 0..<ce {
            scaleRow(projectWeights + ci &* outChannels, by: scales[ci], count: outChannels,
                     into: weights + ci &* outChannels)
        }
        let first = n &* pixels
        pointwiseGemmTile(projectActivation, rows: pixels, cols: outChannels, inChannels: ce,
                          input: scratch.depthwiseOutput, weights: weights, ldw: outChannels,
                          bias: projectBias, residual: residual.map { $0 + first &* outChannels },
                          output: output + first &* outChannels, ldo: outChannels)
    }

    // MARK: - Blocks without an expansion

    /// Whether `depthwisePerImage` takes a block that starts with its depthwise layer (EfficientNet's
    /// first block, expand ratio 1): a C depthwise row kernel and whole images per task, shared out evenly
    /// or at least 4 to a worker. `mbconvRunsPerImage` asks the same, and more.
    public static func depthwiseRunsPerImage(batch: Int, kernel: Int, stride: Int, threads: Int) -> Bool {
        CSIMDKernels.active != nil && CSIMDKernels.handlesDepthwise(kernel: kernel, stride: stride)
            && threads > 1 && batch >= 2 * threads && (batch % threads == 0 || batch >= 4 * threads)
    }

    /// Scratch of `depthwisePerImage`: the row sums of every image, then per worker the image's depthwise
    /// output, means, hidden vector, scales and scaled projection weights, and with `stemImageFloats` (the
    /// block's input per image, when the stem runs inside the call) the image's stem output. Zero where the
    /// block can never run per image.
    public static func depthwisePerImageWorkspaceFloats(batch: Int, outHeight: Int, outWidth: Int, channels: Int,
                                                        squeezeChannels: Int, outChannels: Int,
                                                        stemImageFloats: Int = 0, threads: Int) -> Int {
        guard threads > 1, batch >= 2 * threads else { return 0 }
        return rowSumsFloats(batch: batch, outHeight: outHeight, channels: channels)
            + threads * (PerImageScratch.floats(outPixels: outHeight * outWidth, channels: channels,
                                                squeezeChannels: squeezeChannels, outChannels: outChannels)
                         + stemImageFloats)
    }

    /// output = project(se(depthwise(input))) (+ residual) image by image, for blocks
    /// `depthwiseRunsPerImage` takes: the depthwise rows of image n with their row sums (as
    /// `depthwiseConv(rowSums:)` computes them), then `squeezeAndProjectImage`. Same bits as the
    /// layer-by-layer calls. `workspace` holds `depthwisePerImageWorkspaceFloats` floats.
    /// With `stem` (where `stemRunsPerImage` holds), image n's input is first computed from the image by the
    /// stem, into the worker's scratch (StemPerImage.swift), and `input` is not read; the workspace then
    /// counts `stemImageFloats: height·width·channels`.
    public static func depthwisePerImage(
        input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int, kernel: Int, stride: Int,
        padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int, depthwiseWeights: UnsafePointer<Float>,
        depthwiseBias: UnsafePointer<Float>, depthwiseActivation: Activation,
        squeezeChannels: Int, reduceWeights: UnsafePointer<Float>, reduceBias: UnsafePointer<Float>,
        squeezeActivation: Activation, squeezeExpandWeights: UnsafePointer<Float>,
        squeezeExpandBias: UnsafePointer<Float>,
        projectWeights: UnsafePointer<Float>, projectBias: UnsafePointer<Float>, outChannels: Int,
        projectActivation: Activation, residual: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
        stem: StemSource? = nil, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let threads = pool.threadCount
        guard let simd = CSIMDKernels.active,
              depthwiseRunsPerImage(batch: batch, kernel: kernel, stride: stride, threads: threads) else {
            preconditionFailure("depthwisePerImage: the block does not run per image (check depthwiseRunsPerImage)")
        }
        precondition(stem == nil || residual == nil, "depthwisePerImage: a block fed by the stem has no shortcut")
        let c = channels, pixels = outHeight &* outWidth
        let rowSums = workspace
        let workers = workspace + rowSumsFloats(batch: batch, outHeight: outHeight, channels: c)
        let scratchFloats = PerImageScratch.floats(outPixels: pixels, channels: c, squeezeChannels: squeezeChannels,
                                                   outChannels: outChannels)
        let workerFloats = scratchFloats + (stem == nil ? 0 : height &* width &* c)
        // One image, as image 0 of a batch of one that starts at it.
        let shape = DepthwiseShape(batch: 1, height: height, width: width, channels: c, kernel: kernel, stride: stride,
                                   padTop: padTop, padLeft: padLeft, outHeight: outHeight, outWidth: outWidth)
        let claims = TwoEndedTasks(count: batch)
        pool.parallelFor(min(threads, batch)) { worker in
            let scratch = PerImageScratch(at: workers + worker &* workerFloats, outPixels: pixels, channels: c,
                                          squeezeChannels: squeezeChannels)
            let stemOutput = workers + worker &* workerFloats + scratchFloats
            while let n = claims.claim(fromFront: worker == 0) {
                var image = input + n &* height &* width &* c
                if let stem {
                    stemImage(stem, n, simd, outHeight: height, outWidth: width, outChannels: c, output: stemOutput)
                    image = UnsafePointer(stemOutput)
                }
                for oy in 0..<outHeight {
                    simd.depthwiseRow(depthwiseActivation, shape, oy, 0, c, image, depthwiseWeights, depthwiseBias,
                                      scratch.depthwiseOutput)
                    simd.rowChannelSums(scratch.depthwiseOutput + oy &* outWidth &* c, width: outWidth, channels: c,
                                        0..<c, sums: rowSums + (n &* outHeight &+ oy) &* c)
                }
                squeezeAndProjectImage(
                    n, scratch: scratch, rowSums: rowSums, outHeight: outHeight, pixels: pixels,
                    channels: c, squeezeChannels: squeezeChannels, reduceWeights: reduceWeights,
                    reduceBias: reduceBias, squeezeActivation: squeezeActivation,
                    squeezeExpandWeights: squeezeExpandWeights, squeezeExpandBias: squeezeExpandBias,
                    projectWeights: projectWeights, projectBias: projectBias, outChannels: outChannels,
                    projectActivation: projectActivation, residual: residual, output: output)
            }
        }
    }
}
