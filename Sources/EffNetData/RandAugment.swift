/// torchvision `RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=31, NEAREST, fill)`:
/// `numOps` times, an op drawn uniformly from the 14 below is applied at bin `magnitude`, with a
/// random sign for signed ops. Draws come from our ``SplitMix64`` in torchvision's order.
public struct RandAugment: ImageTransform {
    public var numOps: Int
    public var magnitude: Int
    public var numMagnitudeBins: Int
    public var fill: RGB

    /// torchvision's op list, in its order (note: Identity instead of AutoAugment's Invert).
    public static let ops: [AugmentOp] = [
        .identity, .shearX, .shearY, .translateX, .translateY, .rotate, .brightness, .color, .contrast,
        .sharpness, .posterize, .solarize, .autoContrast, .equalize,
    ]

    public init(numOps: Int = 2, magnitude: Int = 9, numMagnitudeBins: Int = 31, fill: RGB = .black) {
        precondition(magnitude >= 0 && magnitude < numMagnitudeBins, "RandAugment: magnitude must be below numMagnitudeBins")
        self.numOps = numOps
        self.magnitude = magnitude
        self.numMagnitudeBins = numMagnitudeBins
        self.fill = fill
    }

    public func apply(_ image: RGBImage, using rng: inout SplitMix64) -> RGBImage {
        var out = image
        for _ in 0..<numOps {
            let op = RandAugment.ops[rng.int(below: RandAugment.ops.count)]
            let bins = op.bins(count: numMagnitudeBins, imageWidth: image.width, imageHeight: image.height)
            var value = bins.values.count > 1 ? bins.values[magnitude] : 0.0
            if bins.signed && rng.int(below: 2) == 1 { value = -value }
            out = op.apply(to: out, magnitude: value, fill: fill)
        }
        return out
    }
}
