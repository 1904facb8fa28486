@testable import EffNetRuntime
import XCTest

/// The weight-gradient GEMM (WeightGradientTemplate.h) of every instruction set this CPU supports, against
/// a Double loop: c (+)= Σ_k a[k·lda + m]·b[k·ldb + n] with strides wider than the sizes, row and column
/// counts that leave partial strips and partial vectors, depths around its 64-row blocks (and zero), both
/// overwrite and accumulate, and nothing written outside the M x N block of c.
final class WeightGradientKernelTests: XCTestCase {
    func testMatchesDoubleLoopOverShapesStridesAndBothModes() {
        let paths = SIMDPath.supported.compactMap { path in CSIMDKernels(path).map { (path.rawValue, $0) } }
        var rng = TestRandom(seed: 600)
        for (M, N, K) in [(1, 1, 1), (8, 48, 64), (9, 49, 65), (17, 23, 130), (40, 100, 200), (3, 150, 0), (24, 16, 63)] {
            let lda = M + 3, ldb = N + 5, ldc = N + 2
            let a = rng.floats(max(1, K) * lda, -2, 2), b = rng.floats(max(1, K) * ldb, -2, 2)
            let start = rng.floats(M * ldc, -1, 1)
            for accumulate in [false, true] {
                var want = [Double](repeating: 0, count: M * ldc)
                for m in 0..<M {
                    for n in 0..<ldc {
                        guard n < N else { want[m * ldc + n] = Double(start[m * ldc + n]); continue }
                        var sum = accumulate ? Double(start[m * ldc + n]) : 0
                        for k in 0..<K { sum += Double(a[k * lda + m]) * Double(b[k * ldb + n]) }
                        want[m * ldc + n] = sum
                    }
                }
                for (name, simd) in paths {
                    var c = start
                    simd.weightGradientGemm(rows: M, cols: N, depth: K, a, lda: lda, b, ldb: ldb, &c, ldc: ldc,
                                            accumulate: accumulate)
                    let label = "\(name) \(M)x\(N)x\(K) accumulate \(accumulate)"
                    for i in 0..<c.count where i % ldc >= N {
                        XCTAssertEqual(c[i].bitPattern, start[i].bitPattern, "\(label): wrote outside the block at \(i)")
                    }
                    assertClose(c, want, relativeTolerance: 1e-5, label)
                }
            }
        }
    }
}
