import Foundation

/// Geometric transforms with PIL's nearest-neighbour `Image.transform(AFFINE)` engine, which is
/// what torchvision's `affine` and `rotate` use on PIL images (AutoAugment's default
/// interpolation is NEAREST). The three code paths of PIL's Geometry.c are reproduced: pure
/// scale/translation (`ImagingScaleAffine`), 16.16 fixed point (`affine_fixed`) and the float
/// fallback, including their accumulation order, so results match PIL pixel for pixel.
extension RGBImage {
    /// Applies the inverse affine map `matrix` = (a, b, c, d, e, f): output pixel (x, y) samples
    /// input (a x + b y + c, d x + e y + f) at pixel centres; outside pixels become `fill`.
    public func affineNearest(inverse matrix: [Double], fill: RGB = .black) -> RGBImage {
        precondition(matrix.count == 6, "affineNearest: 6 coefficients expected")
        let a = matrix
        var out = RGBImage(width: width, height: height, fill: fill)
        let w = width, h = height
        guard w > 0, h > 0 else { return out }
        func coord(_ v: Double) -> Int { v < 0 ? -1 : Int(v) }  // PIL COORD
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                @inline(__always) func copy(_ o: Int, _ xin: Int, _ yin: Int) {
                    let s = (yin * w + xin) * 3
                    dst[o] = src[s]; dst[o + 1] = src[s + 1]; dst[o + 2] = src[s + 2]
                }
                if a[1] == 0 && a[3] == 0 {
                    // ImagingScaleAffine: tabulate columns, then rows.
                    var xo = a[2] + a[0] * 0.5
                    var yo = a[5] + a[4] * 0.5
                    var xintab = [Int](repeating: 0, count: w)
                    var xmin = w, xmax = 0
                    for x in 0..<w {
                        let xin = coord(xo)
                        if xin >= 0 && xin < w {
                            xmax = x + 1
                            if x < xmin { xmin = x }
                            xintab[x] = xin
                        }
                        xo += a[0]
                    }
                    for y in 0..<h {
                        let yi = coord(yo)
                        if yi >= 0 && yi < h && xmin < xmax {
                            for x in xmin..<xmax { copy((y * w + x) * 3, xintab[x], yi) }
                        }
                        yo += a[4]
                    }
                    return
                }
                func fits(_ x: Double, _ y: Double) -> Bool {
                    abs(x * a[0] + y * a[1] + a[2]) < 32768.0 && abs(x * a[3] + y * a[4] + a[5]) < 32768.0
                }
                let W = Double(w), H = Double(h)
                if fits(0, 0) && fits(W, H) && fits(0, H) && fits(W, 0) {
                    // affine_fixed: 16.16 fixed point, FIX(v) = FLOOR(v * 65536 + 0.5).
                    func fix(_ v: Double) -> Int32 {
                        let t = v * 65536.0 + 0.5
                        return Int32(t < 0 ? t.rounded(.down) : t.rounded(.towardZero))
                    }
                    let a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4])
                    var a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5)
                    var a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5)
                    for y in 0..<h {
                        var xx = a2, yy = a5
                        for x in 0..<w {
                            let xin = Int(xx >> 16)
                            if xin >= 0 && xin < w {
                                let yin = Int(yy >> 16)
                                if yin >= 0 && yin < h { copy((y * w + x) * 3, xin, yin) }
                            }
                            xx = xx &+ a0
                            yy = yy &+ a3
                        }
                        a2 = a2 &+ a1
                        a5 = a5 &+ a4
                    }
                    return
                }
                // Float fallback.
                var xo = a[2] + a[1] * 0.5 + a[0] * 0.5
                var yo = a[5] + a[4] * 0.5 + a[3] * 0.5
                for y in 0..<h {
                    var xx = xo, yy = yo
                    for x in 0..<w {
                        let xin = coord(xx)
                        if xin >= 0 && xin < w {
                            let yin = coord(yy)
                            if yin >= 0 && yin < h { copy((y * w + x) * 3, xin, yin) }
                        }
                        xx += a[0]
                        yy += a[3]
                    }
                    xo += a[1]
                    yo += a[4]
                }
            }
        }
        return out
    }

    /// torchvision `F.affine(img, angle, translate, scale, shear, NEAREST, fill, center)` on a
    /// PIL image. `center` nil means the image centre `(w/2, h/2)`; angles and shears in degrees.
    public func affine(angle: Double = 0, translate: (x: Double, y: Double) = (0, 0), scale: Double = 1,
                       shear: (x: Double, y: Double) = (0, 0), center: (x: Double, y: Double)? = nil,
                       fill: RGB = .black) -> RGBImage {
        let c = center ?? (Double(width) * 0.5, Double(height) * 0.5)
        let m = AffineMath.inverseMatrix(center: c, angle: angle, translate: translate, scale: scale, shear: shear)
        return affineNearest(inverse: m, fill: fill)
    }

    /// torchvision `F.rotate(img, angle, NEAREST, expand=False, fill)` = PIL `Image.rotate`:
    /// counter-clockwise degrees about the centre, with PIL's exact-transpose shortcuts for
    /// 0 and 180 degrees (and 90/270 on square images).
    public func rotated(degrees: Double, fill: RGB = .black) -> RGBImage {
        var angle = degrees.truncatingRemainder(dividingBy: 360.0)  // Python's float %
        if angle != 0, angle < 0 { angle += 360.0 }
        if angle == 0 { return self }
        if angle == 180 { return EXIFOrientation.down.apply(to: self) }
        if (angle == 90 || angle == 270) && width == height {
            return (angle == 90 ? EXIFOrientation.left : EXIFOrientation.right).apply(to: self)
        }
        let r = -(angle * AffineMath.degToRad)
        let cosR = AffineMath.pythonRound15(cos(r)), sinR = AffineMath.pythonRound15(sin(r))
        var m = [cosR, sinR, 0.0, AffineMath.pythonRound15(-sin(r)), cosR, 0.0]
        let cx = Double(width) / 2, cy = Double(height) / 2
        let tx = m[0] * -cx + m[1] * -cy + m[2]
        let ty = m[3] * -cx + m[4] * -cy + m[5]
        m[2] = tx + cx
        m[5] = ty + cy
        return affineNearest(inverse: m, fill: fill)
    }
}

/// The matrix arithmetic of torchvision's `_get_inverse_affine_matrix` and Python's math module.
enum AffineMath {
    static let degToRad = Double.pi / 180.0  // CPython math.radians
    static let radToDeg = 180.0 / Double.pi  // CPython math.degrees

    static func inverseMatrix(center: (x: Double, y: Double), angle: Double, translate: (x: Double, y: Double),
                              scale: Double, shear: (x: Double, y: Double)) -> [Double] {
        let rot = degToRad * angle
        let sx = degToRad * shear.x
        let sy = degToRad * shear.y
        let (cx, cy) = center
        let (tx, ty) = translate
        let a = cos(rot - sy) / cos(sy)
        let b = -cos(rot - sy) * tan(sx) / cos(sy) - sin(rot)
        let c = sin(rot - sy) / cos(sy)
        let d = -sin(rot - sy) * tan(sx) / cos(sy) + cos(rot)
        var m = [d, -b, 0.0, -c, a, 0.0].map { $0 / scale }
        m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
        m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
        m[2] += cx
        m[5] += cy
        return m
    }

    /// Python's `round(x, 15)`: correctly rounded to 15 decimals, back to the nearest double.
    static func pythonRound15(_ x: Double) -> Double {
        Double(String(format: "%.15f", x)) ?? x
    }
}
