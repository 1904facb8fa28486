import EffNetRuntime
import EffNetTraining
import EfficientNetTiny
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `effnet train` killed with SIGKILL in the middle of an epoch, then resumed from its last
/// checkpoint: no checkpoint is corrupt, training continues where the checkpoint left off and ends
/// exactly as an uninterrupted run, and the metrics files hold each epoch once.
///
/// The network is the tiny test variant (72x72) on the bundled digits, so a run takes seconds.
final class KillAndResumeTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("effnet-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Starting weights for the tiny network (its classifier already has the digits' 10 classes).
    func writeStartingWeights() throws -> URL {
        let url = folder.appendingPathComponent("tiny-start.safetensors")
        let model = try EfficientNetTinyTraining(weights: SyntheticWeights(seed: 3))
        try SafeTensors.write(model.exportWeights(), to: url)
        return url
    }

    func trainArguments(weights: URL, output: URL) -> [String] {
        ["train", "--variant", "EfficientNetTiny", "--data", "Data/digits", "--pretrained", weights.path,
         "--epochs", "3", "--batch-size", "8", "--lr", "0.01", "--threads", "2", "--output", output.path]
    }

    /// Epoch column of a metrics CSV, and the per-epoch values that do not depend on timing.
    func metrics(_ output: URL) throws -> (epochs: [Int], values: [[String]]) {
        let text = try String(contentsOf: output.appendingPathComponent("metrics.csv"), encoding: .utf8)
        let rows = text.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = text.split(separator: "\n").first.map { $0.split(separator: ",").map(String.init) } ?? []
        let keep = ["epoch", "step", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "lr"].compactMap { header.firstIndex(of: $0) }
        return (rows.map { Int($0[0]) ?? -1 }, rows.map { row in keep.map { row[$0] } })
    }

    func jsonLinesEpochs(_ output: URL) throws -> [Int] {
        let text = try String(contentsOf: output.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try XCTUnwrap(object?["epoch"] as? Int)
        }
    }

    func checkpointEpoch(_ url: URL) throws -> Int {
        let file = try SafeTensorsFile(contentsOf: url)  // throws on a torn or corrupt file
        for name in file.names { _ = try file.tensor(name) }
        return try TrainingCheckpoint.state(from: file.metadata).state.epoch
    }

    func testKillMidEpochThenResumeContinuesExactly() throws {
        let weights = try writeStartingWeights()

        // Reference: the same run, never interrupted.
        let reference = folder.appendingPathComponent("reference")
        let uninterrupted = try EffnetCommand.run(trainArguments(weights: weights, output: reference))
        XCTAssertEqual(uninterrupted.status, 0, uninterrupted.output)

        // Kill once the second epoch is 50 batches in (after the first epoch's checkpoint).
        let run = folder.appendingPathComponent("run")
        let victim = try EffnetCommand.start(trainArguments(weights: weights, output: run),
                                             log: folder.appendingPathComponent("victim.log"))
        let deadline = Date().addingTimeInterval(600)
        while !(try victim.output()).contains("epoch 2/3 batch 50/") {
            guard victim.process.isRunning, Date() < deadline else {
                victim.process.terminate()
                return XCTFail("the run ended or stalled before epoch 2 batch 50:\n\(try victim.output())")
            }
            usleep(20_000)
        }
        kill(victim.process.processIdentifier, SIGKILL)
        victim.process.waitUntilExit()
        XCTAssertEqual(victim.process.terminationReason, .uncaughtSignal)
        XCTAssertFalse(try victim.output().contains("epoch 2/3: train loss"), "epoch 2 must not have finished")

        // What the killed run left: intact checkpoints of epoch 1, one metrics row.
        XCTAssertEqual(try checkpointEpoch(run.appendingPathComponent("last.safetensors")), 1)
        XCTAssertEqual(try checkpointEpoch(run.appendingPathComponent("best.safetensors")), 1)
        XCTAssertEqual(try metrics(run).epochs, [0])
        XCTAssertEqual(try jsonLinesEpochs(run), [0])

        // Resume and finish.
        let resumed = try EffnetCommand.run(
            trainArguments(weights: weights, output: run) + ["--resume", run.appendingPathComponent("last.safetensors").path])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertFalse(resumed.output.contains("epoch 1/3:"), "epoch 1 must not run again:\n\(resumed.output)")
        XCTAssertTrue(resumed.output.contains("epoch 3/3:"), resumed.output)

        XCTAssertEqual(try metrics(run).epochs, [0, 1, 2])
        XCTAssertEqual(try jsonLinesEpochs(run), [0, 1, 2])
        XCTAssertEqual(try checkpointEpoch(run.appendingPathComponent("last.safetensors")), 3)
        // Continued exactly: every loss, accuracy and learning rate as in the uninterrupted run.
        XCTAssertEqual(try metrics(run).values, try metrics(reference).values)
        let final = try SafeTensorsFile(contentsOf: run.appendingPathComponent("last.safetensors"))
        let expected = try SafeTensorsFile(contentsOf: reference.appendingPathComponent("last.safetensors"))
        for name in expected.names where !name.hasPrefix("optimizer.") {
            XCTAssertEqual(try final.tensor(name).values, try expected.tensor(name).values, name)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no temporary files left behind")
    }
}
