/// PIL's `ImageEnhance` operations, which torchvision's `adjust_brightness`, `adjust_saturation`,
/// `adjust_contrast` and `adjust_sharpness` call on PIL images: each blends the image with a
/// "degenerate" version (`Image.blend(degenerate, image, factor)`) using PIL's float32 blend with
/// truncation, so results match PIL exactly.
extension RGBImage {
    /// PIL `Image.blend(degenerate, self, factor)`; factor outside [0, 1] extrapolates with clipping.
    public func blended(from degenerate: RGBImage, factor: Double) -> RGBImage {
        precondition(degenerate.width == width && degenerate.height == height, "blend: sizes differ")
        let alpha = Float(factor)
        if alpha == 0 { return degenerate }
        if alpha == 1 { return self }
        return pixels.withUnsafeBufferPointer { im in
            degenerate.pixels.withUnsafeBufferPointer { dg in
                RGBImage(width: width, height: height) { out in
                    for i in 0..<im.count {
                        let d = Int32(dg[i])
                        let t = Float(d) + alpha * Float(Int32(im[i]) - d)
                        out[i] = t <= 0 ? 0 : (t >= 255 ? 255 : UInt8(t))
                    }
                }
            }
        }
    }

    /// PIL `convert("L")`: ITU-R 601-2 luma in 16-bit fixed point, `(r*19595 + g*38470 + b*7471 + 0x8000) >> 16`.
    public func luma() -> [UInt8] {
        pixels.withUnsafeBufferPointer { src in
            [UInt8](unsafeUninitializedCapacity: width * height) { out, count in
                for p in 0..<(width * height) {
                    let l = Int32(src[3 * p]) &* 19595 &+ Int32(src[3 * p + 1]) &* 38470
                        &+ Int32(src[3 * p + 2]) &* 7471 &+ 0x8000
                    out[p] = UInt8(truncatingIfNeeded: l >> 16)
                }
                count = width * height
            }
        }
    }

    /// `convert("L").convert("RGB")`.
    public func grayscale() -> RGBImage {
        let l = luma()
        return RGBImage(width: width, height: height) { out in
            for p in 0..<l.count {
                out[3 * p] = l[p]; out[3 * p + 1] = l[p]; out[3 * p + 2] = l[p]
            }
        }
    }

    /// torchvision `adjust_brightness(img, factor)` (blend with black).
    public func adjustingBrightness(_ factor: Double) -> RGBImage {
        blended(from: RGBImage(width: width, height: height), factor: factor)
    }

    /// torchvision `adjust_saturation(img, factor)` (AutoAugment "Color"; blend with the grayscale image).
    public func adjustingSaturation(_ factor: Double) -> RGBImage {
        blended(from: grayscale(), factor: factor)
    }

    /// torchvision `adjust_contrast(img, factor)`: blend with the mean luma, `int(mean + 0.5)`.
    public func adjustingContrast(_ factor: Double) -> RGBImage {
        var histogram = [Int](repeating: 0, count: 256)
        for v in luma() { histogram[Int(v)] += 1 }
        var sum = 0.0
        for i in 0..<256 { sum += Double(i) * Double(histogram[i]) }
        let n = Double(width * height)
        let mean = n > 0 ? Int(sum / n + 0.5) : 0
        let m = UInt8(clamping: mean)
        return blended(from: RGBImage(width: width, height: height, fill: RGB(m, m, m)), factor: factor)
    }

    /// torchvision `adjust_sharpness(img, factor)`: blend with PIL's SMOOTH filter output.
    public func adjustingSharpness(_ factor: Double) -> RGBImage {
        blended(from: smoothed(), factor: factor)
    }

    /// PIL `filter(ImageFilter.SMOOTH)`: 3x3 kernel (1 1 1 / 1 5 1 / 1 1 1) / 13 in float32 with
    /// PIL's summation order and truncation after +0.5; the outermost rows and columns are copied.
    public func smoothed() -> RGBImage {
        guard width >= 3, height >= 3 else { return self }
        let k1 = Float(1) / Float(13), k5 = Float(5) / Float(13)
        let w = width, n = width * 3
        var out = self
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for y in 1..<(height - 1) {
                    let up = src.baseAddress! + (y - 1) * n
                    let mid = src.baseAddress! + y * n
                    let down = src.baseAddress! + (y + 1) * n
                    let o = dst.baseAddress! + y * n
                    for x in 1..<(w - 1) {
                        for c in 0..<3 {
                            let i = 3 * x + c
                            var ss: Float = 0.5
                            ss += Float(down[i - 3]) * k1 + Float(down[i]) * k1 + Float(down[i + 3]) * k1
                            ss += Float(mid[i - 3]) * k1 + Float(mid[i]) * k5 + Float(mid[i + 3]) * k1
                            ss += Float(up[i - 3]) * k1 + Float(up[i]) * k1 + Float(up[i + 3]) * k1
                            o[i] = ss <= 0 ? 0 : (ss >= 255 ? 255 : UInt8(ss))
                        }
                    }
                }
            }
        }
        return out
    }
}
