import EffNetData
import Foundation
import XCTest

final class TransformTests: XCTestCase {
    var photo: RGBImage!

    override func setUpWithError() throws {
        photo = try Fixtures.rgbImage("refs/photo_jpg.npy")  // PIL's decode, 120x80
    }

    /// Antialiased bilinear/bicubic resize against PIL via torchvision (`antialias=True`).
    func testResizeMatchesPIL() throws {
        let entries = try XCTUnwrap((try Fixtures.json("manifest.json")["transforms"] as? [String: Any])?["resize"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 12)
        var worst = 0
        for e in entries {
            let filter = try XCTUnwrap(ResampleFilter(rawValue: try XCTUnwrap(e["filter"] as? String)))
            let w = try XCTUnwrap(e["width"] as? Int), h = try XCTUnwrap(e["height"] as? Int)
            let ref = try Fixtures.rgbImage("transforms/" + (try XCTUnwrap(e["file"] as? String)))
            let d = difference(photo.resized(width: w, height: h, filter: filter), ref)
            XCTAssertEqual(d.max, 0, "\(filter) \(w)x\(h): \(d.count) values differ, max \(d.max)")
            worst = max(worst, d.max)
        }
        let short = try Fixtures.rgbImage("transforms/resize_short50_bicubic.npy")
        var rng = SplitMix64(seed: 1)
        let ours = Resize(shorterSide: 50, filter: .bicubic).apply(photo, using: &rng)
        XCTAssertEqual(ours.width, 75)
        XCTAssertEqual(difference(ours, short).max, 0)
        print("resize vs PIL: max difference \(worst) over \(entries.count + 1) cases")
    }

    /// Computing only a window of the output equals resize-then-crop.
    func testWindowedResizeEqualsResizeThenCrop() throws {
        var rng = SplitMix64(seed: 42)
        for filter in ResampleFilter.allCases {
            for _ in 0..<20 {
                let w = 1 + rng.int(below: 160), h = 1 + rng.int(below: 120)
                let c = 1 + rng.int(below: min(w, h))
                let preset = EvalPreset(resize: min(w, h), crop: c, normalization: .unit, filter: filter)
                let full = photo.resized(shorterSide: min(w, h), filter: filter).centerCropped(width: c, height: c)
                XCTAssertEqual(preset.resizedAndCropped(photo), full, "\(filter) resize \(min(w, h)) crop \(c)")
            }
        }
    }

    func testCenterCropMatchesTorchvision() throws {
        let entries = try XCTUnwrap((try Fixtures.json("manifest.json")["transforms"] as? [String: Any])?["center_crop"] as? [[String: Any]])
        for e in entries {
            let w = try XCTUnwrap(e["width"] as? Int), h = try XCTUnwrap(e["height"] as? Int)
            let ref = try Fixtures.rgbImage("transforms/" + (try XCTUnwrap(e["file"] as? String)))
            XCTAssertEqual(CenterCrop(width: w, height: h).apply(photo), ref, "center crop \(w)x\(h)")
        }
    }

    func testResizedCropAndFlipMatchTorchvision() throws {
        let ref = try Fixtures.rgbImage("transforms/resized_crop_5_10_50_70_to_32.npy")
        let ours = photo.cropped(left: 10, top: 5, width: 70, height: 50).resized(width: 32, height: 32, filter: .bilinear)
        XCTAssertEqual(difference(ours, ref).max, 0)
        XCTAssertEqual(photo.flippedHorizontally(), try Fixtures.rgbImage("transforms/hflip.npy"))
        XCTAssertEqual(photo.flippedVertically().flippedVertically(), photo)
    }

    func testRandomResizedCropSampling() throws {
        var rng = SplitMix64(seed: 7)
        var areas: [Double] = []
        for _ in 0..<2000 {
            let b = RandomResizedCrop.parameters(width: 500, height: 375, scale: 0.08...1.0, ratio: (3.0 / 4)...(4.0 / 3), using: &rng)
            XCTAssertTrue(b.width > 0 && b.height > 0 && b.left >= 0 && b.top >= 0)
            XCTAssertTrue(b.left + b.width <= 500 && b.top + b.height <= 375)
            let r = Double(b.width) / Double(b.height)
            if b.width * b.height < 500 * 375 {  // accepted draws respect the ratio range (up to rounding)
                XCTAssertTrue(r > 0.7 && r < 1.4, "ratio \(r)")
            }
            areas.append(Double(b.width * b.height) / (500 * 375))
        }
        let mean = areas.reduce(0, +) / Double(areas.count)
        XCTAssertTrue(mean > 0.4 && mean < 0.55, "mean area fraction \(mean)")  // ~0.5 (U(0.08, 1) minus rejections)
        // Fallback: nothing fits a 1000x10 strip with ratio in [3/4, 4/3] -> central crop, ratio clamped.
        let f = RandomResizedCrop.parameters(width: 1000, height: 10, scale: 0.08...1.0, ratio: (3.0 / 4)...(4.0 / 3), using: &rng)
        XCTAssertEqual(f.height, 10)
        XCTAssertEqual(f.width, 13)  // round(10 * 4/3)
        XCTAssertEqual(f.left, (1000 - 13) / 2)
        // Deterministic for a seed, output size as requested.
        var a = SplitMix64(seed: 99), b = SplitMix64(seed: 99)
        let t = RandomResizedCrop(32)
        let x = t.apply(photo, using: &a), y = t.apply(photo, using: &b)
        XCTAssertEqual(x, y)
        XCTAssertEqual(x.width, 32)
        XCTAssertEqual(x.height, 32)
    }

    func testRandomHorizontalFlip() {
        var rng = SplitMix64(seed: 3)
        let flip = RandomHorizontalFlip()
        var flipped = 0
        for _ in 0..<1000 where flip.apply(photo, using: &rng) != photo { flipped += 1 }
        XCTAssertTrue(flipped > 430 && flipped < 570, "\(flipped) of 1000 flipped")
        XCTAssertEqual(RandomHorizontalFlip(probability: 0).apply(photo, using: &rng), photo)
    }

    func testToTensorAndNormalize() {
        let tiny = RGBImage(width: 2, height: 1, pixels: [0, 127, 255, 10, 20, 30])
        let lite = ToTensor(normalization: .lite).apply(tiny)
        let expected: [Float] = [0, 10, 127, 20, 255, 30].map { (Float($0) - 127) / 128 }
        XCTAssertEqual(lite.values, expected)  // planes: R of both pixels, then G, then B
        let imagenet = ToTensor(normalization: .imagenet).apply(tiny)
        let separate = Normalize.imagenet.apply(ToTensor().apply(tiny))
        XCTAssertEqual(imagenet, separate)  // fused table == torchvision's two steps, bit for bit
        XCTAssertEqual(imagenet.values[0], (Float(0) / 255 - 0.485) / 0.229)
        XCTAssertEqual(imagenet.tensor.shape, [3, 1, 2])
        XCTAssertEqual(Normalization(name: "lite"), .lite)
        XCTAssertNil(Normalization(name: "bogus"))
    }

    func testComposeAndChain() {
        let pipeline = Compose([RandomResizedCrop(48), RandomHorizontalFlip(), AutoAugment()])
            .then(ToTensor(normalization: .imagenet))
        var a = SplitMix64(seed: 5, stream: 17), b = SplitMix64(seed: 5, stream: 17), c = SplitMix64(seed: 5, stream: 18)
        let x = pipeline.apply(photo, using: &a)
        XCTAssertEqual(x.tensor.shape, [3, 48, 48])
        XCTAssertEqual(x, pipeline.apply(photo, using: &b))
        XCTAssertNotEqual(x, pipeline.apply(photo, using: &c))
    }
}
