/// PIL `ImageOps` point operations (lookup tables), as torchvision's `posterize`, `solarize`,
/// `invert`, `autocontrast` and `equalize` apply them to PIL images.
extension RGBImage {
    /// Maps every channel value through a 256-entry table per channel.
    public func applyingLookupTables(_ red: [UInt8], _ green: [UInt8], _ blue: [UInt8]) -> RGBImage {
        precondition(red.count == 256 && green.count == 256 && blue.count == 256, "lookup tables need 256 entries")
        let luts = [red, green, blue]
        return pixels.withUnsafeBufferPointer { src in
            RGBImage(width: width, height: height) { out in
                for c in 0..<3 {
                    luts[c].withUnsafeBufferPointer { lut in
                        var i = c
                        while i < src.count {
                            out[i] = lut[Int(src[i])]
                            i += 3
                        }
                    }
                }
            }
        }
    }

    /// The same table for all channels.
    public func applyingLookupTable(_ table: [UInt8]) -> RGBImage {
        applyingLookupTables(table, table, table)
    }

    /// Per-channel 256-bin histograms (PIL `histogram()`), red first.
    public func histograms() -> [[Int]] {
        var h = [[Int]](repeating: [Int](repeating: 0, count: 256), count: 3)
        pixels.withUnsafeBufferPointer { src in
            var i = 0
            while i < src.count {
                h[0][Int(src[i])] += 1
                h[1][Int(src[i + 1])] += 1
                h[2][Int(src[i + 2])] += 1
                i += 3
            }
        }
        return h
    }

    /// `ImageOps.posterize(img, bits)`: keep the top `bits` bits.
    public func posterized(bits: Int) -> RGBImage {
        precondition((0...8).contains(bits), "posterize: bits must be in 0...8")
        let mask = UInt8(truncatingIfNeeded: ~((1 << (8 - bits)) - 1))
        return applyingLookupTable((0..<256).map { UInt8($0) & mask })
    }

    /// `ImageOps.solarize(img, threshold)`: values `>= threshold` are inverted.
    public func solarized(threshold: Double) -> RGBImage {
        applyingLookupTable((0..<256).map { Double($0) < threshold ? UInt8($0) : UInt8(255 - $0) })
    }

    /// `ImageOps.invert(img)`.
    public func inverted() -> RGBImage {
        applyingLookupTable((0..<256).map { UInt8(255 - $0) })
    }

    /// `ImageOps.autocontrast(img)` (cutoff 0): stretch each channel's [min, max] to [0, 255].
    public func autocontrasted() -> RGBImage {
        let tables = histograms().map { h -> [UInt8] in
            guard let lo = h.firstIndex(where: { $0 != 0 }), let hi = h.lastIndex(where: { $0 != 0 }), hi > lo else {
                return (0..<256).map { UInt8($0) }
            }
            let scale = 255.0 / Double(hi - lo)
            let offset = -Double(lo) * scale
            return (0..<256).map { ix in
                let v = Int(Double(ix) * scale + offset)
                return UInt8(clamping: v)
            }
        }
        return applyingLookupTables(tables[0], tables[1], tables[2])
    }

    /// `ImageOps.equalize(img)`: per channel, PIL's cumulative-histogram lookup table.
    public func equalized() -> RGBImage {
        let tables = histograms().map { h -> [UInt8] in
            let used = h.filter { $0 != 0 }
            let identity = (0..<256).map { UInt8($0) }
            guard used.count > 1 else { return identity }
            let step = (used.reduce(0, +) - used[used.count - 1]) / 255
            guard step != 0 else { return identity }
            var n = step / 2
            var lut = [UInt8](repeating: 0, count: 256)
            for i in 0..<256 {
                lut[i] = UInt8(clamping: n / step)
                n += h[i]
            }
            return lut
        }
        return applyingLookupTables(tables[0], tables[1], tables[2])
    }
}
