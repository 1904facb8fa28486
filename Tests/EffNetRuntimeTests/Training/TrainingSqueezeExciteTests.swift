import EffNetRuntime
import XCTest

final class TrainingSqueezeExciteTests: XCTestCase {
    private func check(batch: Int, pixels: Int, channels C: Int, squeeze S: Int, seed: UInt64,
                       finiteDifferences: Bool, file: StaticString = #filePath, line: UInt = #line) {
        var rng = TestRandom(seed: seed)
        let x = rng.floats(batch * pixels * C, -3, 3)
        let rw = rng.floats(S * C), rb = rng.floats(S, -2, 2), ew = rng.floats(C * S), eb = rng.floats(C)
        let dOut = rng.floats(x.count)
        let q = TrainingReference.SEParameters(
            reduceWeights: TrainingReference.doubles(rw), reduceBias: TrainingReference.doubles(rb),
            expandWeights: TrainingReference.doubles(ew), expandBias: TrainingReference.doubles(eb))
        let xd = TrainingReference.doubles(x), r = TrainingReference.doubles(dOut)
        for activation in allActivations {
            let ref = TrainingReference.squeezeExcite(xd, batch: batch, pixels: pixels, channels: C, squeeze: S, q,
                                                      activation: activation)
            let label = "SE b\(batch) p\(pixels) c\(C) s\(S) \(activation)"
            for pool in testPools {
                var out = [Float](repeating: .nan, count: x.count)
                var pooled = [Float](repeating: .nan, count: batch * C), scale = pooled
                var hidden = [Float](repeating: .nan, count: batch * S)
                TrainingKernels.squeezeExciteForwardTraining(
                    input: x, output: &out, batch: batch, pixels: pixels, channels: C, squeezeChannels: S,
                    reduceWeights: rw, reduceBias: rb, activation: activation, expandWeights: ew, expandBias: eb,
                    savedPooled: &pooled, savedHidden: &hidden, savedScale: &scale, pool: pool)
                let threads = " threads \(pool.threadCount)"
                assertClose(out, ref.out, label + " output" + threads, file: file, line: line)
                assertClose(pooled, ref.pooled, label + " pooled" + threads, file: file, line: line)
                assertClose(hidden, ref.hidden, label + " hidden" + threads, file: file, line: line)
                assertClose(scale, ref.scale, label + " scale" + threads, file: file, line: line)

                var gIn = [Float](repeating: .nan, count: x.count)
                var gRW = [Float](repeating: 0, count: rw.count), gRB = [Float](repeating: 0, count: S)
                var gEW = [Float](repeating: 0, count: ew.count), gEB = [Float](repeating: 0, count: C)
                var workspace = [Float](repeating: .nan, count: TrainingKernels.squeezeExciteBackwardWorkspaceFloats(
                    batch: batch, channels: C, squeezeChannels: S))
                TrainingKernels.squeezeExciteBackward(
                    gradOutput: dOut, input: x, batch: batch, pixels: pixels, channels: C, squeezeChannels: S,
                    reduceWeights: rw, activation: activation, expandWeights: ew, savedPooled: pooled,
                    savedHidden: hidden, savedScale: scale, gradInput: &gIn, gradReduceWeights: &gRW,
                    gradReduceBias: &gRB, gradExpandWeights: &gEW, gradExpandBias: &gEB, workspace: &workspace,
                    pool: pool)
                if finiteDifferences && pool.threadCount == 2 {
                    func loss(_ x: [Double], _ q: TrainingReference.SEParameters) -> Double {
                        TrainingReference.dot(r, TrainingReference.squeezeExcite(
                            x, batch: batch, pixels: pixels, channels: C, squeeze: S, q, activation: activation).out)
                    }
                    TrainingReference.checkFiniteDifferences(gIn, base: xd, label + " input", file: file, line: line) {
                        loss($0, q)
                    }
                    TrainingReference.checkFiniteDifferences(gRW, base: q.reduceWeights, label + " reduce weights",
                                                             file: file, line: line) { v in
                        var p = q; p.reduceWeights = v; return loss(xd, p)
                    }
                    TrainingReference.checkFiniteDifferences(gRB, base: q.reduceBias, label + " reduce bias",
                                                             file: file, line: line) { v in
                        var p = q; p.reduceBias = v; return loss(xd, p)
                    }
                    TrainingReference.checkFiniteDifferences(gEW, base: q.expandWeights, label + " expand weights",
                                                             file: file, line: line) { v in
                        var p = q; p.expandWeights = v; return loss(xd, p)
                    }
                    TrainingReference.checkFiniteDifferences(gEB, base: q.expandBias, label + " expand bias",
                                                             file: file, line: line) { v in
                        var p = q; p.expandBias = v; return loss(xd, p)
                    }
                }
                // In place (gradInput == gradOutput) gives the same gradient.
                var inPlace = dOut
                var scratch = [Float](repeating: 0, count: rw.count + S + ew.count + C)
                inPlace.withUnsafeMutableBufferPointer { g in
                    scratch.withUnsafeMutableBufferPointer { s in
                        let base = s.baseAddress!
                        TrainingKernels.squeezeExciteBackward(
                            gradOutput: UnsafePointer(g.baseAddress!), input: x, batch: batch, pixels: pixels,
                            channels: C, squeezeChannels: S, reduceWeights: rw, activation: activation,
                            expandWeights: ew, savedPooled: pooled, savedHidden: hidden, savedScale: scale,
                            gradInput: g.baseAddress!, gradReduceWeights: base, gradReduceBias: base + rw.count,
                            gradExpandWeights: base + rw.count + S, gradExpandBias: base + rw.count + S + ew.count,
                            workspace: &workspace, pool: pool)
                    }
                }
                XCTAssertEqual(inPlace, gIn, label + " in place" + threads, file: file, line: line)
            }
        }
    }

    func testSqueezeExciteForwardAndBackwardMatchReferenceAndFiniteDifferences() {
        check(batch: 1, pixels: 9, channels: 13, squeeze: 3, seed: 1, finiteDifferences: true)
        check(batch: 3, pixels: 4, channels: 16, squeeze: 4, seed: 2, finiteDifferences: true)
        check(batch: 3, pixels: 49, channels: 72, squeeze: 6, seed: 3, finiteDifferences: false)
        check(batch: 2, pixels: 1, channels: 40, squeeze: 10, seed: 4, finiteDifferences: false)
    }
}
