@testable import EffNetRuntime
import XCTest

/// The depthwise layers' row sums that squeeze-excitation reads instead of its own means pass
/// (RowChannelSums.swift): the C kernel gives the Swift loop's bits, both are the rows' sums, the
/// depthwise and fused expand+depthwise calls write exactly the sums of the rows they output (on every
/// path, without changing the output), and an SE fed those sums matches the Double reference.
final class RowChannelSumsTests: XCTestCase {
    /// Widths around the four partial sums (1..8, 13) and B0's 112; channels with and without a partial
    /// 16-channel group; sub-ranges that start mid-row. Values far apart in magnitude, so a changed add
    /// order would change bits.
    func testCKernelMatchesSwiftLoopBitForBitAndTheDoubleSum() {
        var rng = TestRandom(seed: 610)
        for channels in [1, 5, 16, 17, 40, 100] {
            for width in [1, 2, 3, 4, 5, 7, 8, 13, 112] {
                let row = rng.floats(width * channels, -2, 2).enumerated().map { i, v in i % 3 == 0 ? v * 1e4 : v }
                for (c0, c1) in [(0, channels), (channels / 3, channels), (0, max(1, channels / 2))] where c0 < c1 {
                    var expected = [Float](repeating: .nan, count: channels)
                    Kernels.rowChannelSumsSwift(row, width: width, channels: channels, c0: c0, c1: c1, sums: &expected)
                    for c in 0..<channels {
                        guard c >= c0 && c < c1 else {
                            XCTAssert(expected[c].isNaN, "channel \(c) outside \(c0)..<\(c1) was written")
                            continue
                        }
                        let exact = (0..<width).reduce(0.0) { $0 + Double(row[$1 * channels + c]) }
                        let magnitude = (0..<width).reduce(0.0) { $0 + abs(Double(row[$1 * channels + c])) }
                        XCTAssertEqual(Double(expected[c]), exact, accuracy: magnitude * Double(width) * 1.2e-7,
                                       "sum of channel \(c) over \(width) pixels")
                    }
                    for (name, simd) in cKernelPaths {
                        var got = [Float](repeating: .nan, count: channels)
                        simd.rowChannelSums(row, width: width, channels: channels, c0..<c1, sums: &got)
                        XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern),
                                       "\(name) row of \(width) pixels x \(channels) channels, \(c0)..<\(c1)")
                    }
                }
            }
        }
    }

    /// The sums of each output row, in the loop's order, as a reference for the layer calls.
    private func expectedRowSums(_ output: [Float], rows: Int, width: Int, channels: Int) -> [Float] {
        var sums = [Float](repeating: .nan, count: rows * channels)
        for row in 0..<rows {
            output.withUnsafeBufferPointer { out in
                sums.withUnsafeMutableBufferPointer { s in
                    Kernels.rowChannelSumsSwift(out.baseAddress! + row * width * channels, width: width,
                                                channels: channels, c0: 0, c1: channels,
                                                sums: s.baseAddress! + row * channels)
                }
            }
        }
        return sums
    }

    /// On the Swift path and every C build, with one and two workers, for a geometry with a C row kernel
    /// and one without (k 7): the row sums are those of the rows written, and the output is the one
    /// computed without row sums, bit for bit. 70 channels over few rows split rows into channel chunks.
    func testDepthwiseWritesItsOutputRowsSums() {
        var rng = TestRandom(seed: 611)
        for (kernel, stride, channels) in [(3, 1, 70), (5, 2, 33), (7, 1, 20)] {
            let batch = 2, height = 9, width = 11, pad = (kernel - 1) / 2
            let outHeight = (height + 2 * pad - kernel) / stride + 1, outWidth = (width + 2 * pad - kernel) / stride + 1
            let shape = DepthwiseShape(batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                                       stride: stride, padTop: pad, padLeft: pad, outHeight: outHeight,
                                       outWidth: outWidth)
            let input = rng.floats(batch * height * width * channels, -2, 2)
            let weights = rng.floats(kernel * kernel * channels), bias = rng.floats(channels)
            for pool in testPools {
                for path in SIMDPath.supported {
                    let simd = CSIMDKernels(path)
                    var plain = [Float](repeating: .nan, count: batch * outHeight * outWidth * channels)
                    Kernels.depthwiseConv(shape, input, weights, bias, .silu, &plain, pool, simd: simd)
                    var output = [Float](repeating: .nan, count: plain.count)
                    var sums = [Float](repeating: .nan, count: Kernels.rowSumsFloats(
                        batch: batch, outHeight: outHeight, channels: channels))
                    sums.withUnsafeMutableBufferPointer { s in
                        Kernels.depthwiseConv(shape, input, weights, bias, .silu, &output, pool, simd: simd,
                                              rowSums: s.baseAddress!)
                    }
                    let label = "\(path) k\(kernel) s\(stride) c\(channels) threads \(pool.threadCount)"
                    XCTAssertEqual(output.map(\.bitPattern), plain.map(\.bitPattern), "\(label): output changed")
                    XCTAssertEqual(sums.map(\.bitPattern),
                                   expectedRowSums(output, rows: batch * outHeight, width: outWidth,
                                                   channels: channels).map(\.bitPattern), label)
                }
            }
        }
    }

    /// Fused (large map at batch 1, whole images at batch 4) and unfused (small map at batch 1) expand +
    /// depthwise calls write the sums of their output rows.
    func testExpandDepthwiseWritesItsOutputRowsSums() {
        var rng = TestRandom(seed: 612)
        for (height, expanded, batch) in [(40, 96, 1), (12, 48, 4), (6, 40, 1)] {
            let width = height, inChannels = 8, kernel = 3, stride = 2
            let outHeight = (height + 2 - kernel) / stride + 1, outWidth = outHeight
            let input = rng.floats(batch * height * width * inChannels, -2, 2)
            let expandWeights = rng.floats(inChannels * expanded, -0.5, 0.5), expandBias = rng.floats(expanded)
            let dwWeights = rng.floats(kernel * kernel * expanded), dwBias = rng.floats(expanded)
            for pool in testPools {
                var output = [Float](repeating: .nan, count: batch * outHeight * outWidth * expanded)
                var workspace = [Float](repeating: .nan, count: Kernels.expandDepthwiseWorkspaceFloats(
                    batch: batch, height: height, width: width, inChannels: inChannels, expandedChannels: expanded,
                    kernel: kernel, stride: stride, outHeight: outHeight, threads: pool.threadCount))
                var sums = [Float](repeating: .nan, count: Kernels.rowSumsFloats(
                    batch: batch, outHeight: outHeight, channels: expanded))
                sums.withUnsafeMutableBufferPointer { s in
                    Kernels.expandDepthwise(
                        input: input, batch: batch, height: height, width: width, inChannels: inChannels,
                        expandWeights: expandWeights, expandBias: expandBias, expandActivation: .silu,
                        expandedChannels: expanded, kernel: kernel, stride: stride, padTop: 1, padLeft: 1,
                        outHeight: outHeight, outWidth: outWidth, depthwiseWeights: dwWeights, depthwiseBias: dwBias,
                        depthwiseActivation: .silu, output: &output, rowSums: s.baseAddress!,
                        workspace: &workspace, pool: pool)
                }
                XCTAssertEqual(sums.map(\.bitPattern),
                               expectedRowSums(output, rows: batch * outHeight, width: outWidth,
                                               channels: expanded).map(\.bitPattern),
                               "\(height)x\(width)x\(expanded) batch \(batch) threads \(pool.threadCount)")
            }
        }
    }

    /// Squeeze-excitation in place and as scales for a folded projection, fed row sums instead of
    /// computing means, against the Double reference with the tolerance of the plain SE tests.
    func testSqueezeExciteFromRowSumsMatchesNaive() {
        var rng = TestRandom(seed: 613)
        for (batch, rows, width, channels, squeeze) in [(1, 7, 7, 40, 10), (3, 5, 4, 17, 3), (2, 12, 12, 96, 4)] {
            let pixels = rows * width
            let x = rng.floats(batch * pixels * channels, -3, 3)
            let reduceWeights = rng.floats(squeeze * channels), reduceBias = rng.floats(squeeze, -4, 4)
            let expandWeights = rng.floats(channels * squeeze), expandBias = rng.floats(channels)
            let sums = expectedRowSums(x, rows: batch * rows, width: width, channels: channels)
            let ref = NaiveReference.squeezeExcite(
                x: x, batch: batch, pixels: pixels, channels: channels, squeezeChannels: squeeze,
                reduceWeights: reduceWeights, reduceBias: reduceBias, activation: .silu,
                expandWeights: expandWeights, expandBias: expandBias)
            for pool in testPools {
                let label = "b\(batch) \(rows)x\(width)x\(channels) s\(squeeze) threads \(pool.threadCount)"
                var data = x
                var workspace = [Float](repeating: .nan, count: Kernels.squeezeExciteWorkspaceFloats(
                    batch: batch, channels: channels, squeezeChannels: squeeze))
                Kernels.squeezeExcite(
                    &data, batch: batch, pixels: pixels, channels: channels, squeezeChannels: squeeze,
                    reduceWeights: reduceWeights, reduceBias: reduceBias, activation: .silu,
                    expandWeights: expandWeights, expandBias: expandBias, rowSums: sums, rowsPerImage: rows,
                    workspace: &workspace, pool: pool)
                assertClose(data, ref, "in place, \(label)")
                // The scales alone: x·s must give the same reference.
                var scales = [Float](repeating: .nan, count: batch * channels)
                Kernels.squeezeExciteScales(
                    x, batch: batch, pixels: pixels, channels: channels, squeezeChannels: squeeze,
                    reduceWeights: reduceWeights, reduceBias: reduceBias, activation: .silu,
                    expandWeights: expandWeights, expandBias: expandBias, rowSums: sums, rowsPerImage: rows,
                    scales: &scales, workspace: &workspace, pool: pool)
                let scaled = x.indices.map { i in x[i] * scales[(i / (pixels * channels)) * channels + i % channels] }
                assertClose(scaled, ref, "scales, \(label)")
            }
        }
    }
}
