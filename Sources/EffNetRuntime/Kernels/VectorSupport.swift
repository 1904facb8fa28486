// Small SIMD helpers shared by the kernels.
//
// Performance note: everything here must be fast under plain `-O` for the x86-64 baseline
// (SSE2, no FMA). `SIMD.addingProduct` lowers to a per-lane `fmaf` library call there (~25x
// slower than `a + b * c`), so the kernels spell multiply-add as `acc + x * w` on purpose.

/// The kernels' vector type: 16 floats (4 SSE registers, 2 AVX registers or 1 AVX-512 register).
typealias FVec = SIMD16<Float>

@inline(__always) func loadVec(_ p: UnsafePointer<Float>) -> FVec {
    UnsafeRawPointer(p).loadUnaligned(as: FVec.self)
}

@inline(__always) func loadVec(_ p: UnsafeMutablePointer<Float>) -> FVec {
    UnsafeRawPointer(p).loadUnaligned(as: FVec.self)
}

@inline(__always) func storeVec(_ v: FVec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: FVec.self)
}

/// Loads `count` (< 16) floats into the low lanes; the other lanes are zero.
@inline(__always) func loadPartialVec(_ p: UnsafePointer<Float>, _ count: Int) -> FVec {
    var v = FVec(repeating: 0)
    var i = 0
    while i < count { v[i] = p[i]; i &+= 1 }
    return v
}

/// Stores the low `count` (< 16) lanes.
@inline(__always) func storePartialVec(_ v: FVec, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i < count { p[i] = v[i]; i &+= 1 }
}

/// Dot product of two contiguous float vectors (float accumulation in 16 lanes).
@inline(__always) func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = FVec(repeating: 0)
    var acc1 = FVec(repeating: 0)
    var i = 0
    while i &+ 32 <= n {
        acc0 = acc0 + loadVec(a + i) * loadVec(b + i)
        acc1 = acc1 + loadVec(a + (i &+ 16)) * loadVec(b + (i &+ 16))
        i &+= 32
    }
    if i &+ 16 <= n {
        acc0 = acc0 + loadVec(a + i) * loadVec(b + i)
        i &+= 16
    }
    var sum = (acc0 + acc1).sum()
    while i < n { sum += a[i] * b[i]; i &+= 1 }
    return sum
}

/// Splits `count` items into at most `parts` contiguous ranges whose starts are multiples of
/// `align` (except that the last range ends at `count`). Returns the chunk length.
@inline(__always) func alignedChunk(_ count: Int, parts: Int, align: Int) -> Int {
    let raw = (count + parts - 1) / max(parts, 1)
    return max(align, (raw + align - 1) / align * align)
}

/// 8 floats (2 SSE registers), for loops that keep several sums per channel group in registers:
/// with 16 lanes each sum takes 4 of SSE's 16 registers and such loops spill.
typealias HVec = SIMD8<Float>

@inline(__always) func loadHalf(_ p: UnsafePointer<Float>) -> HVec {
    UnsafeRawPointer(p).loadUnaligned(as: HVec.self)
}

@inline(__always) func loadHalf(_ p: UnsafeMutablePointer<Float>) -> HVec {
    UnsafeRawPointer(p).loadUnaligned(as: HVec.self)
}

@inline(__always) func storeHalf(_ v: HVec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: HVec.self)
}
