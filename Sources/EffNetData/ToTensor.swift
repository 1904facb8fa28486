/// How 0...255 pixel values become model inputs.
public enum Normalization: Sendable, Equatable {
    /// torchvision `ToTensor()` + `Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])`.
    case imagenet
    /// EfficientNet-Lite (TensorFlow reference): `(x - 127) / 128` on 0...255.
    case lite
    /// `ToTensor()` only: x / 255.
    case unit
    /// `ToTensor()` + `Normalize(mean, std)` with your own statistics (one value per channel).
    case meanStd(mean: [Float], std: [Float])

    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    /// "imagenet" or "lite" (the spec language's `normalize` keyword), "unit".
    public init?(name: String) {
        switch name.lowercased() {
        case "imagenet": self = .imagenet
        case "lite": self = .lite
        case "unit", "none": self = .unit
        default: return nil
        }
    }

    /// The 256 outputs for channel `c`, computed with torchvision's float32 operations in its
    /// order (`x / 255`, then `(t - mean) / std`), so a table lookup reproduces them exactly.
    public func table(channel c: Int) -> [Float] {
        (0..<256).map { i -> Float in
            let x = Float(i)
            switch self {
            case .imagenet: return (x / 255 - Normalization.imagenetMean[c]) / Normalization.imagenetStd[c]
            case .lite: return (x - 127) / 128
            case .unit: return x / 255
            case .meanStd(let mean, let std): return (x / 255 - mean[c]) / std[c]
            }
        }
    }
}

/// `ToTensor` followed by normalisation: HWC uint8 -> CHW float32, ready for the model (the
/// loader stacks images into NCHW batches).
public struct ToTensor: Transform {
    public var normalization: Normalization
    private let tables: [[Float]]

    public init(normalization: Normalization = .unit) {
        self.normalization = normalization
        tables = (0..<3).map { normalization.table(channel: $0) }
    }

    public func apply(_ image: RGBImage) -> PlanarImage {
        let plane = image.width * image.height
        var values = [Float](repeating: 0, count: 3 * plane)
        image.pixels.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                for c in 0..<3 {
                    tables[c].withUnsafeBufferPointer { lut in
                        let out = dst.baseAddress! + c * plane
                        for p in 0..<plane { out[p] = lut[Int(src[3 * p + c])] }
                    }
                }
            }
        }
        return PlanarImage(channels: 3, height: image.height, width: image.width, values: values)
    }

    public func apply(_ image: RGBImage, using rng: inout SplitMix64) -> PlanarImage { apply(image) }
}

/// torchvision `Normalize(mean, std)` on a float image: `(x - mean[c]) / std[c]`.
public struct Normalize: Transform {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count, "Normalize: mean and std need the same length")
        self.mean = mean
        self.std = std
    }

    public static let imagenet = Normalize(mean: Normalization.imagenetMean, std: Normalization.imagenetStd)

    public func apply(_ image: PlanarImage) -> PlanarImage {
        precondition(image.channels == mean.count, "Normalize: \(mean.count) channels expected, got \(image.channels)")
        var out = image
        let plane = image.width * image.height
        out.values.withUnsafeMutableBufferPointer { v in
            for c in 0..<image.channels {
                let m = mean[c], s = std[c]
                for i in (c * plane)..<((c + 1) * plane) { v[i] = (v[i] - m) / s }
            }
        }
        return out
    }

    public func apply(_ image: PlanarImage, using rng: inout SplitMix64) -> PlanarImage { apply(image) }
}
