import EffNetRuntime
import EfficientNetTiny
import XCTest

/// `effnet bench --profile`: a profiler attached to a generated model times every kernel call
/// and changes nothing the model computes.
final class ProfilerTests: XCTestCase {
    func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    func testProfiledForwardGivesTheSameLogitsAndTimesEveryLayerOncePerRun() throws {
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let network = try EfficientNetTiny(weights: try fixtureWeights("EfficientNetTiny"), pool: WorkerPool(threads: 2))
        let plain = try network.logits(for: input)

        let profiler = network.makeProfiler()
        network.profiler = profiler
        let runs = 3
        for run in 0..<runs {
            XCTAssertEqual(bits(try network.logits(for: input).values), bits(plain.values), "profiled run \(run)")
        }
        network.profiler = nil
        _ = try network.logits(for: input)  // detached: not counted

        XCTAssertEqual(profiler.runs, runs)
        XCTAssertEqual(profiler.layers, EfficientNetTiny.profiledLayers)
        // A depthwise layer computed in its expansion's call (the row before it, kind "expand+depthwise")
        // keeps its row but is never timed on its own; every other layer runs once per run.
        let layers = EfficientNetTiny.profiledLayers
        let shared = Set(zip(layers, layers.dropFirst()).filter { $0.0.kind == "expand+depthwise" }.map { $0.1.name })
        XCTAssertFalse(shared.isEmpty)
        for row in profiler.rows {
            let expected = shared.contains(row.layer.name) ? 0 : runs
            XCTAssertEqual(row.calls, expected, row.layer.name)
            XCTAssertEqual(row.images, expected * input.shape[0], row.layer.name)
            if expected > 0 { XCTAssertGreaterThan(row.nanoseconds, 0, row.layer.name) }
        }
        XCTAssertEqual(profiler.rows.filter { $0.gigaflopsPerSecond != nil }.count,
                       layers.filter { ($0.macsPerImage ?? 0) > 0 && !shared.contains($0.name) }.count)
        XCTAssertEqual(profiler.kinds.map(\.layers).reduce(0, +), profiler.layers.count - shared.count)
        XCTAssertEqual(Set(profiler.kinds.map(\.kind)),
                       ["stem", "depthwise", "squeeze-excitation", "project 1x1", "expand+depthwise", "head 1x1",
                        "pool+classifier"])
    }

    /// With dropout and stochastic depth on (both models draw the same random numbers), the
    /// profiled step's loss, gradients and running statistics equal the unprofiled step's; every
    /// call runs once except the frozen-block alternatives of train-mode BatchNorm and the
    /// recomputations (off by default).
    func testProfiledTrainingStepGivesTheSameResultsAndTimesEveryCall() throws {
        let input = try Fixtures.npy("EfficientNetTiny/input.npy")
        let labels = [3, 8]
        let floats = EfficientNetTinyTraining.trainingDescriptor.parameterFloats
        func step(with profiler: LayerProfiler?) throws -> (loss: Double, gradients: [Float], parameters: [Float]) {
            let model = try EfficientNetTinyTraining(weights: try fixtureWeights("EfficientNetTiny"), pool: WorkerPool(threads: 2))
            model.profiler = profiler
            let result = try model.trainStep(images: input, labels: labels, options: TrainingOptions())
            return (result.loss, Array(UnsafeBufferPointer(start: model.gradients, count: floats)),
                    Array(UnsafeBufferPointer(start: model.parameters, count: floats)))
        }
        let plain = try step(with: nil)
        let profiler = LayerProfiler(layers: EfficientNetTinyTraining.profiledLayers)
        let profiled = try step(with: profiler)
        XCTAssertEqual(profiled.loss.bitPattern, plain.loss.bitPattern)
        XCTAssertEqual(bits(profiled.gradients), bits(plain.gradients))
        XCTAssertEqual(bits(profiled.parameters), bits(plain.parameters), "running statistics")

        XCTAssertEqual(profiler.runs, 1)
        let ran = profiler.rows.filter { $0.calls > 0 }
        func optional(_ layer: LayerProfiler.Layer) -> Bool { layer.summary.hasPrefix("frozen:") || layer.kind == "recomputation" }
        for row in profiler.rows where row.calls == 0 {
            XCTAssertTrue(optional(row.layer), "\(row.index) \(row.layer.name) \(row.layer.summary) never ran")
        }
        for row in ran {
            XCTAssertEqual(row.calls, 1, "\(row.index) \(row.layer.name)")
            XCTAssertGreaterThan(row.nanoseconds, 0, "\(row.index) \(row.layer.name)")
        }
        XCTAssertEqual(profiler.rows.count - ran.count, EfficientNetTinyTraining.profiledLayers.filter(optional).count)
        XCTAssertTrue(ran.contains { $0.layer.kind == "BN+act backward" })
        XCTAssertTrue(ran.contains { $0.layer.kind == "conv 1x1 backward (+ BN dZ)" && $0.gigaflopsPerSecond != nil })
    }
}
