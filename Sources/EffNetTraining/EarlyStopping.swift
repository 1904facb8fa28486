// Stops a run when a monitored metric stops improving.

/// Requests a stop when `monitor` has not improved (per `mode`, by more than `minDelta`) for
/// `patience` epochs in a row. Its best value and counter are saved in checkpoints and restored
/// on resume (`callback.early_stopping.*`).
public final class EarlyStopping: TrainingCallback {
    public let monitor: String
    public let mode: MetricMode
    public let patience: Int
    public let minDelta: Double
    public private(set) var best: Double?
    /// Epochs since the last improvement.
    public private(set) var wait = 0
    /// The epoch (0-based) at which it requested the stop.
    public private(set) var stoppedEpoch: Int?

    public init(monitor: String = "val_loss", mode: MetricMode? = nil, patience: Int = 5, minDelta: Double = 0) {
        precondition(patience >= 0, "EarlyStopping: patience must be >= 0")
        self.monitor = monitor
        self.mode = mode ?? .automatic(for: monitor)
        self.patience = patience
        self.minDelta = minDelta
    }

    public func epochEnd(_ metrics: EpochMetrics, loop: any TrainingLoopControl) {
        guard let value = metrics.value(named: monitor) else { return }
        if mode.isImprovement(value, over: best, minDelta: minDelta) {
            best = value
            wait = 0
        } else {
            wait += 1
            if wait >= patience {
                stoppedEpoch = metrics.epoch
                loop.requestStop(reason: "early stopping: \(monitor) did not improve for \(wait) epochs"
                                 + (best.map { " (best \($0))" } ?? ""))
            }
        }
    }

    public func checkpointMetadata() -> [String: String] {
        var entries = ["early_stopping.wait": String(wait)]
        if let best { entries["early_stopping.best"] = "\(best)" }
        return entries
    }

    public func restore(checkpointMetadata entries: [String: String]) {
        wait = entries["early_stopping.wait"].flatMap { Int($0) } ?? 0
        best = entries["early_stopping.best"].flatMap { Double($0) }
    }
}
