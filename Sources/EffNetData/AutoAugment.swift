/// The learned policies of torchvision's `AutoAugmentPolicy`.
public enum AutoAugmentPolicy: String, Sendable, CaseIterable {
    case imagenet
    case cifar10
    case svhn

    /// One step of a sub-policy: the op, its probability, and its magnitude bin (nil for ops
    /// without magnitude).
    public struct Step: Sendable, Equatable {
        public var op: AugmentOp
        public var probability: Double
        public var bin: Int?
    }

    /// The 25 sub-policies of two steps each, in torchvision's order.
    public var subPolicies: [[Step]] {
        let table: [((String, Double, Int?), (String, Double, Int?))]
        switch self {
        case .imagenet:
            table = [
                (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
                (("Solarize", 0.6, 5), ("AutoContrast", 0.6, nil)),
                (("Equalize", 0.8, nil), ("Equalize", 0.6, nil)),
                (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
                (("Equalize", 0.4, nil), ("Solarize", 0.2, 4)),
                (("Equalize", 0.4, nil), ("Rotate", 0.8, 8)),
                (("Solarize", 0.6, 3), ("Equalize", 0.6, nil)),
                (("Posterize", 0.8, 5), ("Equalize", 1.0, nil)),
                (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
                (("Equalize", 0.6, nil), ("Posterize", 0.4, 6)),
                (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
                (("Rotate", 0.4, 9), ("Equalize", 0.6, nil)),
                (("Equalize", 0.0, nil), ("Equalize", 0.8, nil)),
                (("Invert", 0.6, nil), ("Equalize", 1.0, nil)),
                (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
                (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
                (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
                (("Sharpness", 0.4, 7), ("Invert", 0.6, nil)),
                (("ShearX", 0.6, 5), ("Equalize", 1.0, nil)),
                (("Color", 0.4, 0), ("Equalize", 0.6, nil)),
                (("Equalize", 0.4, nil), ("Solarize", 0.2, 4)),
                (("Solarize", 0.6, 5), ("AutoContrast", 0.6, nil)),
                (("Invert", 0.6, nil), ("Equalize", 1.0, nil)),
                (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
                (("Equalize", 0.8, nil), ("Equalize", 0.6, nil)),
            ]
        case .cifar10:
            table = [
                (("Invert", 0.1, nil), ("Contrast", 0.2, 6)),
                (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
                (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
                (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
                (("AutoContrast", 0.5, nil), ("Equalize", 0.9, nil)),
                (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
                (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
                (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
                (("Equalize", 0.6, nil), ("Equalize", 0.5, nil)),
                (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
                (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
                (("Equalize", 0.3, nil), ("AutoContrast", 0.4, nil)),
                (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
                (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
                (("Solarize", 0.5, 2), ("Invert", 0.0, nil)),
                (("Equalize", 0.2, nil), ("AutoContrast", 0.6, nil)),
                (("Equalize", 0.2, nil), ("Equalize", 0.6, nil)),
                (("Color", 0.9, 9), ("Equalize", 0.6, nil)),
                (("AutoContrast", 0.8, nil), ("Solarize", 0.2, 8)),
                (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
                (("Solarize", 0.4, 5), ("AutoContrast", 0.9, nil)),
                (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
                (("AutoContrast", 0.9, nil), ("Solarize", 0.8, 3)),
                (("Equalize", 0.8, nil), ("Invert", 0.1, nil)),
                (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, nil)),
            ]
        case .svhn:
            table = [
                (("ShearX", 0.9, 4), ("Invert", 0.2, nil)),
                (("ShearY", 0.9, 8), ("Invert", 0.7, nil)),
                (("Equalize", 0.6, nil), ("Solarize", 0.6, 6)),
                (("Invert", 0.9, nil), ("Equalize", 0.6, nil)),
                (("Equalize", 0.6, nil), ("Rotate", 0.9, 3)),
                (("ShearX", 0.9, 4), ("AutoContrast", 0.8, nil)),
                (("ShearY", 0.9, 8), ("Invert", 0.4, nil)),
                (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
                (("Invert", 0.9, nil), ("AutoContrast", 0.8, nil)),
                (("Equalize", 0.6, nil), ("Rotate", 0.9, 3)),
                (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)),
                (("ShearY", 0.8, 8), ("Invert", 0.7, nil)),
                (("Equalize", 0.9, nil), ("TranslateY", 0.6, 6)),
                (("Invert", 0.9, nil), ("Equalize", 0.6, nil)),
                (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)),
                (("Invert", 0.8, nil), ("TranslateY", 0.0, 2)),
                (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)),
                (("Invert", 0.6, nil), ("Rotate", 0.8, 4)),
                (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)),
                (("ShearX", 0.1, 6), ("Invert", 0.6, nil)),
                (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)),
                (("ShearY", 0.8, 4), ("Invert", 0.8, nil)),
                (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)),
                (("ShearY", 0.8, 5), ("AutoContrast", 0.7, nil)),
                (("ShearX", 0.7, 2), ("Invert", 0.1, nil)),
            ]
        }
        return table.map { pair in
            [pair.0, pair.1].map { Step(op: AugmentOp(rawValue: $0.0)!, probability: $0.1, bin: $0.2) }
        }
    }
}

/// torchvision `AutoAugment(policy, interpolation=NEAREST, fill)`: picks one of the 25
/// sub-policies uniformly, then applies each of its two steps with the step's probability, at the
/// step's magnitude bin (of 10), with a random sign for signed ops. Draws come from our
/// ``SplitMix64``, in torchvision's order (policy, two probabilities, two signs).
public struct AutoAugment: ImageTransform {
    public var policy: AutoAugmentPolicy
    /// Colour of pixels uncovered by geometric ops (torchvision's `fill=None` is black).
    public var fill: RGB
    public static let numberOfBins = 10
    private let subPolicies: [[AutoAugmentPolicy.Step]]

    public init(policy: AutoAugmentPolicy = .imagenet, fill: RGB = .black) {
        self.policy = policy
        self.fill = fill
        subPolicies = policy.subPolicies
    }

    /// The magnitude a step applies on an image of the given size (before its random sign).
    public static func magnitude(of step: AutoAugmentPolicy.Step, imageWidth: Int, imageHeight: Int) -> Double {
        guard let bin = step.bin else { return 0 }
        return step.op.bins(count: numberOfBins, imageWidth: imageWidth, imageHeight: imageHeight).values[bin]
    }

    public func apply(_ image: RGBImage, using rng: inout SplitMix64) -> RGBImage {
        let index = rng.int(below: subPolicies.count)
        let probabilities = [rng.nextUnit(), rng.nextUnit()]
        let signs = [rng.int(below: 2), rng.int(below: 2)]
        var out = image
        for (i, step) in subPolicies[index].enumerated() where probabilities[i] <= step.probability {
            var magnitude = AutoAugment.magnitude(of: step, imageWidth: image.width, imageHeight: image.height)
            if step.op.bins(count: AutoAugment.numberOfBins, imageWidth: 1, imageHeight: 1).signed && signs[i] == 0 {
                magnitude = -magnitude
            }
            out = step.op.apply(to: out, magnitude: magnitude, fill: fill)
        }
        return out
    }
}
