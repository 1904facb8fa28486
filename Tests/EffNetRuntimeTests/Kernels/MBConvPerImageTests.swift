@testable import EffNetRuntime
import XCTest

/// An MBConv block run image by image on one worker (`Kernels.mbconvPerImage`) gives the bits of the
/// layer-by-layer calls it replaces (fused expand+depthwise with row sums, SE scales from them, the
/// scaled projection), with and without a shortcut, for stride 1 and 2, batches that split evenly and
/// unevenly over the workers; and it is chosen only where every worker gets whole images.
final class MBConvPerImageTests: XCTestCase {
    func testPerImageEqualsLayerByLayerBitForBit() throws {
        guard CSIMDKernels.active != nil else { throw XCTSkip("the per-image path needs a C SIMD path") }
        var rng = TestRandom(seed: 620)
        for (kernel, stride, residual) in [(3, 1, true), (5, 2, false)] {
            let height = 20, width = 20, inChannels = 8, expanded = 48, squeeze = 4
            let outChannels = residual ? inChannels : 16, pad = (kernel - 1) / 2
            let outHeight = (height + 2 * pad - kernel) / stride + 1, outWidth = outHeight
            let pixels = outHeight * outWidth
            for threads in [2, 3] {
                let pool = WorkerPool(threads: threads)
                for batch in [2 * threads, 4 * threads + 1] {
                    XCTAssertTrue(Kernels.mbconvRunsPerImage(
                        batch: batch, height: height, width: width, inChannels: inChannels, expandedChannels: expanded,
                        kernel: kernel, stride: stride, outHeight: outHeight, threads: threads))
                    let input = rng.floats(batch * height * width * inChannels, -2, 2)
                    let ew = rng.floats(inChannels * expanded, -0.5, 0.5), eb = rng.floats(expanded)
                    let dw = rng.floats(kernel * kernel * expanded), db = rng.floats(expanded)
                    let rw = rng.floats(squeeze * expanded), rb = rng.floats(squeeze)
                    let sw = rng.floats(expanded * squeeze), sb = rng.floats(expanded)
                    let pw = rng.floats(expanded * outChannels, -0.3, 0.3), pb = rng.floats(outChannels)
                    let shortcut: [Float]? = residual ? input : nil

                    // Layer by layer, as the generated code calls them.
                    var dwOut = [Float](repeating: .nan, count: batch * pixels * expanded)
                    var want = [Float](repeating: .nan, count: batch * pixels * outChannels)
                    var sums = [Float](repeating: .nan, count: batch * outHeight * expanded)
                    var band = [Float](repeating: .nan, count: Kernels.expandDepthwiseWorkspaceFloats(
                        batch: batch, height: height, width: width, inChannels: inChannels, expandedChannels: expanded,
                        kernel: kernel, stride: stride, outHeight: outHeight, threads: threads))
                    var scales = [Float](repeating: .nan, count: batch * expanded)
                    var seScratch = [Float](repeating: .nan, count: Kernels.squeezeExciteProjectionWorkspaceFloats(
                        batch: batch, channels: expanded, squeezeChannels: squeeze, outChannels: outChannels))
                    Kernels.expandDepthwise(
                        input: input, batch: batch, height: height, width: width, inChannels: inChannels,
                        expandWeights: ew, expandBias: eb, expandActivation: .silu, expandedChannels: expanded,
                        kernel: kernel, stride: stride, padTop: pad, padLeft: pad, outHeight: outHeight,
                        outWidth: outWidth, depthwiseWeights: dw, depthwiseBias: db, depthwiseActivation: .silu,
                        output: &dwOut, rowSums: &sums, workspace: &band, pool: pool)
                    Kernels.squeezeExciteScales(
                        dwOut, batch: batch, pixels: pixels, channels: expanded, squeezeChannels: squeeze,
                        reduceWeights: rw, reduceBias: rb, activation: .silu, expandWeights: sw, expandBias: sb,
                        rowSums: sums, rowsPerImage: outHeight, scales: &scales, workspace: &seScratch, pool: pool)
                    Kernels.pointwiseConvScaledInput(
                        input: dwOut, batch: batch, imagePixels: pixels, inChannels: expanded, inputScales: scales,
                        inputMajorWeights: pw, bias: pb, outChannels: outChannels, activation: .identity,
                        residual: shortcut, output: &want, workspace: &seScratch, pool: pool)

                    var got = [Float](repeating: .nan, count: want.count)
                    var workspace = [Float](repeating: .nan, count: Kernels.mbconvPerImageWorkspaceFloats(
                        batch: batch, width: width, expandedChannels: expanded, kernel: kernel, outHeight: outHeight,
                        outWidth: outWidth, squeezeChannels: squeeze, outChannels: outChannels, threads: threads))
                    Kernels.mbconvPerImage(
                        input: input, batch: batch, height: height, width: width, inChannels: inChannels,
                        expandWeights: ew, expandBias: eb, expandActivation: .silu, expandedChannels: expanded,
                        kernel: kernel, stride: stride, padTop: pad, padLeft: pad, outHeight: outHeight,
                        outWidth: outWidth, depthwiseWeights: dw, depthwiseBias: db, depthwiseActivation: .silu,
                        squeezeChannels: squeeze, reduceWeights: rw, reduceBias: rb,
                        squeezeActivation: .silu, squeezeExpandWeights: sw, squeezeExpandBias: sb,
                        projectWeights: pw, projectBias: pb, outChannels: outChannels, projectActivation: .identity,
                        residual: shortcut, output: &got, workspace: &workspace, pool: pool)
                    let label = "k\(kernel) s\(stride) residual \(residual) batch \(batch) threads \(threads)"
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "block output, \(label)")
                }
            }
        }
    }

    /// A block without an expansion (EfficientNet's first block) run image by image
    /// (`Kernels.depthwisePerImage`) gives the bits of its layer-by-layer calls: the depthwise layer with
    /// row sums, the SE scales from them, the scaled projection.
    func testDepthwiseFirstBlockPerImageEqualsLayerByLayerBitForBit() throws {
        guard CSIMDKernels.active != nil else { throw XCTSkip("the per-image path needs a C SIMD path") }
        var rng = TestRandom(seed: 621)
        for (kernel, stride, residual) in [(3, 1, true), (5, 2, false)] {
            let height = 18, width = 18, channels = 40, squeeze = 8
            let outChannels = residual ? channels : 24, pad = (kernel - 1) / 2
            let outHeight = (height + 2 * pad - kernel) / stride + 1, outWidth = outHeight
            let pixels = outHeight * outWidth
            for threads in [2, 3] {
                let pool = WorkerPool(threads: threads)
                for batch in [2 * threads, 4 * threads + 1] {
                    XCTAssertTrue(Kernels.depthwiseRunsPerImage(batch: batch, kernel: kernel, stride: stride,
                                                                threads: threads))
                    let input = rng.floats(batch * height * width * channels, -2, 2)
                    let dw = rng.floats(kernel * kernel * channels), db = rng.floats(channels)
                    let rw = rng.floats(squeeze * channels), rb = rng.floats(squeeze)
                    let sw = rng.floats(channels * squeeze), sb = rng.floats(channels)
                    let pw = rng.floats(channels * outChannels, -0.3, 0.3), pb = rng.floats(outChannels)
                    let shortcut: [Float]? = residual ? input : nil

                    var dwOut = [Float](repeating: .nan, count: batch * pixels * channels)
                    var want = [Float](repeating: .nan, count: batch * pixels * outChannels)
                    var sums = [Float](repeating: .nan, count: batch * outHeight * channels)
                    var scales = [Float](repeating: .nan, count: batch * channels)
                    var seScratch = [Float](repeating: .nan, count: Kernels.squeezeExciteProjectionWorkspaceFloats(
                        batch: batch, channels: channels, squeezeChannels: squeeze, outChannels: outChannels))
                    Kernels.depthwiseConv(
                        input: input, batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                        stride: stride, padTop: pad, padLeft: pad, outHeight: outHeight, outWidth: outWidth,
                        weights: dw, bias: db, activation: .silu, output: &dwOut, rowSums: &sums, pool: pool)
                    Kernels.squeezeExciteScales(
                        dwOut, batch: batch, pixels: pixels, channels: channels, squeezeChannels: squeeze,
                        reduceWeights: rw, reduceBias: rb, activation: .silu, expandWeights: sw, expandBias: sb,
                        rowSums: sums, rowsPerImage: outHeight, scales: &scales, workspace: &seScratch, pool: pool)
                    Kernels.pointwiseConvScaledInput(
                        input: dwOut, batch: batch, imagePixels: pixels, inChannels: channels, inputScales: scales,
                        inputMajorWeights: pw, bias: pb, outChannels: outChannels, activation: .identity,
                        residual: shortcut, output: &want, workspace: &seScratch, pool: pool)

                    var got = [Float](repeating: .nan, count: want.count)
                    var workspace = [Float](repeating: .nan, count: Kernels.depthwisePerImageWorkspaceFloats(
                        batch: batch, outHeight: outHeight, outWidth: outWidth, channels: channels,
                        squeezeChannels: squeeze, outChannels: outChannels, threads: threads))
                    Kernels.depthwisePerImage(
                        input: input, batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                        stride: stride, padTop: pad, padLeft: pad, outHeight: outHeight, outWidth: outWidth,
                        depthwiseWeights: dw, depthwiseBias: db, depthwiseActivation: .silu,
                        squeezeChannels: squeeze, reduceWeights: rw, reduceBias: rb,
                        squeezeActivation: .silu, squeezeExpandWeights: sw, squeezeExpandBias: sb,
                        projectWeights: pw, projectBias: pb, outChannels: outChannels, projectActivation: .identity,
                        residual: shortcut, output: &got, workspace: &workspace, pool: pool)
                    let label = "k\(kernel) s\(stride) residual \(residual) batch \(batch) threads \(threads)"
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "block output, \(label)")
                }
            }
        }
        XCTAssertFalse(Kernels.depthwiseRunsPerImage(batch: 3, kernel: 3, stride: 1, threads: 2))
        XCTAssertFalse(Kernels.depthwiseRunsPerImage(batch: 16, kernel: 3, stride: 1, threads: 1))
        XCTAssertFalse(Kernels.depthwiseRunsPerImage(batch: 16, kernel: 7, stride: 1, threads: 2))
        XCTAssertEqual(Kernels.depthwisePerImageWorkspaceFloats(batch: 1, outHeight: 56, outWidth: 56, channels: 32,
                                                                squeezeChannels: 8, outChannels: 16, threads: 2), 0)
    }

    /// The stem computed inside the first block's per-image call (`depthwisePerImage(stem:)`), image by
    /// image into the worker's scratch, gives the bits of `stemConv` followed by the per-image block. A
    /// B0-like stem (3 -> 32 channels, k3 s2, torchvision padding) on a 36x38 image, so that rows and runs
    /// cross every border, and a TF-SAME one (no top/left padding) into a k5 s2 block.
    func testStemInsideTheFirstBlockPerImageEqualsStemThenBlockBitForBit() throws {
        guard CSIMDKernels.active != nil else { throw XCTSkip("the per-image path needs a C SIMD path") }
        var rng = TestRandom(seed: 641)
        for (stemPad, kernel, stride) in [(1, 3, 1), (0, 5, 2)] {
            let inChannels = 3, imageHeight = 36, imageWidth = 38, stemKernel = 3
            let height = (imageHeight + 1 - stemKernel + (stemPad == 1 ? 1 : 0)) / 2 + 1
            let width = (imageWidth + 1 - stemKernel + (stemPad == 1 ? 1 : 0)) / 2 + 1
            let channels = 32, squeeze = 8, outChannels = 16, pad = (kernel - 1) / 2
            let outHeight = (height + 2 * pad - kernel) / stride + 1, outWidth = (width + 2 * pad - kernel) / stride + 1
            for threads in [2, 3] {
                let pool = WorkerPool(threads: threads)
                for batch in [2 * threads, 4 * threads + 1] {
                    XCTAssertTrue(Kernels.stemRunsPerImage(
                        batch: batch, inChannels: inChannels, height: imageHeight, width: imageWidth,
                        kernel: stemKernel, stride: 2, outHeight: height, outWidth: width, outChannels: channels,
                        depthwiseKernel: kernel, depthwiseStride: stride, threads: threads))
                    let images = rng.floats(batch * inChannels * imageHeight * imageWidth, -2, 2)
                    let stemWeights = rng.floats(inChannels * stemKernel * stemKernel * channels, -0.3, 0.3)
                    let stemBias = rng.floats(channels)
                    let dw = rng.floats(kernel * kernel * channels), db = rng.floats(channels)
                    let rw = rng.floats(squeeze * channels), rb = rng.floats(squeeze)
                    let sw = rng.floats(channels * squeeze), sb = rng.floats(channels)
                    let pw = rng.floats(channels * outChannels, -0.3, 0.3), pb = rng.floats(outChannels)
                    var stemOutput = [Float](repeating: .nan, count: batch * height * width * channels)
                    var stemScratch = [Float](repeating: .nan, count: Kernels.stemConvWorkspaceFloats(
                        inChannels: inChannels, kernel: stemKernel, threads: threads))
                    Kernels.stemConv(
                        input: images, batch: batch, inChannels: inChannels, height: imageHeight, width: imageWidth,
                        kernel: stemKernel, stride: 2, padTop: stemPad, padLeft: stemPad, outHeight: height,
                        outWidth: width, inputMajorWeights: stemWeights, bias: stemBias, outChannels: channels,
                        activation: .silu, output: &stemOutput, workspace: &stemScratch, pool: pool)
                    func block(stem: StemSource?) -> [Float] {
                        var output = [Float](repeating: .nan, count: batch * outHeight * outWidth * outChannels)
                        var workspace = [Float](repeating: .nan, count: Kernels.depthwisePerImageWorkspaceFloats(
                            batch: batch, outHeight: outHeight, outWidth: outWidth, channels: channels,
                            squeezeChannels: squeeze, outChannels: outChannels,
                            stemImageFloats: stem == nil ? 0 : height * width * channels, threads: threads))
                        Kernels.depthwisePerImage(
                            input: stem == nil ? stemOutput : [Float](repeating: .nan, count: stemOutput.count),
                            batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                            stride: stride, padTop: pad, padLeft: pad, outHeight: outHeight, outWidth: outWidth,
                            depthwiseWeights: dw, depthwiseBias: db, depthwiseActivation: .silu,
                            squeezeChannels: squeeze, reduceWeights: rw, reduceBias: rb,
                            squeezeActivation: .silu, squeezeExpandWeights: sw, squeezeExpandBias: sb,
                            projectWeights: pw, projectBias: pb, outChannels: outChannels,
                            projectActivation: .identity, residual: nil, output: &output, stem: stem,
                            workspace: &workspace, pool: pool)
                        return output
                    }
                    let want = block(stem: nil)
                    let got = images.withUnsafeBufferPointer { image in
                        stemWeights.withUnsafeBufferPointer { w in
                            stemBias.withUnsafeBufferPointer { b in
                                block(stem: StemSource(
                                    image: image.baseAddress!, inChannels: inChannels, height: imageHeight,
                                    width: imageWidth, kernel: stemKernel, stride: 2, padTop: stemPad,
                                    padLeft: stemPad, weights: w.baseAddress!, bias: b.baseAddress!,
                                    activation: .silu))
                            }
                        }
                    }
                    XCTAssertFalse(want.contains { $0.isNaN })
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern),
                                   "stem pad \(stemPad), block k\(kernel) s\(stride), batch \(batch), threads \(threads)")
                }
            }
        }
        XCTAssertFalse(Kernels.stemRunsPerImage(batch: 3, inChannels: 3, height: 224, width: 224, kernel: 3, stride: 2,
                                                outHeight: 112, outWidth: 112, outChannels: 32, depthwiseKernel: 3,
                                                depthwiseStride: 1, threads: 2), "not without whole images per worker")
    }

    /// Whole images per worker only: not at batch 1 or below 2 images per worker, not on one thread, and
    /// not where the images share out unevenly over few per worker (5 on two workers).
    func testRunsPerImageOnlyWithWholeImagesPerWorker() {
        func runs(batch: Int, threads: Int) -> Bool {
            Kernels.mbconvRunsPerImage(batch: batch, height: 56, width: 56, inChannels: 24, expandedChannels: 144,
                                       kernel: 3, stride: 1, outHeight: 56, threads: threads)
        }
        XCTAssertFalse(runs(batch: 1, threads: 2))
        XCTAssertFalse(runs(batch: 3, threads: 2))
        XCTAssertFalse(runs(batch: 5, threads: 2))
        XCTAssertEqual(runs(batch: 9, threads: 2), CSIMDKernels.active != nil)
        XCTAssertFalse(runs(batch: 16, threads: 1))
        XCTAssertEqual(runs(batch: 16, threads: 2), CSIMDKernels.active != nil)
    }

    /// Its scratch (a band and one image's depthwise output per worker) is only reserved where the block
    /// can run per image, so batch 1 (B7's latency case) does not pay for it.
    func testWorkspaceOnlyWhereTheBlockCanRunPerImage() {
        func floats(batch: Int, threads: Int) -> Int {
            Kernels.mbconvPerImageWorkspaceFloats(batch: batch, width: 56, expandedChannels: 144, kernel: 3,
                                                  outHeight: 56, outWidth: 56, squeezeChannels: 6, outChannels: 24,
                                                  threads: threads)
        }
        XCTAssertEqual(floats(batch: 1, threads: 2), 0)
        XCTAssertEqual(floats(batch: 3, threads: 2), 0)
        XCTAssertEqual(floats(batch: 16, threads: 1), 0)
        XCTAssertGreaterThanOrEqual(floats(batch: 4, threads: 2), 2 * 56 * 56 * 144)  // one map per worker at least
    }
}
