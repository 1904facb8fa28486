/// Channel sums of a depthwise layer's output rows, taken as each row is written, for the
/// squeeze-excitation that follows.
///
/// The SE needs each image's per-channel mean. As a pass of its own it reads the whole depthwise output
/// back: at batch 16 the early maps (16 x 112x112x32, 16 x 56x56x144 floats) are 19-29 MB each, read
/// from memory; at batch 1 each worker reads the half of the map the other core wrote. Summed per row
/// right after the depthwise kernel writes the row, the map is read from L1 (or the worker's L2), and
/// the SE only adds up `outHeight` row sums per image (`channelMeansFromRowSums`).
///
/// The row sums live at rowSums[row·channels] for row = n·outHeight + oy. Every row's sums depend only on
/// the row (not on how the map was split into tasks), so the result is deterministic.
extension Kernels {
    /// Floats of a row-sums buffer for `batch` images of `outHeight` rows and `channels` channels.
    public static func rowSumsFloats(batch: Int, outHeight: Int, channels: Int) -> Int {
        batch &* outHeight &* channels
    }

    /// sums[c] = Σ_x row[x·channels + c] for c in c0..<c1 over `width` pixels: four partial sums per
    /// channel (pixels x mod 4) added as (s0 + s1) + (s2 + s3), in C where there is a C path (the same
    /// bits: every add is the same float add in the same order).
    @inline(__always) static func rowChannelSums(
        _ row: UnsafePointer<Float>, width: Int, channels: Int, c0: Int, c1: Int, sums: UnsafeMutablePointer<Float>
    ) {
        if let simd = CSIMDKernels.active {
            simd.rowChannelSums(row, width: width, channels: channels, c0..<c1, sums: sums)
            return
        }
        rowChannelSumsSwift(row, width: width, channels: channels, c0: c0, c1: c1, sums: sums)
    }

    /// The portable loop of `rowChannelSums` (and the reference the C kernel is tested against).
    static func rowChannelSumsSwift(
        _ row: UnsafePointer<Float>, width: Int, channels: Int, c0: Int, c1: Int, sums: UnsafeMutablePointer<Float>
    ) {
        var c = c0
        while c < c1 {
            let w = min(16, c1 &- c)
            @inline(__always) func load(_ x: Int) -> FVec {
                w == 16 ? loadVec(row + (x &* channels &+ c)) : loadPartialVec(row + (x &* channels &+ c), w)
            }
            var s0 = FVec(repeating: 0), s1 = s0, s2 = s0, s3 = s0
            var x = 0
            while x &+ 4 <= width {
                s0 += load(x)
                s1 += load(x &+ 1)
                s2 += load(x &+ 2)
                s3 += load(x &+ 3)
                x &+= 4
            }
            if x < width { s0 += load(x) }
            if x &+ 1 < width { s1 += load(x &+ 1) }
            if x &+ 2 < width { s2 += load(x &+ 2) }
            let total = (s0 + s1) + (s2 + s3)
            if w == 16 { storeVec(total, sums + c) } else { storePartialVec(total, sums + c, w) }
            c &+= 16
        }
    }

    /// means[c] = (Σ_oy rowSums[oy·channels + c])·scale for one image's `rows` row sums, rows added in order.
    static func channelMeansFromRowSums(
        _ rowSums: UnsafePointer<Float>, rows: Int, channels: Int, scale: Float, means: UnsafeMutablePointer<Float>
    ) {
        var c = 0
        while c < channels {
            let w = min(16, channels &- c)
            var total = FVec(repeating: 0)
            for r in 0..<rows {
                let p = rowSums + (r &* channels &+ c)
                total += w == 16 ? loadVec(p) : loadPartialVec(p, w)
            }
            let mean = total * FVec(repeating: scale)
            if w == 16 { storeVec(mean, means + c) } else { storePartialVec(mean, means + c, w) }
            c &+= 16
        }
    }
}
