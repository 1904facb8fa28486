/// EXIF orientation (TIFF tag 0x0112): how the stored pixels must be turned to display upright.
///
/// ``apply(to:)`` performs the same transposition as PIL's `ImageOps.exif_transpose`.
/// (torchvision's own loaders ignore the tag; ``DecodeOptions/applyEXIFOrientation`` turns it off.)
public enum EXIFOrientation: Int, Sendable, CaseIterable {
    case up = 1               // as stored
    case upMirrored = 2       // PIL FLIP_LEFT_RIGHT
    case down = 3             // ROTATE_180
    case downMirrored = 4     // FLIP_TOP_BOTTOM
    case leftMirrored = 5     // TRANSPOSE
    case right = 6            // ROTATE_270 (90 degrees clockwise)
    case rightMirrored = 7    // TRANSVERSE
    case left = 8             // ROTATE_90 (90 degrees counter-clockwise)

    /// Parses IFD0 of a TIFF structure (the APP1 payload after "Exif\0\0"), either byte order.
    /// Returns nil when the structure is malformed or the tag is missing or out of range.
    public init?(tiff: UnsafeRawBufferPointer) {
        let n = tiff.count
        guard n >= 8 else { return nil }
        let little: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): little = true   // "II"
        case (0x4D, 0x4D): little = false  // "MM"
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= n else { return nil }
            return little ? Int(tiff[o]) | Int(tiff[o + 1]) << 8 : Int(tiff[o]) << 8 | Int(tiff[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for e in 0..<count {
            let entry = ifd + 2 + 12 * e
            guard let tag = u16(entry) else { return nil }
            guard tag == 0x0112 else { continue }
            guard let type = u16(entry + 2) else { return nil }
            let value: Int?
            switch type {
            case 3: value = u16(entry + 8)          // SHORT, left-justified in the value field
            case 4: value = u32(entry + 8)          // LONG (non-standard but seen)
            case 1, 7: value = entry + 8 < n ? Int(tiff[entry + 8]) : nil  // BYTE / UNDEFINED
            default: value = nil
            }
            guard let v = value else { return nil }
            self.init(rawValue: v)
            return
        }
        return nil
    }

    /// True for orientations 5-8, which swap width and height.
    public var swapsAxes: Bool { rawValue >= 5 }

    /// The upright image.
    public func apply(to image: RGBImage) -> RGBImage {
        if self == .up { return image }
        let w = image.width, h = image.height
        let outW = swapsAxes ? h : w, outH = swapsAxes ? w : h
        // Output pixel (x, y) reads input column c0 + cx*x + cy*y, row r0 + rx*x + ry*y.
        let (c0, cx, cy, r0, rx, ry): (Int, Int, Int, Int, Int, Int)
        switch self {
        case .up: (c0, cx, cy, r0, rx, ry) = (0, 1, 0, 0, 0, 1)
        case .upMirrored: (c0, cx, cy, r0, rx, ry) = (w - 1, -1, 0, 0, 0, 1)
        case .down: (c0, cx, cy, r0, rx, ry) = (w - 1, -1, 0, h - 1, 0, -1)
        case .downMirrored: (c0, cx, cy, r0, rx, ry) = (0, 1, 0, h - 1, 0, -1)
        case .leftMirrored: (c0, cx, cy, r0, rx, ry) = (0, 0, 1, 0, 1, 0)
        case .right: (c0, cx, cy, r0, rx, ry) = (0, 0, 1, h - 1, -1, 0)
        case .rightMirrored: (c0, cx, cy, r0, rx, ry) = (w - 1, 0, -1, h - 1, -1, 0)
        case .left: (c0, cx, cy, r0, rx, ry) = (w - 1, 0, -1, 0, 1, 0)
        }
        let stepX = (rx * w + cx) * 3, stepY = (ry * w + cy) * 3
        let base = (r0 * w + c0) * 3
        return image.pixels.withUnsafeBufferPointer { src in
            RGBImage(width: outW, height: outH) { dst in
                var o = 0
                for y in 0..<outH {
                    var s = base + y * stepY
                    for _ in 0..<outW {
                        dst[o] = src[s]; dst[o + 1] = src[s + 1]; dst[o + 2] = src[s + 2]
                        o += 3
                        s += stepX
                    }
                }
            }
        }
    }
}
