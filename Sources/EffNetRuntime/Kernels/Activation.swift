import Foundation

/// Pointwise nonlinearity fused into the kernels' epilogues.
/// silu(x) = x / (1 + exp(-x)); relu6(x) = min(max(x, 0), 6).
public enum Activation: String, Sendable, Codable {
    case identity, silu, relu6

    /// Scalar reference (Foundation `exp`), the definition the vector code is tested against.
    @inlinable public func apply(_ x: Float) -> Float {
        switch self {
        case .identity: return x
        case .silu: return x / (1 + Foundation.exp(-x))
        case .relu6: return Swift.min(Swift.max(x, 0), 6)
        }
    }
}

// MARK: - Vector math

/// exp for 16 lanes (Cephes `expf` polynomial: ~1 ulp on [-87, 88], same accuracy class as
/// PyTorch's vectorized Sleef exp). Inputs are clamped to [-87, 88] (exp(88) ≈ 1.65e38), which
/// only matters for sigmoid/SiLU tails where the result is 0 or x to float precision anyway.
/// Needs no rounding instruction (the SSE2 baseline has none).
@inline(__always) func vectorExp(_ x: FVec) -> FVec {
    let clamped = clampVec(x, -87, 88)
    // t = x/ln2 + (1.5·2^23 + 127): the float add rounds x/ln2 to the nearest integer n and leaves
    // n + 127 in t's low mantissa bits, so `bits(t) << 23` is the bit pattern of 2^n.
    let magic = FVec(repeating: 12_582_912 + 127)
    let t = clamped * FVec(repeating: 1.442_695_040_888_963_4) + magic
    let n = t - magic
    var r = clamped - n * FVec(repeating: 0.693_359_375)
    r = r + n * FVec(repeating: 2.121_944_4e-4)
    var p = FVec(repeating: 1.987_569_150_0e-4)
    p = p * r + FVec(repeating: 1.398_199_950_7e-3)
    p = p * r + FVec(repeating: 8.333_451_907_3e-3)
    p = p * r + FVec(repeating: 4.166_579_589_4e-2)
    p = p * r + FVec(repeating: 1.666_666_545_9e-1)
    p = p * r + FVec(repeating: 5.000_000_120_1e-1)
    let y = p * (r * r) + r + FVec(repeating: 1)
    let pow2n = unsafeBitCast(unsafeBitCast(t, to: SIMD16<UInt32>.self) &<< 23, to: FVec.self)
    return y * pow2n
}

/// min(max(v, lo), hi). (`SIMD.clamped` and `pointwiseMin/Max` compile to slow scalar code under
/// plain -O, ~100x slower than this masked select.)
@inline(__always) func clampVec(_ v: FVec, _ lo: Float, _ hi: Float) -> FVec {
    var r = v
    r.replace(with: FVec(repeating: lo), where: r .< FVec(repeating: lo))
    r.replace(with: FVec(repeating: hi), where: r .> FVec(repeating: hi))
    return r
}

@inline(__always) func vectorSigmoid(_ x: FVec) -> FVec {
    FVec(repeating: 1) / (FVec(repeating: 1) + vectorExp(-x))
}

@inline(__always) func vectorSiLU(_ x: FVec) -> FVec {
    x / (FVec(repeating: 1) + vectorExp(-x))
}

@inline(__always) func scalarSigmoid(_ x: Float) -> Float {
    1 / (1 + Foundation.exp(-x))
}

// MARK: - Static dispatch

/// Kernels switch on `Activation` once and run a loop specialized for one of these types,
/// so no per-element branch or closure is left in the hot loops.
protocol ActivationFunction {
    /// The value this type stands for (what the C kernels are told).
    static var activation: Activation { get }
    static func apply(_ v: FVec) -> FVec
    static func apply(_ x: Float) -> Float
}

enum IdentityFunction: ActivationFunction {
    static var activation: Activation { .identity }
    @inline(__always) static func apply(_ v: FVec) -> FVec { v }
    @inline(__always) static func apply(_ x: Float) -> Float { x }
}

enum SiLUFunction: ActivationFunction {
    static var activation: Activation { .silu }
    @inline(__always) static func apply(_ v: FVec) -> FVec { vectorSiLU(v) }
    @inline(__always) static func apply(_ x: Float) -> Float { x / (1 + Foundation.exp(-x)) }
}

enum ReLU6Function: ActivationFunction {
    static var activation: Activation { .relu6 }
    @inline(__always) static func apply(_ v: FVec) -> FVec {
        clampVec(v, 0, 6)
    }
    @inline(__always) static func apply(_ x: Float) -> Float { Swift.min(Swift.max(x, 0), 6) }
}

// MARK: - Epilogue shared by the GEMM-based kernels

/// rows × cols block at `out` (row stride `ldo`): out = act(out + bias[col]) (+ residual, same layout,
/// added after the activation). `bias` and `residual` are already offset to the block's first column.
/// Runs the C kernel of the active SIMD path when there is one (see `SIMDPath`).
@inline(__always) func biasActivationEpilogue<A: ActivationFunction>(
    _: A.Type, out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, cols: Int,
    bias: UnsafePointer<Float>, residual: UnsafePointer<Float>?
) {
    if let simd = CSIMDKernels.active {
        simd.biasActivation(A.activation, out: out, ldo: ldo, rows: rows, cols: cols, bias: bias, residual: residual)
        return
    }
    let full = cols & ~15
    let tail = cols &- full
    for r in 0..<rows {
        let row = out + r &* ldo
        var c = 0
        if let residual {
            let res = residual + r &* ldo
            while c < full {
                storeVec(A.apply(loadVec(row + c) + loadVec(bias + c)) + loadVec(res + c), row + c)
                c &+= 16
            }
            if tail > 0 {
                let v = A.apply(loadPartialVec(row + c, tail) + loadPartialVec(bias + c, tail))
                storePartialVec(v + loadPartialVec(res + c, tail), row + c, tail)
            }
        } else {
            while c < full {
                storeVec(A.apply(loadVec(row + c) + loadVec(bias + c)), row + c)
                c &+= 16
            }
            if tail > 0 {
                let v = A.apply(loadPartialVec(row + c, tail) + loadPartialVec(bias + c, tail))
                storePartialVec(v, row + c, tail)
            }
        }
    }
}

/// `biasActivationEpilogue` for an activation known only at run time (one dispatch per block).
@inline(__always) func biasActivationEpilogue(
    _ activation: Activation, out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, cols: Int,
    bias: UnsafePointer<Float>, residual: UnsafePointer<Float>?
) {
    switch activation {
    case .identity:
        biasActivationEpilogue(IdentityFunction.self, out: out, ldo: ldo, rows: rows, cols: cols, bias: bias,
                               residual: residual)
    case .silu:
        biasActivationEpilogue(SiLUFunction.self, out: out, ldo: ldo, rows: rows, cols: cols, bias: bias,
                               residual: residual)
    case .relu6:
        biasActivationEpilogue(ReLU6Function.self, out: out, ldo: ldo, rows: rows, cols: cols, bias: bias,
                               residual: residual)
    }
}

extension Kernels {
    /// In-place activation over `count` contiguous floats (for fusions the generator does not cover).
    public static func applyActivation(_ data: UnsafeMutablePointer<Float>, count: Int,
                                       activation: Activation, pool: WorkerPool) {
        switch activation {
        case .identity: return
        case .silu: activateInPlace(SiLUFunction.self, data, count, pool)
        case .relu6: activateInPlace(ReLU6Function.self, data, count, pool)
        }
    }

    @inline(__always) static func activateInPlace<A: ActivationFunction>(
        _: A.Type, _ data: UnsafeMutablePointer<Float>, _ count: Int, _ pool: WorkerPool
    ) {
        let parts = count >= 1 << 15 ? pool.threadCount : 1
        let chunk = alignedChunk(count, parts: parts, align: 16)
        let tasks = (count + chunk - 1) / chunk
        let simd = CSIMDKernels.active
        pool.parallelFor(tasks) { t in
            let start = t &* chunk
            let end = Swift.min(count, start &+ chunk)
            if let simd {
                simd.biasActivation(A.activation, out: data + start, ldo: 0, rows: 1, cols: end &- start,
                                    bias: nil, residual: nil)
                return
            }
            var i = start
            while i &+ 16 <= end { storeVec(A.apply(loadVec(data + i)), data + i); i &+= 16 }
            if i < end { storePartialVec(A.apply(loadPartialVec(data + i, end &- i)), data + i, end &- i) }
        }
    }
}
