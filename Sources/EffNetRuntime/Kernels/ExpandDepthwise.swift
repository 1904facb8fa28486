/// An MBConv block's expansion fused with its depthwise convolution (inference).
///
/// Unfused, the expansion writes the block's largest tensor (B0 stage 2: 112×112×96 floats, 4.8 MB per
/// image) and the depthwise pass reads it back; on this machine that memory traffic, not arithmetic,
/// sets the time of both layers. Fused, each worker expands just the input rows its next few output
/// rows need into a band of ~512 KB that stays in its L2, and runs the depthwise row kernel over the
/// band (CEffNetSIMD's ExpandDepthwiseTemplate.h). The generator emits this call for every expansion
/// followed by a depthwise layer (`ExpandDepthwiseFusion`); `expandDepthwiseRunsFused` decides per call.
/// The arithmetic, and so every output bit, is that of the two kernels.
extension Kernels {
    /// Expanded maps of at least this many floats per image always run fused: 600 KB, about a third of
    /// this machine's 2 MB L2, which also has to hold the layer's input and the depthwise output.
    static let expandDepthwiseFusedFloats = 150 * 1024

    /// The share of a worker's L2 (512 KB) that a band, or weights read once per sub-band, may take.
    static let expandDepthwiseL2ShareFloats = 128 * 1024

    /// Fused when the map is large (B0 at batch 1: the 112x112 to 28x28 maps), when every task holds whole
    /// images (batch >= 2 x threads: no row is expanded twice) or when tasks split the expanded channels
    /// (`expandDepthwiseSplitsChannels`: B0's 14x14 and 7x7 maps at batch 1), and the expansion's weights are
    /// cheap to read once per sub-band: they fit in L2 (512 KB), each worker reads its columns of them just
    /// once (channel ranges over a map that fits one band: B0's 7x7 layers at batch 1), or re-reading them
    /// costs less traffic than writing and reading the expanded map.
    /// Otherwise two kernels: small maps at small batch split into ranges of rows (each would re-expand the
    /// rows at its edges), and wide late layers (B7's 19x19, 640 -> 3,840 channels: a band holds one row,
    /// so fused, the 9.8 MB of weights streamed from memory for every 19 pixels).
    static func expandDepthwiseRunsFused(batch: Int, height: Int, width: Int, inChannels: Int,
                                         expandedChannels: Int, kernel: Int, stride: Int, outHeight: Int,
                                         threads: Int) -> Bool {
        let splitsChannels = expandDepthwiseSplitsChannels(batch: batch, height: height, kernel: kernel,
                                                           stride: stride, outHeight: outHeight, threads: threads)
        guard batch >= 2 * threads || splitsChannels
            || height * width * expandedChannels >= expandDepthwiseFusedFloats else {
            return false
        }
        if inChannels * expandedChannels <= expandDepthwiseL2ShareFloats { return true }
        let bandRows = expandDepthwiseBandRows(width: width, expandedChannels: expandedChannels, kernel: kernel)
        let subBands = (outHeight + (bandRows - kernel) / stride) / ((bandRows - kernel) / stride + 1)
        return (splitsChannels && subBands == 1) || subBands * inChannels <= height * width
    }

    /// Ranges of output rows per image when images must be split (fewer than two per worker): a few per
    /// image so every worker has work, at least 4 rows each, and at batch 1 a multiple of the thread count.
    /// Three ranges on two workers (B0's 28x28 -> 14x14 layer: 14 rows, 3 of at least 4) left one worker
    /// two thirds of the layer: 1.48x the one-thread speed, where the other layers reached 1.8-2x.
    @inline(__always) static func expandDepthwiseRowRanges(batch: Int, outHeight: Int, threads: Int) -> Int {
        let ranges = min(max(1, outHeight / 4), (2 * threads + batch - 1) / batch)
        return batch == 1 && ranges > threads ? ranges - ranges % threads : ranges
    }

    /// Whether the tasks of a fused call split each image's expanded channels rather than its output rows.
    /// Only when images must be split: ranges of rows expand the kernel - stride input rows at each range
    /// edge twice, ranges of channels expand nothing twice but give each GEMM fewer columns. Channels when
    /// the rows expanded twice would exceed a quarter of the map (B0 at batch 1 from its 28x28 layers on:
    /// 3 edges x 4 rows of 28; not its 56x56 5x5/2 one, 3 x 3 of 56, which measured 1.11x the time in
    /// channel ranges against 0.91-0.98x for the later layers), or when the map is too short for a range
    /// per worker (7x7).
    static func expandDepthwiseSplitsChannels(batch: Int, height: Int, kernel: Int, stride: Int, outHeight: Int,
                                              threads: Int) -> Bool {
        guard threads > 1, batch < 2 * threads else { return false }
        let ranges = expandDepthwiseRowRanges(batch: batch, outHeight: outHeight, threads: threads)
        return batch * ranges < threads || (ranges - 1) * (kernel - stride) * 4 > height
    }

    /// Rows of the expanded map in one worker's band: about `expandDepthwiseL2ShareFloats`, at least `kernel`.
    @inline(__always) static func expandDepthwiseBandRows(width: Int, expandedChannels: Int, kernel: Int) -> Int {
        max(kernel, expandDepthwiseL2ShareFloats / max(1, width &* expandedChannels))
    }

    /// Whether `expandDepthwise` runs fused in this process: a C depthwise row kernel for the geometry on the
    /// active SIMD path (none on the portable `.swift` path), and `expandDepthwiseRunsFused`.
    static func expandDepthwiseFusesHere(batch: Int, height: Int, width: Int, inChannels: Int, expandedChannels: Int,
                                         kernel: Int, stride: Int, outHeight: Int, threads: Int) -> Bool {
        CSIMDKernels.active != nil && CSIMDKernels.handlesDepthwise(kernel: kernel, stride: stride)
            && expandDepthwiseRunsFused(batch: batch, height: height, width: width, inChannels: inChannels,
                                        expandedChannels: expandedChannels, kernel: kernel, stride: stride,
                                        outHeight: outHeight, threads: threads)
    }

    /// Bands of the fused path: one per worker.
    static func expandDepthwiseBandsFloats(width: Int, expandedChannels: Int, kernel: Int, threads: Int) -> Int {
        max(1, threads) * expandDepthwiseBandRows(width: width, expandedChannels: expandedChannels, kernel: kernel)
            * width * expandedChannels
    }

    /// Scratch of `expandDepthwise`: where the call runs fused, one band per worker; otherwise the expanded
    /// tensor of the images the two kernels take at a time. So the activation arena never holds a fused
    /// expansion's output (the plan leaves it out: `MemoryPlanner`), and only the calls that need it pay for it.
    public static func expandDepthwiseWorkspaceFloats(batch: Int, height: Int, width: Int, inChannels: Int,
                                                      expandedChannels: Int, kernel: Int, stride: Int, outHeight: Int,
                                                      threads: Int) -> Int {
        if expandDepthwiseFusesHere(batch: batch, height: height, width: width, inChannels: inChannels,
                                    expandedChannels: expandedChannels, kernel: kernel, stride: stride,
                                    outHeight: outHeight, threads: threads) {
            return expandDepthwiseBandsFloats(width: width, expandedChannels: expandedChannels, kernel: kernel,
                                              threads: threads)
        }
        return expandDepthwiseFallbackImages(batch: batch, height: height, width: width,
                                             expandedChannels: expandedChannels) * height * width * expandedChannels
    }

    /// Expanded floats the two-kernel path may hold at once: 16 MB (`expandDepthwiseFallbackImages`).
    static let expandDepthwiseFallbackFloats = 4 << 20

    /// Images the two-kernel path expands at a time: as many as fit in `expandDepthwiseFallbackFloats`, at
    /// least one. Its workspace then stays below a few images' expanded maps whatever the batch: on the
    /// portable `.swift` path every expansion takes two kernels (B0 at batch 16 would otherwise hold all 16
    /// images of stage 2's 112x112x96, 77 MB, beside an arena of 64 MB), and B7's widest layers expand
    /// 1.4 million floats per image. Batches that fit go through in one call each, as before.
    static func expandDepthwiseFallbackImages(batch: Int, height: Int, width: Int, expandedChannels: Int) -> Int {
        min(batch, max(1, expandDepthwiseFallbackFloats / max(1, height &* width &* expandedChannels)))
    }

    /// output = depthwise(act(expand(input))): `pointwiseConv(inputMajorWeights:)` from `inChannels` to
    /// `expandedChannels` followed by `depthwiseConv`, with the same arguments, without materialising the
    /// expanded tensor where it runs fused. `workspace` holds `expandDepthwiseWorkspaceFloats(...)` floats for
    /// the same shapes and `pool.threadCount`: the workers' bands, or, where the call takes two kernels (small
    /// maps at small batch, geometries without a C row kernel, the portable `.swift` path), the expanded tensor
    /// of a few images at a time.
    /// With `rowSums`, also the output rows' channel sums (RowChannelSums.swift).
    public static func expandDepthwise(
        input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, inChannels: Int,
        expandWeights: UnsafePointer<Float>, expandBias: UnsafePointer<Float>, expandActivation: Activation,
        expandedChannels: Int, kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
        depthwiseWeights: UnsafePointer<Float>, depthwiseBias: UnsafePointer<Float>, depthwiseActivation: Activation,
        output: UnsafeMutablePointer<Float>, rowSums: UnsafeMutablePointer<Float>? = nil,
        workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        guard let simd = CSIMDKernels.active,
              expandDepthwiseFusesHere(batch: batch, height: height, width: width, inChannels: inChannels,
                                       expandedChannels: expandedChannels, kernel: kernel, stride: stride,
                                       outHeight: outHeight, threads: pool.threadCount) else {
            // Two kernels, a few images at a time through the workspace (`expandDepthwiseFallbackImages`).
            // On the C kernels no value depends on how the images are grouped (the GEMM's rows are
            // independent, as are the depthwise output rows and their sums); OpenBLAS, the portable path's
            // GEMM, may round a row differently with a different row count.
            let chunk = expandDepthwiseFallbackImages(batch: batch, height: height, width: width,
                                                      expandedChannels: expandedChannels)
            let imageIn = height &* width &* inChannels, imageOut = outHeight &* outWidth &* expandedChannels
            var n0 = 0
            while n0 < batch {
                let images = min(chunk, batch &- n0)
                pointwiseConv(input: input + n0 &* imageIn, pixels: images &* height &* width, inChannels: inChannels,
                              inputMajorWeights: expandWeights, bias: expandBias, outChannels: expandedChannels,
                              activation: expandActivation, residual: nil, output: workspace, pool: pool)
                depthwiseConv(input: workspace, batch: images, height: height, width: width,
                              channels: expandedChannels, kernel: kernel, stride: stride, padTop: padTop,
                              padLeft: padLeft, outHeight: outHeight, outWidth: outWidth, weights: depthwiseWeights,
                              bias: depthwiseBias, activation: depthwiseActivation, output: output + n0 &* imageOut,
                              rowSums: rowSums.map { $0 + n0 &* outHeight &* expandedChannels }, pool: pool)
                n0 &+= images
            }
            return
        }
        let bandRows = expandDepthwiseBandRows(width: width, expandedChannels: expandedChannels, kernel: kernel)
        let bandFloats = bandRows &* width &* expandedChannels
        // Tasks: a whole image each once there are enough images. Otherwise ranges of one image's output
        // rows (each range edge re-expands the kernel - stride rows both sides need), or of its expanded
        // channels, one per worker (`expandDepthwiseSplitsChannels`).
        let threads = pool.threadCount
        let splitsChannels = expandDepthwiseSplitsChannels(batch: batch, height: height, kernel: kernel,
                                                           stride: stride, outHeight: outHeight, threads: threads)
        let chunk = splitsChannels ? alignedChunk(expandedChannels, parts: threads, align: 8) : expandedChannels
        let channelRanges = (expandedChannels + chunk - 1) / chunk
        let ranges = splitsChannels || batch >= 2 * threads
            ? 1 : expandDepthwiseRowRanges(batch: batch, outHeight: outHeight, threads: threads)
        let perImage = ranges &* channelRanges
        let tasks = batch &* perImage
        let workers = min(threads, tasks)
        // One band of the workspace per worker slot; the slot's body then claims tasks one by one, so a
        // worker that starts late (this VM deschedules threads for milliseconds) leaves its share to the
        // others instead of holding up the layer. Slot 0 (the calling thread, which claims parallelFor's
        // front index) takes the first rows, the others the last, as every row split does (TwoEndedTasks).
        let claims = TwoEndedTasks(count: tasks)
        pool.parallelFor(workers) { worker in
            let band = workspace + worker &* bandFloats
            while let t = claims.claim(fromFront: worker == 0) {
                let n = t / perImage, part = t &- n &* perImage
                let r = part / channelRanges, c0 = (part &- r &* channelRanges) &* chunk
                let oy0 = r &* outHeight / ranges, oy1 = (r &+ 1) &* outHeight / ranges
                _ = simd.expandDepthwiseRows(
                    expandActivation, depthwiseActivation, input: input, height: height, width: width,
                    inChannels: inChannels, expandedChannels: expandedChannels, expandWeights: expandWeights,
                    expandBias: expandBias, kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft,
                    outHeight: outHeight, outWidth: outWidth, depthwiseWeights: depthwiseWeights,
                    depthwiseBias: depthwiseBias, output: output, image: n, rows: oy0..<oy1,
                    channels: c0..<min(expandedChannels, c0 &+ chunk), band: band, bandRows: bandRows,
                    rowSums: rowSums)
            }
        }
    }
}
