@testable import EffNetRuntime
import XCTest

/// `pointwiseConvBatchStatistics` promises the bits of the 1x1 convolution followed by the separate
/// statistics pass: z, the saved mean and invStd, and the running statistics.
final class PointwiseConvBatchStatisticsTests: XCTestCase {
    /// Shapes around the edges of the banded path: channels that are not whole vectors (24, 40, 13), bands
    /// that end inside a part and parts that end inside a 32-row tile (pixel counts off the tile and band
    /// sizes), several bands per part; and three that take the fallback: a GEMM that splits output channels,
    /// too few pixels for a part per worker, weights over 128 Ki floats.
    private let shapes: [(pixels: Int, inChannels: Int, outChannels: Int)] = [
        (3_001, 16, 96), (2_050, 96, 24), (4_103, 24, 40), (1_000, 40, 240), (1_300, 13, 13), (1_500, 112, 672),
        (90, 8, 1_000), (5, 24, 144), (640, 512, 320),
    ]

    func testBandedStatisticsKeepTheBitsOfTheConvolutionThenTheStatisticsPass() {
        for (i, shape) in shapes.enumerated() {
            var rng = TestRandom(seed: UInt64(600 + i))
            let (pixels, inC, C) = shape
            // An offset per output channel (through the bias), as BN sees in a real network.
            let x = rng.floats(pixels * inC, -2, 2), w = rng.floats(inC * C, -0.5, 0.5), bias = rng.floats(C, -3, 3)
            let runningMean = rng.floats(C), runningVar = rng.floats(C, 0.5, 2)
            for pool in testPools {
                let label = "\(shape) threads \(pool.threadCount)"
                var zWant = [Float](repeating: .nan, count: pixels * C), zGot = zWant
                var meanWant = [Float](repeating: .nan, count: C), invWant = meanWant, meanGot = meanWant, invGot = meanWant
                var rmWant = runningMean, rvWant = runningVar, rmGot = runningMean, rvGot = runningVar
                Kernels.pointwiseConv(input: x, pixels: pixels, inChannels: inC, inputMajorWeights: w, bias: bias,
                                      outChannels: C, activation: .identity, residual: nil, output: &zWant, pool: pool)
                TrainingKernels.batchNormStatistics(input: zWant, pixels: pixels, channels: C, eps: 1e-3, momentum: 0.01,
                                                    savedMean: &meanWant, savedInvStd: &invWant, runningMean: &rmWant,
                                                    runningVar: &rvWant, pool: pool)
                var workspace = [Float](repeating: .nan, count: TrainingKernels.batchStatisticsWorkspaceFloats(
                    channels: C, threads: pool.threadCount))
                TrainingKernels.pointwiseConvBatchStatistics(
                    input: x, pixels: pixels, inChannels: inC, inputMajorWeights: w, bias: bias, outChannels: C,
                    output: &zGot, eps: 1e-3, momentum: 0.01, savedMean: &meanGot, savedInvStd: &invGot,
                    runningMean: &rmGot, runningVar: &rvGot, workspace: &workspace, pool: pool)
                XCTAssert(zGot.map(\.bitPattern) == zWant.map(\.bitPattern), "z \(label)")
                XCTAssert(meanGot.map(\.bitPattern) == meanWant.map(\.bitPattern), "mean \(label)")
                XCTAssert(invGot.map(\.bitPattern) == invWant.map(\.bitPattern), "invStd \(label)")
                XCTAssert(rmGot.map(\.bitPattern) == rmWant.map(\.bitPattern), "running mean \(label)")
                XCTAssert(rvGot.map(\.bitPattern) == rvWant.map(\.bitPattern), "running var \(label)")
            }
        }
    }

    /// The shapes above exercise what they claim: six fuse, the first with several bands in a part; three do not.
    func testTheTestShapesCoverTheBandedPathAndTheFallback() {
        let fuses = shapes.map {
            TrainingKernels.pointwiseConvFusesBatchStatistics(pixels: $0.pixels, inChannels: $0.inChannels,
                                                              outChannels: $0.outChannels, threads: 2)
        }
        XCTAssertEqual(fuses, [true, true, true, true, true, true, false, false, false])
        let band = TrainingKernels.pointwiseStatisticsBandRows(inChannels: 16, outChannels: 96)
        XCTAssertEqual(band % TrainingKernels.bnTileRows, 0)
        XCTAssertGreaterThan(3_001 / TrainingKernels.bnParts(pixels: 3_001, channels: 96, threads: 2), band,
                             "the first shape has several bands per part")
    }

    /// B0 at batch 16: the 112x112 to 14x14 layers fuse; the 7x7 layers and the head, whose GEMMs split
    /// output channels and whose weights do not fit beside a band, do not.
    func testPolicyOnEfficientNetB0AtBatch16() {
        let f = { (p: Int, i: Int, o: Int) in
            TrainingKernels.pointwiseConvFusesBatchStatistics(pixels: 16 * p, inChannels: i, outChannels: o, threads: 2)
        }
        XCTAssertTrue(f(12_544, 16, 96))
        XCTAssertTrue(f(12_544, 32, 16))
        XCTAssertTrue(f(196, 672, 112))
        XCTAssertTrue(f(196, 112, 672))
        XCTAssertFalse(f(49, 192, 1_152))
        XCTAssertFalse(f(49, 320, 1_280))
    }
}
