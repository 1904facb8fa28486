@testable import EffNetRuntime
import XCTest

/// 1, 2 and 3 workers: an odd worker count splits rows and channel chunks unevenly.
private let poolsWithThree = testPools + [WorkerPool(threads: 3)]

final class DepthwiseConvTests: XCTestCase {
    private func check(batch: Int, height: Int, width: Int, channels: Int, kernel: Int, stride: Int,
                       padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int, seed: UInt64,
                       activations: [Activation] = allActivations, pools: [WorkerPool] = testPools,
                       file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let input = rng.floats(batch * height * width * channels, -2, 2)
        let torchWeights = rng.floats(channels * kernel * kernel)
        let bias = rng.floats(channels, -4, 4)
        var weights = [Float](repeating: 0, count: torchWeights.count)
        WeightPrep.depthwiseWeights(torchWeights, channels: channels, kernel: kernel, into: &weights)
        for activation in activations {
            let ref = NaiveReference.depthwiseConv(
                input: input, batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                stride: stride, padTop: padTop, padLeft: padLeft, outHeight: outHeight, outWidth: outWidth,
                torchWeights: torchWeights, bias: bias, activation: activation)
            // Every path this CPU runs: the Swift code and each C build (k 3/5, stride 1/2 rows in C).
            for pool in pools {
                for path in SIMDPath.supported {
                    let shape = DepthwiseShape(
                        batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                        stride: stride, padTop: padTop, padLeft: padLeft, outHeight: outHeight, outWidth: outWidth)
                    var output = [Float](repeating: .nan, count: batch * outHeight * outWidth * channels)
                    output.withUnsafeMutableBufferPointer { out in
                        Kernels.depthwiseConv(shape, input, weights, bias, activation, out.baseAddress!, pool,
                                              simd: CSIMDKernels(path))
                    }
                    assertClose(output, ref, "depthwise \(path) b\(batch) \(height)x\(width)x\(channels) k\(kernel) "
                                + "s\(stride) pad \(padTop),\(padLeft) out \(outHeight)x\(outWidth) \(activation) "
                                + "threads \(pool.threadCount)", file: file, line: line)
                }
            }
        }
    }

    func testStrideOneSymmetricPaddingMatchesNaiveForOddAndEvenSizes() {
        check(batch: 1, height: 9, width: 7, channels: 13, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
              outHeight: 9, outWidth: 7, seed: 10)
        check(batch: 3, height: 8, width: 8, channels: 40, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
              outHeight: 8, outWidth: 8, seed: 11)
        check(batch: 1, height: 7, width: 10, channels: 3, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
              outHeight: 7, outWidth: 10, seed: 12)
        check(batch: 3, height: 6, width: 6, channels: 48, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
              outHeight: 6, outWidth: 6, seed: 13)
    }

    func testStrideTwoSymmetricPaddingMatchesNaive() {
        // H=8, k=3, s=2, symmetric: padTop 1, out 4.
        check(batch: 1, height: 8, width: 8, channels: 40, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 4, outWidth: 4, seed: 20)
        // H=7, k=5, s=2, symmetric: padTop 2, out 4.
        check(batch: 3, height: 7, width: 7, channels: 13, kernel: 5, stride: 2, padTop: 2, padLeft: 2,
              outHeight: 4, outWidth: 4, seed: 21)
        check(batch: 1, height: 9, width: 11, channels: 19, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 5, outWidth: 6, seed: 22)
    }

    /// TensorFlow SAME: for stride 2 the extra padding pixel goes bottom/right.
    func testStrideTwoTensorFlowSamePaddingMatchesNaive() {
        // H=8, k=3, s=2: pad total 1 → top 0, bottom 1; out 4.
        check(batch: 1, height: 8, width: 8, channels: 40, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
              outHeight: 4, outWidth: 4, seed: 30)
        // H=8, k=5, s=2: pad total 3 → top 1, bottom 2; out 4.
        check(batch: 3, height: 8, width: 8, channels: 13, kernel: 5, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 4, outWidth: 4, seed: 31)
        // H=7, k=5, s=2: pad total 4 → top 2, bottom 2; out 4 (non-square: W=6 → pad 3, left 1).
        check(batch: 1, height: 7, width: 6, channels: 24, kernel: 5, stride: 2, padTop: 2, padLeft: 1,
              outHeight: 4, outWidth: 3, seed: 32)
    }

    /// Kernels other than 3 and 5 and stride 3 take the generic path.
    func testGenericKernelSizeAndStrideMatchNaive() {
        check(batch: 1, height: 9, width: 9, channels: 17, kernel: 7, stride: 1, padTop: 3, padLeft: 3,
              outHeight: 9, outWidth: 9, seed: 40, activations: [.silu])
        check(batch: 2, height: 10, width: 10, channels: 16, kernel: 3, stride: 3, padTop: 1, padLeft: 1,
              outHeight: 4, outWidth: 4, seed: 41, activations: [.relu6])
        check(batch: 1, height: 4, width: 4, channels: 8, kernel: 1, stride: 1, padTop: 0, padLeft: 0,
              outHeight: 4, outWidth: 4, seed: 42, activations: [.identity])
    }

    /// Fewer output rows than workers want: channels are split into chunks too.
    func testFewRowsManyChannelsSplitsChannelsCorrectly() {
        check(batch: 1, height: 2, width: 2, channels: 72, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
              outHeight: 2, outWidth: 2, seed: 50)
        check(batch: 1, height: 3, width: 3, channels: 96, kernel: 5, stride: 2, padTop: 2, padLeft: 2,
              outHeight: 2, outWidth: 2, seed: 51)
    }

    /// Kernel larger than the image: no interior pixels at all.
    func testKernelLargerThanImageMatchesNaive() {
        check(batch: 1, height: 2, width: 3, channels: 20, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
              outHeight: 2, outWidth: 3, seed: 60)
    }

    // MARK: Blocked interior paths
    //
    // Interior columns are computed in blocks: four outputs × 8 channels for stride 1 and k > 3 (leftover
    // interior columns in a pair of 16-channel outputs), single 16-channel outputs for stride 1 and k ≤ 3,
    // pairs of 16-channel outputs for larger strides. The cases below put every width relative to the
    // block (smaller, exactly one block, a block plus a remainder, odd), channel counts with 8- and
    // 16-lane tails, and edge columns on both sides through them.

    /// Symmetric "same" geometry for stride 1.
    private func checkSame(batch: Int = 1, height: Int, width: Int, channels: Int, kernel: Int, seed: UInt64,
                           activations: [Activation] = [.silu], pools: [WorkerPool] = testPools,
                           file: StaticString = #filePath, line: UInt = #line) {
        let pad = (kernel - 1) / 2
        check(batch: batch, height: height, width: width, channels: channels, kernel: kernel, stride: 1,
              padTop: pad, padLeft: pad, outHeight: height, outWidth: width, seed: seed,
              activations: activations, pools: pools, file: file, line: line)
    }

    func testStrideOneBlocksOverWidthsSmallerThanAndAroundTheBlock() {
        var seed: UInt64 = 100
        for kernel in [3, 5] {
            for width in [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14] {
                for channels in [8, 12, 20] {  // 8-lane blocks only, an 8-lane block plus tail, 16 + 4
                    seed += 1
                    checkSame(height: 3, width: width, channels: channels, kernel: kernel, seed: seed)
                }
            }
        }
    }

    func testStrideOneChannelCountsAroundTheBlockChoice() {
        // Tails of 1...15 lanes after the 16-lane steps (k = 3) and the 8-lane steps (k = 5).
        for (i, channels) in [1, 7, 15, 16, 17, 31, 33, 63, 64, 65, 72, 79, 80].enumerated() {
            checkSame(height: 5, width: 9, channels: channels, kernel: 3, seed: 200 + UInt64(i))
        }
        for (i, channels) in [3, 9, 24, 67].enumerated() {
            checkSame(height: 7, width: 10, channels: channels, kernel: 5, seed: 220 + UInt64(i))
        }
    }

    /// Many channels on small maps: the C row kernel then walks the row in passes over part of the channels
    /// (at least 64, so they stay in L1), with a masked tail in the last pass; each of the row's edge
    /// pixels and short blocks takes four channel groups at once.
    func testWideChannelsOnSmallMapsGoInChannelPasses() {
        check(batch: 1, height: 7, width: 7, channels: 200, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
              outHeight: 7, outWidth: 7, seed: 250)
        check(batch: 2, height: 6, width: 9, channels: 500, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
              outHeight: 6, outWidth: 9, seed: 251)
        check(batch: 1, height: 9, width: 9, channels: 300, kernel: 5, stride: 2, padTop: 2, padLeft: 2,
              outHeight: 5, outWidth: 5, seed: 252, activations: [.silu])
    }

    func testStrideTwoPairsWithOddInputSizesAndTails() {
        var seed: UInt64 = 300
        for kernel in [3, 5] {
            let pad = (kernel - 1) / 2
            for size in [5, 7, 9, 11, 13, 14] {
                for channels in [7, 16, 24, 40] {
                    seed += 1
                    let out = (size + 2 * pad - kernel) / 2 + 1
                    check(batch: 1, height: size, width: size + 2, channels: channels, kernel: kernel, stride: 2,
                          padTop: pad, padLeft: pad, outHeight: out, outWidth: (size + 2 + 2 * pad - kernel) / 2 + 1,
                          seed: seed, activations: [.silu])
                }
            }
        }
    }

    /// TensorFlow SAME for both strides: out = ceil(in / stride), the odd padding pixel bottom/right.
    func testTensorFlowSamePaddingThroughTheBlocks() {
        var seed: UInt64 = 400
        for kernel in [3, 5] {
            for stride in [1, 2] {
                for (height, width) in [(7, 9), (8, 8), (13, 6), (4, 15)] {
                    seed += 1
                    let outH = (height + stride - 1) / stride, outW = (width + stride - 1) / stride
                    let padH = max((outH - 1) * stride + kernel - height, 0)
                    let padW = max((outW - 1) * stride + kernel - width, 0)
                    check(batch: 2, height: height, width: width, channels: 24, kernel: kernel, stride: stride,
                          padTop: padH / 2, padLeft: padW / 2, outHeight: outH, outWidth: outW, seed: seed,
                          activations: [.relu6])
                }
            }
        }
    }

    /// No padding, and more padding than (k − 1)/2 (rows and columns entirely outside the image).
    func testValidAndOverPaddedGeometries() {
        for (i, (kernel, stride)) in [(3, 1), (3, 2), (5, 1), (5, 2)].enumerated() {
            let seed = 500 + UInt64(i) * 2
            check(batch: 1, height: 11, width: 12, channels: 20, kernel: kernel, stride: stride, padTop: 0, padLeft: 0,
                  outHeight: (11 - kernel) / stride + 1, outWidth: (12 - kernel) / stride + 1, seed: seed,
                  activations: [.identity])
            let pad = kernel - 1
            check(batch: 1, height: 6, width: 9, channels: 20, kernel: kernel, stride: stride, padTop: pad, padLeft: pad,
                  outHeight: (6 + 2 * pad - kernel) / stride + 1, outWidth: (9 + 2 * pad - kernel) / stride + 1,
                  seed: seed + 1, activations: [.identity])
        }
    }

    /// Batch 3 with 1, 2 and 3 workers, B0-like channel counts on small images (7×7 with k = 5 has
    /// only three interior columns, fewer than a block).
    func testBatchThreeWithOneTwoAndThreeWorkers() {
        check(batch: 3, height: 7, width: 7, channels: 96, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
              outHeight: 7, outWidth: 7, seed: 600, activations: [.silu], pools: poolsWithThree)
        check(batch: 3, height: 14, width: 14, channels: 80, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
              outHeight: 14, outWidth: 14, seed: 601, activations: [.silu], pools: poolsWithThree)
        check(batch: 3, height: 12, width: 12, channels: 32, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
              outHeight: 12, outWidth: 12, seed: 602, activations: [.relu6], pools: poolsWithThree)
        check(batch: 3, height: 15, width: 15, channels: 48, kernel: 5, stride: 2, padTop: 2, padLeft: 2,
              outHeight: 8, outWidth: 8, seed: 603, activations: [.silu], pools: poolsWithThree)
        check(batch: 3, height: 9, width: 9, channels: 33, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
              outHeight: 5, outWidth: 5, seed: 604, activations: [.identity], pools: poolsWithThree)
    }

    /// Kernels without a specialization run the same block code with runtime sizes.
    func testGenericKernelsThroughTheBlocks() {
        // k = 7 and k = 4 (even) stride 1: four-output blocks; k = 1; k = 7 stride 2: pairs; stride 3.
        check(batch: 2, height: 9, width: 13, channels: 20, kernel: 7, stride: 1, padTop: 3, padLeft: 3,
              outHeight: 9, outWidth: 13, seed: 700, activations: [.silu], pools: poolsWithThree)
        check(batch: 1, height: 8, width: 11, channels: 12, kernel: 4, stride: 1, padTop: 1, padLeft: 2,
              outHeight: 8, outWidth: 11, seed: 701, activations: [.identity])
        check(batch: 1, height: 5, width: 9, channels: 70, kernel: 1, stride: 1, padTop: 0, padLeft: 0,
              outHeight: 5, outWidth: 9, seed: 702, activations: [.relu6])
        check(batch: 1, height: 15, width: 17, channels: 24, kernel: 7, stride: 2, padTop: 3, padLeft: 3,
              outHeight: 8, outWidth: 9, seed: 703, activations: [.silu])
        check(batch: 2, height: 13, width: 11, channels: 19, kernel: 3, stride: 3, padTop: 1, padLeft: 1,
              outHeight: 5, outWidth: 4, seed: 704, activations: [.identity], pools: poolsWithThree)
    }
}
