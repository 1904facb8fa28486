import Foundation

/// Why an image could not be decoded; always names the file (or `<memory>`).
public struct ImageDecodingError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    public enum Reason: Sendable, Equatable {
        /// The file could not be read (missing, a directory, permissions).
        case unreadable(String)
        /// Zero bytes.
        case empty
        /// The content is neither JPEG nor PNG (sniffed from the first bytes, not the extension).
        case unsupportedFormat(firstBytes: String)
        /// The codec rejected the data (corrupt header, bad marker, CRC error, ...).
        case corrupt(format: ImageFormat, message: String)
        /// The data ends before the image does.
        case truncated(format: ImageFormat, message: String)
        /// Dimensions that are zero or too large to allocate.
        case badDimensions(width: Int, height: Int)
        /// A JPEG colour space we cannot turn into RGB.
        case unsupportedColorSpace(String)
    }

    /// The file name (last path component) or `<memory>`.
    public var file: String
    public var reason: Reason

    public init(file: String, reason: Reason) {
        self.file = file
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .unreadable(let why): return "\(file): cannot read the file (\(why))"
        case .empty: return "\(file): the file is empty (0 bytes)"
        case .unsupportedFormat(let head):
            return "\(file): not a JPEG or PNG image (content starts with \(head.isEmpty ? "nothing" : head))"
        case .corrupt(let format, let message): return "\(file): corrupt \(format.name) data: \(message)"
        case .truncated(let format, let message): return "\(file): truncated \(format.name) data: \(message)"
        case .badDimensions(let w, let h): return "\(file): unsupported image size \(w)x\(h)"
        case .unsupportedColorSpace(let what): return "\(file): unsupported JPEG colour space \(what)"
        }
    }

    public var errorDescription: String? { description }
}

/// The image container formats EffNetData decodes.
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
    case jpeg
    case png

    /// "JPEG" / "PNG".
    public var name: String { rawValue.uppercased() }
}

/// Largest accepted image (pixels); protects against absurd header sizes.
let maximumImagePixels = 1 << 28
