import CPNG

/// PNG decoding with libpng's "simplified API" (`png_image_*`), which reports errors through
/// return values instead of longjmp (Swift cannot survive a longjmp across its frames).
///
/// Every PNG colour type becomes RGB8 the way PIL's `convert("RGB")` does it: palette entries
/// expanded, gray replicated, alpha (and tRNS transparency) dropped without compositing.
/// Documented differences from PIL: 16-bit samples are scaled to 8 bits by libpng (rounded,
/// `v * 255 / 65535`) where PIL keeps the high byte for RGB (so at most 1 level apart) and clips
/// gray `I;16` at 255 (we scale instead); a gAMA chunk far from sRGB is honoured by libpng and
/// ignored by PIL.
public enum PNGDecoder {
    // png.h's format flags (macros Swift does not import reliably).
    private static let formatFlagAlpha: UInt32 = 0x01
    private static let formatFlagColor: UInt32 = 0x02
    private static let formatFlagLinear: UInt32 = 0x04
    private static let imageFlag16BitSRGB: UInt32 = 0x04  // PNG_IMAGE_FLAG_16BIT_sRGB
    private static let imageVersion: UInt32 = 1           // PNG_IMAGE_VERSION

    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String = "<memory>") throws -> RGBImage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw ImageDecodingError(file: name, reason: .empty)
        }
        var image = png_image()
        image.version = imageVersion
        defer { png_image_free(&image) }

        guard png_image_begin_read_from_memory(&image, base, bytes.count) != 0 else {
            throw error(from: &image, name: name)
        }
        let w = Int(image.width), h = Int(image.height)
        guard w > 0, h > 0, w * h <= maximumImagePixels else {
            throw ImageDecodingError(file: name, reason: .badDimensions(width: w, height: h))
        }
        // Keep alpha in the output so libpng does not composite, then drop it ourselves.
        let hasAlpha = image.format & formatFlagAlpha != 0
        image.format = formatFlagColor | (hasAlpha ? formatFlagAlpha : 0)
        image.flags |= imageFlag16BitSRGB  // 16-bit data without gAMA is sRGB-encoded, as PIL assumes
        let channels = hasAlpha ? 4 : 3

        if !hasAlpha {
            var ok: Int32 = 0
            let result = RGBImage(width: w, height: h) { out in
                ok = png_image_finish_read(&image, nil, out.baseAddress, Int32(w * 3), nil)
            }
            guard ok != 0 else { throw error(from: &image, name: name) }
            return result
        }
        var rgba = [UInt8](repeating: 0, count: w * h * channels)
        let ok = rgba.withUnsafeMutableBytes { out in
            png_image_finish_read(&image, nil, out.baseAddress, Int32(w * channels), nil)
        }
        guard ok != 0 else { throw error(from: &image, name: name) }
        return rgba.withUnsafeBufferPointer { src in
            RGBImage(width: w, height: h) { dst in
                for p in 0..<(w * h) {
                    dst[3 * p] = src[4 * p]
                    dst[3 * p + 1] = src[4 * p + 1]
                    dst[3 * p + 2] = src[4 * p + 2]
                }
            }
        }
    }

    private static func error(from image: inout png_image, name: String) -> ImageDecodingError {
        let text = withUnsafeBytes(of: &image.message) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        let message = text.isEmpty ? "libpng reported an error" : text
        let lower = message.lowercased()
        if lower.contains("truncat") || lower.contains("not enough image data") || lower.contains("unexpected end")
            || lower.contains("read error") || lower.contains("end of") {
            return ImageDecodingError(file: name, reason: .truncated(format: .png, message: message))
        }
        return ImageDecodingError(file: name, reason: .corrupt(format: .png, message: message))
    }
}
