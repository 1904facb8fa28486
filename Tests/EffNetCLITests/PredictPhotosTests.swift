import Foundation
import XCTest

/// `effnet predict` on the committed JPEG photos, through our own decoding and the Lite0 eval
/// preset, gives PyTorch's top-5 (Tests/Fixtures/Lite0Photos/top5.json: PIL decoding, torchvision
/// resize 256 bicubic + center crop 224, the same weights; written by Tools/make_lite0.py).
final class PredictPhotosTests: XCTestCase {
    struct Reference: Decodable {
        struct Photo: Decodable {
            struct Entry: Decodable { let index: Int; let name: String; let logit: Double; let probability: Double }
            let file: String
            let top5: [Entry]
        }
        let photos: [String: Photo]
    }

    struct Prediction: Decodable {
        struct Entry: Decodable { let `class`: Int; let name: String; let probability: Double }
        let input: String
        let top: [Entry]
    }

    func testTop5OfRealPhotosEqualsPyTorch() throws {
        let reference = try JSONDecoder().decode(
            Reference.self,
            from: Data(contentsOf: EffnetCommand.packageRoot.appendingPathComponent("Tests/Fixtures/Lite0Photos/top5.json")))
        let photos = reference.photos.sorted { $0.key < $1.key }
        XCTAssertEqual(photos.count, 4)
        let result = try EffnetCommand.run(
            ["predict", "--variant", "EfficientNetLite0", "--weights", "Weights/EfficientNetLite0.safetensors",
             "--top-k", "5", "--json"] + photos.map(\.value.file))
        XCTAssertEqual(result.status, 0, result.output)
        let predictions = try JSONDecoder().decode([Prediction].self, from: Data(result.output.utf8))
        XCTAssertEqual(predictions.map(\.input), photos.map(\.value.file))

        for (prediction, (name, photo)) in zip(predictions, photos) {
            XCTAssertEqual(prediction.top.map(\.class), photo.top5.map(\.index), "\(name): top-5 classes differ from PyTorch")
            XCTAssertEqual(prediction.top.map(\.name), photo.top5.map(\.name), "\(name): class names")
            for (ours, theirs) in zip(prediction.top, photo.top5) {
                // Same pixels and weights; float32 vs PyTorch float32 on another summation order.
                XCTAssertEqual(ours.probability, theirs.probability, accuracy: 1e-4, "\(name) class \(theirs.index)")
            }
        }
    }

    func testABrokenImageIsAClearErrorNotACrash() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("effnet-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let broken = folder.appendingPathComponent("broken.jpg")
        let jpeg = try Data(contentsOf: EffnetCommand.packageRoot.appendingPathComponent("Tests/Fixtures/photos/coffee.jpg"))
        try jpeg.prefix(600).write(to: broken)  // the headers and a few bytes of scan data

        let result = try EffnetCommand.run(
            ["predict", "--variant", "EfficientNetLite0", "--weights", "Weights/EfficientNetLite0.safetensors",
             broken.path])
        XCTAssertEqual(result.status, 1, result.output)  // ArgumentParser's exit code for an error, not a signal
        XCTAssertTrue(result.output.contains("broken.jpg"), "the error names the file: \(result.output)")
    }

    /// Weights prepared by `effnet prepare-weights` and mapped, their pages handed back block by block,
    /// predict exactly what the .safetensors they came from predicts; training refuses them clearly.
    func testPreparedWeightsPredictWhatTheirSafetensorsPredicts() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("effnet-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let prepared = folder.appendingPathComponent("lite0.effnetw").path
        let prepare = try EffnetCommand.run(
            ["prepare-weights", "--variant", "EfficientNetLite0", "--weights", "Weights/EfficientNetLite0.safetensors",
             "--output", prepared])
        XCTAssertEqual(prepare.status, 0, prepare.output)
        let photos = ["Tests/Fixtures/photos/coffee.jpg"]
        let fromSafetensors = try EffnetCommand.run(
            ["predict", "--variant", "EfficientNetLite0", "--weights", "Weights/EfficientNetLite0.safetensors",
             "--json"] + photos)
        let fromPrepared = try EffnetCommand.run(
            ["predict", "--variant", "EfficientNetLite0", "--weights", prepared, "--release-weights-after-use",
             "--json"] + photos)
        XCTAssertEqual(fromSafetensors.status, 0, fromSafetensors.output)
        XCTAssertEqual(fromPrepared.status, 0, fromPrepared.output)
        XCTAssertEqual(fromPrepared.output, fromSafetensors.output)

        let train = try EffnetCommand.run(
            ["bench", "--variant", "EfficientNetLite0", "--train", "--weights", prepared, "--iterations", "1"])
        XCTAssertEqual(train.status, 1, train.output)
        XCTAssertTrue(train.output.contains("lite0.effnetw") && train.output.contains(".safetensors"), train.output)
    }
}
