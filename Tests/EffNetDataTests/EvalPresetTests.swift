import EffNetData
import EffNetRuntime
import Foundation
import XCTest

final class EvalPresetTests: XCTestCase {
    static let photos = ["astronaut", "chelsea", "coffee", "rocket"]

    /// Our decoder + preset vs torchvision Resize(112, BICUBIC) + CenterCrop(96) + ToTensor +
    /// Normalize(ImageNet) on the full-size photos.
    func testImagenetPresetMatchesTorchvision() throws {
        let preset = EvalPreset(resize: 112, crop: 96, normalization: .imagenet)
        var worst: Float = 0
        for name in Self.photos {
            let ref = try NPY.readFloat32(Fixtures.url("eval/\(name).npy"))
            let ours = try preset.preprocess(contentsOf: Fixtures.photo(name))
            XCTAssertEqual(ours.tensor.shape, ref.shape)
            let d = maxAbsDifference(ours.values, ref.values)
            XCTAssertLessThanOrEqual(d, 1e-6, name)
            worst = max(worst, d)
        }
        print("eval preset (imagenet, 112/96) vs torchvision: max |diff| \(worst) (normalised units)")
    }

    /// Against the committed Lite0 inputs (PIL bicubic 256 + center crop 224 + (x - 127) / 128).
    func testLitePresetMatchesLite0Fixtures() throws {
        let preset = try XCTUnwrap(EvalPreset(resize: 256, crop: 224, normalization: "lite"))
        var worst: Float = 0
        for name in Self.photos {
            let ref = try NPY.readFloat32(Fixtures.root.appendingPathComponent("Lite0Photos/\(name).input.npy"))
            let ours = try preset.preprocess(contentsOf: Fixtures.photo(name))
            XCTAssertEqual(ours.batchTensor.shape, ref.shape)
            let d = maxAbsDifference(ours.values, ref.values)
            XCTAssertLessThanOrEqual(d, 1e-6, name)
            worst = max(worst, d)
        }
        print("eval preset (lite, 256/224) vs Lite0Photos inputs: max |diff| \(worst)")
    }

    /// Decode + preset time for the ~500x375 photos (informative; debug builds are much slower).
    func testSpeed() throws {
        let preset = EvalPreset(resize: 256, crop: 224, normalization: .imagenet)
        for name in ["chelsea", "coffee"] {
            let data = try Data(contentsOf: Fixtures.photo(name))
            var best = Double.infinity, bestDecode = Double.infinity
            for _ in 0..<5 {
                let t0 = Date()
                let image = try ImageDecoder.decode(data)
                let t1 = Date()
                _ = preset.apply(image)
                let t2 = Date()
                best = min(best, t2.timeIntervalSince(t0))
                bestDecode = min(bestDecode, t1.timeIntervalSince(t0))
            }
            print(String(format: "%@.jpg: decode %.2f ms, decode + preset %.2f ms", name, bestDecode * 1e3, best * 1e3))
        }
    }
}
