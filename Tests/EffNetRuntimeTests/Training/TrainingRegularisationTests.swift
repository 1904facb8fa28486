import EffNetRuntime
import XCTest

final class TrainingRegularisationTests: XCTestCase {
    func testCounterRandomIsDeterministicResumableAndInUnitInterval() {
        var a = CounterRandom(seed: 42), b = CounterRandom(seed: 42)
        let first = (0..<1000).map { _ in a.nextUniform() }
        XCTAssertEqual(first, (0..<1000).map { _ in b.nextUniform() })
        XCTAssertTrue(first.allSatisfy { $0 >= 0 && $0 < 1 })
        let mean = first.reduce(0, +) / 1000
        XCTAssertEqual(mean, 0.5, accuracy: 0.05)
        // Resuming from a saved state continues the same sequence; the state moves by one step per draw.
        var c = CounterRandom(seed: 42)
        for _ in 0..<500 { _ = c.nextUniform() }
        var resumed = CounterRandom(seed: 0)
        resumed.state = c.state
        XCTAssertEqual((0..<500).map { _ in resumed.nextUniform() }, Array(first[500...]))
        XCTAssertEqual(c.state, 42 &+ 500 &* 0x9E37_79B9_7F4A_7C15)
        XCTAssertNotEqual(CounterRandom(seed: 1).state, CounterRandom(seed: 2).state)
    }

    func testDropoutMaskValuesFrequencyAndDeterminism() {
        let count = 20_000
        var rng = TestRandom(seed: 5)
        let x = rng.floats(count)
        for p in [0.2, 0.5] {
            var random = CounterRandom(seed: 7)
            var out = [Float](repeating: .nan, count: count), mask = out
            TrainingKernels.dropoutForward(input: x, output: &out, count: count, probability: p, mask: &mask,
                                           random: &random)
            let scale = Float(1 / (1 - p))
            XCTAssertTrue(mask.allSatisfy { $0 == 0 || $0 == scale }, "mask values p=\(p)")
            let kept = Double(mask.filter { $0 != 0 }.count) / Double(count)
            XCTAssertEqual(kept, 1 - p, accuracy: 0.015, "keep frequency p=\(p)")
            for i in 0..<count { XCTAssertEqual(out[i], x[i] * mask[i]) }
            // One draw per element; the same seed gives the same mask.
            XCTAssertEqual(random.state, 7 &+ UInt64(count) &* 0x9E37_79B9_7F4A_7C15)
            var again = CounterRandom(seed: 7)
            var out2 = out, mask2 = mask
            TrainingKernels.dropoutForward(input: x, output: &out2, count: count, probability: p, mask: &mask2,
                                           random: &again)
            XCTAssertEqual(mask2, mask)
            // Backward multiplies by the mask.
            let g = rng.floats(count)
            var gIn = [Float](repeating: .nan, count: count)
            TrainingKernels.dropoutBackward(gradOutput: g, mask: mask, count: count, gradInput: &gIn)
            for i in 0..<count { XCTAssertEqual(gIn[i], g[i] * mask[i]) }
        }
    }

    func testDropoutWithZeroProbabilityCopiesAndOneDropsAll() {
        var rng = TestRandom(seed: 6)
        let x = rng.floats(37)
        var random = CounterRandom(seed: 3)
        var out = [Float](repeating: .nan, count: 37), mask = out
        TrainingKernels.dropoutForward(input: x, output: &out, count: 37, probability: 0, mask: &mask, random: &random)
        XCTAssertEqual(out, x)
        XCTAssertTrue(mask.allSatisfy { $0 == 1 })
        XCTAssertEqual(random.state, 3, "p == 0 draws nothing")
        TrainingKernels.dropoutForward(input: x, output: &out, count: 37, probability: 1, mask: &mask, random: &random)
        XCTAssertTrue(out.allSatisfy { $0 == 0 } && mask.allSatisfy { $0 == 0 })
    }

    func testStochasticDepthMaskValuesFrequencyAndDeterminism() {
        let batch = 10_000
        for p in [0.0, 0.1, 0.4] {
            var random = CounterRandom(seed: 11)
            var keep = [Float](repeating: .nan, count: batch)
            TrainingKernels.stochasticDepthMask(batch: batch, probability: p, into: &keep, random: &random)
            let scale = Float(1 / (1 - p))
            XCTAssertTrue(keep.allSatisfy { $0 == 0 || $0 == scale }, "keep values p=\(p)")
            let kept = Double(keep.filter { $0 != 0 }.count) / Double(batch)
            XCTAssertEqual(kept, 1 - p, accuracy: 0.02, "keep frequency p=\(p)")
            var again = CounterRandom(seed: 11)
            var keep2 = keep
            TrainingKernels.stochasticDepthMask(batch: batch, probability: p, into: &keep2, random: &again)
            XCTAssertEqual(keep2, keep)
            XCTAssertEqual(again.state, random.state)
        }
    }

    func testResidualAddScalesBranchPerSampleAndBackwardMatches() {
        for (batch, perImage) in [(1, 13), (3, 100), (2, 40_000)] {
            var rng = TestRandom(seed: UInt64(perImage))
            let shortcut = rng.floats(batch * perImage), branch = rng.floats(batch * perImage)
            let g = rng.floats(batch * perImage)
            let keepValues: [Float] = (0..<batch).map { $0 % 2 == 0 ? 1.25 : 0 }
            for pool in testPools {
                for keep in [nil, keepValues] {
                    let factor = { (n: Int) in Double(keep?[n] ?? 1) }
                    var want = [Double](repeating: 0, count: batch * perImage), wantGrad = want
                    for n in 0..<batch {
                        for i in 0..<perImage {
                            let j = n * perImage + i
                            want[j] = Double(shortcut[j]) + factor(n) * Double(branch[j])
                            wantGrad[j] = factor(n) * Double(g[j])
                        }
                    }
                    var out = [Float](repeating: .nan, count: want.count)
                    var gB = out
                    if let keep {
                        TrainingKernels.residualAdd(shortcut: shortcut, branch: branch, keep: keep, batch: batch,
                                                    perImage: perImage, output: &out, pool: pool)
                        TrainingKernels.residualAddBackward(gradOutput: g, keep: keep, batch: batch, perImage: perImage,
                                                            gradBranch: &gB, pool: pool)
                    } else {
                        TrainingKernels.residualAdd(shortcut: shortcut, branch: branch, keep: nil, batch: batch,
                                                    perImage: perImage, output: &out, pool: pool)
                        TrainingKernels.residualAddBackward(gradOutput: g, keep: nil, batch: batch, perImage: perImage,
                                                            gradBranch: &gB, pool: pool)
                    }
                    let label = "residual b\(batch) \(perImage) keep \(keep != nil) threads \(pool.threadCount)"
                    assertClose(out, want, label)
                    assertClose(gB, wantGrad, label + " backward")
                }
            }
        }
    }
}
