/// A step of the data pipeline, like a torchvision transform. Random transforms draw from the
/// generator they are given (and only from it), so a pipeline is reproducible from its seed;
/// deterministic transforms ignore it.
public protocol Transform<Input, Output>: Sendable {
    associatedtype Input
    associatedtype Output
    func apply(_ input: Input, using rng: inout SplitMix64) -> Output
}

/// A transform from an 8-bit RGB image to another (resize, crops, flips, AutoAugment, ...).
public protocol ImageTransform: Transform where Input == RGBImage, Output == RGBImage {}

/// torchvision's `Compose` for image-to-image steps: applies the transforms in order.
public struct Compose: ImageTransform {
    public var transforms: [any ImageTransform]

    public init(_ transforms: [any ImageTransform]) {
        self.transforms = transforms
    }

    public func apply(_ input: RGBImage, using rng: inout SplitMix64) -> RGBImage {
        var image = input
        for t in transforms { image = t.apply(image, using: &rng) }
        return image
    }
}

/// Two transforms in sequence, the output of the first feeding the second; typically an image
/// ``Compose`` followed by ``ToTensor``. Built with ``Transform/then(_:)``.
public struct Chain<First: Transform, Second: Transform>: Transform where First.Output == Second.Input {
    public var first: First
    public var second: Second

    public init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
    }

    public func apply(_ input: First.Input, using rng: inout SplitMix64) -> Second.Output {
        second.apply(first.apply(input, using: &rng), using: &rng)
    }
}

extension Transform {
    /// `self` followed by `next`.
    public func then<Next: Transform>(_ next: Next) -> Chain<Self, Next> where Next.Input == Output {
        Chain(self, next)
    }
}
