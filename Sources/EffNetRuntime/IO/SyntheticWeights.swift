/// Deterministic pseudo-random weights: the same (seed, name, shape) always gives the same values,
/// on every machine, and a short Python/NumPy function reproduces them bit for bit. Parity tests
/// use this to run our models and PyTorch's on identical parameters without shipping weight files.
///
/// The exact definition (all arithmetic on UInt64 wraps; `>>` is a logical shift):
/// ```
/// splitmix64(x): z = x + 0x9E3779B97F4A7C15
///                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
///                z = (z ^ (z >> 27)) * 0x94D049BB133111EB
///                return z ^ (z >> 31)
/// fnv1a64(name): h = 0xCBF29CE484222325; for each UTF-8 byte b: h = (h ^ b) * 0x100000001B3
/// key      = splitmix64(fnv1a64(name) ^ seed)
/// u(i)     = Double(splitmix64(key + UInt64(i)) >> 40) / 16777216.0      // i = flat row-major index
/// value(i) = Float(lo + (hi - lo) * u(i))     // in Double (no fused multiply-add), rounded to nearest Float
/// ```
/// `(lo, hi)` by name and shape, first matching rule wins:
/// 1. name ends with `.running_var`:           (0.5, 1.5)
/// 2. name ends with `.running_mean`:          (-0.2, 0.2)
/// 3. name ends with `.bias`:                  (-0.2, 0.2)
/// 4. rank 1 and name ends with `.weight`:     (0.5, 1.5)      (BatchNorm gamma)
/// 5. rank 4 `[out, in, kh, kw]`:              a = sqrt(6 / Double(in*kh*kw)), (-a, a)
/// 6. rank 2 `[out, in]`:                      a = 1 / sqrt(Double(in)), (-a, a)
/// 7. anything else:                           (-0.1, 0.1)
///
/// NumPy equivalent (values identical to the last bit):
/// ```python
/// import math
/// import numpy as np
/// M = (1 << 64) - 1
/// def splitmix64(x):
///     z = (x + 0x9E3779B97F4A7C15) & M
///     z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
///     z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
///     return z ^ (z >> 31)
/// def fnv1a64(name):
///     h = 0xCBF29CE484222325
///     for b in name.encode("utf-8"):
///         h = ((h ^ b) * 0x100000001B3) & M
///     return h
/// def splitmix64_np(x):  # x: np.uint64 array; numpy wraps uint64 arithmetic
///     z = x + np.uint64(0x9E3779B97F4A7C15)
///     z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
///     z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
///     return z ^ (z >> np.uint64(31))
/// def synthetic(name, shape, seed=0):
///     n = int(np.prod(shape, dtype=np.int64))
///     key = splitmix64(fnv1a64(name) ^ seed)
///     idx = (np.uint64(key) + np.arange(n, dtype=np.uint64))
///     u = (splitmix64_np(idx) >> np.uint64(40)).astype(np.float64) / 16777216.0
///     lo, hi = synthetic_range(name, shape)
///     return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)
/// def synthetic_range(name, shape):
///     if name.endswith(".running_var"): return 0.5, 1.5
///     if name.endswith(".running_mean") or name.endswith(".bias"): return -0.2, 0.2
///     if len(shape) == 1 and name.endswith(".weight"): return 0.5, 1.5
///     if len(shape) == 4: a = math.sqrt(6.0 / (shape[1] * shape[2] * shape[3])); return -a, a
///     if len(shape) == 2: a = 1.0 / math.sqrt(shape[1]); return -a, a
///     return -0.1, 0.1
/// ```
public struct SyntheticWeights: WeightStore, Sendable {
    /// Selects an independent family of weights; 0 is the default used by the parity tests.
    public let seed: UInt64

    public init(seed: UInt64 = 0) {
        self.seed = seed
    }

    /// The weights for parameter `name` of the given shape. Never throws: every name exists.
    public func tensor(_ name: String, shape: [Int]) -> HostTensor {
        let (lo, hi) = SyntheticWeights.range(name: name, shape: shape)
        let key = SyntheticWeights.splitmix64(SyntheticWeights.fnv1a64(name) ^ seed)
        let count = HostTensor.elementCount(of: shape)
        let span = hi - lo
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                let bits = SyntheticWeights.splitmix64(key &+ UInt64(i)) >> 40
                let u = Double(bits) / 16777216.0
                buffer[i] = Float(lo + span * u)
            }
            initialized = count
        }
        return HostTensor(shape: shape, values: values)
    }

    /// The `(lo, hi)` interval for a parameter (rules in the type's documentation).
    public static func range(name: String, shape: [Int]) -> (lo: Double, hi: Double) {
        if name.hasSuffix(".running_var") { return (0.5, 1.5) }
        if name.hasSuffix(".running_mean") { return (-0.2, 0.2) }
        if name.hasSuffix(".bias") { return (-0.2, 0.2) }
        if shape.count == 1 && name.hasSuffix(".weight") { return (0.5, 1.5) }
        if shape.count == 4 {
            let a = (6.0 / Double(shape[1] * shape[2] * shape[3])).squareRoot()
            return (-a, a)
        }
        if shape.count == 2 {
            let a = 1.0 / Double(shape[1]).squareRoot()
            return (-a, a)
        }
        return (-0.1, 0.1)
    }

    /// SplitMix64 finalizer (Steele, Lea, Flood 2014), wrapping arithmetic.
    @inline(__always)
    public static func splitmix64(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 64-bit FNV-1a hash of the UTF-8 bytes of `text`.
    public static func fnv1a64(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }
}
