import Foundation
import XCTest

@testable import EffNetRuntime

final class WeightStoreTests: XCTestCase {
    private let weights: [String: HostTensor] = [
        "features.0.0.weight": HostTensor(shape: [2, 1, 1, 1], values: [1, 2]),
        "features.0.1.bias": HostTensor(shape: [2], values: [3, 4]),
    ]

    func testDictionaryStoreReturnsTensorWithMatchingShape() throws {
        let store = DictionaryWeightStore(weights)
        XCTAssertEqual(try store.tensor("features.0.1.bias", shape: [2]).values, [3, 4])
    }

    func testDictionaryStoreReportsMissingAndMismatchedTensorsUnderItsLabel() {
        let store = DictionaryWeightStore(weights, label: "converted checkpoint")
        let missing = IOTestSupport.error { try store.tensor("features.0.1.bais", shape: [2]) }
        XCTAssertEqual(missing, .missingTensor(file: "converted checkpoint", name: "features.0.1.bais",
                                               suggestions: ["features.0.1.bias"]))
        XCTAssertEqual(IOTestSupport.error { try store.tensor("features.0.0.weight", shape: [2, 1, 3, 3]) },
                       .shapeMismatch(file: "converted checkpoint", name: "features.0.0.weight",
                                      expected: [2, 1, 3, 3], found: [2, 1, 1, 1]))
    }

    func testSafeTensorsFileAndDictionaryStoreAreInterchangeable() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try SafeTensors.write(weights, to: url)
            let stores: [any WeightStore] = [DictionaryWeightStore(weights), try SafeTensorsFile(contentsOf: url)]
            for store in stores {
                XCTAssertEqual(try store.tensor("features.0.0.weight", shape: [2, 1, 1, 1]).values, [1, 2])
                guard case .shapeMismatch? = IOTestSupport.error({ try store.tensor("features.0.0.weight", shape: [2]) }) else {
                    return XCTFail("\(type(of: store)) must check shapes")
                }
            }
        }
    }

    func testSuggestionsPreferCloseNamesAndNamesDifferingByAPrefix() {
        let names = ["features.0.0.weight", "model.classifier.1.weight", "features.0.1.weight", "other"]
        XCTAssertEqual(TensorFileError.suggestions(for: "classifier.1.weight", among: names), ["model.classifier.1.weight"])
        XCTAssertEqual(TensorFileError.suggestions(for: "features.0.2.weight", among: names),
                       ["features.0.0.weight", "features.0.1.weight"])
        XCTAssertEqual(TensorFileError.suggestions(for: "unrelated.name", among: names), [])
    }
}
