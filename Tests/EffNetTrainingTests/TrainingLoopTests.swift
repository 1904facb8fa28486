import EffNetRuntime
import EffNetTraining
import EfficientNetTiny
import Foundation
import XCTest

final class TrainingLoopTests: XCTestCase {
    func testLossDecreases() throws {
        let (images, labels) = noiseImages(count: 8, seed: 7)
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 4, shuffleSeed: 3)
        let loop = TrainingLoop(model: try makeModel(), optimizer: AdamW(), schedule: ConstantSchedule(3e-3),
                                options: .deterministic, epochs: 5, train: source, validation: source)
        let summary = try loop.fit()
        XCTAssertEqual(summary.epochsRun, 5)
        XCTAssertNil(summary.stopReason)
        XCTAssertEqual(loop.state.globalStep, 10)
        let first = summary.history.first!, last = summary.history.last!
        XCTAssertLessThan(last.trainLoss, first.trainLoss)
        XCTAssertLessThan(last.validationLoss!, first.validationLoss!)
        XCTAssertEqual(last.validation?.images, 8)
        XCTAssertEqual(last.validation?.confusion.flatMap { $0 }.reduce(0, +), 8)
        XCTAssertGreaterThan(last.imagesPerSecond, 0)
        XCTAssertTrue(last.validationTop5! >= last.validationTop1!)
    }

    /// A loader slower than training shows up as time waiting for data (and not as slow steps).
    func testTimeWaitingForTheLoaderIsMeasured() throws {
        struct SlowSource: BatchSource {
            let base: ArrayBatchSource
            var batchesPerEpoch: Int { base.batchesPerEpoch }
            func batches(epoch: Int) -> AnySequence<(images: HostTensor, labels: [Int])> {
                AnySequence(base.batches(epoch: epoch).lazy.map { batch in
                    usleep(50_000)
                    return batch
                })
            }
        }
        let (images, labels) = noiseImages(count: 8, seed: 2)
        let fast = ArrayBatchSource(images: images, labels: labels, batchSize: 4)
        func wait(_ source: any BatchSource) throws -> Double {
            let loop = TrainingLoop(model: try makeModel(), optimizer: SGD(), schedule: ConstantSchedule(0.01),
                                    epochs: 1, train: source)
            return try XCTUnwrap(loop.fit().history.first).dataWaitSeconds
        }
        XCTAssertGreaterThanOrEqual(try wait(SlowSource(base: fast)), 0.1)  // 2 batches x 50 ms
        XCTAssertLessThan(try wait(fast), 0.05)
    }

    func testEventsInOrder() throws {
        let (images, labels) = noiseImages(count: 9, seed: 1)  // 4 + 4 + 1: the single is skipped
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 4)
        var events: [String] = []
        let recorder = EventCallback { event, _ in events.append(event.name) }
        let loop = TrainingLoop(model: try makeModel(), optimizer: SGD(momentum: 0.9), schedule: ConstantSchedule(0.01),
                                epochs: 2, train: source, callbacks: [recorder])
        let summary = try loop.fit()
        let epoch = ["epochStart", "batchStart", "batchEnd", "batchStart", "batchEnd", "epochEnd", "checkpoint"]
        XCTAssertEqual(events, ["fitStart"] + epoch + epoch + ["fitEnd"])
        XCTAssertEqual(summary.history.map(\.skippedBatches), [1, 1])
        XCTAssertEqual(summary.history.map(\.trainImages), [8, 8])
        XCTAssertNil(summary.history[0].validationLoss)
    }

    func testRequestStopFromCallbackEndsAfterBatch() throws {
        let (images, labels) = noiseImages(count: 8, seed: 1)
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 2)
        let stopper = EventCallback { event, loop in
            if case let .batchEnd(batch) = event, batch.globalStep == 3 { loop.requestStop(reason: "test") }
        }
        let loop = TrainingLoop(model: try makeModel(), optimizer: SGD(), schedule: ConstantSchedule(0.01),
                                epochs: 3, train: source, callbacks: [stopper])
        let summary = try loop.fit()
        XCTAssertEqual(summary.stopReason, "test")
        XCTAssertEqual(summary.epochsRun, 0)  // stopped mid-epoch: the epoch did not end
        XCTAssertEqual(loop.state.globalStep, 3)
    }

    func testEarlyStopping() throws {
        let (images, labels) = noiseImages(count: 4, seed: 2)
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 4)
        // A min delta no epoch can beat: the first epoch sets the best, then `patience` epochs wait.
        let stopper = EarlyStopping(monitor: "train_loss", patience: 2, minDelta: 1e9)
        let loop = TrainingLoop(model: try makeModel(), optimizer: SGD(), schedule: ConstantSchedule(0.01),
                                epochs: 10, train: source, callbacks: [stopper])
        let summary = try loop.fit()
        XCTAssertEqual(summary.epochsRun, 3)
        XCTAssertEqual(stopper.stoppedEpoch, 2)
        XCTAssertNotNil(summary.stopReason)
        XCTAssertEqual(stopper.checkpointMetadata()["early_stopping.wait"], "2")
    }

    func testNaNGuardStopsAndKeepsLastGoodCheckpoint() throws {
        let directory = try temporaryDirectory("nan")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (images, labels) = noiseImages(count: 8, seed: 4)
        let base = ArrayBatchSource(images: images, labels: labels, batchSize: 4)
        let source = PoisonedSource(base: base, epoch: 1, batch: 1, value: .greatestFiniteMagnitude)
        let guardian = NaNGuard()
        let checkpoints = CheckpointCallback(directory: directory, monitor: "train_loss")
        let model = try makeModel()
        let loop = TrainingLoop(model: model, optimizer: SGD(momentum: 0.9), schedule: ConstantSchedule(0.01),
                                epochs: 4, train: source, callbacks: [guardian, checkpoints])
        let summary = try loop.fit()
        XCTAssertTrue(guardian.tripped)
        XCTAssertEqual(guardian.events.first?.epoch, 1)
        XCTAssertEqual(guardian.events.first?.batch, 1)
        XCTAssertNotNil(summary.stopReason)
        XCTAssertEqual(summary.epochsRun, 1)
        XCTAssertEqual(loop.state.globalStep, 3)  // 2 in epoch 0, 1 good batch in epoch 1
        XCTAssertTrue(parameterArray(model).allSatisfy(\.isFinite))  // incl. running statistics
        // last.safetensors is the end of epoch 0, complete and loadable.
        let file = try SafeTensorsFile(contentsOf: checkpoints.lastURL)
        XCTAssertEqual(file.metadata[TrainingCheckpoint.epochKey], "1")
        XCTAssertEqual(file.metadata[TrainingCheckpoint.globalStepKey], "2")
        let fresh = try makeModel()
        let resumed = TrainingLoop(model: fresh, optimizer: SGD(momentum: 0.9), schedule: ConstantSchedule(0.01),
                                   epochs: 4, train: base)
        try resumed.resume(from: checkpoints.lastURL)
        XCTAssertEqual(resumed.state.epoch, 1)
        XCTAssertTrue(parameterArray(fresh).allSatisfy(\.isFinite))
    }

    func testEvaluationPadsSingleImageBatches() throws {
        let (images, labels) = noiseImages(count: 5, seed: 9)
        let loop = TrainingLoop(model: try makeModel(), optimizer: SGD(), schedule: ConstantSchedule(0.01),
                                epochs: 1, train: ArrayBatchSource(images: images, labels: labels, batchSize: 5))
        let ones = try loop.evaluate(ArrayBatchSource(images: images, labels: labels, batchSize: 1))
        let whole = try loop.evaluate(ArrayBatchSource(images: images, labels: labels, batchSize: 5))
        XCTAssertEqual(ones.images, 5)
        XCTAssertEqual(ones.loss, whole.loss, accuracy: 1e-4)
        XCTAssertEqual(ones.top1, whole.top1)
        XCTAssertEqual(ones.confusion, whole.confusion)
    }

    func testMetricsAccuracyAndConfusion() {
        var metrics = ClassificationMetrics(classes: 6, trackConfusion: true)
        let logits: [Float] = [
            0, 5, 1, 2, 3, 4,  // label 1: top-1
            9, 5, 8, 7, 6, 0,  // label 1: rank 5 (9, 8, 7, 6 higher... 4 higher) -> top-5
            9, 5, 8, 7, 6, 0,  // label 5: rank 6 -> neither
        ]
        metrics.add(logits: logits, labels: [1, 1, 5], meanLoss: 2)
        XCTAssertEqual(metrics.count, 3)
        XCTAssertEqual(metrics.top1, 1.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(metrics.top5, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(metrics.meanLoss, 2)
        XCTAssertEqual(metrics.confusion[1][1], 1)
        XCTAssertEqual(metrics.confusion[1][0], 1)
        XCTAssertEqual(metrics.confusion[5][0], 1)
    }
}
