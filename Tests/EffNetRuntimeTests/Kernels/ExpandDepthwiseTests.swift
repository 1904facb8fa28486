@testable import EffNetRuntime
import XCTest

/// The expansion fused with the depthwise convolution computes, bit for bit, what the two kernels
/// compute one after the other (same GEMM and depthwise row code, only the expanded rows live in a band
/// instead of a full tensor), for every geometry the C row kernel handles, symmetric and TensorFlow
/// SAME padding, batches that split images into row ranges or channel ranges or give whole images per
/// task, and bands small enough that rows slide through them many times. Each call stays within the
/// workspace it asks for (`expandDepthwiseWorkspaceFloats`): the workers' bands where it runs fused, the
/// expanded tensor where it runs as two kernels; the activation arena has no place for that tensor.
final class ExpandDepthwiseTests: XCTestCase {
    private struct Geometry {
        var kernel, stride, padTop, padLeft: Int
        func outSize(_ size: Int, pad: Int) -> Int {
            // Symmetric padding (pad = (k-1)/2) or TF SAME (out = ceil(size/stride)).
            pad == (kernel - 1) / 2 ? (size + 2 * pad - kernel) / stride + 1 : (size + stride - 1) / stride
        }
    }

    private let geometries = [
        Geometry(kernel: 3, stride: 1, padTop: 1, padLeft: 1), Geometry(kernel: 3, stride: 2, padTop: 1, padLeft: 1),
        Geometry(kernel: 5, stride: 1, padTop: 2, padLeft: 2), Geometry(kernel: 5, stride: 2, padTop: 2, padLeft: 2),
        Geometry(kernel: 3, stride: 2, padTop: 0, padLeft: 0), Geometry(kernel: 5, stride: 2, padTop: 1, padLeft: 1),
    ]

    /// Through `Kernels.expandDepthwise` on the process's path: 64 x 256 expanded rows make a band of
    /// 8 rows, so a 37-row image goes through it in many sub-bands.
    func testFusedEqualsExpandThenDepthwiseBitForBit() {
        var rng = TestRandom(seed: 900)
        let height = 37, width = 64, inChannels = 8, expanded = 256
        for (index, g) in geometries.enumerated() {
            let outHeight = g.outSize(height, pad: g.padTop), outWidth = g.outSize(width, pad: g.padLeft)
            for batch in [1, 2, 5] {
                let input = rng.floats(batch * height * width * inChannels, -2, 2)
                let expandWeights = rng.floats(inChannels * expanded, -0.5, 0.5)
                let expandBias = rng.floats(expanded), dwWeights = rng.floats(g.kernel * g.kernel * expanded)
                let dwBias = rng.floats(expanded)
                let activations: (Activation, Activation) = index % 2 == 0 ? (.silu, .silu) : (.relu6, .identity)
                for pool in testPools {
                    var tensor = [Float](repeating: .nan, count: batch * height * width * expanded)
                    var want = [Float](repeating: .nan, count: batch * outHeight * outWidth * expanded)
                    Kernels.pointwiseConv(input: input, pixels: batch * height * width, inChannels: inChannels,
                                          inputMajorWeights: expandWeights, bias: expandBias, outChannels: expanded,
                                          activation: activations.0, residual: nil, output: &tensor, pool: pool)
                    Kernels.depthwiseConv(input: tensor, batch: batch, height: height, width: width, channels: expanded,
                                          kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft,
                                          outHeight: outHeight, outWidth: outWidth, weights: dwWeights, bias: dwBias,
                                          activation: activations.1, output: &want, pool: pool)
                    var got = [Float](repeating: .nan, count: want.count)
                    // The workspace the call asks for, then a guard band it must leave alone.
                    let asked = Kernels.expandDepthwiseWorkspaceFloats(
                        batch: batch, height: height, width: width, inChannels: inChannels, expandedChannels: expanded,
                        kernel: g.kernel, stride: g.stride, outHeight: outHeight, threads: pool.threadCount)
                    var workspace = [Float](repeating: .nan, count: asked + 4096)
                    Kernels.expandDepthwise(
                        input: input, batch: batch, height: height, width: width, inChannels: inChannels,
                        expandWeights: expandWeights, expandBias: expandBias, expandActivation: activations.0,
                        expandedChannels: expanded, kernel: g.kernel, stride: g.stride, padTop: g.padTop,
                        padLeft: g.padLeft, outHeight: outHeight, outWidth: outWidth, depthwiseWeights: dwWeights,
                        depthwiseBias: dwBias, depthwiseActivation: activations.1, output: &got,
                        workspace: &workspace, pool: pool)
                    let label = "k\(g.kernel) s\(g.stride) pad \(g.padTop),\(g.padLeft) batch \(batch) "
                        + "threads \(pool.threadCount)"
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), label)
                    XCTAssert(workspace[asked...].allSatisfy(\.isNaN), "\(label): wrote past the workspace it asked for")
                    XCTAssertFalse(workspace[..<asked].allSatisfy(\.isNaN), "\(label): asked for a workspace it never used")
                }
            }
        }
    }

    /// Small maps run fused when tasks hold whole images or, at batch 1 on several workers, ranges of the
    /// expanded channels; on one worker at batch 1 they take the two-kernel path, for which the workspace
    /// holds the whole expanded tensor (fused: only the bands). All give the two kernels' bits.
    func testSmallMapsFuseWithWholeImagesOrChannelRangesPerTask() {
        var rng = TestRandom(seed: 902)
        let height = 7, width = 7, inChannels = 16, expanded = 48, g = geometries[2]
        for batch in [1, 4] {
            let input = rng.floats(batch * height * width * inChannels, -2, 2)
            let expandWeights = rng.floats(inChannels * expanded), expandBias = rng.floats(expanded)
            let dwWeights = rng.floats(25 * expanded), dwBias = rng.floats(expanded)
            for pool in testPools {
                var tensor = [Float](repeating: .nan, count: batch * height * width * expanded)
                var want = [Float](repeating: .nan, count: tensor.count)
                Kernels.pointwiseConv(input: input, pixels: batch * height * width, inChannels: inChannels,
                                      inputMajorWeights: expandWeights, bias: expandBias, outChannels: expanded,
                                      activation: .silu, residual: nil, output: &tensor, pool: pool)
                Kernels.depthwiseConv(input: tensor, batch: batch, height: height, width: width, channels: expanded,
                                      kernel: 5, stride: 1, padTop: 2, padLeft: 2, outHeight: height, outWidth: width,
                                      weights: dwWeights, bias: dwBias, activation: .silu, output: &want, pool: pool)
                var got = [Float](repeating: .nan, count: want.count)
                var workspace = [Float](repeating: .nan, count: Kernels.expandDepthwiseWorkspaceFloats(
                    batch: batch, height: height, width: width, inChannels: inChannels, expandedChannels: expanded,
                    kernel: 5, stride: 1, outHeight: height, threads: pool.threadCount))
                Kernels.expandDepthwise(
                    input: input, batch: batch, height: height, width: width, inChannels: inChannels,
                    expandWeights: expandWeights, expandBias: expandBias, expandActivation: .silu,
                    expandedChannels: expanded, kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft,
                    outHeight: height, outWidth: width, depthwiseWeights: dwWeights, depthwiseBias: dwBias,
                    depthwiseActivation: .silu, output: &got, workspace: &workspace, pool: pool)
                let label = "7x7x48 batch \(batch) threads \(pool.threadCount)"
                XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), label)
                let fused = CSIMDKernels.active != nil && Kernels.expandDepthwiseRunsFused(
                    batch: batch, height: height, width: width, inChannels: inChannels, expandedChannels: expanded,
                    kernel: 5, stride: 1, outHeight: height, threads: pool.threadCount)
                XCTAssertEqual(fused, CSIMDKernels.active != nil && (batch >= 2 * pool.threadCount || pool.threadCount > 1),
                               label)
                let bands = Kernels.expandDepthwiseBandsFloats(width: width, expandedChannels: expanded, kernel: 5,
                                                               threads: pool.threadCount)
                XCTAssertEqual(workspace.count, fused ? bands : tensor.count, "\(label): bands iff fused, else the tensor")
            }
        }
    }

    /// Where the call runs as two kernels (here a wide expansion whose weights would stream from memory for
    /// every band), it expands a few images at a time through its workspace: one image of 40x40x2,100 floats
    /// (13 MB) at a time, not both, with the bits of the two kernels over the whole batch (on the C kernels;
    /// within rounding on the portable path, whose GEMM is OpenBLAS's).
    func testTwoKernelPathTakesAFewImagesAtATime() {
        var rng = TestRandom(seed: 903)
        let batch = 2, height = 40, width = 40, inChannels = 64, expanded = 2100, g = geometries[0]
        let input = rng.floats(batch * height * width * inChannels, -2, 2)
        let expandWeights = rng.floats(inChannels * expanded, -0.2, 0.2), expandBias = rng.floats(expanded)
        let dwWeights = rng.floats(9 * expanded), dwBias = rng.floats(expanded)
        let pool = testPools[0]
        XCTAssertFalse(Kernels.expandDepthwiseFusesHere(
            batch: batch, height: height, width: width, inChannels: inChannels, expandedChannels: expanded, kernel: 3,
            stride: 1, outHeight: height, threads: pool.threadCount), "the two-kernel path")
        var tensor = [Float](repeating: .nan, count: batch * height * width * expanded)
        var want = [Float](repeating: .nan, count: tensor.count)
        var wantSums = [Float](repeating: .nan, count: Kernels.rowSumsFloats(batch: batch, outHeight: height,
                                                                             channels: expanded))
        Kernels.pointwiseConv(input: input, pixels: batch * height * width, inChannels: inChannels,
                              inputMajorWeights: expandWeights, bias: expandBias, outChannels: expanded,
                              activation: .silu, residual: nil, output: &tensor, pool: pool)
        Kernels.depthwiseConv(input: tensor, batch: batch, height: height, width: width, channels: expanded,
                              kernel: 3, stride: 1, padTop: 1, padLeft: 1, outHeight: height, outWidth: width,
                              weights: dwWeights, bias: dwBias, activation: .silu, output: &want, rowSums: &wantSums,
                              pool: pool)
        let asked = Kernels.expandDepthwiseWorkspaceFloats(
            batch: batch, height: height, width: width, inChannels: inChannels, expandedChannels: expanded, kernel: 3,
            stride: 1, outHeight: height, threads: pool.threadCount)
        XCTAssertEqual(asked, height * width * expanded, "one image's expanded map")
        var workspace = [Float](repeating: .nan, count: asked + 4096)
        var got = [Float](repeating: .nan, count: want.count), gotSums = [Float](repeating: .nan, count: wantSums.count)
        Kernels.expandDepthwise(
            input: input, batch: batch, height: height, width: width, inChannels: inChannels,
            expandWeights: expandWeights, expandBias: expandBias, expandActivation: .silu, expandedChannels: expanded,
            kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft, outHeight: height,
            outWidth: width, depthwiseWeights: dwWeights, depthwiseBias: dwBias, depthwiseActivation: .silu,
            output: &got, rowSums: &gotSums, workspace: &workspace, pool: pool)
        if CSIMDKernels.active != nil {
            XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "output")
            XCTAssertEqual(gotSums.map(\.bitPattern), wantSums.map(\.bitPattern), "row sums")
        } else {
            // OpenBLAS (the portable path's GEMM) may round a row differently with a different row count.
            assertClose(got, want.map(Double.init), relativeTolerance: 1e-5, "output")
            assertClose(gotSums, wantSums.map(Double.init), relativeTolerance: 1e-5, "row sums")
        }
        XCTAssert(workspace[asked...].allSatisfy(\.isNaN), "wrote past the workspace it asked for")
    }

    /// Every C path, row ranges that start and end mid-image and bands from the smallest allowed
    /// (kernel rows: one output row per sub-band) up.
    func testEveryPathAndBandSizeMatchesUnfusedKernels() {
        var rng = TestRandom(seed: 901)
        let height = 11, width = 9, inChannels = 5, expanded = 40, batch = 2
        for (name, simd) in cKernelPaths {
            for g in geometries {
                let outHeight = g.outSize(height, pad: g.padTop), outWidth = g.outSize(width, pad: g.padLeft)
                let input = rng.floats(batch * height * width * inChannels, -2, 2)
                let expandWeights = rng.floats(inChannels * expanded), expandBias = rng.floats(expanded)
                let dwWeights = rng.floats(g.kernel * g.kernel * expanded), dwBias = rng.floats(expanded)
                var tensor = [Float](repeating: .nan, count: batch * height * width * expanded)
                tensor.withUnsafeMutableBufferPointer { t in
                    simd.gemmBiasActivation(.silu, rows: batch * height * width, cols: expanded, depth: inChannels,
                                            x: input, ldx: inChannels, w: expandWeights, ldw: expanded,
                                            bias: expandBias, residual: nil, y: t.baseAddress!, ldy: expanded)
                }
                var want = [Float](repeating: .nan, count: batch * outHeight * outWidth * expanded)
                let shape = DepthwiseShape(batch: batch, height: height, width: width, channels: expanded,
                                           kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft,
                                           outHeight: outHeight, outWidth: outWidth)
                Kernels.depthwiseConv(shape, tensor, dwWeights, dwBias, .relu6, &want, testPools[0], simd: simd)
                // Channel ranges as tasks split them at batch 1, and one starting mid-vector (17).
                for channelRanges in [[0..<expanded], [0..<24, 24..<expanded], [0..<17, 17..<expanded]] {
                    for bandRows in [g.kernel, g.kernel + 1, g.kernel + 3, 2 * height] {
                        var got = [Float](repeating: .nan, count: want.count)
                        var band = [Float](repeating: .nan, count: bandRows * width * expanded)
                        let split = outHeight / 3 + 1
                        for n in 0..<batch {
                            for rows in [0..<split, split..<outHeight] {
                                for channels in channelRanges {
                                    XCTAssertTrue(simd.expandDepthwiseRows(
                                        .silu, .relu6, input: input, height: height, width: width,
                                        inChannels: inChannels, expandedChannels: expanded,
                                        expandWeights: expandWeights, expandBias: expandBias, kernel: g.kernel,
                                        stride: g.stride, padTop: g.padTop, padLeft: g.padLeft, outHeight: outHeight,
                                        outWidth: outWidth, depthwiseWeights: dwWeights, depthwiseBias: dwBias,
                                        output: &got, image: n, rows: rows, channels: channels, band: &band,
                                        bandRows: bandRows))
                                }
                            }
                        }
                        XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern),
                                       "\(name) k\(g.kernel) s\(g.stride) pad \(g.padTop) band \(bandRows) "
                                           + "channels \(channelRanges)")
                    }
                }
            }
        }
    }

    /// The fusion policy on shapes of the shipped models: fused where the map is large, tasks hold whole
    /// images or tasks split the expanded channels at batch 1, but not where the expansion's weights outgrow L2 and would be re-read for every
    /// few pixels (B7's last stage at batch 1, B0's 7x7 stage even at batch 16).
    func testFusionRuleFusesLargeMapsAndKeepsWideLateLayersApart() {
        func fused(_ batch: Int, _ size: Int, _ cin: Int, _ ce: Int, _ k: Int, _ s: Int) -> Bool {
            Kernels.expandDepthwiseRunsFused(batch: batch, height: size, width: size, inChannels: cin,
                                             expandedChannels: ce, kernel: k, stride: s,
                                             outHeight: (size + s - 1) / s, threads: 2)
        }
        XCTAssertTrue(fused(1, 112, 16, 96, 3, 2), "B0 stage 2 at batch 1")
        XCTAssertTrue(fused(1, 300, 32, 192, 3, 2), "B7 stage 2 at batch 1")
        XCTAssertTrue(fused(1, 14, 112, 672, 5, 1), "B0 14x14 at batch 1: small map, in channel ranges")
        XCTAssertTrue(fused(1, 7, 192, 1152, 5, 1), "B0 7x7 at batch 1: channel ranges, weights read once")
        XCTAssertTrue(fused(2, 14, 112, 672, 5, 1), "B0 14x14 at batch 2: channel ranges too")
        XCTAssertTrue(fused(16, 14, 112, 672, 5, 1), "B0 14x14 at batch 16: whole images, weights in L2")
        XCTAssertFalse(fused(16, 7, 192, 1152, 5, 1), "B0 7x7 at batch 16: 884 KB of weights per 49 pixels")
        XCTAssertFalse(fused(1, 19, 640, 3840, 3, 1), "B7 19x19 at batch 1: 9.8 MB of weights per band row")
        XCTAssertFalse(fused(1, 38, 224, 1344, 5, 1), "B7 38x38 at batch 1: a band of one row")
    }

    /// At batch 1 an image's ranges of rows are shared out evenly: never more than the workers unless a
    /// multiple of them (3 ranges on 2 workers left one of them two thirds of B0's 28x28 -> 14x14 layer).
    func testRowRangesAtBatchOneAreAMultipleOfTheWorkers() {
        for threads in [2, 3, 4] {
            for outHeight in 1...80 {
                let ranges = Kernels.expandDepthwiseRowRanges(batch: 1, outHeight: outHeight, threads: threads)
                XCTAssertGreaterThanOrEqual(ranges, 1)
                XCTAssertTrue(ranges <= threads || ranges % threads == 0, "\(outHeight) rows, \(threads) threads: \(ranges)")
                XCTAssertLessThanOrEqual(ranges, max(1, outHeight / 4), "ranges of at least 4 rows")
            }
        }
        XCTAssertEqual(Kernels.expandDepthwiseRowRanges(batch: 1, outHeight: 14, threads: 2), 2)
        XCTAssertEqual(Kernels.expandDepthwiseRowRanges(batch: 1, outHeight: 56, threads: 2), 4)
    }
}
