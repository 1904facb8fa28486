import Foundation

/// Evaluation preprocessing of a model variant (the spec's `preprocess resize R crop C normalize N`):
/// torchvision `Resize(R, BICUBIC)` (shorter side, antialiased PIL resampling) ->
/// `CenterCrop(C)` -> `ToTensor()` + normalisation, giving a `[3, C, C]` float image.
///
/// Only the output pixels inside the crop window are computed, which gives the same values as
/// resizing the whole image and then cropping (each output pixel depends only on its own filter
/// window), at a fraction of the cost.
public struct EvalPreset: Transform {
    public var resize: Int
    public var crop: Int
    public var normalization: Normalization
    public var filter: ResampleFilter
    private let toTensor: ToTensor

    public init(resize: Int, crop: Int, normalization: Normalization, filter: ResampleFilter = .bicubic) {
        precondition(resize > 0 && crop > 0, "EvalPreset: resize and crop must be positive")
        self.resize = resize
        self.crop = crop
        self.normalization = normalization
        self.filter = filter
        toTensor = ToTensor(normalization: normalization)
    }

    /// From the spec/plan words, e.g. `EvalPreset(resize: 256, crop: 224, normalization: "lite")`.
    public init?(resize: Int, crop: Int, normalization name: String) {
        guard let n = Normalization(name: name) else { return nil }
        self.init(resize: resize, crop: crop, normalization: n)
    }

    /// The cropped uint8 image (resize + center crop), before normalisation.
    public func resizedAndCropped(_ image: RGBImage) -> RGBImage {
        let size = RGBImage.resizedSize(width: image.width, height: image.height, shorterSide: resize)
        if size.width >= crop && size.height >= crop {
            let o = RGBImage.centerCropOrigin(width: size.width, height: size.height, cropWidth: crop, cropHeight: crop)
            return Resampler.resize(image, width: size.width, height: size.height, filter: filter,
                                    window: (o.left, o.top, crop, crop))
        }
        return image.resized(width: size.width, height: size.height, filter: filter).centerCropped(width: crop, height: crop)
    }

    public func apply(_ image: RGBImage) -> PlanarImage {
        toTensor.apply(resizedAndCropped(image))
    }

    public func apply(_ image: RGBImage, using rng: inout SplitMix64) -> PlanarImage { apply(image) }

    /// Decodes a JPEG/PNG file and preprocesses it.
    public func preprocess(contentsOf url: URL, options: DecodeOptions = DecodeOptions()) throws -> PlanarImage {
        apply(try ImageDecoder.decode(contentsOf: url, options: options))
    }
}
