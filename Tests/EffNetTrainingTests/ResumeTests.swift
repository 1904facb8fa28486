import EffNetRuntime
import EffNetTraining
import EfficientNetTiny
import Foundation
import XCTest

final class ResumeTests: XCTestCase {
    private func makeLoop(model: EfficientNetTinyTraining, epochs: Int, source: ArrayBatchSource,
                          callbacks: [any TrainingCallback] = []) -> (TrainingLoop<EfficientNetTinyTraining>, ExponentialMovingAverage) {
        let slots = EfficientNetTinyTraining.trainingDescriptor.parameterSlots
        let ema = ExponentialMovingAverage(slots: slots, parameters: model.parameters, decay: 0.9, warmup: true)
        model.random = CounterRandom(seed: 42)
        // Dropout and stochastic depth on: the random state must be restored too.
        let loop = TrainingLoop(model: model, optimizer: AdamW(),
                                groups: [ParameterGroup(slots: slots, weightDecay: 0.01)],
                                schedule: LinearWarmup(wrapping: CosineSchedule(base: 2e-3, totalSteps: 8), warmupSteps: 2),
                                options: TrainingOptions(dropout: true, stochasticDepth: true, labelSmoothing: 0.1),
                                ema: ema, epochs: epochs, train: source, validation: source, callbacks: callbacks)
        return (loop, ema)
    }

    func testResumeIsBitExact() throws {
        let directory = try temporaryDirectory("resume")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (images, labels) = noiseImages(count: 8, seed: 11)
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 4, shuffleSeed: 5)

        // Straight: 2 epochs.
        let straightModel = try makeModel()
        let (straight, straightEMA) = makeLoop(model: straightModel, epochs: 2, source: source)
        try straight.fit()

        // 1 epoch, checkpoint, a new model and loop resume, 1 more epoch.
        let checkpoint = directory.appendingPathComponent("epoch1.safetensors")
        let firstModel = try makeModel()
        let (first, _) = makeLoop(model: firstModel, epochs: 1, source: source)
        try first.fit()
        try first.saveCheckpoint(to: checkpoint)

        let resumedModel = try makeModel()
        let (resumed, resumedEMA) = makeLoop(model: resumedModel, epochs: 2, source: source)
        try resumed.resume(from: checkpoint)
        XCTAssertEqual(resumed.state.epoch, 1)
        XCTAssertEqual(resumed.state.globalStep, 2)
        let summary = try resumed.fit()
        XCTAssertEqual(summary.epochsRun, 1)

        XCTAssertEqual(parameterArray(resumedModel).map(\.bitPattern), parameterArray(straightModel).map(\.bitPattern))
        XCTAssertEqual(resumedModel.random.state, straightModel.random.state)
        XCTAssertEqual(resumed.state, straight.state)
        XCTAssertEqual(resumed.optimizer.stepCount, straight.optimizer.stepCount)
        let a = straightEMA.stateTensors(), b = resumedEMA.stateTensors()
        XCTAssertEqual(a.map(\.name), b.map(\.name))
        XCTAssertEqual(a.map { $0.tensor.values.map(\.bitPattern) }, b.map { $0.tensor.values.map(\.bitPattern) })
        XCTAssertEqual(resumed.history.last?.validationLoss, straight.history.last?.validationLoss)
    }

    func testCheckpointFilesAndMetricsRowsAfterResume() throws {
        let directory = try temporaryDirectory("metrics")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (images, labels) = noiseImages(count: 4, seed: 12)
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 4)
        let csv = directory.appendingPathComponent("metrics.csv")
        let jsonl = directory.appendingPathComponent("metrics.jsonl")
        let mid = directory.appendingPathComponent("mid.safetensors")

        // Run A: 2 epochs; a copy of the checkpoint after epoch 0 stands in for "killed after epoch 1's
        // metrics row was written but before its checkpoint".
        let keepMid = EventCallback { event, loop in
            if case let .checkpoint(metrics) = event, metrics.epoch == 0 { try? loop.saveCheckpoint(to: mid) }
        }
        let checkpoints = CheckpointCallback(directory: directory, monitor: "val_loss")
        let (a, _) = makeLoop(model: try makeModel(), epochs: 2, source: source,
                              callbacks: [MetricsLogger(csv: csv, jsonLines: jsonl), checkpoints, keepMid])
        try a.fit()
        XCTAssertEqual(try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").count, 3)

        // Checkpoints are complete: they load as inference weights and as a training checkpoint.
        for url in [checkpoints.lastURL, checkpoints.bestURL, mid] {
            let file = try SafeTensorsFile(contentsOf: url)
            XCTAssertNotNil(file.metadata[TrainingCheckpoint.randomStateKey])
            XCTAssertTrue(file.names.contains { $0.hasPrefix("optimizer.") })
            XCTAssertTrue(file.names.contains { $0.hasPrefix("ema.") })
            let inference = try EfficientNetTiny(weights: file)
            let logits = try inference.logits(for: HostTensor(shape: [1, 3, 72, 72], values: Array(images.values.prefix(3 * 72 * 72))))
            XCTAssertTrue(logits.values.allSatisfy(\.isFinite))
        }
        let last = try SafeTensorsFile(contentsOf: checkpoints.lastURL)
        XCTAssertEqual(last.metadata[TrainingCheckpoint.epochKey], "2")
        XCTAssertEqual(last.metadata[TrainingCheckpoint.bestMetricNameKey], "val_loss")

        // Run B resumes from the mid checkpoint (epoch 1) and runs to 3 epochs.
        let (b, _) = makeLoop(model: try makeModel(), epochs: 3, source: source,
                              callbacks: [MetricsLogger(csv: csv, jsonLines: jsonl)])
        try b.resume(from: mid)
        try b.fit()
        let csvLines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(csvLines.first, MetricsLogger.columns.joined(separator: ","))
        XCTAssertEqual(csvLines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[0] },
                       ["0", "1", "2"])
        let jsonLines = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n")
        let epochs = try jsonLines.map { line -> Int in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return (object["epoch"] as! NSNumber).intValue
        }
        XCTAssertEqual(epochs, [0, 1, 2])
    }

    func testResumeRejectsOtherOptimizer() throws {
        let directory = try temporaryDirectory("reject")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (images, labels) = noiseImages(count: 4, seed: 13)
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 4)
        let (a, _) = makeLoop(model: try makeModel(), epochs: 1, source: source)
        try a.fit()
        let url = directory.appendingPathComponent("a.safetensors")
        try a.saveCheckpoint(to: url)
        let model = try makeModel()
        let before = parameterArray(model)
        let other = TrainingLoop(model: model, optimizer: SGD(momentum: 0.9), schedule: ConstantSchedule(0.1),
                                 epochs: 2, train: source)
        XCTAssertThrowsError(try other.resume(from: url))
        XCTAssertEqual(parameterArray(model), before)  // nothing changed
        XCTAssertEqual(other.state.epoch, 0)
    }
}
