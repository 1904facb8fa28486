// Training checkpoints: one safetensors file with weights, optimizer and EMA state, and the
// counters needed to continue a run exactly (metadata).

import EffNetRuntime
import Foundation

/// A malformed or mismatched training checkpoint.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The layout of a training checkpoint:
///
/// - tensors: every parameter and BatchNorm running statistic under its torchvision name (the file
///   loads as model weights anywhere), `optimizer.*` and `ema.*` state (see `OptimizerCheckpoint`);
/// - metadata: the optimizer/EMA keys of `OptimizerCheckpoint`, plus `training.model`,
///   `training.epoch` (completed epochs = the epoch to resume at), `training.global_step`,
///   `training.random_state` (the model's `CounterRandom.state`, decimal), `training.best_metric`
///   (shortest round-trip decimal), `training.best_metric_name`, `training.best_epoch`, and
///   `callback.*` entries of the callbacks.
///
/// `SafeTensors.write` is atomic (temp file + fsync + rename): a crash leaves the old file or the new.
public enum TrainingCheckpoint {
    public static let modelKey = "training.model"
    public static let epochKey = "training.epoch"
    public static let globalStepKey = "training.global_step"
    public static let randomStateKey = "training.random_state"
    public static let bestMetricKey = "training.best_metric"
    public static let bestMetricNameKey = "training.best_metric_name"
    public static let bestEpochKey = "training.best_epoch"
    public static let callbackPrefix = "callback."

    /// Writes a checkpoint of `model` and the run's counters to `url`.
    public static func save<Model: TrainableModel>(
        model: Model, optimizer: (any Optimizer)?, ema: ExponentialMovingAverage?, state: TrainingState,
        extraMetadata: [String: String] = [:], to url: URL
    ) throws {
        var metadata = extraMetadata
        metadata[modelKey] = Model.descriptor.name
        metadata[epochKey] = String(state.epoch)
        metadata[globalStepKey] = String(state.globalStep)
        metadata[randomStateKey] = String(model.random.state)
        if let best = state.bestMetric { metadata[bestMetricKey] = "\(best)" }
        if let name = state.bestMetricName { metadata[bestMetricNameKey] = name }
        if let epoch = state.bestEpoch { metadata[bestEpochKey] = String(epoch) }
        try OptimizerCheckpoint.save(
            weights: model.exportWeights(), optimizer: optimizer, ema: ema, metadata: metadata, to: url)
    }

    /// The counters of a checkpoint's metadata.
    public static func state(from metadata: [String: String]) throws -> (state: TrainingState, randomState: UInt64) {
        var state = TrainingState()
        guard let epoch = metadata[epochKey].flatMap({ Int($0) }), epoch >= 0 else {
            throw CheckpointError("the checkpoint has no \"\(epochKey)\" metadata (not a training checkpoint?)")
        }
        guard let step = metadata[globalStepKey].flatMap({ Int($0) }), step >= 0 else {
            throw CheckpointError("the checkpoint has no valid \"\(globalStepKey)\" metadata")
        }
        guard let random = metadata[randomStateKey].flatMap({ UInt64($0) }) else {
            throw CheckpointError("the checkpoint has no valid \"\(randomStateKey)\" metadata")
        }
        state.epoch = epoch
        state.globalStep = step
        if let text = metadata[bestMetricKey] {
            guard let best = Double(text) else { throw CheckpointError("\"\(bestMetricKey)\" is not a number: \(text)") }
            state.bestMetric = best
        }
        state.bestMetricName = metadata[bestMetricNameKey]
        state.bestEpoch = metadata[bestEpochKey].flatMap { Int($0) }
        return (state, random)
    }

    /// Restores `model`'s parameters and running statistics, `optimizer` and `ema` from `url`, and
    /// returns the run's counters and metadata. Everything is validated before anything changes;
    /// on a throw the model, optimizer and EMA are untouched.
    @discardableResult
    public static func restore<Model: TrainableModel>(
        from url: URL, model: Model, optimizer: (any Optimizer)?, ema: ExponentialMovingAverage?
    ) throws -> (state: TrainingState, metadata: [String: String]) {
        let file = try SafeTensorsFile(contentsOf: url)
        if let name = file.metadata[modelKey], name != Model.descriptor.name {
            throw CheckpointError("the checkpoint is of \(name), the model is \(Model.descriptor.name)")
        }
        let (state, randomState) = try state(from: file.metadata)
        // Weights: read and check every slot first.
        let training = Model.trainingDescriptor
        var weights: [(ParameterSlot, [Float])] = []
        for slot in training.allSlots {
            guard file.names.contains(slot.name) else {
                throw CheckpointError("the checkpoint has no tensor \(slot.name)")
            }
            let tensor = try file.tensor(slot.name)
            guard tensor.values.count == slot.count else {
                throw CheckpointError("\(slot.name) holds \(tensor.values.count) values, the model expects \(slot.count)")
            }
            weights.append((slot, tensor.values))
        }
        try OptimizerCheckpoint.restore(from: file, optimizer: optimizer, ema: ema, slots: training.parameterSlots)
        for (slot, values) in weights {
            (model.parameters + slot.offset).update(from: values, count: slot.count)
        }
        model.random.state = randomState
        return (state, file.metadata)
    }
}
