import CEffNetSIMD
@testable import EffNetRuntime
import Foundation
import XCTest

/// The C kernels (CEffNetSIMD) of every instruction set this CPU supports, each against a naive scalar
/// loop over awkward sizes: channel counts that are not multiples of the vector width (tails), strided
/// blocks, several tiles, bias and residual on and off, every activation. The Swift path is covered by
/// the kernels' own tests (run them with EFFNET_SIMD=swift). Nothing here is timed.
///
/// References mirror the kernels' float steps (a float add before the activation, a float subtraction
/// before the normalisation) and then work in Double, so the tolerances only have to cover what the C
/// code rounds differently: its exp polynomial and reciprocal (a few 1e-7 relative) and fused
/// multiply-adds. Identity and relu6 in the epilogue are pure float adds and clamps, so they must match
/// exactly.
final class SIMDKernelTests: XCTestCase {
    private let widths = [1, 5, 8, 15, 16, 17, 31, 33, 96, 100]

    // MARK: - Pointwise epilogue

    func testEpilogueMatchesScalarLoopForEveryActivationBiasAndResidual() {
        var rng = TestRandom(seed: 71)
        for (name, simd) in cKernelPaths {
            for cols in widths {
                let rows = 3, ldo = cols + 5
                let start = rng.floats(rows * ldo, -10, 10), bias = rng.floats(cols, -2, 2)
                let residual = rng.floats(rows * ldo, -3, 3)
                for activation in allActivations {
                    for (useBias, useResidual) in [(true, true), (true, false), (false, true), (false, false)] {
                        var out = start
                        out.withUnsafeMutableBufferPointer { o in
                            bias.withUnsafeBufferPointer { b in
                                residual.withUnsafeBufferPointer { r in
                                    simd.biasActivation(activation, out: o.baseAddress!, ldo: ldo, rows: rows, cols: cols,
                                                        bias: useBias ? b.baseAddress! : nil,
                                                        residual: useResidual ? r.baseAddress! : nil)
                                }
                            }
                        }
                        let label = "\(name) \(activation) cols \(cols) bias \(useBias) residual \(useResidual)"
                        for r in 0..<rows {
                            for c in 0..<ldo {
                                let i = r * ldo + c
                                guard c < cols else {
                                    XCTAssertEqual(out[i], start[i], "\(label): wrote past the block at [\(r)][\(c)]")
                                    continue
                                }
                                let v = start[i] + (useBias ? bias[c] : 0)
                                let a = NaiveReference.activate(Double(v), activation)
                                let want = useResidual ? Float(a) + residual[i] : Float(a)
                                if activation == .silu {
                                    let allowed = 3e-7 * abs(a) + (useResidual ? Double(want.ulp) : 0) + 1e-37
                                    XCTAssert(abs(Double(out[i]) - Double(want)) <= allowed,
                                              "\(label) [\(r)][\(c)]: \(out[i]) vs \(want)")
                                } else {
                                    XCTAssertEqual(out[i], want, "\(label) [\(r)][\(c)]")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The AVX-512 reciprocal shortcut (rcp14 + one correction) must keep SiLU within the accuracy of
    /// an exact division over the whole input range, including the clamped tails and infinities.
    func testSiLUWithoutBiasMatchesDoublePrecisionDefinitionAcrossRange() {
        var values: [Float] = stride(from: Float(-90), through: 90, by: 0.0071).map { $0 }
        values += [0, 1e-30, -1e-30, 87, -87, 88, -88, 89, -89, 1000, -1000]
        for (name, simd) in cKernelPaths {
            var data = values
            data.withUnsafeMutableBufferPointer {
                simd.biasActivation(.silu, out: $0.baseAddress!, ldo: 0, rows: 1, cols: $0.count, bias: nil, residual: nil)
            }
            for (x, got) in zip(values, data) {
                let want = NaiveReference.activate(Double(x), .silu)
                let allowed = max(abs(want) * 2e-7, 1e-35)  // below 1e-35 the clamped exp makes noise
                XCTAssert(abs(Double(got) - want) <= allowed, "\(name): silu(\(x)) = \(got), want \(want)")
            }
            var infinities: [Float] = [.infinity, -.infinity]
            infinities.withUnsafeMutableBufferPointer {
                simd.biasActivation(.silu, out: $0.baseAddress!, ldo: 0, rows: 1, cols: 2, bias: nil, residual: nil)
            }
            XCTAssertEqual(infinities, [.infinity, -.infinity], "\(name): silu(±inf)")
        }
    }

    /// The kernel tests cover both AVX-512 quotient modes because `cKernelPaths` switches the mode as it
    /// hands out each entry: each entry runs under the mode its name says, the two modes reach the
    /// kernels (SiLU's last bits differ somewhere between them), and the process's choice is back after
    /// the loop.
    func testKernelPathsRunEachAVX512QuotientMode() throws {
        guard SIMDPath.supported.contains(.avx512) else { throw XCTSkip("no AVX-512 on this CPU") }
        let processMode = effnet_avx512_quotient()
        let values: [Float] = stride(from: Float(-20), through: 20, by: 0.000731).map { $0 }
        var outputs: [String: [Float]] = [:]
        for (name, simd) in cKernelPaths where name.hasPrefix("avx512") {
            let want = name.hasSuffix("divide") ? EFFNET_QUOTIENT_DIVIDE : EFFNET_QUOTIENT_RECIPROCAL
            XCTAssertEqual(effnet_avx512_quotient(), want, name)
            var data = values
            data.withUnsafeMutableBufferPointer {
                simd.biasActivation(.silu, out: $0.baseAddress!, ldo: 0, rows: 1, cols: $0.count, bias: nil, residual: nil)
            }
            outputs[name] = data
        }
        XCTAssertEqual(effnet_avx512_quotient(), processMode)
        let divide = try XCTUnwrap(outputs["avx512 divide"]), reciprocal = try XCTUnwrap(outputs["avx512 reciprocal"])
        XCTAssertNotEqual(divide, reciprocal, "both modes gave the same bits: the mode does not reach the kernels")
    }

    // MARK: - Pointwise GEMM

    /// The register-tiled GEMM with its epilogue in registers, per instruction set, against a Double
    /// loop: row counts around the tile heights (14 and 6), column counts around the 2-vector panels
    /// (16 and 32 on AVX-512, 8 and 16 on AVX2), K down to 1, strided operands, every activation, bias
    /// and residual on and off. Nothing outside the rows x cols block of y may change.
    func testGemmMatchesDoubleLoopWithTailsStridesAndEpilogues() {
        var rng = TestRandom(seed: 73)
        let shapes: [(m: Int, n: Int, k: Int)] = [(1, 1, 1), (13, 17, 3), (14, 32, 16), (15, 33, 24), (29, 8, 7),
                                                  (6, 40, 40), (7, 100, 5), (28, 16, 96), (3, 31, 2), (43, 64, 11)]
        for (name, simd) in cKernelPaths {
            for (m, n, k) in shapes {
                let ldx = k + 3, ldw = n + 5, ldy = n + 7
                let x = rng.floats(m * ldx, -2, 2), w = rng.floats(k * ldw, -1, 1)
                let bias = rng.floats(n, -2, 2), residual = rng.floats(m * ldy, -3, 3)
                let start = rng.floats(m * ldy, 50, 60)
                for activation in allActivations {
                    for (useBias, useResidual) in [(true, true), (true, false), (false, true), (false, false)] {
                        var y = start
                        y.withUnsafeMutableBufferPointer { out in
                            simd.gemmBiasActivation(activation, rows: m, cols: n, depth: k, x: x, ldx: ldx, w: w,
                                                    ldw: ldw, bias: useBias ? bias : nil,
                                                    residual: useResidual ? residual : nil, y: out.baseAddress!,
                                                    ldy: ldy)
                        }
                        let label = "\(name) \(m)x\(n)x\(k) \(activation) bias \(useBias) residual \(useResidual)"
                        for r in 0..<m {
                            for c in 0..<ldy {
                                let i = r * ldy + c
                                guard c < n else {
                                    XCTAssertEqual(y[i], start[i], "\(label): wrote past the block at [\(r)][\(c)]")
                                    continue
                                }
                                var sum = useBias ? Double(bias[c]) : 0
                                for j in 0..<k { sum += Double(x[r * ldx + j]) * Double(w[j * ldw + c]) }
                                var want = NaiveReference.activate(sum, activation)
                                if useResidual { want += Double(residual[i]) }
                                // Float sums of k products (each rounded once by the FMA), then the epilogue.
                                let allowed = 1e-6 * Double(k + 4) * (abs(want) + 1)
                                XCTAssert(abs(Double(y[i]) - want) <= allowed, "\(label) [\(r)][\(c)]: \(y[i]) vs \(want)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Past 2,304 input channels with more than 64 rows the GEMM blocks over rows (128) and K (256),
    /// storing partial sums between K blocks (GemmTemplate.h `gemm_blocked`). The sums must keep the bits
    /// of one pass: a float loop of fused multiply-adds in k order, then + bias, then the activation, then
    /// + residual. Shapes: two row chunks (the second of 9 rows), K blocks with a short last one, panels
    /// with a masked tail, strided operands; and a residual stored in the output itself (an in-place
    /// shortcut), which must still come out right.
    func testDeepGemmBlocksOverKWithTheBitsOfOnePass() {
        var rng = TestRandom(seed: 75)
        for (name, simd) in cKernelPaths {
            for (m, n, k) in [(137, 70, 2500), (65, 16, 2305)] {
                let ldx = k + 3, ldw = n + 5, ldy = n + 7
                let x = rng.floats(m * ldx, -2, 2), w = rng.floats(k * ldw, -1, 1)
                let bias = rng.floats(n, -2, 2), residual = rng.floats(m * ldy, -3, 3)
                var sums = [Float](repeating: 0, count: m * ldy)  // one pass: fused multiply-adds in k order
                for r in 0..<m {
                    for c in 0..<n {
                        var acc: Float = 0
                        for j in 0..<k { acc = acc.addingProduct(x[r * ldx + j], w[j * ldw + c]) }
                        sums[r * ldy + c] = acc + bias[c]
                    }
                }
                for activation in allActivations {
                    let label = "\(name) \(m)x\(n)x\(k) \(activation)"
                    var want = sums
                    simd.biasActivation(activation, out: &want, ldo: ldy, rows: m, cols: n, bias: nil, residual: residual)
                    var got = [Float](repeating: .nan, count: m * ldy)
                    got.withUnsafeMutableBufferPointer { y in
                        simd.gemmBiasActivation(activation, rows: m, cols: n, depth: k, x: x, ldx: ldx, w: w, ldw: ldw,
                                                bias: bias, residual: residual, y: y.baseAddress!, ldy: ldy)
                    }
                    var inPlace = residual
                    inPlace.withUnsafeMutableBufferPointer { y in
                        simd.gemmBiasActivation(activation, rows: m, cols: n, depth: k, x: x, ldx: ldx, w: w, ldw: ldw,
                                                bias: bias, residual: y.baseAddress!, y: y.baseAddress!, ldy: ldy)
                    }
                    for r in 0..<m {
                        let row = (r * ldy)..<(r * ldy + n)
                        XCTAssertEqual(got[row].map(\.bitPattern), want[row].map(\.bitPattern), "\(label) row \(r)")
                        XCTAssertEqual(inPlace[row].map(\.bitPattern), want[row].map(\.bitPattern),
                                       "\(label) residual in the output, row \(r)")
                    }
                }
            }
        }
    }

    /// The GEMM's SiLU epilogue (two passes over each strip, SiLU interleaved across two rows) and the
    /// depthwise kernel's (a block of 8 outputs at a time) must give exactly the bits of the same sums
    /// without activation followed by the in-place SiLU (one vector at a time for rows under 4 vectors):
    /// the grouping only reorders independent operations. Odd row counts leave a strip's last pair half
    /// empty; column counts cover 1-3 vectors and tails; the depthwise rows are 23 wide (interior blocks,
    /// pairs, single columns and edges).
    func testGroupedSiLUEpiloguesGiveTheBitsOfTheInPlaceSiLU() {
        var rng = TestRandom(seed: 74)
        for (name, simd) in cKernelPaths {
            for (m, n, k) in [(13, 48, 16), (7, 33, 24), (1, 100, 5), (9, 17, 40), (16, 96, 3)] {
                let x = rng.floats(m * k, -3, 3), w = rng.floats(k * n, -1, 1), bias = rng.floats(n, -2, 2)
                var fused = [Float](repeating: .nan, count: m * n), plain = fused
                fused.withUnsafeMutableBufferPointer { y in
                    simd.gemmBiasActivation(.silu, rows: m, cols: n, depth: k, x: x, ldx: k, w: w, ldw: n, bias: bias,
                                            residual: nil, y: y.baseAddress!, ldy: n)
                }
                plain.withUnsafeMutableBufferPointer { y in
                    simd.gemmBiasActivation(.identity, rows: m, cols: n, depth: k, x: x, ldx: k, w: w, ldw: n,
                                            bias: bias, residual: nil, y: y.baseAddress!, ldy: n)
                    simd.biasActivation(.silu, out: y.baseAddress!, ldo: n, rows: m, cols: n, bias: nil, residual: nil)
                }
                XCTAssertEqual(fused.map(\.bitPattern), plain.map(\.bitPattern), "\(name) GEMM \(m)x\(n)x\(k)")
            }
            for (channels, kernel, stride) in [(40, 3, 1), (17, 5, 2), (96, 5, 1)] {
                let s = DepthwiseShape(batch: 1, height: 9, width: 23, channels: channels, kernel: kernel, stride: stride,
                                       padTop: kernel / 2, padLeft: kernel / 2, outHeight: (9 - 1) / stride + 1,
                                       outWidth: (23 - 1) / stride + 1)
                let input = rng.floats(s.height * s.width * channels, -3, 3)
                let weights = rng.floats(kernel * kernel * channels, -1, 1), bias = rng.floats(channels, -1, 1)
                let count = s.outHeight * s.outWidth * channels
                var fused = [Float](repeating: .nan, count: count), plain = fused
                for row in 0..<s.outHeight {
                    simd.depthwiseRow(.silu, s, row, 0, channels, input, weights, bias, &fused)
                    simd.depthwiseRow(.identity, s, row, 0, channels, input, weights, bias, &plain)
                }
                plain.withUnsafeMutableBufferPointer {
                    simd.biasActivation(.silu, out: $0.baseAddress!, ldo: channels, rows: count / channels, cols: channels,
                                        bias: nil, residual: nil)
                }
                XCTAssertEqual(fused.map(\.bitPattern), plain.map(\.bitPattern),
                               "\(name) depthwise \(kernel)x\(kernel)/\(stride), \(channels) channels")
            }
        }
    }

    /// The 1x1 backward's dX GEMM that prefetches the next band's rows must give the bits of the plain
    /// identity GEMM: strides wider than the sizes, 1-3 vector panels with tails, short strips, an odd depth,
    /// and a prefetch stream that runs past the end of its buffer (a hint: never read, never faults).
    func testPrefetchingGemmGivesTheBitsOfThePlainGemm() {
        var rng = TestRandom(seed: 75)
        for (name, simd) in cKernelPaths {
            for (m, n, k) in [(13, 16, 96), (64, 24, 144), (7, 100, 33), (1, 48, 8), (20, 130, 40)] {
                let ldx = k + 3, ldw = n + 1, ldy = n + 2
                let x = rng.floats(m * ldx, -3, 3), w = rng.floats(k * ldw, -1, 1)
                let next = rng.floats(8, -1, 1)  // much shorter than the m·k floats the hints cover
                var prefetching = [Float](repeating: .nan, count: m * ldy), plain = prefetching
                prefetching.withUnsafeMutableBufferPointer { y in
                    simd.gemmPrefetchingRows(rows: m, cols: n, depth: k, x: x, ldx: ldx, w: w, ldw: ldw,
                                             y: y.baseAddress!, ldy: ldy, nextA: next, nextB: next)
                }
                plain.withUnsafeMutableBufferPointer { y in
                    simd.gemmBiasActivation(.identity, rows: m, cols: n, depth: k, x: x, ldx: ldx, w: w, ldw: ldw,
                                            bias: nil, residual: nil, y: y.baseAddress!, ldy: ldy)
                }
                XCTAssertEqual(prefetching.map(\.bitPattern), plain.map(\.bitPattern), "\(name) \(m)x\(n)x\(k)")
            }
        }
    }

    /// The forward GEMM drains the calling thread's weight prefetch window (`effnet_weight_prefetch_set`,
    /// WeightPrefetchAhead.swift) at one cache line per k step of each strip, whole panels and tails alike,
    /// and computes the bits it computes without one: a window longer than the call keeps the rest for the
    /// next call, a shorter one ends empty (the last strip's stream runs past its end: a hint, harmless).
    func testForwardGemmDrainsThePrefetchWindowOneLinePerKStepWithTheSameBits() {
        var rng = TestRandom(seed: 76)
        let window = [Float](repeating: 0, count: 1 << 18)  // 1 MB
        for (name, simd) in cKernelPaths {
            let (stripRows, panelColumns) = name.hasPrefix("avx512") ? (8, 48) : (4, 24)
            for (m, n, k) in [(13, 16, 96), (64, 24, 144), (7, 100, 33), (1, 48, 8), (20, 130, 40)] {
                let x = rng.floats(m * k, -3, 3), w = rng.floats(k * n, -1, 1), bias = rng.floats(n, -1, 1)
                let strips = (m + stripRows - 1) / stripRows, panels = (n + panelColumns - 1) / panelColumns
                let lineBytes = strips * panels * k * 64
                func gemm() -> [Float] {
                    var y = [Float](repeating: .nan, count: m * n)
                    y.withUnsafeMutableBufferPointer { out in
                        simd.gemmBiasActivation(.silu, rows: m, cols: n, depth: k, x: x, ldx: k, w: w, ldw: n,
                                                bias: bias, residual: nil, y: out.baseAddress!, ldy: n)
                    }
                    return y
                }
                let label = "\(name) \(m)x\(n)x\(k)"
                window.withUnsafeBytes { bytes in
                    effnet_weight_prefetch_set(bytes.baseAddress, bytes.count)
                    let longWindow = gemm()
                    XCTAssertEqual(effnet_weight_prefetch_pending(), bytes.count - lineBytes, label)
                    effnet_weight_prefetch_set(bytes.baseAddress, lineBytes - 64)
                    let shortWindow = gemm()
                    XCTAssertEqual(effnet_weight_prefetch_pending(), 0, label)
                    effnet_weight_prefetch_set(nil, 0)
                    let noWindow = gemm()
                    XCTAssertEqual(longWindow.map(\.bitPattern), noWindow.map(\.bitPattern), label)
                    XCTAssertEqual(shortWindow.map(\.bitPattern), noWindow.map(\.bitPattern), label)
                }
            }
        }
    }

    /// The classifier's matrix-vector product at batch 1 (MatVecTemplate.h), per instruction set, against a
    /// Double loop: row counts around the four-row blocks, lengths around the vector width (masked tails).
    /// A row's output must not depend on the rows it is computed with, so the classifier's split over
    /// workers cannot change its bits.
    func testMatVecMatchesDoubleLoopAndEachRowIsIndependentOfTheOthers() {
        var rng = TestRandom(seed: 77)
        for (name, simd) in cKernelPaths {
            for (rows, cols) in [(1, 1), (3, 7), (4, 16), (5, 17), (9, 33), (13, 1280), (8, 40)] {
                let w = rng.floats(rows * cols, -1, 1), x = rng.floats(cols, -2, 2), bias = rng.floats(rows, -1, 1)
                var together = [Float](repeating: .nan, count: rows)
                together.withUnsafeMutableBufferPointer {
                    simd.matvecBias(rows: rows, cols: cols, w: w, x: x, bias: bias, y: $0.baseAddress!)
                }
                var alone = [Float](repeating: .nan, count: rows)
                w.withUnsafeBufferPointer { wp in
                    bias.withUnsafeBufferPointer { bp in
                        alone.withUnsafeMutableBufferPointer { yp in
                            for r in 0..<rows {
                                simd.matvecBias(rows: 1, cols: cols, w: wp.baseAddress! + r * cols, x: x,
                                                bias: bp.baseAddress! + r, y: yp.baseAddress! + r)
                            }
                        }
                    }
                }
                XCTAssertEqual(together.map(\.bitPattern), alone.map(\.bitPattern), "\(name) \(rows)x\(cols)")
                for r in 0..<rows {
                    var want = Double(bias[r])
                    for k in 0..<cols { want += Double(w[r * cols + k]) * Double(x[k]) }
                    let allowed = 1e-6 * Double(cols + 4) * (abs(want) + 1)
                    XCTAssert(abs(Double(together[r]) - want) <= allowed, "\(name) \(rows)x\(cols) row \(r): \(together[r]) vs \(want)")
                }
            }
        }
    }

    // MARK: - Activation backward

    func testActivationBackwardMatchesScalarDerivative() {
        var rng = TestRandom(seed: 72)
        for (name, simd) in cKernelPaths {
            for count in widths + [257] {
                var y = activationInputs(&rng, count)
                if count > 4 { y[0] = 0; y[1] = 6; y[2] = -0; y[3] = 5.999 }  // relu6's clamp points
                let grad = rng.floats(count, -2, 2)
                for activation in allActivations {
                    var got = [Float](repeating: .nan, count: count)
                    simd.activationBackward(activation, grad, y, count: count, &got)
                    for i in 0..<count {
                        let want = Double(grad[i]) * TrainingReference.actDerivative(Double(y[i]), activation)
                        let allowed = 1e-6 * abs(Double(grad[i])) * derivativeScale(Double(y[i]), activation)
                        XCTAssert(abs(Double(got[i]) - want) <= allowed,
                                  "\(name) \(activation) count \(count) [\(i)]: \(got[i]) vs \(want)")
                    }
                }
            }
        }
    }

    /// |grad·act'(y)| / |grad| before cancellation (silu' = s + y·s·(1 − s) can cancel to 0).
    private func derivativeScale(_ y: Double, _ activation: Activation) -> Double {
        guard activation == .silu else { return 1e-9 }  // identity and relu6 are exact
        let s = TrainingReference.sigmoid(y)
        return s + abs(y) * s * (1 - s)
    }

    // MARK: - BatchNorm

    private struct BNCase {
        var z, dOut, gamma, beta, mean, invStd: [Float]
        var pixels, channels: Int
    }

    private func bnCase(pixels: Int, channels: Int, seed: UInt64) -> BNCase {
        var rng = TestRandom(seed: seed)
        let shifts = rng.floats(channels, -2, 2)
        var z = rng.floats(pixels * channels, -3, 3)
        for p in 0..<pixels { for c in 0..<channels { z[p * channels + c] += shifts[c] } }
        return BNCase(z: z, dOut: rng.floats(pixels * channels, -1, 1), gamma: rng.floats(channels, 0.5, 3),
                      beta: rng.floats(channels, -1, 4), mean: shifts, invStd: rng.floats(channels, 0.3, 2),
                      pixels: pixels, channels: channels)
    }

    /// (pixels, channels, b0, b1, p0, p1, tileRows): whole tensors, channel blocks that start past 0,
    /// row ranges that start past 0, tails of every size and several tiles; narrow blocks (the kernels'
    /// tile walk) and blocks of 64 channels or more (their row walk), one starting mid-row, one wider
    /// than the row walk's 2048-channel chunk.
    private let bnShapes: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (7, 3, 0, 3, 0, 7, 32), (50, 13, 0, 13, 0, 50, 32), (70, 40, 16, 40, 5, 70, 32),
        (65, 133, 0, 133, 0, 65, 32), (40, 133, 128, 133, 3, 37, 7), (33, 17, 1, 16, 1, 33, 4),
        (20, 200, 40, 133, 2, 19, 8), (3, 2100, 0, 2100, 0, 3, 2),
    ]

    /// Runs `body` for every C path and BatchNorm shape with that shape's data (seeded by `seed` and
    /// the shape's index n): body(label, kernels, n, shape, data).
    private func forEachBatchNormCase(seed: UInt64,
                                      _ body: (String, CSIMDKernels, Int, (Int, Int, Int, Int, Int, Int, Int), BNCase) -> Void) {
        for (name, simd) in cKernelPaths {
            for (n, shape) in bnShapes.enumerated() {
                let k = bnCase(pixels: shape.0, channels: shape.1, seed: seed + UInt64(n))
                body("\(name) shape \(n)", simd, n, shape, k)
            }
        }
    }

    func testBatchNormStatisticsMatchShiftedDoubleSums() {
        forEachBatchNormCase(seed: 80) { name, simd, _, shape, k in
            let (_, C, b0, b1, p0, p1, tile) = shape
            var sums = [Double](repeating: .nan, count: b1 - b0), squares = sums
            simd.bnStatistics(k.z, C, b0, b1, p0, p1, tileRows: tile, &sums, &squares)
            for c in b0..<b1 {
                var s1 = 0.0, s2 = 0.0, a1 = 0.0
                for p in p0..<p1 {
                    let d = Double(k.z[p * C + c] - k.z[c])
                    s1 += d; s2 += d * d; a1 += abs(d)
                }
                let label = "\(name) channel \(c)"
                XCTAssertEqual(sums[c - b0], s1, accuracy: 1e-6 * a1 + 1e-30, "\(label): sum")
                XCTAssertEqual(squares[c - b0], s2, accuracy: 1e-6 * s2 + 1e-30, "\(label): squares")
            }
        }
    }

    func testBatchNormApplyMatchesScalarNormaliseAndActivate() {
        forEachBatchNormCase(seed: 90) { name, simd, _, shape, k in
            let (pixels, C, _, _, p0, p1, tile) = shape
            for activation in allActivations {
                let start = [Float](repeating: 1234, count: pixels * C)
                var out = start
                simd.bnApply(activation, k.z, C, p0, p1, tileRows: tile, k.gamma, k.beta, k.mean, k.invStd, &out)
                for p in 0..<pixels {
                    for c in 0..<C {
                        let i = p * C + c
                        let label = "\(name) \(activation) [\(p)][\(c)]"
                        guard p >= p0 && p < p1 else { XCTAssertEqual(out[i], start[i], "\(label): outside rows"); continue }
                        let scale = k.invStd[c] * k.gamma[c]
                        let y = Double(k.z[i] - k.mean[c]) * Double(scale) + Double(k.beta[c])
                        let want = NaiveReference.activate(y, activation)
                        // One rounding of y (fused) plus the activation's few 1e-7.
                        let allowed = 1e-6 * (abs(want) + 1e-6 * abs(y)) + 1e-30
                        XCTAssert(abs(Double(out[i]) - want) <= allowed, "\(label): \(out[i]) vs \(want)")
                    }
                }
            }
        }
    }

    func testBatchNormBackwardSumsAndStoredGradientMatchScalarLoops() {
        forEachBatchNormCase(seed: 100) { name, simd, _, shape, k in
            let (pixels, C, b0, b1, p0, p1, tile) = shape
            for activation in allActivations {
                for storeDY in [false, true] {
                    var sums = [Double](repeating: .nan, count: b1 - b0), projections = sums
                    var dY = [Float](repeating: 1234, count: pixels * C)
                    dY.withUnsafeMutableBufferPointer { d in
                        simd.bnBackwardSums(activation, k.dOut, k.z, C, b0, b1, p0, p1, tileRows: tile, k.gamma,
                                            k.beta, k.mean, k.invStd, &sums, &projections,
                                            storeDY ? d.baseAddress! : nil)
                    }
                    for c in 0..<C {
                        var s1 = 0.0, s2 = 0.0, m1 = 0.0, m2 = 0.0
                        for p in 0..<pixels {
                            let i = p * C + c
                            let label = "\(name) \(activation) store \(storeDY) [\(p)][\(c)]"
                            let inside = p >= p0 && p < p1 && c >= b0 && c < b1
                            guard inside else {
                                XCTAssertEqual(dY[i], 1234, "\(label): dY written outside the block")
                                continue
                            }
                            let (dy, scale, xhat) = referenceGradient(k, i, c, activation)
                            s1 += dy; s2 += dy * xhat; m1 += scale; m2 += scale * abs(xhat)
                            if storeDY {
                                XCTAssert(abs(Double(dY[i]) - dy) <= 1e-6 * scale + 1e-30, "\(label): \(dY[i]) vs \(dy)")
                            } else {
                                XCTAssertEqual(dY[i], 1234, "\(label): dY stored without being asked")
                            }
                        }
                        guard c >= b0 && c < b1 else { continue }
                        let label = "\(name) \(activation) store \(storeDY) channel \(c)"
                        XCTAssertEqual(sums[c - b0], s1, accuracy: 2e-6 * m1 + 1e-30, "\(label): ΣdY")
                        XCTAssertEqual(projections[c - b0], s2, accuracy: 2e-6 * m2 + 1e-30, "\(label): ΣdY·xhat")
                    }
                }
            }
        }
    }

    func testBatchNormBackwardInputGradientMatchesScalarFormula() {
        forEachBatchNormCase(seed: 110) { name, simd, n, shape, k in
            let (pixels, C, b0, b1, p0, p1, tile) = shape
            var rng = TestRandom(seed: UInt64(120 + n))
            let meanGrad = rng.floats(b1 - b0, -0.5, 0.5), projGrad = rng.floats(b1 - b0, -0.5, 0.5)
            for activation in allActivations {
                // Out of place, and in place over dOut (how the SiLU backward runs its second pass).
                for inPlace in [false, true] {
                    var gradInput = inPlace ? k.dOut : [Float](repeating: 1234, count: pixels * C)
                    let before = gradInput
                    if inPlace {
                        gradInput.withUnsafeMutableBufferPointer { g in
                            simd.bnBackwardInput(activation, UnsafePointer(g.baseAddress!), k.z, C, b0, b1, p0, p1,
                                                 tileRows: tile, k.gamma, k.beta, k.mean, k.invStd, meanGrad,
                                                 projGrad, g.baseAddress!)
                        }
                    } else {
                        simd.bnBackwardInput(activation, k.dOut, k.z, C, b0, b1, p0, p1, tileRows: tile, k.gamma,
                                             k.beta, k.mean, k.invStd, meanGrad, projGrad, &gradInput)
                    }
                    for p in 0..<pixels {
                        for c in 0..<C {
                            let i = p * C + c
                            let label = "\(name) \(activation) in place \(inPlace) [\(p)][\(c)]"
                            guard p >= p0 && p < p1 && c >= b0 && c < b1 else {
                                XCTAssertEqual(gradInput[i], before[i], "\(label): written outside the block")
                                continue
                            }
                            let (dy, scale, xhat) = referenceGradient(k, i, c, activation)
                            let mg = Double(meanGrad[c - b0]), pg = Double(projGrad[c - b0])
                            let gs = Double(k.gamma[c] * k.invStd[c])
                            let want = (dy - mg - xhat * pg) * gs
                            let allowed = 1e-6 * (scale + abs(mg) + abs(xhat * pg)) * abs(gs) + 1e-30
                            XCTAssert(abs(Double(gradInput[i]) - want) <= allowed, "\(label): \(gradInput[i]) vs \(want)")
                        }
                    }
                }
            }
        }
    }

    /// dY = dOut·act'(xhat·gamma + beta) for element i (channel c) in Double from the float xhat, with
    /// the size it has before any cancellation (for tolerances) and xhat.
    private func referenceGradient(_ k: BNCase, _ i: Int, _ c: Int, _ activation: Activation)
        -> (dy: Double, scale: Double, xhat: Double) {
        let xhat = Double(k.z[i] - k.mean[c]) * Double(k.invStd[c])
        let y = xhat * Double(k.gamma[c]) + Double(k.beta[c])
        let dOut = Double(k.dOut[i])
        let dy = dOut * TrainingReference.actDerivative(y, activation)
        var scale = abs(dOut) * (activation == .silu ? derivativeScale(y, .silu) : 1)
        if activation == .silu {
            // The kernel's y is a float (a subtract, a multiply and a fused multiply-add: about 2e-7 of
            // |xhat·gamma| + |beta|), and silu' carries that error on with its slope silu''(y). Far out on
            // the negative side silu' is tiny and this term dominates its own few 1e-7: one element of the
            // 2100-channel shape came out at -7.891874e-08 against -7.891862e-08 (1.5e-6 relative), with
            // the same bits as the kernel had before its row walk. In units of the 1e-6 the callers use.
            let s = TrainingReference.sigmoid(y)
            let slope = abs(s * (1 - s) * (2 + y * (1 - 2 * s)))
            scale += abs(dOut) * slope * 0.2 * (abs(xhat * Double(k.gamma[c])) + abs(Double(k.beta[c])))
        }
        return (dy, scale, xhat)
    }

    // MARK: - Selection

    func testEnvironmentForcesASupportedPathAndFallsBackOtherwise() {
        var notes: [String] = []
        let note = { (message: String) in notes.append(message) }
        XCTAssertEqual(SIMDPath.choose(requested: nil, best: .avx512, note: note), .avx512)
        XCTAssertEqual(SIMDPath.choose(requested: "", best: .avx2, note: note), .avx2)
        XCTAssertEqual(SIMDPath.choose(requested: "swift", best: .avx512, note: note), .swift)
        XCTAssertEqual(SIMDPath.choose(requested: "AVX2", best: .avx512, note: note), .avx2)
        XCTAssertTrue(notes.isEmpty, "valid requests need no note: \(notes)")
        XCTAssertEqual(SIMDPath.choose(requested: "avx512", best: .avx2, note: note), .avx2)
        XCTAssertEqual(SIMDPath.choose(requested: "neon", best: .swift, note: note), .swift)
        XCTAssertEqual(notes.count, 2, "an unsupported and an unknown request are both reported: \(notes)")
        XCTAssertTrue(SIMDPath.supported.contains(SIMDPath.active))
        XCTAssertEqual(CSIMDKernels.active == nil, SIMDPath.active == .swift)
    }
}
