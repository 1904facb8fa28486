@testable import EffNetRuntime
import XCTest

/// The C depthwise backward kernels (DepthwiseBackwardTemplate.h) of every instruction set this CPU
/// supports, called on row and channel sub-ranges (as the work split does) against the naive Double
/// gradients: k 3 and 5, stride 1 and 2, symmetric and TF-SAME padding, channel tails below one vector,
/// maps narrower than the kernel. The weight gradient must add onto what the target holds, the input
/// gradient overwrite; both refuse other kernels without writing. The end-to-end kernel tests
/// (TrainingConvolutionBackwardTests) cover the split itself.
final class DepthwiseBackwardKernelTests: XCTestCase {
    private typealias Geometry = TrainingReference.ConvGeometry

    private func depthwiseShape(_ g: Geometry) -> DepthwiseShape {
        DepthwiseShape(batch: g.batch, height: g.height, width: g.width, channels: g.channels, kernel: g.kernel,
                       stride: g.stride, padTop: g.padTop, padLeft: g.padLeft, outHeight: g.outHeight,
                       outWidth: g.outWidth)
    }

    private func check(_ g: Geometry, seed: UInt64, rowSplit: Int, channelSplit: Int,
                       file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let x = rng.floats(g.inputCount, -2, 2)
        let w = rng.floats(g.kernel * g.kernel * g.channels)
        let dZ = rng.floats(g.outputCount)
        let ref = TrainingReference.depthwiseBackward(TrainingReference.doubles(dZ), TrainingReference.doubles(x),
                                                      TrainingReference.doubles(w), g)
        let shape = depthwiseShape(g)
        let rows = g.batch * g.outHeight
        for (name, simd) in cKernelPaths {
            var target = [Float](repeating: 1, count: w.count)  // the kernel adds onto it
            for rowRange in [0..<rowSplit, rowSplit..<rows] {
                for channelRange in [0..<channelSplit, channelSplit..<g.channels] {
                    let done = simd.depthwiseGradWeightsRows(shape, rows: rowRange, channels: channelRange, dZ, x,
                                                             &target)
                    XCTAssertTrue(done, "\(name) refused \(g)", file: file, line: line)
                }
            }
            assertClose(target, ref.weights.map { $0 + 1 }, "\(name) depthwise gradWeights \(g)", file: file,
                        line: line)
            var gradInput = [Float](repeating: .nan, count: g.inputCount)
            for row in 0..<(g.batch * g.height) {
                for channelRange in [0..<channelSplit, channelSplit..<g.channels] {
                    let done = simd.depthwiseGradInputRow(shape, row: row, channels: channelRange, dZ, w, &gradInput)
                    XCTAssertTrue(done, "\(name) refused the input gradient of \(g)", file: file, line: line)
                }
            }
            assertClose(gradInput, ref.input, "\(name) depthwise gradInput \(g)", file: file, line: line)
        }
    }

    func testStrideOneKernelsThreeAndFiveWithChannelTails() {
        check(Geometry(batch: 2, height: 9, width: 21, channels: 37, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
                       outHeight: 9, outWidth: 21), seed: 400, rowSplit: 7, channelSplit: 16)
        check(Geometry(batch: 1, height: 7, width: 12, channels: 5, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                       outHeight: 7, outWidth: 12), seed: 401, rowSplit: 3, channelSplit: 2)
    }

    func testStrideTwoSymmetricAndTensorFlowSamePadding() {
        check(Geometry(batch: 2, height: 11, width: 13, channels: 24, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
                       outHeight: 6, outWidth: 7), seed: 402, rowSplit: 5, channelSplit: 8)
        check(Geometry(batch: 1, height: 10, width: 10, channels: 19, kernel: 5, stride: 2, padTop: 1, padLeft: 1,
                       outHeight: 5, outWidth: 5), seed: 403, rowSplit: 2, channelSplit: 17)
        check(Geometry(batch: 3, height: 8, width: 8, channels: 48, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
                       outHeight: 4, outWidth: 4), seed: 404, rowSplit: 6, channelSplit: 32)
    }

    /// A map narrower than the kernel: no column has all its taps inside.
    func testMapsNarrowerThanTheKernel() {
        check(Geometry(batch: 2, height: 3, width: 3, channels: 20, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                       outHeight: 3, outWidth: 3), seed: 405, rowSplit: 1, channelSplit: 16)
        check(Geometry(batch: 2, height: 2, width: 2, channels: 9, kernel: 5, stride: 2, padTop: 1, padLeft: 1,
                       outHeight: 1, outWidth: 1), seed: 406, rowSplit: 1, channelSplit: 4)
    }

    /// Channel ranges whose taps outgrow L1 (K·K·channels·8 bytes > 32 KB) take the input gradient in
    /// channel blocks instead of pixel by pixel: whole and partial blocks, a channel tail, both strides.
    func testWideChannelRangesTakeTheInputGradientInChannelBlocks() {
        check(Geometry(batch: 1, height: 9, width: 11, channels: 300, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                       outHeight: 9, outWidth: 11), seed: 407, rowSplit: 4, channelSplit: 20)
        check(Geometry(batch: 2, height: 8, width: 9, channels: 520, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
                       outHeight: 4, outWidth: 5), seed: 408, rowSplit: 3, channelSplit: 8)
    }

    /// The channel-block order sums every output's taps in the pixel-by-pixel order: one call over all the
    /// channels (blocks) gives the bits of calls over 16 channels at a time (pixel by pixel).
    func testChannelBlocksKeepThePixelOrdersBits() {
        let g = Geometry(batch: 1, height: 7, width: 10, channels: 230, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                         outHeight: 7, outWidth: 10)
        var rng = TestRandom(seed: 409)
        let w = rng.floats(g.kernel * g.kernel * g.channels)
        let dZ = rng.floats(g.outputCount)
        let shape = depthwiseShape(g)
        for (name, simd) in cKernelPaths {
            var blocks = [Float](repeating: .nan, count: g.inputCount)
            var pixels = blocks
            for row in 0..<(g.batch * g.height) {
                XCTAssertTrue(simd.depthwiseGradInputRow(shape, row: row, channels: 0..<g.channels, dZ, w, &blocks))
                for c0 in stride(from: 0, to: g.channels, by: 16) {
                    XCTAssertTrue(simd.depthwiseGradInputRow(shape, row: row, channels: c0..<min(g.channels, c0 + 16),
                                                             dZ, w, &pixels))
                }
            }
            XCTAssertEqual(blocks.map(\.bitPattern), pixels.map(\.bitPattern), "\(name): bits differ")
        }
    }

    func testRefusesOtherKernelsWithoutWriting() {
        let shape = DepthwiseShape(batch: 1, height: 8, width: 8, channels: 16, kernel: 7, stride: 1, padTop: 3,
                                   padLeft: 3, outHeight: 8, outWidth: 8)
        let x = [Float](repeating: 1, count: 8 * 8 * 16)
        for (name, simd) in cKernelPaths {
            var target = [Float](repeating: .nan, count: 7 * 7 * 16)
            XCTAssertFalse(simd.depthwiseGradWeightsRows(shape, rows: 0..<8, channels: 0..<16, x, x, &target), name)
            XCTAssertTrue(target.allSatisfy { $0.isNaN }, "\(name): wrote gradWeights after refusing")
            var gradInput = [Float](repeating: .nan, count: x.count)
            XCTAssertFalse(simd.depthwiseGradInputRow(shape, row: 0, channels: 0..<16, x, target, &gradInput), name)
            XCTAssertTrue(gradInput.allSatisfy { $0.isNaN }, "\(name): wrote gradInput after refusing")
        }
    }
}
