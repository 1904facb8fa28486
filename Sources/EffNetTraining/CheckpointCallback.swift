// Saves last.safetensors every epoch and best.safetensors when a monitored metric improves.

import EffNetRuntime
import Foundation

/// After each epoch (in the `checkpoint` phase, once every callback's `epochEnd` has run):
/// if `monitor` improved (per `mode`, by more than `minDelta`) the loop's best metric is updated
/// and `best.safetensors` written; then `last.safetensors` (which thus carries the best value for
/// resuming). Both writes are atomic. An epoch without the metric (e.g. `val_loss` with no
/// validation source) only updates `last`.
public final class CheckpointCallback: TrainingCallback {
    public let directory: URL
    public let monitor: String
    public let mode: MetricMode
    public let minDelta: Double
    public let saveLast: Bool
    /// The last write failure. Callbacks cannot throw: a failure is reported on standard error and
    /// the run stops (`requestStop`), so a run never silently goes on without checkpoints.
    public private(set) var lastError: Error?

    public var lastURL: URL { directory.appendingPathComponent("last.safetensors") }
    public var bestURL: URL { directory.appendingPathComponent("best.safetensors") }

    public init(directory: URL, monitor: String = "val_loss", mode: MetricMode? = nil, minDelta: Double = 0,
                saveLast: Bool = true) {
        self.directory = directory
        self.monitor = monitor
        self.mode = mode ?? .automatic(for: monitor)
        self.minDelta = minDelta
        self.saveLast = saveLast
    }

    public func fitStart(_ loop: any TrainingLoopControl) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            // A run killed while writing a checkpoint leaves the previous file intact and a
            // temporary file beside it; this run owns the directory, so tidy those up.
            AtomicFile.removeStaleTemporaries(of: lastURL)
            AtomicFile.removeStaleTemporaries(of: bestURL)
        } catch {
            fail(error, loop: loop)
        }
    }

    public func checkpoint(_ metrics: EpochMetrics, loop: any TrainingLoopControl) {
        do {
            if let value = metrics.value(named: monitor) {
                let best = loop.state.bestMetricName == monitor ? loop.state.bestMetric : nil
                if mode.isImprovement(value, over: best, minDelta: minDelta) {
                    loop.updateBest(metric: monitor, value: value, epoch: metrics.epoch)
                    try loop.saveCheckpoint(to: bestURL)
                }
            }
            if saveLast { try loop.saveCheckpoint(to: lastURL) }
        } catch {
            fail(error, loop: loop)
        }
    }

    private func fail(_ error: Error, loop: any TrainingLoopControl) {
        lastError = error
        FileHandle.standardError.write(Data("checkpoint: \(error)\n".utf8))
        loop.requestStop(reason: "checkpoint could not be saved: \(error)")
    }
}
