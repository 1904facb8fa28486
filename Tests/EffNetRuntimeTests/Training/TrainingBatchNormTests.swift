import EffNetRuntime
import XCTest

final class TrainingBatchNormTests: XCTestCase {
    private struct Case {
        var z, gamma, beta, runningMean, runningVar: [Float]
        var pixels, channels: Int
    }

    private func makeCase(pixels: Int, channels: Int, seed: UInt64, offset: Float = 0) -> Case {
        var rng = TestRandom(seed: seed)
        var z = rng.floats(pixels * channels, -3, 3)
        // Per-channel offsets and spreads, so statistics differ between channels.
        let shifts = rng.floats(channels, -2, 2), spreads = rng.floats(channels, 0.3, 2)
        for p in 0..<pixels { for c in 0..<channels { z[p * channels + c] = z[p * channels + c] * spreads[c] + shifts[c] + offset } }
        return Case(z: z, gamma: rng.floats(channels, 0.5, 3), beta: rng.floats(channels, -1, 4),
                    runningMean: rng.floats(channels), runningVar: rng.floats(channels, 0.5, 2),
                    pixels: pixels, channels: channels)
    }

    private func forward(_ k: Case, activation: Activation, eps: Double = 1e-5, momentum: Double = 0.1,
                         pool: WorkerPool) -> (out: [Float], mean: [Float], invStd: [Float], rm: [Float], rv: [Float]) {
        var out = [Float](repeating: .nan, count: k.z.count)
        var mean = [Float](repeating: .nan, count: k.channels), invStd = mean
        var rm = k.runningMean, rv = k.runningVar
        TrainingKernels.batchNormForwardTraining(
            input: k.z, pixels: k.pixels, channels: k.channels, gamma: k.gamma, beta: k.beta, eps: eps,
            momentum: momentum, activation: activation, output: &out, savedMean: &mean, savedInvStd: &invStd,
            runningMean: &rm, runningVar: &rv, pool: pool)
        return (out, mean, invStd, rm, rv)
    }

    /// Shapes: odd channels, a channel count above the 128-channel block, and enough pixels to split.
    private let shapes: [(pixels: Int, channels: Int)] = [(7, 3), (50, 13), (300, 70), (160, 133)]

    func testForwardNormalisesWithBatchStatisticsForEveryActivation() {
        for (i, shape) in shapes.enumerated() {
            let k = makeCase(pixels: shape.pixels, channels: shape.channels, seed: UInt64(10 + i))
            for activation in allActivations {
                let ref = TrainingReference.batchNormTrain(
                    TrainingReference.doubles(k.z), pixels: k.pixels, channels: k.channels,
                    gamma: TrainingReference.doubles(k.gamma), beta: TrainingReference.doubles(k.beta), eps: 1e-5,
                    activation: activation)
                for pool in testPools {
                    let got = forward(k, activation: activation, pool: pool)
                    let label = "BN fwd \(shape) \(activation) threads \(pool.threadCount)"
                    assertClose(got.out, ref.out, label + " output")
                    assertClose(got.mean, ref.mean, label + " mean")
                    assertClose(got.invStd, ref.variance.map { 1 / ($0 + 1e-5).squareRoot() }, label + " invStd")
                }
            }
        }
    }

    func testForwardUpdatesRunningStatisticsWithUnbiasedVariance() {
        for (i, shape) in shapes.enumerated() {
            let k = makeCase(pixels: shape.pixels, channels: shape.channels, seed: UInt64(20 + i))
            let ref = TrainingReference.batchNormTrain(
                TrainingReference.doubles(k.z), pixels: k.pixels, channels: k.channels,
                gamma: TrainingReference.doubles(k.gamma), beta: TrainingReference.doubles(k.beta), eps: 1e-3,
                activation: .identity)
            let m = Double(k.pixels)
            let wantMean = (0..<k.channels).map { 0.99 * Double(k.runningMean[$0]) + 0.01 * ref.mean[$0] }
            let wantVar = (0..<k.channels).map {
                0.99 * Double(k.runningVar[$0]) + 0.01 * ref.variance[$0] * m / (m - 1)
            }
            for pool in testPools {
                let got = forward(k, activation: .silu, eps: 1e-3, momentum: 0.01, pool: pool)
                assertClose(got.rm, wantMean, "running mean \(shape) threads \(pool.threadCount)")
                assertClose(got.rv, wantVar, "running var \(shape) threads \(pool.threadCount)")
            }
        }
    }

    /// |mean| ≫ std: a naive one-pass E[x²] − E[x]² in float would lose every digit of the variance.
    func testForwardVarianceIsAccurateWhenMeanDwarfsSpread() {
        let k = makeCase(pixels: 600, channels: 40, seed: 30, offset: 3000)
        let ref = TrainingReference.batchNormTrain(
            TrainingReference.doubles(k.z), pixels: k.pixels, channels: k.channels,
            gamma: TrainingReference.doubles(k.gamma), beta: TrainingReference.doubles(k.beta), eps: 1e-5,
            activation: .identity)
        for pool in testPools {
            let got = forward(k, activation: .identity, pool: pool)
            assertClose(got.invStd, ref.variance.map { 1 / ($0 + 1e-5).squareRoot() }, relativeTolerance: 1e-4,
                        "invStd with offset 3000 threads \(pool.threadCount)")
            assertClose(got.out, ref.out, relativeTolerance: 1e-3, "output with offset 3000 threads \(pool.threadCount)")
        }
    }

    private func backward(_ k: Case, _ dOut: [Float], activation: Activation, inPlace: Bool, pool: WorkerPool)
        -> (input: [Float], gamma: [Float], beta: [Float]) {
        let f = forward(k, activation: activation, pool: pool)
        var gGamma = [Float](repeating: 0.5, count: k.channels), gBeta = gGamma  // accumulates onto 0.5
        var gIn = dOut
        if inPlace {
            gIn.withUnsafeMutableBufferPointer { g in
                TrainingKernels.batchNormActivationBackward(
                    gradOutput: UnsafePointer(g.baseAddress!), input: k.z, pixels: k.pixels, channels: k.channels,
                    gamma: k.gamma, beta: k.beta, savedMean: f.mean, savedInvStd: f.invStd, activation: activation,
                    gradInput: g.baseAddress!, gradGamma: &gGamma, gradBeta: &gBeta, pool: pool)
            }
        } else {
            gIn = [Float](repeating: .nan, count: dOut.count)
            TrainingKernels.batchNormActivationBackward(
                gradOutput: dOut, input: k.z, pixels: k.pixels, channels: k.channels, gamma: k.gamma, beta: k.beta,
                savedMean: f.mean, savedInvStd: f.invStd, activation: activation, gradInput: &gIn,
                gradGamma: &gGamma, gradBeta: &gBeta, pool: pool)
        }
        return (gIn, gGamma.map { $0 - 0.5 }, gBeta.map { $0 - 0.5 })
    }

    func testBackwardMatchesNaiveReferenceInPlaceAndOutOfPlace() {
        for (i, shape) in shapes.enumerated() {
            let k = makeCase(pixels: shape.pixels, channels: shape.channels, seed: UInt64(40 + i))
            var rng = TestRandom(seed: UInt64(140 + i))
            let dOut = rng.floats(k.z.count)
            for activation in allActivations {
                let ref = TrainingReference.batchNormTrainBackward(
                    TrainingReference.doubles(dOut), TrainingReference.doubles(k.z), pixels: k.pixels,
                    channels: k.channels, gamma: TrainingReference.doubles(k.gamma),
                    beta: TrainingReference.doubles(k.beta), eps: 1e-5, activation: activation)
                for pool in testPools {
                    for inPlace in [false, true] {
                        let got = backward(k, dOut, activation: activation, inPlace: inPlace, pool: pool)
                        let label = "BN bwd \(shape) \(activation) inPlace \(inPlace) threads \(pool.threadCount)"
                        assertClose(got.input, ref.input, relativeTolerance: 2e-5, label + " gradInput")
                        assertClose(got.gamma, ref.gamma, relativeTolerance: 2e-5, label + " gradGamma")
                        assertClose(got.beta, ref.beta, relativeTolerance: 2e-5, label + " gradBeta")
                    }
                }
            }
        }
    }

    func testBackwardMatchesFiniteDifferencesOfTrainForward() {
        for (i, shape) in [(9, 13), (300, 70)].enumerated() {
            let k = makeCase(pixels: shape.0, channels: shape.1, seed: UInt64(50 + i))
            var rng = TestRandom(seed: UInt64(150 + i))
            let r = TrainingReference.doubles(rng.floats(k.z.count))
            let z = TrainingReference.doubles(k.z), gamma = TrainingReference.doubles(k.gamma)
            let beta = TrainingReference.doubles(k.beta)
            for activation in allActivations {
                let got = backward(k, r.map { Float($0) }, activation: activation, inPlace: false, pool: testPools[1])
                let label = "BN \(shape) \(activation)"
                func loss(_ z: [Double], _ g: [Double], _ b: [Double]) -> Double {
                    TrainingReference.dot(r, TrainingReference.batchNormTrain(
                        z, pixels: k.pixels, channels: k.channels, gamma: g, beta: b, eps: 1e-5,
                        activation: activation).out)
                }
                TrainingReference.checkFiniteDifferences(got.input, base: z, label + " input") { loss($0, gamma, beta) }
                TrainingReference.checkFiniteDifferences(got.gamma, base: gamma, label + " gamma") { loss(z, $0, beta) }
                TrainingReference.checkFiniteDifferences(got.beta, base: beta, label + " beta") { loss(z, gamma, $0) }
            }
        }
    }

    func testEvalBackwardMatchesFiniteDifferencesAndIsInPlaceSafe() {
        for (i, shape) in [(9, 13), (300, 70), (40, 133)].enumerated() {
            let k = makeCase(pixels: shape.0, channels: shape.1, seed: UInt64(60 + i))
            var rng = TestRandom(seed: UInt64(160 + i))
            let dOut = rng.floats(k.z.count)
            let r = TrainingReference.doubles(dOut)
            for activation in allActivations {
                for pool in testPools {
                    var gIn = [Float](repeating: .nan, count: dOut.count)
                    TrainingKernels.batchNormEvalActivationBackward(
                        gradOutput: dOut, input: k.z, pixels: k.pixels, channels: k.channels, gamma: k.gamma,
                        beta: k.beta, runningMean: k.runningMean, runningVar: k.runningVar, eps: 1e-3,
                        activation: activation, gradInput: &gIn, pool: pool)
                    var inPlace = dOut
                    inPlace.withUnsafeMutableBufferPointer { g in
                        TrainingKernels.batchNormEvalActivationBackward(
                            gradOutput: UnsafePointer(g.baseAddress!), input: k.z, pixels: k.pixels, channels: k.channels,
                            gamma: k.gamma, beta: k.beta, runningMean: k.runningMean, runningVar: k.runningVar,
                            eps: 1e-3, activation: activation, gradInput: g.baseAddress!, pool: pool)
                    }
                    XCTAssertEqual(inPlace, gIn, "eval BN in place \(shape) \(activation)")
                    if pool.threadCount == 2 {
                        TrainingReference.checkFiniteDifferences(gIn, base: TrainingReference.doubles(k.z),
                                                                 "eval BN \(shape) \(activation)") { z in
                            TrainingReference.dot(r, TrainingReference.batchNormEval(
                                z, pixels: k.pixels, channels: k.channels, gamma: TrainingReference.doubles(k.gamma),
                                beta: TrainingReference.doubles(k.beta), mean: TrainingReference.doubles(k.runningMean),
                                variance: TrainingReference.doubles(k.runningVar), eps: 1e-3, activation: activation))
                        }
                    }
                }
            }
        }
    }

    func testActivationBackwardMatchesDerivative() {
        var rng = TestRandom(seed: 70)
        let y = activationInputs(&rng, 131)
        let dOut = rng.floats(131)
        for activation in allActivations {
            let want = (0..<131).map { Double(dOut[$0]) * TrainingReference.actDerivative(Double(y[$0]), activation) }
            for pool in testPools {
                var g = [Float](repeating: .nan, count: 131)
                TrainingKernels.activationBackward(gradOutput: dOut, preActivation: y, count: 131, activation: activation,
                                                   gradInput: &g, pool: pool)
                assertClose(g, want, "activation backward \(activation)")
                TrainingReference.checkFiniteDifferences(g, base: TrainingReference.doubles(y), "activation \(activation)") { y in
                    var s = 0.0
                    for i in 0..<y.count { s += Double(dOut[i]) * TrainingReference.act(y[i], activation) }
                    return s
                }
            }
        }
    }
}
