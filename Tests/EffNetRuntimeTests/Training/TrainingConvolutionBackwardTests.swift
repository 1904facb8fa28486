import EffNetRuntime
import XCTest

final class TrainingConvolutionBackwardTests: XCTestCase {
    // MARK: Pointwise

    private func checkPointwise(pixels: Int, inChannels: Int, outChannels: Int, seed: UInt64, finiteDifferences: Bool,
                                file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let x = rng.floats(pixels * inChannels, -2, 2)
        let w = rng.floats(outChannels * inChannels)
        let dZ = rng.floats(pixels * outChannels)
        let xd = TrainingReference.doubles(x), wd = TrainingReference.doubles(w), dZd = TrainingReference.doubles(dZ)
        // Naive: dX = dZ·W, dW = dZᵀ·X.
        var refIn = [Double](repeating: 0, count: x.count), refW = [Double](repeating: 0, count: w.count)
        for p in 0..<pixels {
            for co in 0..<outChannels {
                for ci in 0..<inChannels {
                    refIn[p * inChannels + ci] += dZd[p * outChannels + co] * wd[co * inChannels + ci]
                    refW[co * inChannels + ci] += dZd[p * outChannels + co] * xd[p * inChannels + ci]
                }
            }
        }
        let label = "pointwise bwd p\(pixels) \(inChannels)->\(outChannels)"
        for pool in testPools {
            var gIn = [Float](repeating: .nan, count: x.count)
            var gW = [Float](repeating: 1, count: w.count)  // accumulates onto 1
            TrainingKernels.pointwiseConvBackward(gradOutput: dZ, input: x, weights: w, pixels: pixels,
                                                  inChannels: inChannels, outChannels: outChannels, gradInput: &gIn,
                                                  gradWeights: &gW, pool: pool)
            assertClose(gIn, refIn, "\(label) gradInput threads \(pool.threadCount)", file: file, line: line)
            assertClose(gW, refW.map { $0 + 1 }, "\(label) gradWeights threads \(pool.threadCount)", file: file, line: line)
            var gW2 = [Float](repeating: 0, count: w.count)
            TrainingKernels.pointwiseConvBackward(gradOutput: dZ, input: x, weights: w, pixels: pixels,
                                                  inChannels: inChannels, outChannels: outChannels, gradInput: nil,
                                                  gradWeights: &gW2, pool: pool)
            assertClose(gW2, refW, "\(label) gradWeights without gradInput threads \(pool.threadCount)",
                        file: file, line: line)
            // With a workspace: the weight gradient may be summed over pixel parts (one partial per worker).
            var workspace = [Float](repeating: .nan, count: TrainingKernels.pointwiseConvBackwardWorkspaceFloats(
                inChannels: inChannels, outChannels: outChannels, threads: pool.threadCount))
            var gW3 = [Float](repeating: 1, count: w.count)
            workspace.withUnsafeMutableBufferPointer { ws in
                TrainingKernels.pointwiseConvBackward(gradOutput: dZ, input: x, weights: w, pixels: pixels,
                                                      inChannels: inChannels, outChannels: outChannels, gradInput: nil,
                                                      gradWeights: &gW3, workspace: ws.baseAddress, pool: pool)
            }
            let split = TrainingKernels.weightGradientSplitsPixels(pixels: pixels, inChannels: inChannels,
                                                                   outChannels: outChannels, threads: pool.threadCount)
            assertClose(gW3, refW.map { $0 + 1 }, "\(label) gradWeights with a workspace threads \(pool.threadCount)"
                        + (split ? ", split over pixels" : ""), file: file, line: line)
            // Both gradients with a workspace: where the pixels split (and the C kernels run), each worker
            // computes dX band by band next to its dW; the bits must be those of the separate GEMMs.
            var gIn4 = [Float](repeating: .nan, count: x.count)
            var gW4 = [Float](repeating: 1, count: w.count)
            workspace.withUnsafeMutableBufferPointer { ws in
                TrainingKernels.pointwiseConvBackward(gradOutput: dZ, input: x, weights: w, pixels: pixels,
                                                      inChannels: inChannels, outChannels: outChannels,
                                                      gradInput: &gIn4, gradWeights: &gW4, workspace: ws.baseAddress,
                                                      pool: pool)
            }
            XCTAssertEqual(gIn4.map(\.bitPattern), gIn.map(\.bitPattern),
                           "\(label) gradInput with a workspace: the bits of the separate GEMM, threads \(pool.threadCount)",
                           file: file, line: line)
            XCTAssertEqual(gW4.map(\.bitPattern), gW3.map(\.bitPattern),
                           "\(label) gradWeights next to gradInput: the bits without it, threads \(pool.threadCount)",
                           file: file, line: line)
            if finiteDifferences && pool.threadCount == 2 {
                let loss = { (x: [Double], w: [Double]) in
                    TrainingReference.dot(dZd, TrainingReference.pointwise(x, w, pixels: pixels, inChannels: inChannels,
                                                                            outChannels: outChannels))
                }
                TrainingReference.checkFiniteDifferences(gIn, base: xd, label + " input", file: file, line: line) { loss($0, wd) }
                TrainingReference.checkFiniteDifferences(gW2, base: wd, label + " weights", file: file, line: line) { loss(xd, $0) }
            }
        }
    }

    func testPointwiseBackwardMatchesNaiveAndFiniteDifferences() {
        checkPointwise(pixels: 7, inChannels: 3, outChannels: 13, seed: 1, finiteDifferences: true)
        checkPointwise(pixels: 45, inChannels: 13, outChannels: 5, seed: 2, finiteDifferences: true)
        checkPointwise(pixels: 300, inChannels: 24, outChannels: 40, seed: 3, finiteDifferences: false)
        checkPointwise(pixels: 64, inChannels: 72, outChannels: 34, seed: 4, finiteDifferences: false)
        // Few pixels, wide input: the input gradient's GEMM splits its 160 output columns across workers.
        checkPointwise(pixels: 9, inChannels: 160, outChannels: 24, seed: 5, finiteDifferences: false)
        // The weight gradient split over its outputs (too few pixels for the pixel split), as on the 7x7
        // layers: several 64-pixel blocks and a partial one; 37 -> 61 splits dW's 61 rows (32 + 29: a partial
        // 8-row strip), 131 -> 37 its 131 columns (80 + 51 on 2 workers, 48 + 48 + 35 on 3: partial vectors
        // and panels).
        checkPointwise(pixels: 150, inChannels: 37, outChannels: 61, seed: 6, finiteDifferences: false)
        checkPointwise(pixels: 150, inChannels: 131, outChannels: 37, seed: 7, finiteDifferences: false)
    }

    /// Enough pixels for the weight gradient's pixel split on two workers: partials laid out both ways
    /// (more output channels than input channels: transposed), channel counts that leave partial vectors
    /// and short strips, a pixel count that leaves a partial 64-row block in each part. The partials are
    /// added in worker order, so repeated runs give the same bits.
    func testPointwiseWeightGradientSplitOverPixelsMatchesNaiveAndRepeats() {
        let pool = testPools.first { $0.threadCount == 2 }!
        for (n, (inChannels, outChannels)) in [(16, 40), (40, 24), (19, 53), (53, 19)].enumerated() {
            let pixels = 2 * TrainingKernels.weightGradientSplitMinimumPixels + 37
            // Each worker's part spans several bands of the fused input gradient, the last one partial.
            let band = TrainingKernels.weightGradientBandPixels(inChannels: inChannels, outChannels: outChannels)
            XCTAssertEqual(band % 64, 0, "bands are whole 64-pixel blocks of the weight-gradient kernel")
            XCTAssertGreaterThan((pixels + 1) / 2, 2 * band)
            XCTAssertNotEqual((pixels + 1) / 2 % band, 0)
            XCTAssertTrue(TrainingKernels.weightGradientSplitsPixels(pixels: pixels, inChannels: inChannels,
                                                                     outChannels: outChannels, threads: 2))
            checkPointwise(pixels: pixels, inChannels: inChannels, outChannels: outChannels, seed: 20 + UInt64(n),
                           finiteDifferences: false)
            var rng = TestRandom(seed: 30 + UInt64(n))
            let x = rng.floats(pixels * inChannels, -2, 2), dZ = rng.floats(pixels * outChannels)
            let w = [Float](repeating: 0, count: inChannels * outChannels)
            var runs: [[UInt32]] = []
            for _ in 0..<3 {
                var workspace = [Float](repeating: .nan, count: TrainingKernels.pointwiseConvBackwardWorkspaceFloats(
                    inChannels: inChannels, outChannels: outChannels, threads: 2))
                var gW = [Float](repeating: 0, count: w.count)
                workspace.withUnsafeMutableBufferPointer { ws in
                    TrainingKernels.pointwiseConvBackward(gradOutput: dZ, input: x, weights: w, pixels: pixels,
                                                          inChannels: inChannels, outChannels: outChannels,
                                                          gradInput: nil, gradWeights: &gW, workspace: ws.baseAddress,
                                                          pool: pool)
                }
                runs.append(gW.map(\.bitPattern))
            }
            XCTAssertEqual(runs[1], runs[0], "\(inChannels)->\(outChannels): the same bits on every run")
            XCTAssertEqual(runs[2], runs[0], "\(inChannels)->\(outChannels): the same bits on every run")
        }
    }

    // MARK: Depthwise

    private typealias Geometry = TrainingReference.ConvGeometry

    private func checkDepthwise(_ g: Geometry, seed: UInt64, finiteDifferences: Bool = true,
                                pools: [WorkerPool] = testPools,
                                file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let x = rng.floats(g.inputCount, -2, 2)
        let w = rng.floats(g.kernel * g.kernel * g.channels)
        let dZ = rng.floats(g.outputCount)
        let xd = TrainingReference.doubles(x), wd = TrainingReference.doubles(w), dZd = TrainingReference.doubles(dZ)
        let ref = TrainingReference.depthwiseBackward(dZd, xd, wd, g)
        let label = "depthwise bwd b\(g.batch) \(g.height)x\(g.width)x\(g.channels) k\(g.kernel) s\(g.stride) "
            + "pad \(g.padTop),\(g.padLeft) out \(g.outHeight)x\(g.outWidth)"
        for pool in pools {
            var gIn = [Float](repeating: .nan, count: x.count)
            var gW = [Float](repeating: 1, count: w.count)
            TrainingKernels.depthwiseConvBackward(
                gradOutput: dZ, input: x, batch: g.batch, height: g.height, width: g.width, channels: g.channels,
                kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft, outHeight: g.outHeight,
                outWidth: g.outWidth, weights: w, gradInput: &gIn, gradWeights: &gW, pool: pool)
            assertClose(gIn, ref.input, "\(label) gradInput threads \(pool.threadCount)", file: file, line: line)
            assertClose(gW, ref.weights.map { $0 + 1 }, "\(label) gradWeights threads \(pool.threadCount)",
                        file: file, line: line)
            var gW2 = [Float](repeating: 0, count: w.count)
            TrainingKernels.depthwiseConvBackward(
                gradOutput: dZ, input: x, batch: g.batch, height: g.height, width: g.width, channels: g.channels,
                kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft, outHeight: g.outHeight,
                outWidth: g.outWidth, weights: w, gradInput: nil, gradWeights: &gW2, pool: pool)
            assertClose(gW2, ref.weights, "\(label) gradWeights without gradInput threads \(pool.threadCount)",
                        file: file, line: line)
            if finiteDifferences && pool.threadCount == 2 {
                let loss = { (x: [Double], w: [Double]) in TrainingReference.dot(dZd, TrainingReference.depthwise(x, w, g)) }
                TrainingReference.checkFiniteDifferences(gIn, base: xd, label + " input", file: file, line: line) { loss($0, wd) }
                TrainingReference.checkFiniteDifferences(gW2, base: wd, label + " weights", file: file, line: line) { loss(xd, $0) }
            }
        }
    }

    func testDepthwiseBackwardStrideOneSymmetricPadding() {
        checkDepthwise(Geometry(batch: 1, height: 9, width: 7, channels: 13, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
                                outHeight: 9, outWidth: 7), seed: 10)
        checkDepthwise(Geometry(batch: 3, height: 6, width: 6, channels: 40, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
                                outHeight: 6, outWidth: 6), seed: 11)
        checkDepthwise(Geometry(batch: 1, height: 7, width: 10, channels: 3, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                                outHeight: 7, outWidth: 10), seed: 12)
        checkDepthwise(Geometry(batch: 3, height: 8, width: 7, channels: 33, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                                outHeight: 8, outWidth: 7), seed: 13, finiteDifferences: false)
    }

    func testDepthwiseBackwardStrideTwoSymmetricPadding() {
        checkDepthwise(Geometry(batch: 1, height: 8, width: 8, channels: 19, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
                                outHeight: 4, outWidth: 4), seed: 20)
        checkDepthwise(Geometry(batch: 3, height: 7, width: 7, channels: 13, kernel: 5, stride: 2, padTop: 2, padLeft: 2,
                                outHeight: 4, outWidth: 4), seed: 21)
        checkDepthwise(Geometry(batch: 1, height: 9, width: 11, channels: 48, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
                                outHeight: 5, outWidth: 6), seed: 22, finiteDifferences: false)
    }

    /// TensorFlow SAME: for stride 2 the extra padding pixel goes bottom/right (padTop 0 when even).
    func testDepthwiseBackwardTensorFlowSamePadding() {
        // H=8, k=3, s=2: pad total 1 → top 0, bottom 1; out 4.
        checkDepthwise(Geometry(batch: 1, height: 8, width: 8, channels: 13, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
                                outHeight: 4, outWidth: 4), seed: 30)
        // H=10, k=5, s=2: pad total 3 → top 1, bottom 2; out 5.
        checkDepthwise(Geometry(batch: 3, height: 10, width: 10, channels: 3, kernel: 5, stride: 2, padTop: 1, padLeft: 1,
                                outHeight: 5, outWidth: 5), seed: 31)
        // H=6, W=9, k=3, s=2, padTop 0: out 3x5 (right pad 1 on the odd width too).
        checkDepthwise(Geometry(batch: 3, height: 6, width: 9, channels: 32, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
                                outHeight: 3, outWidth: 5), seed: 32, finiteDifferences: false)
    }

    func testDepthwiseBackwardGenericKernelAndTinyImages() {
        // k=7 stride 1 (generic path) and a 2x2 image smaller than the kernel.
        checkDepthwise(Geometry(batch: 1, height: 5, width: 6, channels: 17, kernel: 7, stride: 1, padTop: 3, padLeft: 3,
                                outHeight: 5, outWidth: 6), seed: 40)
        checkDepthwise(Geometry(batch: 3, height: 2, width: 2, channels: 21, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                                outHeight: 2, outWidth: 2), seed: 41)
        checkDepthwise(Geometry(batch: 1, height: 1, width: 1, channels: 5, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
                                outHeight: 1, outWidth: 1), seed: 42)
    }

    /// With both gradients and the weight gradient split over parts of the rows, each part walks its rows
    /// in bands, gradInput then gradWeights (`depthwiseBackwardInBands`). Shapes wide enough for several
    /// bands per part, the last one short, stride 1 and 2: gradInput must have the bits of the 1-worker
    /// pass (which does not band) and gradWeights those of the same pool without gradInput.
    func testDepthwiseBackwardInBandsKeepsTheBitsOfTheSeparatePasses() {
        let one = testPools.first { $0.threadCount == 1 }!, two = testPools.first { $0.threadCount == 2 }!
        let shapes = [
            Geometry(batch: 2, height: 30, width: 32, channels: 256, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
                     outHeight: 30, outWidth: 32),
            Geometry(batch: 2, height: 61, width: 64, channels: 160, kernel: 5, stride: 2, padTop: 2, padLeft: 2,
                     outHeight: 31, outWidth: 32),
            Geometry(batch: 2, height: 60, width: 64, channels: 256, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
                     outHeight: 30, outWidth: 32),
        ]
        for (n, g) in shapes.enumerated() {
            let band = TrainingKernels.depthwiseBackwardBandFloats / (g.outWidth * g.channels * (1 + g.stride * g.stride))
            XCTAssertLessThan(band, g.batch * g.outHeight / 4, "shape \(n): more than one band per part")
            var rng = TestRandom(seed: 60 + UInt64(n))
            let x = rng.floats(g.inputCount, -2, 2), w = rng.floats(g.kernel * g.kernel * g.channels)
            let dZ = rng.floats(g.outputCount)
            func run(_ pool: WorkerPool, gradInput: Bool) -> (input: [UInt32], weights: [UInt32]) {
                var gIn = [Float](repeating: .nan, count: x.count), gW = [Float](repeating: 0.5, count: w.count)
                if gradInput {
                    TrainingKernels.depthwiseConvBackward(
                        gradOutput: dZ, input: x, batch: g.batch, height: g.height, width: g.width,
                        channels: g.channels, kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft,
                        outHeight: g.outHeight, outWidth: g.outWidth, weights: w, gradInput: &gIn, gradWeights: &gW,
                        pool: pool)
                } else {
                    TrainingKernels.depthwiseConvBackward(
                        gradOutput: dZ, input: x, batch: g.batch, height: g.height, width: g.width,
                        channels: g.channels, kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft,
                        outHeight: g.outHeight, outWidth: g.outWidth, weights: w, gradInput: nil, gradWeights: &gW,
                        pool: pool)
                }
                return (gIn.map(\.bitPattern), gW.map(\.bitPattern))
            }
            let banded = run(two, gradInput: true)
            XCTAssertEqual(banded.input, run(one, gradInput: true).input, "shape \(n): gradInput, banded vs one pass")
            XCTAssertEqual(banded.weights, run(two, gradInput: false).weights,
                           "shape \(n): gradWeights, banded vs without gradInput")
            XCTAssertFalse(banded.input.contains(Float.nan.bitPattern), "shape \(n): every gradInput row written")
        }
    }

    // MARK: Depthwise blocked paths
    //
    // gradInput reuses the forward blocks with flipped taps for stride 1 (four outputs × 8 channels plus
    // a leftover pair for k > 3, single outputs for k ≤ 3) and pairs an even column with its odd
    // neighbour for stride 2. gradWeights sums per row band: with few channels the bands get private
    // partial sums that are added in a fixed order (k·k·channels ≤ 4096 and at least two workers),
    // otherwise tasks own 16-aligned channel blocks; taps are summed five at a time.

    private static let poolsWithThree = testPools + [WorkerPool(threads: 3)]

    private func sameGeometry(batch: Int = 1, height: Int, width: Int, channels: Int, kernel: Int) -> Geometry {
        let pad = (kernel - 1) / 2
        return Geometry(batch: batch, height: height, width: width, channels: channels, kernel: kernel, stride: 1,
                        padTop: pad, padLeft: pad, outHeight: height, outWidth: width)
    }

    func testDepthwiseBackwardStrideOneBlocksOverWidthsAndChannelTails() {
        var seed: UInt64 = 100
        for kernel in [3, 5] {
            for width in [1, 3, 4, 5, 7, 8, 9, 12] {
                for channels in [8, 13, 20] {
                    seed += 1
                    checkDepthwise(sameGeometry(height: 3, width: width, channels: channels, kernel: kernel), seed: seed,
                                   finiteDifferences: false)
                }
            }
        }
        // More channels: several 16-lane steps, then 1...15-lane tails.
        for (i, channels) in [63, 64, 69, 80].enumerated() {
            checkDepthwise(sameGeometry(height: 5, width: 9, channels: channels, kernel: 3), seed: 150 + UInt64(i),
                           finiteDifferences: false)
        }
    }

    func testDepthwiseBackwardStrideTwoPairsWithOddSizesAndPaddingParity() {
        var seed: UInt64 = 200
        for kernel in [3, 5] {
            // padLeft odd (symmetric k = 3: the first column is odd in tap space) and even (TF SAME, 0 or 2).
            for padLeft in [0, 1, 2] {
                for (height, width) in [(9, 11), (8, 13), (5, 6)] {
                    for channels in [7, 16, 40] {
                        seed += 1
                        let outH = (height + 2 * 1 - kernel) / 2 + 1
                        let outW = (width + padLeft + 1 - kernel) / 2 + 1
                        guard outH > 0, outW > 0 else { continue }
                        checkDepthwise(Geometry(batch: 1, height: height, width: width, channels: channels, kernel: kernel,
                                                stride: 2, padTop: 1, padLeft: padLeft, outHeight: outH, outWidth: outW),
                                       seed: seed, finiteDifferences: false)
                    }
                }
            }
        }
    }

    func testDepthwiseBackwardWeightSplitsWithOneTwoAndThreeWorkers() {
        // Row bands with private partial sums: 9·40 and 25·24 floats per band.
        checkDepthwise(Geometry(batch: 3, height: 10, width: 9, channels: 40, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
                                outHeight: 10, outWidth: 9), seed: 300, finiteDifferences: false, pools: Self.poolsWithThree)
        checkDepthwise(Geometry(batch: 3, height: 7, width: 7, channels: 24, kernel: 5, stride: 2, padTop: 2, padLeft: 2,
                                outHeight: 4, outWidth: 4), seed: 301, finiteDifferences: false, pools: Self.poolsWithThree)
        // Channel blocks: 25·200 floats are too many for the band scratch; 203 leaves a 3-lane tail.
        checkDepthwise(Geometry(batch: 3, height: 7, width: 7, channels: 203, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                                outHeight: 7, outWidth: 7), seed: 302, finiteDifferences: false, pools: Self.poolsWithThree)
        checkDepthwise(Geometry(batch: 2, height: 6, width: 5, channels: 520, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
                                outHeight: 3, outWidth: 3), seed: 303, finiteDifferences: false, pools: Self.poolsWithThree)
        // A single output row: no row bands, channel blocks.
        checkDepthwise(Geometry(batch: 1, height: 2, width: 6, channels: 12, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
                                outHeight: 1, outWidth: 3), seed: 304, pools: Self.poolsWithThree)
    }

    func testDepthwiseBackwardGenericKernelsThroughTheBlocks() {
        // k = 7: taps summed as 5 + 2; k = 7 stride 2 and k = 4 (even) go through the blocks with runtime sizes.
        checkDepthwise(Geometry(batch: 2, height: 9, width: 13, channels: 20, kernel: 7, stride: 1, padTop: 3, padLeft: 3,
                                outHeight: 9, outWidth: 13), seed: 400, finiteDifferences: false, pools: Self.poolsWithThree)
        checkDepthwise(Geometry(batch: 1, height: 15, width: 17, channels: 24, kernel: 7, stride: 2, padTop: 3, padLeft: 3,
                                outHeight: 8, outWidth: 9), seed: 401, finiteDifferences: false)
        checkDepthwise(Geometry(batch: 1, height: 8, width: 11, channels: 12, kernel: 4, stride: 1, padTop: 1, padLeft: 2,
                                outHeight: 8, outWidth: 11), seed: 402)
        checkDepthwise(Geometry(batch: 2, height: 13, width: 11, channels: 19, kernel: 3, stride: 3, padTop: 1, padLeft: 1,
                                outHeight: 5, outWidth: 4), seed: 403, finiteDifferences: false)
    }

    // MARK: Stem

    private func checkStem(_ g: Geometry, inChannels: Int, seed: UInt64, finiteDifferences: Bool = true,
                           file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let x = rng.floats(g.batch * inChannels * g.height * g.width, -2, 2)
        let w = rng.floats(g.channels * inChannels * g.kernel * g.kernel)
        let dZ = rng.floats(g.outputCount)
        let xd = TrainingReference.doubles(x), dZd = TrainingReference.doubles(dZ)
        let ref = TrainingReference.stemBackwardWeights(dZd, xd, inChannels: inChannels, g)
        let label = "stem bwd b\(g.batch) \(inChannels)x\(g.height)x\(g.width) -> \(g.channels) k\(g.kernel) "
            + "s\(g.stride) pad \(g.padTop),\(g.padLeft)"
        for pool in testPools {
            var gW = [Float](repeating: 1, count: w.count)
            var workspace = [Float](repeating: .nan, count: TrainingKernels.stemConvBackwardWorkspaceFloats(
                inChannels: inChannels, kernel: g.kernel, outChannels: g.channels, threads: pool.threadCount))
            TrainingKernels.stemConvBackwardWeights(
                gradOutput: dZ, input: x, batch: g.batch, inChannels: inChannels, height: g.height, width: g.width,
                kernel: g.kernel, stride: g.stride, padTop: g.padTop, padLeft: g.padLeft, outHeight: g.outHeight,
                outWidth: g.outWidth, outChannels: g.channels, gradWeights: &gW, workspace: &workspace, pool: pool)
            let got = gW.map { $0 - 1 }
            assertClose(got, ref, relativeTolerance: 2e-5, "\(label) threads \(pool.threadCount)", file: file, line: line)
            if finiteDifferences && pool.threadCount == 2 {
                TrainingReference.checkFiniteDifferences(got, base: TrainingReference.doubles(w), label,
                                                         file: file, line: line) { w in
                    TrainingReference.dot(dZd, TrainingReference.stem(xd, w, inChannels: inChannels, g))
                }
            }
        }
    }

    func testStemBackwardWeightsMatchesNaiveAndFiniteDifferences() {
        checkStem(Geometry(batch: 1, height: 9, width: 9, channels: 13, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
                           outHeight: 5, outWidth: 5), inChannels: 3, seed: 50)
        // TF SAME, even size: padTop 0 and the extra pixel at the bottom/right.
        checkStem(Geometry(batch: 3, height: 8, width: 10, channels: 8, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
                           outHeight: 4, outWidth: 5), inChannels: 3, seed: 51)
        checkStem(Geometry(batch: 3, height: 7, width: 6, channels: 5, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                           outHeight: 7, outWidth: 6), inChannels: 2, seed: 52)
        // More output pixels than one 1024-pixel tile, so both workers and the partial sums are used.
        checkStem(Geometry(batch: 3, height: 40, width: 36, channels: 16, kernel: 3, stride: 1, padTop: 1, padLeft: 1,
                           outHeight: 40, outWidth: 36), inChannels: 3, seed: 53, finiteDifferences: false)
    }
}
