import CTurboJPEG

/// JPEG decoding with libjpeg-turbo's TurboJPEG API, matching what PIL produces for
/// `Image.open(f).convert("RGB")`: accurate integer IDCT, fancy (smooth) chroma upsampling,
/// grayscale replicated to RGB, CMYK/YCCK converted with PIL's formula (Adobe polarity assumed,
/// as PIL does). EXIF orientation is applied unless the options say otherwise.
///
/// Errors never crash: TurboJPEG reports them through return codes, and a warning that means the
/// data ended early ("Premature end of JPEG file") is reported as truncation. Other libjpeg
/// warnings (e.g. extraneous bytes before a marker) are tolerated like PIL tolerates them.
public enum JPEGDecoder {
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, name: String = "<memory>", options: DecodeOptions = DecodeOptions()
    ) throws -> RGBImage {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else {
            throw ImageDecodingError(file: name, reason: .empty)
        }
        guard let handle = tjInitDecompress() else {
            throw ImageDecodingError(file: name, reason: .corrupt(format: .jpeg, message: "cannot initialise TurboJPEG"))
        }
        defer { tjDestroy(handle) }
        func message() -> String {
            guard let cString = tjGetErrorStr2(handle) else { return "unknown TurboJPEG error" }
            return String(cString: cString)
        }

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = tjDecompressHeader3(handle, base, UInt(bytes.count), &width, &height, &subsampling, &colorspace)
        try check(header, handle: handle, message: message, name: name)
        let w = Int(width), h = Int(height)
        if w == 0 && h == 0 {
            // TurboJPEG reports success with no size when the data stops before the frame header.
            throw ImageDecodingError(file: name, reason: .truncated(format: .jpeg, message: "the data ends before the frame header"))
        }
        guard w > 0, h > 0, w * h <= maximumImagePixels else {
            throw ImageDecodingError(file: name, reason: .badDimensions(width: w, height: h))
        }
        let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        var image: RGBImage
        if cmyk {
            var buffer = [UInt8](repeating: 0, count: w * h * 4)
            let status = buffer.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, base, UInt(bytes.count), out.baseAddress, width, 0, height,
                              Int32(TJPF_CMYK.rawValue), 0)
            }
            try check(status, handle: handle, message: message, name: name)
            image = cmykToRGB(buffer, width: w, height: h)
        } else {
            var status: Int32 = 0
            image = RGBImage(width: w, height: h) { out in
                status = tjDecompress2(handle, base, UInt(bytes.count), out.baseAddress, width, 0, height,
                                       Int32(TJPF_RGB.rawValue), 0)
            }
            try check(status, handle: handle, message: message, name: name)
        }
        if options.applyEXIFOrientation {
            let orientation = JPEGMarkers(bytes).orientation
            if orientation != .up { image = orientation.apply(to: image) }
        }
        return image
    }

    /// Turns a failed TurboJPEG call into an error, or lets a harmless warning pass.
    private static func check(_ status: Int32, handle: tjhandle, message: () -> String, name: String) throws {
        guard status != 0 else { return }
        let text = message()
        let isWarning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
        if isWarning && !text.localizedCaseInsensitiveContains("premature end") { return }
        throw classify(text, name: name)
    }

    private static func classify(_ text: String, name: String) -> ImageDecodingError {
        let lower = text.lowercased()
        if lower.contains("premature end") || lower.contains("truncated") {
            return ImageDecodingError(file: name, reason: .truncated(format: .jpeg, message: text))
        }
        return ImageDecodingError(file: name, reason: .corrupt(format: .jpeg, message: text))
    }

    /// PIL's CMYK -> RGB: PIL reads JPEG CMYK with Adobe (inverted) polarity, so its CMYK value is
    /// 255 - raw, and `convert("RGB")` computes `nk - nk*c/255` with `nk = 255 - k` (integer
    /// MULDIV255). With raw values this is `rawK - muldiv255(255 - rawC, rawK)`.
    static func cmykToRGB(_ cmyk: [UInt8], width: Int, height: Int) -> RGBImage {
        cmyk.withUnsafeBufferPointer { src in
            RGBImage(width: width, height: height) { dst in
                for p in 0..<(width * height) {
                    let nk = Int32(src[4 * p + 3])
                    for c in 0..<3 {
                        let t = (255 &- Int32(src[4 * p + c])) &* nk &+ 128
                        let v = nk &- (((t >> 8) &+ t) >> 8)
                        dst[3 * p + c] = UInt8(clamping: v)
                    }
                }
            }
        }
    }
}
