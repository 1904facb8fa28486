import Foundation

/// How decoded images are post-processed.
public struct DecodeOptions: Sendable, Equatable {
    /// Turn JPEGs upright according to their EXIF orientation (PIL's `ImageOps.exif_transpose`).
    /// torchvision's `ImageFolder` does not do this; set false to reproduce it exactly.
    public var applyEXIFOrientation: Bool

    public init(applyEXIFOrientation: Bool = true) {
        self.applyEXIFOrientation = applyEXIFOrientation
    }
}

/// Decodes JPEG and PNG images to ``RGBImage``, choosing the codec from the content (magic
/// bytes), never from the file extension.
public enum ImageDecoder {
    /// The format of `bytes` from its signature, or nil.
    public static func format(of bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        return nil
    }

    /// Decodes an in-memory image. `name` appears in errors.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, name: String = "<memory>", options: DecodeOptions = DecodeOptions()
    ) throws -> RGBImage {
        guard bytes.count > 0 else { throw ImageDecodingError(file: name, reason: .empty) }
        switch format(of: bytes) {
        case .jpeg: return try JPEGDecoder.decode(bytes, name: name, options: options)
        case .png: return try PNGDecoder.decode(bytes, name: name)
        case nil:
            let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ImageDecodingError(file: name, reason: .unsupportedFormat(firstBytes: head))
        }
    }

    /// Decodes an in-memory image.
    public static func decode(
        _ data: Data, name: String = "<memory>", options: DecodeOptions = DecodeOptions()
    ) throws -> RGBImage {
        try data.withUnsafeBytes { try decode($0, name: name, options: options) }
    }

    /// Decodes an in-memory image.
    public static func decode(
        _ bytes: [UInt8], name: String = "<memory>", options: DecodeOptions = DecodeOptions()
    ) throws -> RGBImage {
        try bytes.withUnsafeBytes { try decode($0, name: name, options: options) }
    }

    /// Reads and decodes a file; errors carry the file's name.
    public static func decode(contentsOf url: URL, options: DecodeOptions = DecodeOptions()) throws -> RGBImage {
        let name = url.lastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ImageDecodingError(file: name, reason: .unreadable("no such file"))
        }
        guard !isDirectory.boolValue else {
            throw ImageDecodingError(file: name, reason: .unreadable("it is a directory"))
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ImageDecodingError(file: name, reason: .unreadable(error.localizedDescription))
        }
        return try decode(data, name: name, options: options)
    }
}
