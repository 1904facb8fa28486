import EffNetRuntime
import EffNetTraining
import EfficientNetTiny
import Foundation
import XCTest

final class CallbackTests: XCTestCase {
    func testProgressPlainAndInteractive() throws {
        let (images, labels) = noiseImages(count: 8, seed: 3)
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 4)
        var plain = ""
        var live = ""
        let loop = TrainingLoop(model: try makeModel(), optimizer: SGD(), schedule: ConstantSchedule(0.01),
                                epochs: 1, train: source, validation: source,
                                callbacks: [ProgressCallback(interactive: false, everyBatches: 1) { plain += $0 },
                                            ProgressCallback(interactive: true) { live += $0 }])
        try loop.fit()
        let lines = plain.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)  // 2 batch lines + 1 epoch line
        XCTAssertTrue(lines[0].hasPrefix("epoch 1/1 batch 1/2 loss "))
        XCTAssertTrue(lines[2].contains("val loss"))
        XCTAssertFalse(plain.contains("\r"))
        XCTAssertTrue(live.hasPrefix("\repoch 1/1 ["))
        XCTAssertTrue(live.contains("ETA"))
        XCTAssertEqual(live.split(separator: "\n").count, 2)  // the bar's last state, then the summary
    }

    func testBestCheckpointFollowsMode() throws {
        let directory = try temporaryDirectory("best")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (images, labels) = noiseImages(count: 4, seed: 5)
        let source = ArrayBatchSource(images: images, labels: labels, batchSize: 4)
        // "max" of train_loss: improves only while the loss rises; with descending loss, best stays at epoch 0.
        let checkpoints = CheckpointCallback(directory: directory, monitor: "train_loss", mode: .max)
        let loop = TrainingLoop(model: try makeModel(), optimizer: AdamW(), schedule: ConstantSchedule(3e-3),
                                options: .deterministic, epochs: 3, train: source, callbacks: [checkpoints])
        let summary = try loop.fit()
        let losses = summary.history.map(\.trainLoss)
        let bestEpoch = losses.indices.max { losses[$0] < losses[$1] }!
        XCTAssertEqual(loop.state.bestEpoch, bestEpoch)
        let best = try SafeTensorsFile(contentsOf: checkpoints.bestURL)
        XCTAssertEqual(best.metadata[TrainingCheckpoint.epochKey], String(bestEpoch + 1))
        XCTAssertNil(checkpoints.lastError)
    }
}
