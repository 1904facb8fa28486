import EffNetRuntime
import XCTest

final class TrainingPoolingLinearBackwardTests: XCTestCase {
    func testGlobalAveragePoolBackwardBroadcastsMeanGradient() {
        for (batch, pixels, channels) in [(1, 9, 13), (3, 49, 40), (2, 2000, 24)] {
            var rng = TestRandom(seed: UInt64(pixels))
            let g = rng.floats(batch * channels)
            var want = [Double](repeating: 0, count: batch * pixels * channels)
            for n in 0..<batch {
                for p in 0..<pixels {
                    for c in 0..<channels { want[(n * pixels + p) * channels + c] = Double(g[n * channels + c]) / Double(pixels) }
                }
            }
            for pool in testPools {
                var gIn = [Float](repeating: .nan, count: want.count)
                TrainingKernels.globalAveragePoolBackward(gradOutput: g, batch: batch, pixels: pixels, channels: channels,
                                                          gradInput: &gIn, pool: pool)
                assertClose(gIn, want, "GAP bwd b\(batch) p\(pixels) c\(channels) threads \(pool.threadCount)")
                if pool.threadCount == 2 && pixels < 100 {
                    // L = Σ g·mean_p(x)
                    let x = TrainingReference.doubles(rng.floats(want.count))
                    TrainingReference.checkFiniteDifferences(gIn, base: x, "GAP b\(batch) p\(pixels) c\(channels)") { x in
                        var s = 0.0
                        for n in 0..<batch {
                            for p in 0..<pixels {
                                for c in 0..<channels {
                                    s += Double(g[n * channels + c]) * x[(n * pixels + p) * channels + c] / Double(pixels)
                                }
                            }
                        }
                        return s
                    }
                }
            }
        }
    }

    func testLinearBackwardMatchesNaiveAndFiniteDifferences() {
        for (batch, inF, outF) in [(1, 13, 3), (3, 40, 10), (5, 300, 70)] {
            var rng = TestRandom(seed: UInt64(inF))
            let x = rng.floats(batch * inF), w = rng.floats(outF * inF), dY = rng.floats(batch * outF)
            let xd = TrainingReference.doubles(x), wd = TrainingReference.doubles(w), r = TrainingReference.doubles(dY)
            var refIn = [Double](repeating: 0, count: x.count), refW = [Double](repeating: 1, count: w.count)
            var refB = [Double](repeating: 1, count: outF)
            for n in 0..<batch {
                for o in 0..<outF {
                    refB[o] += r[n * outF + o]
                    for i in 0..<inF {
                        refIn[n * inF + i] += r[n * outF + o] * wd[o * inF + i]
                        refW[o * inF + i] += r[n * outF + o] * xd[n * inF + i]
                    }
                }
            }
            let label = "linear bwd b\(batch) \(inF)->\(outF)"
            for pool in testPools {
                var gIn = [Float](repeating: .nan, count: x.count)
                var gW = [Float](repeating: 1, count: w.count), gB = [Float](repeating: 1, count: outF)
                TrainingKernels.linearBackward(gradOutput: dY, input: x, weights: w, batch: batch, inFeatures: inF,
                                               outFeatures: outF, gradInput: &gIn, gradWeights: &gW, gradBias: &gB,
                                               pool: pool)
                assertClose(gIn, refIn, "\(label) input threads \(pool.threadCount)")
                assertClose(gW, refW, "\(label) weights threads \(pool.threadCount)")
                assertClose(gB, refB, "\(label) bias threads \(pool.threadCount)")
                var gW2 = [Float](repeating: 0, count: w.count), gB2 = [Float](repeating: 0, count: outF)
                TrainingKernels.linearBackward(gradOutput: dY, input: x, weights: w, batch: batch, inFeatures: inF,
                                               outFeatures: outF, gradInput: nil, gradWeights: &gW2, gradBias: &gB2,
                                               pool: pool)
                if pool.threadCount == 2 && inF < 100 {
                    // L = Σ r·(x·Wᵀ + b)
                    func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
                        var s = 0.0
                        for n in 0..<batch {
                            for o in 0..<outF {
                                var y = b[o]
                                for i in 0..<inF { y += x[n * inF + i] * w[o * inF + i] }
                                s += r[n * outF + o] * y
                            }
                        }
                        return s
                    }
                    let bias = [Double](repeating: 0.1, count: outF)
                    TrainingReference.checkFiniteDifferences(gIn, base: xd, label + " input") { loss($0, wd, bias) }
                    TrainingReference.checkFiniteDifferences(gW2, base: wd, label + " weights") { loss(xd, $0, bias) }
                    TrainingReference.checkFiniteDifferences(gB2, base: bias, label + " bias") { loss(xd, wd, $0) }
                }
            }
        }
    }

    func testAccumulateAddsAndZeroClears() {
        for count in [0, 5, 16, 70_001] {
            var rng = TestRandom(seed: UInt64(count))
            let a0 = rng.floats(count), b = rng.floats(count)
            for pool in testPools {
                var a = a0
                TrainingKernels.accumulate(&a, b, count: count, pool: pool)
                assertClose(a, (0..<count).map { Double(a0[$0]) + Double(b[$0]) }, "accumulate \(count)")
                TrainingKernels.zero(&a, count: count)
                XCTAssertTrue(a.allSatisfy { $0 == 0 }, "zero \(count)")
            }
        }
    }
}
