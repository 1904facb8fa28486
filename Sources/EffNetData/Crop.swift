import Foundation

extension RGBImage {
    /// PIL `crop((left, top, left + width, top + height))`: the box may extend past the image;
    /// outside pixels are `fill` (black, as PIL and torchvision's padding give).
    public func cropped(left: Int, top: Int, width w: Int, height h: Int, fill: RGB = .black) -> RGBImage {
        precondition(w >= 0 && h >= 0, "crop: negative size \(w)x\(h)")
        if left == 0, top == 0, w == width, h == height { return self }
        var out = RGBImage(width: w, height: h, fill: fill)
        let x0 = max(left, 0), x1 = min(left + w, width)
        guard x1 > x0 else { return out }
        let y0 = max(top, 0), y1 = min(top + h, height)
        guard y1 > y0 else { return out }
        let count = (x1 - x0) * 3
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for y in y0..<y1 {
                    let s = src.baseAddress! + (y * width + x0) * 3
                    let d = dst.baseAddress! + ((y - top) * w + (x0 - left)) * 3
                    d.update(from: s, count: count)
                }
            }
        }
        return out
    }

    /// Where torchvision's `center_crop` takes a `cropW` x `cropH` box: `int(round((size - crop) / 2))`
    /// with Python's round-half-to-even, or centred zero padding (`(crop - size) // 2` before)
    /// when the crop is larger than the image.
    public static func centerCropOrigin(width: Int, height: Int, cropWidth: Int, cropHeight: Int) -> (left: Int, top: Int) {
        func origin(_ size: Int, _ crop: Int) -> Int {
            if crop > size { return -((crop - size) / 2) }
            return Int((Double(size - crop) / 2.0).rounded(.toNearestOrEven))
        }
        return (origin(width, cropWidth), origin(height, cropHeight))
    }

    /// torchvision `center_crop(img, [h, w])` (pads with zeros when the crop is larger).
    public func centerCropped(width w: Int, height h: Int) -> RGBImage {
        let o = RGBImage.centerCropOrigin(width: width, height: height, cropWidth: w, cropHeight: h)
        return cropped(left: o.left, top: o.top, width: w, height: h)
    }
}

/// torchvision `CenterCrop(size)`.
public struct CenterCrop: ImageTransform {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// A square crop.
    public init(_ size: Int) {
        self.init(width: size, height: size)
    }

    public func apply(_ image: RGBImage) -> RGBImage { image.centerCropped(width: width, height: height) }
    public func apply(_ image: RGBImage, using rng: inout SplitMix64) -> RGBImage { apply(image) }
}

/// torchvision `RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3))`: a random box of
/// random area and aspect ratio, resized (bilinear, antialiased) to `width` x `height`.
public struct RandomResizedCrop: ImageTransform {
    public var width: Int
    public var height: Int
    public var scale: ClosedRange<Double>
    public var ratio: ClosedRange<Double>
    public var filter: ResampleFilter

    public init(width: Int, height: Int, scale: ClosedRange<Double> = 0.08...1.0,
                ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0), filter: ResampleFilter = .bilinear) {
        self.width = width
        self.height = height
        self.scale = scale
        self.ratio = ratio
        self.filter = filter
    }

    /// A square output.
    public init(_ size: Int, scale: ClosedRange<Double> = 0.08...1.0,
                ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0), filter: ResampleFilter = .bilinear) {
        self.init(width: size, height: size, scale: scale, ratio: ratio, filter: filter)
    }

    /// The crop box, by torchvision's `RandomResizedCrop.get_params`: up to 10 attempts of
    /// area ~ U(scale) * image area and log-ratio ~ U(log ratio); `w = round(sqrt(area * r))`,
    /// `h = round(sqrt(area / r))` (round half to even); accepted if it fits, placed uniformly.
    /// Otherwise the central crop with the ratio clamped to `ratio` (or the whole image).
    public static func parameters(width: Int, height: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>,
                                  using rng: inout SplitMix64) -> (left: Int, top: Int, width: Int, height: Int) {
        let area = Double(width * height)
        let logLow = log(ratio.lowerBound), logHigh = log(ratio.upperBound)
        for _ in 0..<10 {
            let targetArea = area * rng.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(rng.uniform(logLow, logHigh))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = rng.int(below: height - h + 1)
                let left = rng.int(below: width - w + 1)
                return (left, top, w, h)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return ((width - w) / 2, (height - h) / 2, w, h)
    }

    public func apply(_ image: RGBImage, using rng: inout SplitMix64) -> RGBImage {
        let box = RandomResizedCrop.parameters(width: image.width, height: image.height, scale: scale, ratio: ratio, using: &rng)
        return image.cropped(left: box.left, top: box.top, width: box.width, height: box.height)
            .resized(width: width, height: height, filter: filter)
    }
}
