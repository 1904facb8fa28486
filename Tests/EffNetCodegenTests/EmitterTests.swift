import EffNetCodegen
import EffNetSpec
import XCTest

/// Properties of the emitted Swift that reviewers and the runtime rely on.
final class EmitterTests: XCTestCase {
    func tinyPlan() throws -> ModelPlan {
        let spec = """
            model T
            resolution 32
            padding tf-same
            stem conv 3x3 stride 2 channels 8
            stage mbconv 1 3 1 8 1 0.25
            stage mbconv 6 5 2 16 2 none
            head conv 1x1 channels 32
            classifier classes 3
            """
        return Planner.plan(try SpecLibrary(documents: [try SpecParser.parse(spec, file: "Specs/T.effnet")]).resolve("T"))
    }

    func testOneFunctionPerBlockNamedAfterTheTorchvisionModule() throws {
        let code = ModelEmitter.emit(try tinyPlan(), specSources: [])
        for function in ["features_0", "features_1_0", "features_2_0", "features_2_1", "features_3", "classifier"] {
            XCTAssertTrue(code.contains("private func \(function)("), "missing \(function)")
        }
    }

    func testEveryLayerHasAShapeComment() throws {
        let plan = try tinyPlan()
        let code = ModelEmitter.emit(plan, specSources: [])
        for layer in plan.layers {
            XCTAssertTrue(code.contains("// \(layer.name)"), "no comment for \(layer.name)")
        }
        XCTAssertTrue(code.contains("// features.2.0.block.1 depthwise: depthwise 5x5/2 + BN + silu, [n, 16, 16, 48] -> [n, 8, 8, 48]"))
    }

    func testIdentityShortcutIsFusedIntoTheProjection() throws {
        let whole = ModelEmitter.emit(try tinyPlan(), specSources: [])
        let code = String(whole[..<whole.range(of: "public final class TTraining")!.lowerBound])
        // No shortcut: 2.0 expand, 2.0 project (stride 2), 2.1 expand, head. Shortcut: 1.0 and 2.1 projections.
        XCTAssertEqual(code.components(separatedBy: "residual: nil").count - 1, 4)
        XCTAssertTrue(code.contains("// features.1.0.block.2 project: conv 1x1 + BN + shortcut"))
        XCTAssertTrue(code.contains("// features.2.1.block.2 project: conv 1x1 + BN + shortcut"))
    }

    func testTFSamePaddingReachesTheKernelCall() throws {
        let code = ModelEmitter.emit(try tinyPlan(), specSources: [])
        // 16x16 input, k5 s2, SAME: out 8, total pad 3 -> top 1, bottom 2.
        XCTAssertTrue(code.contains("kernel: 5, stride: 2, padTop: 1, padLeft: 1, outHeight: 8, outWidth: 8"))
    }

    func testSpecSourceIsEmbeddedVerbatim() throws {
        let code = ModelEmitter.emit(try tinyPlan(), specSources: [SpecSource(file: "Specs/T.effnet", text: "model T\n# note\n")])
        XCTAssertTrue(code.contains(".init(file: \"Specs/T.effnet\", text: #\"\"\"\n            model T\n            # note\n            \"\"\"#)"))
    }

    func testTrainingStepRunsTheBackwardInReverseBlockOrder() throws {
        let code = ModelEmitter.emit(try tinyPlan(), specSources: [])
        let calls = code.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("if options.frozenBlocks <=") }
        XCTAssertEqual(calls, ["if options.frozenBlocks <= 5 { classifier_backward(s) }",
                               "if options.frozenBlocks <= 4 { features_3_backward(s) }",
                               "if options.frozenBlocks <= 3 { features_2_1_backward(s) }",
                               "if options.frozenBlocks <= 2 { features_2_0_backward(s) }",
                               "if options.frozenBlocks <= 1 { features_1_0_backward(s) }",
                               "if options.frozenBlocks <= 0 { features_0_backward(s) }"])
        XCTAssertTrue(code.contains("loss = try CrossEntropy.forwardBackward("))
        XCTAssertTrue(code.contains("TrainingKernels.batchNormForwardTraining("), "train-mode BatchNorm, not folded")
    }
}
