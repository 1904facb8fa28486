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

    /// Prepared weights mapped with `releaseAfterUse` are handed back block by block: the forward pass
    /// releases ranges that tile the whole weight blob in order, each after a block call, so every
    /// weight is released once and never before the call that reads it.
    func testForwardReleasesEveryWeightOnceAfterItsBlock() throws {
        let plan = try tinyPlan()
        let code = ModelEmitter.emit(plan, specSources: [])
        let forward = code.components(separatedBy: "public func forward(")[1].components(separatedBy: "\n    }\n")[0]
        let lines = forward.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var next = 0
        var releases = 0
        for (index, line) in lines.enumerated() where line.hasPrefix("weights.release(") {
            let bounds = line.dropFirst("weights.release(".count).dropLast().components(separatedBy: "..<").map { Int($0)! }
            XCTAssertEqual(bounds[0], next, "ranges must follow each other: \(line)")
            XCTAssertGreaterThan(bounds[1], bounds[0], line)
            XCTAssertTrue(lines[index - 1].hasPrefix("features_") || lines[index - 1].hasPrefix("classifier("),
                          "\(line) does not follow a block call")
            next = bounds[1]
            releases += 1
        }
        let total = try XCTUnwrap(code.components(separatedBy: "preparedFloats: ").dropFirst().first?.prefix { $0.isNumber })
        XCTAssertEqual(next, Int(total), "the last release ends at the end of the weights")
        XCTAssertEqual(releases, plan.blocks.count)
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
        // No shortcut: 2.0 project (stride 2) and the head (the expansions run in expand+depthwise calls,
        // which have no shortcut argument). Shortcut: 1.0 and 2.1 projections.
        XCTAssertEqual(code.components(separatedBy: "residual: nil").count - 1, 2)
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
        XCTAssertTrue(code.contains("TrainingKernels.batchNormStatistics("), "train-mode BatchNorm, not folded")
    }

    /// The `profiledLayers` table of one generated class (the inference or the training one).
    func profileTable(_ code: Substring) -> [Substring] {
        let start = code.range(of: "public static let profiledLayers: [LayerProfiler.Layer] = [\n")!.upperBound
        let end = code[start...].range(of: "\n    ]\n")!.lowerBound
        return code[start..<end].split(separator: "\n").filter { $0.contains(".init(") }
    }

    /// Lines of generated code trimmed, for checking what brackets what.
    func trimmedLines(_ code: Substring) -> [String] {
        code.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func testForwardTimesEveryLayerAndTheTableCarriesThePlansMACs() throws {
        let plan = try tinyPlan()
        let whole = ModelEmitter.emit(plan, specSources: [])
        let split = whole.range(of: "public final class TTraining")!.lowerBound
        let inference = whole[..<split]

        // Every kernel call sits alone between `p?.start()` and `p?.stop(i)`, i the table index of its layer,
        // counting up from 0 and skipping the depthwise layers that run inside an expand+depthwise call. A
        // block's per-image call (the other branch of its first layer's call) is timed on that layer's index.
        // A call may start with the prefetch of later weights (WeightPrefetchPlan), timed with it.
        let fusion = ExpandDepthwiseFusion(plan: plan)
        XCTAssertEqual(fusion.expansion.count, 2, "both expansions of the tiny model share a call with their depthwise")
        let called = plan.layers.indices.filter { fusion.expansion[plan.layers[$0].name] == nil }
        let lines = trimmedLines(inference)
        var calls = 0, perImageCalls = 0
        for (number, text) in lines.enumerated() where text.hasPrefix("Kernels.") && text.hasSuffix("(") {
            let prefetches = number > 1 && lines[number - 1].hasPrefix("Kernels.prefetchWeightsAhead(")
            let start = prefetches ? number - 2 : number - 1
            guard start >= 0, lines[start] == "p?.start()" else {
                XCTFail("\(text) at line \(number) is not started")
                continue
            }
            let stop = lines[number...].firstIndex { $0.hasPrefix("p?.") }
            if calls < called.count {
                XCTAssertEqual(stop.map { lines[$0] }, "p?.stop(\(called[calls]))", "call \(calls): \(text)")
            }
            if text.hasSuffix("PerImage(") { perImageCalls += 1 } else { calls += 1 }
        }
        XCTAssertEqual(calls, called.count)
        XCTAssertEqual(lines.filter { $0 == "p?.start()" }.count, called.count + perImageCalls)
        XCTAssertTrue(inference.contains("p?.beginRun(batch: n)"))

        let table = profileTable(inference)
        XCTAssertEqual(table.count, plan.layers.count)
        for (entry, layer) in zip(table, plan.layers) {
            XCTAssertTrue(entry.contains(".init(\"\(layer.name)\", "), "\(entry) is not \(layer.name)")
        }
        let macs = table.map { entry -> Int in
            let digits = entry[entry.range(of: "macsPerImage: ")!.upperBound...].prefix { $0.isNumber }
            return Int(digits)!
        }
        // A shared call's row carries both layers' MACs; the depthwise row, which never runs, keeps its own.
        XCTAssertEqual(macs, plan.layers.map { $0.macs + (fusion.depthwise[$0.name]?.macs ?? 0) })
        XCTAssertEqual(called.map { macs[$0] }.reduce(0, +), plan.macs, "the rows that run count every MAC once")
        XCTAssertTrue(inference.contains("\"depthwise 5x5/2 + BN + silu, [n, 16, 16, 48] -> [n, 8, 8, 48], computed in "
                                         + "the call of features.2.0.block.0\""),
                      "the table describes each layer as its comment does")
    }

    func testTrainingStepTimesEveryCall() throws {
        let whole = ModelEmitter.emit(try tinyPlan(), specSources: [])
        let training = whole[whole.range(of: "public final class TTraining")!.lowerBound...]
        let lines = trimmedLines(training)
        // Each start is followed by one call and then its stop; stops count up from 0 in file order.
        var index = 0
        for (number, text) in lines.enumerated() where text == "s.profiler?.start()" {
            let call = lines[number + 1]
            XCTAssertFalse(call.hasPrefix("s.profiler") || call.hasPrefix("//") || call.hasPrefix("}"), "empty bracket before \(call)")
            let stop = lines[(number + 1)...].firstIndex { $0.hasPrefix("s.profiler?.") }
            XCTAssertEqual(stop.map { lines[$0] }, "s.profiler?.stop(\(index))", "call \(index): \(call)")
            index += 1
        }
        let table = profileTable(training)
        XCTAssertEqual(index, table.count)
        // Every kernel call of the step is inside a bracket: as many calls as table entries.
        let calls = lines.filter { $0.range(of: #"^(loss = try )?(Kernels|TrainingKernels|TrainingSupport|WeightPrep|CrossEntropy|s\.logits)\.[A-Za-z]+\("#,
                                            options: .regularExpression) != nil && !$0.contains("WorkspaceFloats(") }
        XCTAssertEqual(calls.count, table.count)
        XCTAssertGreaterThan(table.count, 50)
        XCTAssertTrue(table.contains { $0.contains("kind: \"BN+act backward\", macsPerImage: nil") })
        XCTAssertTrue(table.contains { $0.contains("kind: \"conv 1x1 backward (+ BN dZ)\", macsPerImage: ") && !$0.contains("nil") })
    }

    /// The early squeeze-excitations (more pixels than their projection has outputs) fold into the
    /// projection's weights; the late ones (7x7 maps, 192-320 outputs) still scale in place.
    func testSqueezeExciteFoldsIntoTheProjectionOnlyWhereTheMapIsLarger() throws {
        let plan = Planner.plan(try SpecFiles.loadLibrary(folder: GeneratedFilesTests.specs).resolve("EfficientNetB0"))
        let whole = ModelEmitter.emit(plan, specSources: [])
        let inference = String(whole[..<whole.range(of: "public final class EfficientNetB0Training")!.lowerBound])
        XCTAssertTrue(inference.contains("// features.2.1.block.2 squeeze-excitation: 144 -> 6 -> 144, scales only"))
        XCTAssertTrue(inference.contains("// features.5.2.block.2 squeeze-excitation: 672 -> 28 -> 672, scales only"))
        XCTAssertTrue(inference.contains("// features.6.0.block.2 squeeze-excitation: 672 -> 28 -> 672, in place"))
        XCTAssertTrue(inference.contains("// features.7.0.block.2 squeeze-excitation: 1152 -> 48 -> 1152, in place"))
        let folded = inference.components(separatedBy: "Kernels.squeezeExciteScales(").count - 1
        XCTAssertEqual(folded, 11, "stages 1-5 of B0")
        XCTAssertEqual(inference.components(separatedBy: "Kernels.pointwiseConvScaledInput(").count - 1, folded)
        XCTAssertEqual(inference.components(separatedBy: "Kernels.squeezeExcite(").count - 1, 16 - folded)
        XCTAssertTrue(inference.contains("Kernels.squeezeExciteProjectionWorkspaceFloats(batch: n, channels: 144"))
    }

    /// Every B0 expansion (blocks 2.0 to 7.0; block 1.0 has none) is emitted in one call with its depthwise
    /// layer; the fused kernel reads the expansion's input while it writes the depthwise output, so the
    /// memory plan must keep the two apart. The expanded tensor itself has no place in the arena (the kernel
    /// keeps it in bands, or in its workspace where it runs as two kernels). The depthwise layers keep their
    /// profile rows but have no call of their own.
    func testExpansionAndDepthwiseShareACallAndTheExpansionInputOutlivesIt() throws {
        let plan = Planner.plan(try SpecFiles.loadLibrary(folder: GeneratedFilesTests.specs).resolve("EfficientNetB0"))
        let fusion = ExpandDepthwiseFusion(plan: plan)
        let expansions = plan.layers.filter { $0.role == "expand" }.map(\.name)
        XCTAssertEqual(expansions.count, 15)
        XCTAssertEqual(Set(fusion.depthwise.keys), Set(expansions))
        for (name, dw) in fusion.depthwise {
            let expand = plan.layers.first { $0.name == name }!
            let input = plan.tensors[expand.input], output = plan.tensors[dw.output]
            let a = input.arenaOffset!, b = output.arenaOffset!
            XCTAssertTrue(a + input.shape.elements <= b || b + output.shape.elements <= a,
                          "\(name): input [\(a), +\(input.shape.elements)) overlaps \(dw.name)'s output at \(b)")
            XCTAssertNil(plan.tensors[expand.output].arenaOffset, "\(name)'s output is given arena floats")
        }
        // Stage 2's first expansion (112x112x96, 1.2 million floats) no longer sets the arena's size.
        XCTAssertLessThan(plan.memory.arenaFloatsPerImage, 112 * 112 * 96)
        let whole = ModelEmitter.emit(plan, specSources: [])
        let inference = String(whole[..<whole.range(of: "public final class EfficientNetB0Training")!.lowerBound])
        XCTAssertEqual(inference.components(separatedBy: "Kernels.expandDepthwise(").count - 1, 15)
        XCTAssertEqual(inference.components(separatedBy: "Kernels.depthwiseConv(").count - 1, 1, "block 1.0's")
        XCTAssertTrue(inference.contains("// features.2.0.block.1 depthwise: depthwise 3x3/2 + BN + silu, "
                                         + "[n, 112, 112, 96] -> [n, 56, 56, 96], computed in the call of "
                                         + "features.2.0.block.0"))
        let expand = plan.layers.first { $0.name == "features.2.0.block.0" }!
        let macs = expand.macs + fusion.depthwise[expand.name]!.macs
        XCTAssertTrue(inference.contains(".init(\"features.2.0.block.0\", kind: \"expand+depthwise\", macsPerImage: \(macs),"))
    }

    /// B0's ten blocks with a fused expansion and a folded SE (stages 2-5) may run image by image; the
    /// emitted code asks at run time and keeps the layer calls for the other case. Only blocks whose
    /// projection output and input do not share arena floats qualify (one worker writes image n's output
    /// while another still reads image m's input).
    func testBlocksWithFusedExpansionAndFoldedSqueezeExciteRunPerImageWhereTheArenaAllows() throws {
        let plan = Planner.plan(try SpecFiles.loadLibrary(folder: GeneratedFilesTests.specs).resolve("EfficientNetB0"))
        let whole = ModelEmitter.emit(plan, specSources: [])
        let inference = String(whole[..<whole.range(of: "public final class EfficientNetB0Training")!.lowerBound])
        XCTAssertEqual(inference.components(separatedBy: "Kernels.mbconvPerImage(").count - 1, 10)
        XCTAssertEqual(inference.components(separatedBy: "let perImage = Kernels.mbconvRunsPerImage(").count - 1, 10)
        // features.1.0 (no expansion) runs image by image through depthwisePerImage.
        XCTAssertEqual(inference.components(separatedBy: "Kernels.depthwisePerImage(").count - 1, 1)
        XCTAssertEqual(inference.components(separatedBy: "let perImage = Kernels.depthwiseRunsPerImage(").count - 1, 1)
        XCTAssertEqual(inference.components(separatedBy: "if !perImage {").count - 1, 22, "SE and projection each")
        var perImageBlocks = 0
        for block in plan.blocks {
            guard let first = block.layers.first(where: { $0.role == "expand" }) ?? block.layers.first,
                  let project = block.layers.first(where: { $0.role == "project" }),
                  let comment = inference.range(of: "// \(first.name) \(first.role):"),
                  inference[comment.lowerBound...].prefix(while: { $0 != "\n" }).hasSuffix("image by image")
            else { continue }
            perImageBlocks += 1
            let input = plan.tensors[first.input], output = plan.tensors[project.output]
            let a = input.arenaOffset!, b = output.arenaOffset!
            XCTAssertTrue(a + input.shape.elements <= b || b + output.shape.elements <= a,
                          "\(block.name): its input and its projection output share arena floats")
        }
        XCTAssertEqual(perImageBlocks, 11)
    }
}
