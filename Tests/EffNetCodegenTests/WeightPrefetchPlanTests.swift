@testable import EffNetCodegen
import EffNetSpec
import Foundation
import XCTest

/// Which weights the generated forward prefetches, and from which calls (WeightPrefetchPlan).
final class WeightPrefetchPlanTests: XCTestCase {
    func shippedPlan(_ model: String) throws -> ModelPlan {
        let specs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs")
        return Planner.plan(try SpecFiles.loadLibrary(folder: specs).resolve(model))
    }

    /// Every squeeze-excitation after the first 1x1 convolution, and the classifier, have their weights
    /// prefetched, by 1x1 convolutions before them; nothing else is, and no byte twice.
    func testTheSqueezeExcitationsAndTheClassifierArePrefetchedByTheOneByOneConvolutionsBeforeThem() throws {
        for model in ["EfficientNetB0", "EfficientNetB3", "EfficientNetLite0"] {
            let plan = try shippedPlan(model)
            let layout = WeightLayout(plan: plan)
            let windows = WeightPrefetchPlan(plan: plan, layout: layout).windows
            let order = Dictionary(uniqueKeysWithValues: plan.layers.enumerated().map { ($0.element.name, $0.offset) })
            var starts: [String: Int] = [:]  // each layer's first float: the previous layer's end
            var previousEnd = 0
            for layer in plan.layers {
                starts[layer.name] = previousEnd
                previousEnd = layout.ends[layer.name]!
            }
            // The floats that should be prefetched: each SE with a 1x1 convolution before it, and the classifier.
            var wanted = IndexSet()
            var seenPointwise = false
            for layer in plan.layers {
                if layer.operation == .pointwiseConvolution { seenPointwise = true }
                if (layer.operation == .squeezeExcitation && seenPointwise) || layer.operation == .linear {
                    wanted.insert(integersIn: starts[layer.name]!..<layout.ends[layer.name]!)
                }
            }
            var covered = IndexSet()
            for (name, window) in windows {
                let caller = try XCTUnwrap(plan.layers.first { $0.name == name })
                XCTAssertEqual(caller.operation, .pointwiseConvolution, "\(model): \(name) prefetches")
                let range = window.start..<(window.start + window.floats)
                XCTAssertFalse(covered.intersects(integersIn: range), "\(model): \(name) prefetches a range twice")
                covered.insert(integersIn: range)
                // The weights it prefetches belong to layers after it.
                let owner = try XCTUnwrap(plan.layers.last { starts[$0.name]! <= window.start })
                XCTAssertGreaterThan(order[owner.name]!, order[name]!, "\(model): \(name) prefetches \(owner.name)")
            }
            XCTAssertEqual(covered, wanted, model)
        }
    }

    /// A call's window fits what it drains at batch 1 (a line per k step: `kSteps`), so the classifier's
    /// 5 MB in B0 is split between the head and the projection before it, the later part to the head.
    func testALargeWindowIsSplitOverTheCallsBeforeItLatestPartLast() throws {
        let plan = try shippedPlan("EfficientNetB0")
        let windows = WeightPrefetchPlan(plan: plan, layout: WeightLayout(plan: plan)).windows
        let head = try XCTUnwrap(windows["features.8"]), projection = try XCTUnwrap(windows["features.7.0.block.3"])
        // The head: 49 pixels (7 strips) x 1,280 channels (27 panels) x 320 k steps, 16 floats a line.
        XCTAssertEqual(head.floats, 7 * 27 * 320 * 16)
        XCTAssertEqual(projection.start + projection.floats, head.start)
        XCTAssertLessThanOrEqual(projection.floats,
                                 WeightPrefetchPlan.kSteps(pixels: 49, inChannels: 1152, outChannels: 320) * 16)
    }

    /// The emitted forward calls the prefetch just before the kernel call whose GEMM drains it.
    func testTheForwardPrefetchesRightBeforeTheDrainingCall() throws {
        let plan = try shippedPlan("EfficientNetB0")
        let windows = WeightPrefetchPlan(plan: plan, layout: WeightLayout(plan: plan)).windows
        let code = ModelEmitter.emit(plan, specSources: [])
        let lines = code.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let prefetches = lines.indices.filter { lines[$0].hasPrefix("Kernels.prefetchWeightsAhead(") }
        XCTAssertEqual(prefetches.count, windows.count)
        for i in prefetches {
            XCTAssertTrue(lines[i + 1].hasPrefix("Kernels.pointwiseConv") || lines[i + 1].hasPrefix("Kernels.expandDepthwise("),
                          "followed by \(lines[i + 1])")
        }
        let head = try XCTUnwrap(windows["features.8"])
        XCTAssertTrue(lines.contains("Kernels.prefetchWeightsAhead(w + \(head.start), floats: \(head.floats), batch: n, pool: pool)"))
    }
}
