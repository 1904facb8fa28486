extension RGBImage {
    /// Mirror left-right (torchvision `hflip`, PIL FLIP_LEFT_RIGHT).
    public func flippedHorizontally() -> RGBImage {
        let w = width
        return pixels.withUnsafeBufferPointer { src in
            RGBImage(width: width, height: height) { dst in
                for y in 0..<height {
                    let s = src.baseAddress! + y * w * 3
                    let d = dst.baseAddress! + y * w * 3
                    for x in 0..<w {
                        let j = (w - 1 - x) * 3
                        d[3 * x] = s[j]; d[3 * x + 1] = s[j + 1]; d[3 * x + 2] = s[j + 2]
                    }
                }
            }
        }
    }

    /// Mirror top-bottom (torchvision `vflip`).
    public func flippedVertically() -> RGBImage {
        let n = width * 3
        return pixels.withUnsafeBufferPointer { src in
            RGBImage(width: width, height: height) { dst in
                for y in 0..<height {
                    (dst.baseAddress! + y * n).update(from: src.baseAddress! + (height - 1 - y) * n, count: n)
                }
            }
        }
    }
}

/// torchvision `RandomHorizontalFlip(p)`: flips when a uniform draw is below `p`.
public struct RandomHorizontalFlip: ImageTransform {
    public var probability: Double

    public init(probability: Double = 0.5) {
        self.probability = probability
    }

    public func apply(_ image: RGBImage, using rng: inout SplitMix64) -> RGBImage {
        rng.bernoulli(probability) ? image.flippedHorizontally() : image
    }
}
