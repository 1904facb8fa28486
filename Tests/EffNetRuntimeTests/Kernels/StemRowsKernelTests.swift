@testable import EffNetRuntime
import XCTest

/// The direct C stem kernel (StemTemplate.h) of every instruction set this CPU supports, called row range
/// by row range against the naive convolution: runs of 64 output pixels that lie inside the image (read
/// straight from it) and runs that cross an edge (copied, zero-padded, first), output channel counts that
/// need tail panels on both ISAs, TF-SAME padding, and that it writes only the rows it was given and
/// refuses, untouched, stems its offset tables cannot hold. Nothing here is timed.
final class StemRowsKernelTests: XCTestCase {
    private struct Geometry {
        var batch = 1, inChannels = 3, height: Int, width: Int, kernel = 3, stride = 2
        var padTop = 1, padLeft = 1, outHeight: Int, outWidth: Int, outChannels: Int
    }

    private func check(_ g: Geometry, seed: UInt64, rowSplits: [Int] = [], file: StaticString = #filePath,
                       line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let input = rng.floats(g.batch * g.inChannels * g.height * g.width, -2, 2)
        let weights = rng.floats(g.outChannels * g.inChannels * g.kernel * g.kernel)
        let bias = rng.floats(g.outChannels, -4, 4)
        let inputMajor = NaiveReference.inputMajor(weights, outChannels: g.outChannels,
                                                   inChannels: g.inChannels * g.kernel * g.kernel)
        let rows = g.batch * g.outHeight
        let bounds = [0] + rowSplits + [rows]
        for activation in allActivations {
            let ref = NaiveReference.conv2d(
                input: input, batch: g.batch, inChannels: g.inChannels, height: g.height, width: g.width,
                kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft, outHeight: g.outHeight,
                outWidth: g.outWidth, weights: weights, bias: bias, outChannels: g.outChannels, activation: activation)
            for (name, simd) in cKernelPaths {
                var output = [Float](repeating: .nan, count: rows * g.outWidth * g.outChannels)
                for (r0, r1) in zip(bounds, bounds.dropFirst()) {
                    let done = simd.stemRows(
                        activation, input: input, inChannels: g.inChannels, height: g.height, width: g.width,
                        kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft,
                        outHeight: g.outHeight, outWidth: g.outWidth, weights: inputMajor, bias: bias,
                        outChannels: g.outChannels, output: &output, rows: r0..<r1)
                    XCTAssertTrue(done, "\(name): stem kernel refused \(g)", file: file, line: line)
                }
                assertClose(output, ref, "\(name) stem \(g) \(activation)", file: file, line: line)
            }
        }
    }

    /// B0-like: 3 -> 32 channels, k3 s2 pad 1, 262 wide (131 outputs), so every output row below the
    /// first has two runs that read the image directly (the last one ending exactly at the right edge) and
    /// one, the first, that crosses the left edge; the first output row crosses the top.
    func testTorchvisionPaddingWithInteriorAndEdgeRunsMatchesNaive() {
        check(Geometry(height: 11, width: 262, outHeight: 6, outWidth: 131, outChannels: 32), seed: 300)
    }

    /// TF SAME (Lite stems): no top/left padding, the extra pixel bottom/right, so the last run crosses
    /// the right edge; 40 and 64 output channels need a tail panel (AVX-512: 48 + 16; AVX2: 24 + 16).
    func testTensorFlowSamePaddingAndTailPanelsMatchNaive() {
        check(Geometry(height: 10, width: 150, padTop: 0, padLeft: 0, outHeight: 5, outWidth: 75, outChannels: 40),
              seed: 301)
        check(Geometry(batch: 2, height: 7, width: 140, outHeight: 4, outWidth: 70, outChannels: 64), seed: 302)
    }

    /// Row ranges that start and end mid-image and span two images write exactly those rows.
    func testRowRangesAcrossImagesCoverTheBatch() {
        check(Geometry(batch: 3, height: 9, width: 20, outHeight: 5, outWidth: 10, outChannels: 13), seed: 303,
              rowSplits: [1, 2, 7, 11])
    }

    /// Other kernels and strides: k5 stride 1 (every row near the border crosses it), 2 channels, 3 outputs.
    func testKernelFiveStrideOneMatchesNaive() {
        check(Geometry(batch: 2, inChannels: 2, height: 7, width: 70, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                       outHeight: 7, outWidth: 70, outChannels: 3), seed: 304)
    }

    /// K = 16·5·5 = 400 exceeds the offset tables: the kernel says no and writes nothing, so `stemConv`
    /// takes its im2col path.
    func testRefusesStemsTooLargeForItsTablesWithoutWriting() {
        for (name, simd) in cKernelPaths {
            var output = [Float](repeating: .nan, count: 4 * 4 * 8)
            let input = [Float](repeating: 1, count: 16 * 8 * 8)
            let weights = [Float](repeating: 1, count: 400 * 8)
            let bias = [Float](repeating: 0, count: 8)
            let done = simd.stemRows(.identity, input: input, inChannels: 16, height: 8, width: 8, kernel: 5,
                                     stride: 2, padTop: 2, padLeft: 2, outHeight: 4, outWidth: 4, weights: weights,
                                     bias: bias, outChannels: 8, output: &output, rows: 0..<4)
            XCTAssertFalse(done, name)
            XCTAssertTrue(output.allSatisfy { $0.isNaN }, "\(name): wrote output after refusing")
        }
    }
}
