import EffNetRuntime
import EfficientNetTiny
import Foundation
import XCTest

/// Loading weights into a generated model fails with a clear error naming what is wrong, and
/// never crashes, for missing tensors, wrong shapes and truncated files.
final class WeightLoadingTests: XCTestCase {
    func tinyWeights() -> [String: HostTensor] {
        let synthetic = SyntheticWeights(seed: 1)
        var tensors: [String: HostTensor] = [:]
        for p in EfficientNetTiny.descriptor.parameters { tensors[p.name] = synthetic.tensor(p.name, shape: p.shape) }
        return tensors
    }

    /// The synthetic Tiny weights as a safetensors file in a fresh temporary folder.
    func writeTinyWeights() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("effnet-weights-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("tiny.safetensors")
        try SafeTensors.write(tinyWeights(), to: file)
        return file
    }

    func testMissingTensorNamesIt() {
        var tensors = tinyWeights()
        tensors["features.2.0.block.1.0.weight"] = nil
        XCTAssertThrowsError(try EfficientNetTiny(weights: DictionaryWeightStore(tensors, label: "w.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("features.2.0.block.1.0.weight"), "\(error)")
        }
    }

    func testWrongShapeNamesExpectedAndFound() {
        var tensors = tinyWeights()
        tensors["classifier.1.weight"] = HostTensor(shape: [1000, 640], repeating: 0)
        XCTAssertThrowsError(try EfficientNetTiny(weights: DictionaryWeightStore(tensors, label: "w.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("[1000, 640]") && "\(error)".contains("[10, 640]"), "\(error)")
        }
    }

    func testTruncatedWeightFileIsAnErrorNotACrash() throws {
        let file = try writeTinyWeights()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let bytes = try Data(contentsOf: file)
        try bytes.prefix(bytes.count / 2).write(to: file)
        XCTAssertThrowsError(try EfficientNetTiny(weights: SafeTensorsFile(contentsOf: file))) { error in
            XCTAssertTrue("\(error)".contains("tiny.safetensors"), "\(error)")
        }
    }

    func testSavedAndReloadedWeightsGiveIdenticalLogits() throws {
        let file = try writeTinyWeights()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let fromFile = try EfficientNetTiny(weights: SafeTensorsFile(contentsOf: file)).logits(for: input)
        let fromMemory = try EfficientNetTiny(weights: SyntheticWeights(seed: 1)).logits(for: input)
        XCTAssertEqual(fromFile, fromMemory)
    }
}
