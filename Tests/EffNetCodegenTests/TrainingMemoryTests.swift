@testable import EffNetCodegen
import EffNetSpec
import Foundation
import XCTest

/// The training arena packs saved activations and gradients by lifetime: two buffers that are in
/// use during the same stretch of calls never share memory, for every shipped variant.
final class TrainingMemoryTests: XCTestCase {
    func testNoTwoLiveTrainingBuffersOverlap() throws {
        let specs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs")
        let library = try SpecFiles.loadLibrary(folder: specs)
        for name in ["EfficientNetTiny", "EfficientNetTinyLite", "EfficientNetB0", "EfficientNetLite0"] {
            let program = TrainingProgramBuilder.build(Planner.plan(try library.resolve(name)))
            let layout = ArenaLayout(program: program)
            var first = [Int: Int](), last = [Int: Int]()
            for (index, call) in program.callsInOrder.enumerated() {
                for argument in call.arguments {
                    switch argument.value {
                    case .tensor(let id), .optionalTensor(let id, _):
                        first[id] = min(first[id] ?? index, index)
                        last[id] = max(last[id] ?? index, index)
                    default: continue
                    }
                }
            }
            XCTAssertEqual(first.count, program.buffers.count, "\(name): every buffer is used")
            let ids = Array(first.keys)
            for a in ids {
                XCTAssertLessThanOrEqual(layout.offsets[a] + program.buffers[a].floatsPerImage, layout.floatsPerImage)
                for b in ids where a < b && first[a]! <= last[b]! && first[b]! <= last[a]! {
                    let overlap = layout.offsets[a] < layout.offsets[b] + program.buffers[b].floatsPerImage
                        && layout.offsets[b] < layout.offsets[a] + program.buffers[a].floatsPerImage
                    XCTAssertFalse(overlap, "\(name): \(program.buffers[a].name) and \(program.buffers[b].name) overlap")
                }
            }
            let unshared = program.buffers.reduce(0) { $0 + $1.floatsPerImage }
            XCTAssertLessThan(layout.floatsPerImage, unshared, "\(name): packing reuses memory")
        }
    }
}
