import EffNetRuntime

/// An 8-bit RGB image, stored like a PIL "RGB" image: rows top to bottom, pixels left to right,
/// channels interleaved (HWC). This is what the decoders produce and what the uint8 transforms
/// (resize, crops, flips, AutoAugment ops) consume and return.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// `height * width * 3` bytes, row-major, RGB interleaved.
    public var pixels: [UInt8]

    /// An image over existing pixels; `pixels.count` must be `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)x\(height)")
        precondition(pixels.count == width * height * 3,
                     "RGBImage: \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one colour (black by default).
    public init(width: Int, height: Int, fill: RGB = .black) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)x\(height)")
        self.width = width
        self.height = height
        if fill == .black {
            pixels = [UInt8](repeating: 0, count: width * height * 3)
        } else {
            pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { buffer, count in
                var i = 0
                while i < width * height * 3 {
                    buffer[i] = fill.r; buffer[i + 1] = fill.g; buffer[i + 2] = fill.b
                    i += 3
                }
                count = width * height * 3
            }
        }
    }

    /// Builds an image by letting `body` write all `width * height * 3` bytes (no zero fill first).
    public init(width: Int, height: Int, uninitialized body: (UnsafeMutableBufferPointer<UInt8>) throws -> Void) rethrows {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)x\(height)")
        self.width = width
        self.height = height
        pixels = try [UInt8](unsafeUninitializedCapacity: width * height * 3) { buffer, count in
            try body(buffer)
            count = width * height * 3
        }
    }

    /// Bytes per row (`width * 3`).
    public var rowBytes: Int { width * 3 }

    /// One pixel (for tests and tools; transforms use the buffer directly).
    public subscript(x: Int, y: Int) -> RGB {
        let i = (y * width + x) * 3
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

/// An RGB colour (also the fill colour of geometric transforms).
public struct RGB: Sendable, Equatable, Hashable {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }
    public static let black = RGB(0, 0, 0)
}

/// A float image in planar layout (CHW), as torchvision's `ToTensor` produces: the input of the
/// model after normalisation. The loader stacks these into NCHW batches.
public struct PlanarImage: Sendable, Equatable {
    public let channels: Int
    public let height: Int
    public let width: Int
    /// `channels * height * width` values, channel planes one after another.
    public var values: [Float]

    public init(channels: Int, height: Int, width: Int, values: [Float]) {
        precondition(values.count == channels * height * width,
                     "PlanarImage: \(channels)x\(height)x\(width) needs \(channels * height * width) values, got \(values.count)")
        self.channels = channels
        self.height = height
        self.width = width
        self.values = values
    }

    /// The image as a `[C, H, W]` tensor.
    public var tensor: HostTensor { HostTensor(shape: [channels, height, width], values: values) }

    /// The image as a `[1, C, H, W]` tensor (a batch of one).
    public var batchTensor: HostTensor { HostTensor(shape: [1, channels, height, width], values: values) }
}
