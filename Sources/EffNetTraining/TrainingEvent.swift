// Events of a training run and the callback protocol users implement.

import EffNetRuntime
import Foundation

/// The counters a run resumes from (saved in checkpoints).
public struct TrainingState: Sendable, Equatable {
    /// The epoch being run, or (between epochs) the next one to run: completed epochs so far.
    public var epoch = 0
    /// Optimizer steps taken.
    public var globalStep = 0
    /// Best value of the monitored metric so far (set by `CheckpointCallback` / `updateBest`).
    public var bestMetric: Double?
    /// Name of that metric, e.g. "val_loss".
    public var bestMetricName: String?
    /// Epoch (0-based) at which `bestMetric` was reached.
    public var bestEpoch: Int?

    public init() {}
}

/// Sent before a batch's training step.
public struct BatchStart: Sendable {
    public var epoch: Int
    /// 0-based index of the batch in the epoch (as yielded by the source).
    public var batch: Int
    public var batchesPerEpoch: Int
    /// Optimizer steps taken before this batch.
    public var globalStep: Int
    public var batchSize: Int
    /// Learning rate this step uses.
    public var learningRate: Double
}

/// Sent after a batch's optimizer update (and EMA update).
public struct BatchEnd: Sendable {
    public var epoch: Int
    public var batch: Int
    public var batchesPerEpoch: Int
    /// Optimizer steps taken, this one included.
    public var globalStep: Int
    public var batchSize: Int
    public var loss: Double
    /// Top-1 accuracy of this batch (train mode, before the update).
    public var top1: Double
    public var learningRate: Double
    /// Running means over the epoch so far.
    public var epochLoss: Double
    public var epochTop1: Double
    /// Training images of the epoch so far and the seconds they took.
    public var epochImages: Int
    public var epochSeconds: Double
    public var imagesPerSecond: Double { epochSeconds > 0 ? Double(epochImages) / epochSeconds : 0 }
}

/// Sent when a step's input, logits, loss or gradient is not finite. The update was skipped: weights,
/// running statistics, optimizer and EMA are unchanged. Without a callback that stops (`NaNGuard`), training goes on.
public struct NonFiniteLoss: Sendable {
    public var epoch: Int
    public var batch: Int
    public var globalStep: Int
    public var loss: Double
    /// Why: "input", "logits", "loss" or "gradient".
    public var cause: String
}

/// How `fit()` ended.
public struct FitSummary: Sendable {
    /// Epochs completed in this call.
    public var epochsRun: Int
    public var state: TrainingState
    /// Why the run stopped early (`requestStop(reason:)`), nil when all epochs ran.
    public var stopReason: String?
    /// Metrics of each epoch completed in this call.
    public var history: [EpochMetrics]
    public var seconds: Double
}

/// Everything in a run's event stream, in order, for callbacks that prefer one function.
public enum TrainingEvent: Sendable {
    case fitStart(TrainingState)
    case epochStart(epoch: Int)
    case batchStart(BatchStart)
    case batchEnd(BatchEnd)
    case nonFiniteLoss(NonFiniteLoss)
    case epochEnd(EpochMetrics)
    case checkpoint(EpochMetrics)
    case fitEnd(FitSummary)

    /// Case name, e.g. "batchEnd".
    public var name: String {
        switch self {
        case .fitStart: return "fitStart"
        case .epochStart: return "epochStart"
        case .batchStart: return "batchStart"
        case .batchEnd: return "batchEnd"
        case .nonFiniteLoss: return "nonFiniteLoss"
        case .epochEnd: return "epochEnd"
        case .checkpoint: return "checkpoint"
        case .fitEnd: return "fitEnd"
        }
    }
}

/// The loop as callbacks see it (not generic over the model).
public protocol TrainingLoopControl: AnyObject {
    var state: TrainingState { get }
    /// Total epochs of the run (`state.epoch` counts up to it).
    var epochs: Int { get }
    var batchesPerEpoch: Int { get }
    /// Stops the run: after the current batch when called during an epoch (then the epoch does not
    /// end: no `epochEnd`, no checkpoint), or after the current epoch when called in `epochEnd`.
    func requestStop(reason: String)
    var stopReason: String? { get }
    /// Records a new best value of a monitored metric (saved in checkpoints, restored on resume).
    func updateBest(metric: String, value: Double, epoch: Int)
    /// Saves weights, optimizer, EMA, counters, random state, best metric and the callbacks'
    /// `checkpointMetadata()` to `url`, atomically.
    func saveCheckpoint(to url: URL) throws
}

/// Reacts to a run's events. Every method has a default that does nothing.
///
/// Order per epoch: `epochStart`, then per batch `batchStart`, `batchEnd` (or `nonFiniteLoss`),
/// then validation, `epochEnd` (all callbacks, in order) and `checkpoint` (all callbacks, in order:
/// the epoch's state is final, including other callbacks' `checkpointMetadata`).
public protocol TrainingCallback: AnyObject {
    func fitStart(_ loop: any TrainingLoopControl)
    func epochStart(_ epoch: Int, loop: any TrainingLoopControl)
    func batchStart(_ batch: BatchStart, loop: any TrainingLoopControl)
    func batchEnd(_ batch: BatchEnd, loop: any TrainingLoopControl)
    func nonFiniteLoss(_ event: NonFiniteLoss, loop: any TrainingLoopControl)
    func epochEnd(_ metrics: EpochMetrics, loop: any TrainingLoopControl)
    /// After every callback's `epochEnd`: the time to save checkpoints.
    func checkpoint(_ metrics: EpochMetrics, loop: any TrainingLoopControl)
    func fitEnd(_ summary: FitSummary, loop: any TrainingLoopControl)

    /// String entries this callback wants saved in checkpoints (keys are prefixed by the loop
    /// with `callback.`), e.g. early stopping's patience counter.
    func checkpointMetadata() -> [String: String]
    /// Called by `resume(from:)` with the entries `checkpointMetadata()` saved (prefix removed).
    func restore(checkpointMetadata: [String: String])
}

extension TrainingCallback {
    public func fitStart(_ loop: any TrainingLoopControl) {}
    public func epochStart(_ epoch: Int, loop: any TrainingLoopControl) {}
    public func batchStart(_ batch: BatchStart, loop: any TrainingLoopControl) {}
    public func batchEnd(_ batch: BatchEnd, loop: any TrainingLoopControl) {}
    public func nonFiniteLoss(_ event: NonFiniteLoss, loop: any TrainingLoopControl) {}
    public func epochEnd(_ metrics: EpochMetrics, loop: any TrainingLoopControl) {}
    public func checkpoint(_ metrics: EpochMetrics, loop: any TrainingLoopControl) {}
    public func fitEnd(_ summary: FitSummary, loop: any TrainingLoopControl) {}
    public func checkpointMetadata() -> [String: String] { [:] }
    public func restore(checkpointMetadata: [String: String]) {}
}

/// A callback from one closure over `TrainingEvent`.
public final class EventCallback: TrainingCallback {
    private let handler: (TrainingEvent, any TrainingLoopControl) -> Void

    public init(_ handler: @escaping (TrainingEvent, any TrainingLoopControl) -> Void) { self.handler = handler }

    public func fitStart(_ loop: any TrainingLoopControl) { handler(.fitStart(loop.state), loop) }
    public func epochStart(_ epoch: Int, loop: any TrainingLoopControl) { handler(.epochStart(epoch: epoch), loop) }
    public func batchStart(_ batch: BatchStart, loop: any TrainingLoopControl) { handler(.batchStart(batch), loop) }
    public func batchEnd(_ batch: BatchEnd, loop: any TrainingLoopControl) { handler(.batchEnd(batch), loop) }
    public func nonFiniteLoss(_ event: NonFiniteLoss, loop: any TrainingLoopControl) { handler(.nonFiniteLoss(event), loop) }
    public func epochEnd(_ metrics: EpochMetrics, loop: any TrainingLoopControl) { handler(.epochEnd(metrics), loop) }
    public func checkpoint(_ metrics: EpochMetrics, loop: any TrainingLoopControl) { handler(.checkpoint(metrics), loop) }
    public func fitEnd(_ summary: FitSummary, loop: any TrainingLoopControl) { handler(.fitEnd(summary), loop) }
}
