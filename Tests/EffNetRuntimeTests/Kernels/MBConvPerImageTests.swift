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
                    var scratch = [Float](repeating: .nan, count: batch * height * width * expanded)
                    var sums = [Float](repeating: .nan, count: batch * outHeight * expanded)
                    var band = [Float](repeating: .nan, count: Kernels.expandDepthwiseWorkspaceFloats(
                        width: width, expandedChannels: expanded, kernel: kernel, threads: threads))
                    var scales = [Float](repeating: .nan, count: batch * expanded)
                    var seScratch = [Float](repeating: .nan, count: Kernels.squeezeExciteProjectionWorkspaceFloats(
                        batch: batch, channels: expanded, squeezeChannels: squeeze, outChannels: outChannels))
                    Kernels.expandDepthwise(
                        input: input, batch: batch, height: height, width: width, inChannels: inChannels,
                        expandWeights: ew, expandBias: eb, expandActivation: .silu, expandedChannels: expanded,
                        kernel: kernel, stride: stride, padTop: pad, padLeft: pad, outHeight: outHeight,
                        outWidth: outWidth, depthwiseWeights: dw, depthwiseBias: db, depthwiseActivation: .silu,
                        output: &dwOut, expanded: &scratch, rowSums: &sums, workspace: &band, pool: pool)
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
