@testable import EffNetCodegen
import EffNetSpec
import Foundation
import XCTest

/// The training arena packs saved activations and gradients by lifetime: two buffers that are in
/// use during the same stretch of calls never share memory, for every shipped variant, in both
/// memory plans (standard, and recomputing activations in the backward pass).
final class TrainingMemoryTests: XCTestCase {
    func program(_ name: String) throws -> TrainingProgram {
        let specs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs")
        let library = try SpecFiles.loadLibrary(folder: specs)
        return TrainingProgramBuilder.build(Planner.plan(try library.resolve(name)))
    }

    /// First and last call index at which each buffer's memory is in use when the step runs with
    /// `recomputing` on or off. Off, the recomputing calls do not run and a recomputed copy is read
    /// from the forward buffer it copies (its `standardAlias`).
    func lifetimes(_ program: TrainingProgram, recomputing: Bool) -> (first: [Int: Int], last: [Int: Int]) {
        var first = [Int: Int](), last = [Int: Int]()
        for (index, call) in program.callsInOrder.enumerated() where recomputing || !call.recomputes {
            for argument in call.arguments {
                switch argument.value {
                case .tensor(let id), .optionalTensor(let id, _):
                    let memory = recomputing ? id : (program.buffers[id].standardAlias ?? id)
                    first[memory] = min(first[memory] ?? index, index)
                    last[memory] = max(last[memory] ?? index, index)
                default: continue
                }
            }
        }
        return (first, last)
    }

    func testNoTwoLiveTrainingBuffersOverlap() throws {
        for name in ["EfficientNetTiny", "EfficientNetTinyLite", "EfficientNetB0", "EfficientNetLite0"] {
            let program = try program(name)
            for recomputing in [false, true] {
                let label = "\(name)\(recomputing ? " recomputing" : "")"
                let layout = ArenaLayout(program: program, recomputing: recomputing)
                let (first, last) = lifetimes(program, recomputing: recomputing)
                let ids = Array(first.keys)
                for a in ids {
                    XCTAssertLessThanOrEqual(layout.offsets[a] + program.buffers[a].floatsPerImage, layout.floatsPerImage)
                    for b in ids where a < b && first[a]! <= last[b]! && first[b]! <= last[a]! {
                        let overlap = layout.offsets[a] < layout.offsets[b] + program.buffers[b].floatsPerImage
                            && layout.offsets[b] < layout.offsets[a] + program.buffers[a].floatsPerImage
                        XCTAssertFalse(overlap, "\(label): \(program.buffers[a].name) and \(program.buffers[b].name) overlap")
                    }
                }
                let unshared = program.buffers.reduce(0) { $0 + $1.floatsPerImage }
                XCTAssertLessThan(layout.floatsPerImage, unshared, "\(label): packing reuses memory")
            }
            // Every buffer is used in the plan that runs every call.
            XCTAssertEqual(lifetimes(program, recomputing: true).first.count, program.buffers.count, "\(name): every buffer is used")
        }
    }

    /// With recomputation the BN+activation and squeeze-excitation outputs die with the forward pass
    /// (their copies are made in the backward, right before their reader), which is where the
    /// memory goes: B0's arena shrinks by more than 40 %. Without it the plan is the standard one.
    func testRecomputingPlanDropsActivationOutputsBeforeTheBackward() throws {
        let program = try program("EfficientNetB0")
        let firstBackwardCall = program.forward.reduce(0) { $0 + $1.calls.count }
        let (_, last) = lifetimes(program, recomputing: true)
        let recomputed = program.buffers.compactMap(\.standardAlias)
        XCTAssertEqual(recomputed.count, 16 + 16 + 15 + 1, "B0: 16 depthwise outputs, 16 SE outputs, 15 expand outputs, the stem output")
        for original in recomputed {
            XCTAssertLessThan(last[original]!, firstBackwardCall, "\(program.buffers[original].name) outlives the forward pass")
        }
        let standard = ArenaLayout(program: program, recomputing: false).floatsPerImage
        let recomputing = ArenaLayout(program: program, recomputing: true).floatsPerImage
        XCTAssertLessThan(Double(recomputing), 0.6 * Double(standard), "recomputing \(recomputing) vs standard \(standard)")
        XCTAssertTrue(program.callsInOrder.filter(\.recomputes).allSatisfy { $0.condition?.hasPrefix("s.options.recomputeActivations") == true },
                      "recomputing calls run only when asked for")
    }
}
