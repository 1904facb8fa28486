import XCTest

@testable import EffNetRuntime

/// Pinned values were computed independently with NumPy (not with this Swift code):
/// ```python
/// import numpy as np, math
/// M = (1 << 64) - 1
/// def splitmix64(x):
///     z = (x + 0x9E3779B97F4A7C15) & M
///     z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
///     z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
///     return z ^ (z >> 31)
/// def fnv1a64(name):
///     h = 0xCBF29CE484222325
///     for b in name.encode(): h = ((h ^ b) * 0x100000001B3) & M
///     return h
/// def splitmix64_np(x):
///     z = x + np.uint64(0x9E3779B97F4A7C15)
///     z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
///     z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
///     return z ^ (z >> np.uint64(31))
/// def rng(name, shape):
///     if name.endswith(".running_var"): return 0.5, 1.5
///     if name.endswith(".running_mean") or name.endswith(".bias"): return -0.2, 0.2
///     if len(shape) == 1 and name.endswith(".weight"): return 0.5, 1.5
///     if len(shape) == 4: a = math.sqrt(6.0 / (shape[1] * shape[2] * shape[3])); return -a, a
///     if len(shape) == 2: a = 1.0 / math.sqrt(shape[1]); return -a, a
///     return -0.1, 0.1
/// def synthetic(name, shape, seed=0):
///     n = int(np.prod(shape, dtype=np.int64))
///     key = splitmix64(fnv1a64(name) ^ seed)
///     idx = np.uint64(key) + np.arange(n, dtype=np.uint64)
///     u = (splitmix64_np(idx) >> np.uint64(40)).astype(np.float64) / 16777216.0
///     lo, hi = rng(name, shape)
///     return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)
/// v = synthetic("features.0.0.weight", [32, 3, 3, 3]).reshape(-1)
/// print([hex(x) for x in v[:4].view(np.uint32)], float(v[-1]), float(v.astype(np.float64).sum()))
/// ```
final class SyntheticWeightsTests: XCTestCase {
    private func bits(_ values: ArraySlice<Float>) -> [UInt32] { values.map(\.bitPattern) }

    func testHashFunctionsMatchReferenceValues() {
        XCTAssertEqual(SyntheticWeights.splitmix64(0), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(SyntheticWeights.splitmix64(1), 0x910A_2DEC_8902_5CC1)
        XCTAssertEqual(SyntheticWeights.fnv1a64(""), 0xCBF2_9CE4_8422_2325)
        XCTAssertEqual(SyntheticWeights.fnv1a64("a"), 0xAF63_DC4C_8601_EC8C)
        XCTAssertEqual(SyntheticWeights.fnv1a64("features.0.0.weight"), 0xDC61_AC3B_F102_0D2C)
    }

    func testConvWeightValuesMatchNumPyBitForBit() {
        let t = SyntheticWeights(seed: 0).tensor("features.0.0.weight", shape: [32, 3, 3, 3])
        XCTAssertEqual(t.shape, [32, 3, 3, 3])
        // 0.41398349, 0.34637657, -0.46604574, 0.39980716
        XCTAssertEqual(bits(t.values[0..<4]), [0x3ED3_F5A5, 0x3EB1_5845, 0xBEEE_9D8C, 0x3ECC_B386])
        XCTAssertEqual(t.values.last, -0.16930681467056274)
        XCTAssertEqual(t.values.reduce(0.0) { $0 + Double($1) }, 20.776686945260735, accuracy: 1e-9)
    }

    func testBatchNormAndBiasRangesMatchNumPyBitForBit() {
        let store = SyntheticWeights(seed: 0)
        XCTAssertEqual(bits(store.tensor("features.0.1.running_var", shape: [32]).values[0..<4]),
                       [0x3FBD_69DE, 0x3F90_3412, 0x3F53_89CA, 0x3FBF_1F16])
        XCTAssertEqual(bits(store.tensor("classifier.1.bias", shape: [1000]).values[0..<4]),
                       [0xBE3D_C600, 0xBCE9_659A, 0x3E2D_938A, 0xBC55_F84D])
        XCTAssertEqual(bits(SyntheticWeights(seed: 7).tensor("features.0.1.weight", shape: [32]).values[0..<4]),
                       [0x3FA8_48D0, 0x3F8F_7275, 0x3F6E_21A6, 0x3F17_6D02])
    }

    func testLinearWeightAndFallbackValuesMatchNumPyBitForBit() {
        let store = SyntheticWeights()
        let linear = store.tensor("classifier.1.weight", shape: [1000, 1280])
        XCTAssertEqual(bits(linear.values[0..<4]), [0xBC80_F1F6, 0xBCAE_E36F, 0xBBEA_0AF0, 0xBC92_C4E5])
        XCTAssertEqual(linear.values.last, 0.022852174937725067)
        XCTAssertEqual(store.tensor("features.0.1.num_batches_tracked", shape: []).values.map(\.bitPattern), [0x3D18_C59A])
    }

    func testRangeRulesApplyInDocumentedOrder() {
        typealias R = (lo: Double, hi: Double)
        func range(_ name: String, _ shape: [Int]) -> R { SyntheticWeights.range(name: name, shape: shape) }
        XCTAssertTrue(range("a.running_var", [4]) == (0.5, 1.5))
        XCTAssertTrue(range("a.running_mean", [4]) == (-0.2, 0.2))
        XCTAssertTrue(range("a.bias", [4]) == (-0.2, 0.2))
        XCTAssertTrue(range("a.bias", [4, 4]) == (-0.2, 0.2))
        XCTAssertTrue(range("a.weight", [4]) == (0.5, 1.5))
        XCTAssertTrue(range("a.weight", [8, 2, 3, 3]) == (-(1.0 / 3).squareRoot(), (1.0 / 3).squareRoot()))
        XCTAssertTrue(range("a.weight", [10, 16]) == (-0.25, 0.25))
        XCTAssertTrue(range("a.other", [2, 2, 2]) == (-0.1, 0.1))
    }

    func testValuesStayInsideTheirRangeAndDependOnSeedAndName() {
        let conv = SyntheticWeights(seed: 3).tensor("features.1.0.block.0.0.weight", shape: [32, 1, 3, 3])
        let a = Float((6.0 / 9).squareRoot())
        XCTAssertTrue(conv.values.allSatisfy { $0 >= -a && $0 <= a })
        XCTAssertNotEqual(conv.values, SyntheticWeights(seed: 4).tensor("features.1.0.block.0.0.weight", shape: [32, 1, 3, 3]).values)
        XCTAssertNotEqual(conv.values, SyntheticWeights(seed: 3).tensor("features.1.0.block.1.0.weight", shape: [32, 1, 3, 3]).values)
        XCTAssertEqual(conv, SyntheticWeights(seed: 3).tensor("features.1.0.block.0.0.weight", shape: [32, 1, 3, 3]))
    }

    func testSyntheticWeightsServeAsAWeightStore() throws {
        let store: any WeightStore = SyntheticWeights(seed: 0)
        XCTAssertEqual(try store.tensor("x.weight", shape: [2, 3]).shape, [2, 3])
    }
}
