import Foundation

/// The operations of torchvision's AutoAugment / RandAugment (`autoaugment._apply_op`), applied
/// to uint8 images like torchvision applies them to PIL images.
public enum AugmentOp: String, Sendable, CaseIterable {
    case identity = "Identity"
    case shearX = "ShearX"
    case shearY = "ShearY"
    case translateX = "TranslateX"
    case translateY = "TranslateY"
    case rotate = "Rotate"
    case brightness = "Brightness"
    case color = "Color"
    case contrast = "Contrast"
    case sharpness = "Sharpness"
    case posterize = "Posterize"
    case solarize = "Solarize"
    case autoContrast = "AutoContrast"
    case equalize = "Equalize"
    case invert = "Invert"

    /// torchvision's operation name ("ShearX", ...).
    public var torchvisionName: String { rawValue }

    /// `_apply_op(img, op, magnitude, NEAREST, fill)`. `magnitude` is the signed value from the
    /// magnitude bins (see ``bins(count:imageWidth:imageHeight:)``).
    public func apply(to image: RGBImage, magnitude: Double, fill: RGB = .black) -> RGBImage {
        switch self {
        case .identity:
            return image
        case .shearX:
            // torchvision uses shear angle atan(magnitude) in degrees about the top-left corner.
            return image.affine(shear: (AffineMath.radToDeg * atan(magnitude), 0), center: (0, 0), fill: fill)
        case .shearY:
            return image.affine(shear: (0, AffineMath.radToDeg * atan(magnitude)), center: (0, 0), fill: fill)
        case .translateX:
            return image.affine(translate: (Double(Int(magnitude)), 0), fill: fill)
        case .translateY:
            return image.affine(translate: (0, Double(Int(magnitude))), fill: fill)
        case .rotate:
            return image.rotated(degrees: magnitude, fill: fill)
        case .brightness:
            return image.adjustingBrightness(1.0 + magnitude)
        case .color:
            return image.adjustingSaturation(1.0 + magnitude)
        case .contrast:
            return image.adjustingContrast(1.0 + magnitude)
        case .sharpness:
            return image.adjustingSharpness(1.0 + magnitude)
        case .posterize:
            return image.posterized(bits: Int(magnitude))
        case .solarize:
            return image.solarized(threshold: magnitude)
        case .autoContrast:
            return image.autocontrasted()
        case .equalize:
            return image.equalized()
        case .invert:
            return image.inverted()
        }
    }

    /// Magnitude bins of `_augmentation_space(count, (height, width))` (AutoAugment uses 10 bins,
    /// RandAugment 31), computed like `torch.linspace` in float32 and widened to Double as
    /// `.item()` does. Ops without a magnitude have the single value 0.
    public func bins(count n: Int, imageWidth: Int, imageHeight: Int) -> MagnitudeBins {
        switch self {
        case .shearX, .shearY: return MagnitudeBins(values: linspace32(0.0, 0.3, n), signed: true)
        case .translateX: return MagnitudeBins(values: linspace32(0.0, 150.0 / 331.0 * Double(imageWidth), n), signed: true)
        case .translateY: return MagnitudeBins(values: linspace32(0.0, 150.0 / 331.0 * Double(imageHeight), n), signed: true)
        case .rotate: return MagnitudeBins(values: linspace32(0.0, 30.0, n), signed: true)
        case .brightness, .color, .contrast, .sharpness: return MagnitudeBins(values: linspace32(0.0, 0.9, n), signed: true)
        case .posterize:
            // 8 - (arange(n) / ((n - 1) / 4)).round().int()
            let divisor = Float(Double(n - 1) / 4.0)
            return MagnitudeBins(values: (0..<n).map { Double(8 - Int((Float($0) / divisor).rounded(.toNearestOrEven))) },
                                 signed: false)
        case .solarize: return MagnitudeBins(values: linspace32(255.0, 0.0, n), signed: false)
        case .identity, .autoContrast, .equalize, .invert: return MagnitudeBins(values: [0.0], signed: false)
        }
    }
}

/// The magnitudes one op can take, and whether AutoAugment/RandAugment flip the sign at random.
public struct MagnitudeBins: Sendable, Equatable {
    public var values: [Double]
    public var signed: Bool
}

/// `torch.linspace(start, end, steps)` for float32 (the scalar CPU kernel: the first half counts
/// up from `start`, the second half down from `end`).
func linspace32(_ start: Double, _ end: Double, _ steps: Int) -> [Double] {
    let s = Float(start), e = Float(end)
    if steps == 1 { return [Double(s)] }
    let step = (e - s) / Float(steps - 1)
    let half = steps / 2
    return (0..<steps).map { i in
        Double(i < half ? s + step * Float(i) : e - step * Float(steps - i - 1))
    }
}
