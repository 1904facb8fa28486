@testable import EffNetRuntime
import XCTest

/// `batchNormPointwiseConvBackwardThroughInput` (BatchNorm's z term taken through the conv instead of read
/// from z) gives BatchNorm's pass 2 followed by the conv backward: dX and dW against a float64 reference
/// of the textbook formulas, as closely as the banded path that reads z.
final class BatchNormConvThroughInputTests: XCTestCase {
    /// Expansions as the path takes them: several bands per worker and a short last one, channel counts that
    /// are not whole vectors, an input with a large mean (the centring's case), and a worker with no rows.
    private let cases: [(pixels: Int, inChannels: Int, outChannels: Int, inputMean: Float)] = [
        (5_000, 16, 96, 0), (3_000, 24, 144, 0), (2_100, 40, 240, 0), (4_100, 16, 100, 4), (1, 16, 96, 0),
    ]

    func testThroughInputMatchesTheFloat64ReferenceAsCloselyAsThePathThatReadsZ() throws {
        try XCTSkipIf(CSIMDKernels.active == nil, "the path needs the C kernels")
        for (i, shape) in cases.enumerated() {
            let (pixels, K, C, inputMean) = shape
            var rng = TestRandom(seed: UInt64(900 + i))
            let x = rng.floats(pixels * K, inputMean - 2, inputMean + 2)
            let weights = rng.floats(C * K, -0.5, 0.5)  // PyTorch's [outC][inC]
            let bias = rng.floats(C, -1, 1)  // z's constant term: the path must not depend on it
            // z = X·Wᵀ + bias in float64 (the conv as a linear layer over pixels), stored as float32, with its
            // batch mean; γ and invStd arbitrary.
            let z = NaiveReference.linear(input: x, batch: pixels, inFeatures: K, weights: weights, bias: bias,
                                          outFeatures: C).map { Float($0) }
            let mean = (0..<C).map { c in Float((0..<pixels).reduce(0.0) { $0 + Double(z[$1 * C + c]) } / Double(pixels)) }
            let invStd = rng.floats(C, 0.5, 2), gamma = rng.floats(C, 0.5, 2), beta = rng.floats(C, -1, 1)
            let dY = rng.floats(pixels * C)
            // Pass 1's reductions, ΣdY/M and ΣdY·xhat/M, as float32 (as `batchNormBackwardSums` leaves them).
            var reductions = [Float](repeating: 0, count: 2 * C)
            for c in 0..<C {
                var s = 0.0, sx = 0.0
                for p in 0..<pixels {
                    let g = Double(dY[p * C + c])
                    s += g
                    sx += g * (Double(z[p * C + c]) - Double(mean[c])) * Double(invStd[c])
                }
                reductions[c] = Float(s / Double(pixels))
                reductions[C + c] = Float(sx / Double(pixels))
            }
            // Reference: dZ = γ·invStd·(dY − ΣdY/M − xhat·ΣdY·xhat/M), dX = dZ·W, dW = dW0 + dZᵀ·X.
            let dW0 = rng.floats(C * K)
            var dXRef = [Double](repeating: 0, count: pixels * K), dWRef = dW0.map(Double.init)
            for p in 0..<pixels {
                for c in 0..<C {
                    let xhat = (Double(z[p * C + c]) - Double(mean[c])) * Double(invStd[c])
                    let dZ = Double(gamma[c]) * Double(invStd[c])
                        * (Double(dY[p * C + c]) - Double(reductions[c]) - xhat * Double(reductions[C + c]))
                    for k in 0..<K {
                        dXRef[p * K + k] += dZ * Double(weights[c * K + k])
                        dWRef[c * K + k] += dZ * Double(x[p * K + k])
                    }
                }
            }
            for pool in testPools {
                let label = "\(shape) threads \(pool.threadCount)"
                var workspace = [Float](repeating: .nan, count: TrainingKernels.pixelPartsWorkspaceFloats(
                    inChannels: K, outChannels: C, threads: pool.threadCount))
                var dX = [Float](repeating: .nan, count: pixels * K), dW = dW0
                dX.withUnsafeMutableBufferPointer { out in
                    TrainingKernels.batchNormPointwiseConvBackwardThroughInput(
                        gradOutput: dY, gamma: gamma, savedInvStd: invStd, reductions: reductions, input: x,
                        weights: weights, pixels: pixels, inChannels: K, outChannels: C, gradInput: out.baseAddress!,
                        gradWeights: &dW, workspace: &workspace, pool: pool)
                }
                // The path that reads z: BatchNorm's pass 2 in place, then the conv backward.
                var dZ = [Float](repeating: .nan, count: pixels * C), reductionsCopy = reductions
                var dXz = [Float](repeating: .nan, count: pixels * K), dWz = dW0
                TrainingKernels.batchNormInputGradientRows(
                    gradOutput: dY, input: z, channels: C, rows: 0, pixels, gamma: gamma, beta: beta,
                    savedMean: mean, savedInvStd: invStd, activation: .identity, reductions: &reductionsCopy,
                    gradInput: &dZ)
                dXz.withUnsafeMutableBufferPointer { out in
                    TrainingKernels.pointwiseConvBackward(
                        gradOutput: dZ, input: x, weights: weights, pixels: pixels, inChannels: K, outChannels: C,
                        gradInput: out.baseAddress!, gradWeights: &dWz, workspace: &workspace, pool: pool)
                }
                let dXError = relativeError(dX, dXRef), dWError = relativeError(dW, dWRef)
                let dXzError = relativeError(dXz, dXRef), dWzError = relativeError(dWz, dWRef)
                // Float32 rounding over sums of up to 5,000 terms: both paths land within 1e-5 of the largest
                // value, and the new one within 4x the old one's error (or 1e-6, whichever is larger).
                XCTAssertLessThan(dXError, 1e-5, "dX \(label)")
                XCTAssertLessThan(dWError, 1e-5, "dW \(label)")
                XCTAssertLessThan(dXError, max(4 * dXzError, 1e-6), "dX against the path that reads z, \(label)")
                XCTAssertLessThan(dWError, max(4 * dWzError, 1e-6), "dW against the path that reads z, \(label)")
            }
        }
    }

    /// The dispatch: B0's first expansion at batch 16 qualifies; a projection, a pass 2 that still needs
    /// the activation's derivative (ReLU6), one worker, the portable path and a small map do not.
    func testWhichLayersTakeThePath() throws {
        try XCTSkipIf(CSIMDKernels.active == nil, "the path needs the C kernels")
        func fits(_ pixels: Int, _ inC: Int, _ outC: Int, _ activation: Activation = .identity,
                  threads: Int = 2) -> Bool {
            TrainingKernels.batchNormConvThroughInputFits(pixels: pixels, inChannels: inC, outChannels: outC,
                                                          passTwoActivation: activation, threads: threads)
        }
        XCTAssertTrue(fits(16 * 112 * 112, 16, 96))
        XCTAssertFalse(fits(16 * 56 * 56, 144, 24), "projection")
        XCTAssertFalse(fits(16 * 112 * 112, 16, 96, .relu6), "ReLU6's derivative needs z")
        XCTAssertFalse(fits(16 * 112 * 112, 16, 96, threads: 1), "no pixel split on one worker")
        XCTAssertFalse(fits(16 * 14 * 14, 112, 672), "the map fits the L3")
        // Where it is taken, the conv backward's workspace is the one it needs.
        XCTAssertEqual(TrainingKernels.pixelPartsWorkspaceFloats(inChannels: 16, outChannels: 96, threads: 2),
                       TrainingKernels.pointwiseConvBackwardWorkspaceFloats(inChannels: 16, outChannels: 96, threads: 2))
    }

    /// max |got − want| / max |want|, absolute where the values stay below 1: with one pixel BatchNorm's dZ
    /// is zero, and both paths leave float32 rounding (about 1e-7) where the reference has none.
    private func relativeError(_ got: [Float], _ want: [Double]) -> Double {
        var worst = 0.0, largest = 0.0
        for (g, w) in zip(got, want) {
            worst = max(worst, abs(Double(g) - w))
            largest = max(largest, abs(w))
        }
        return worst / max(largest, 1)
    }
}
