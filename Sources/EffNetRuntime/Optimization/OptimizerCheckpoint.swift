// Optimizer and EMA state saved next to the weights in one safetensors file.

import Foundation

/// Training checkpoints: weights (canonical names), optimizer state (`optimizer.<state>.<param>`)
/// and EMA shadows (`ema.<param>`) in one safetensors file, with metadata
/// `{"optimizer": "sgd", "step": "123", "optimizer.momentum": "0.9", ..., "ema.updates": "123",
/// "ema.decay": "0.9999", "ema.warmup": "false"}` plus the caller's own entries.
public enum OptimizerCheckpoint {
    public static let optimizerKey = "optimizer"
    public static let stepKey = "step"
    public static let emaUpdatesKey = "ema.updates"
    public static let emaDecayKey = "ema.decay"
    public static let emaWarmupKey = "ema.warmup"

    /// The state tensors and metadata of `optimizer` and `ema` (either may be nil).
    public static func state(
        optimizer: (any Optimizer)?, ema: ExponentialMovingAverage?
    ) -> (tensors: [(name: String, tensor: HostTensor)], metadata: [String: String]) {
        var tensors: [(name: String, tensor: HostTensor)] = []
        var metadata: [String: String] = [:]
        if let optimizer {
            tensors += optimizer.stateTensors()
            metadata[optimizerKey] = optimizer.kind
            metadata[stepKey] = String(optimizer.stepCount)
            for (key, value) in optimizer.hyperparameters { metadata["optimizer.\(key)"] = value }
        }
        if let ema {
            tensors += ema.stateTensors()
            metadata[emaUpdatesKey] = String(ema.updateCount)
            metadata[emaDecayKey] = "\(ema.decay)"
            metadata[emaWarmupKey] = "\(ema.warmup)"
        }
        return (tensors, metadata)
    }

    /// Writes `weights` with the state of `optimizer` and `ema` to `url` (atomically). The
    /// caller's `metadata` is kept; the state's keys (above) take precedence.
    public static func save(
        weights: [(name: String, tensor: HostTensor)], optimizer: (any Optimizer)?,
        ema: ExponentialMovingAverage?, metadata: [String: String] = [:], to url: URL
    ) throws {
        let state = state(optimizer: optimizer, ema: ema)
        for (name, _) in weights where name.hasPrefix("optimizer.") || name.hasPrefix(ExponentialMovingAverage.prefix) {
            throw OptimizerStateError("weight name \(name) collides with the checkpoint's state names")
        }
        try SafeTensors.write(
            weights + state.tensors, metadata: metadata.merging(state.metadata) { $1 }, to: url)
    }

    /// Restores `optimizer` and `ema` (either may be nil) from `file`. With `slots`, each state
    /// tensor of a listed parameter must have that parameter's size. Throws
    /// ``OptimizerStateError`` (leaving the objects unchanged) when the file has no or other
    /// optimizer state, or a malformed entry.
    public static func restore(
        from file: SafeTensorsFile, optimizer: (any Optimizer)?, ema: ExponentialMovingAverage?,
        slots: [ParameterSlot]? = nil
    ) throws {
        var tensors: [String: HostTensor] = [:]
        for name in file.names where name.hasPrefix("optimizer.") || name.hasPrefix(ExponentialMovingAverage.prefix) {
            tensors[name] = try file.tensor(name)
        }
        try restore(from: tensors, metadata: file.metadata, optimizer: optimizer, ema: ema, slots: slots)
    }

    /// ``restore(from:optimizer:ema:slots:)`` from tensors and metadata already in memory.
    public static func restore(
        from tensors: [String: HostTensor], metadata: [String: String], optimizer: (any Optimizer)?,
        ema: ExponentialMovingAverage?, slots: [ParameterSlot]? = nil
    ) throws {
        var optimizerStep: Int?
        if let optimizer {
            guard let kind = metadata[optimizerKey] else {
                throw OptimizerStateError("the checkpoint has no optimizer state (no \"\(optimizerKey)\" metadata)")
            }
            guard kind == optimizer.kind else {
                throw OptimizerStateError("the checkpoint holds \(kind) state, the optimizer is \(optimizer.kind)")
            }
            guard let text = metadata[stepKey], let step = Int(text), step >= 0 else {
                throw OptimizerStateError("the checkpoint's \"\(stepKey)\" metadata is missing or not a step count")
            }
            optimizerStep = step
            if let slots {
                let sizes = Dictionary(slots.map { ($0.name, $0.count) }, uniquingKeysWith: { a, _ in a })
                for (name, tensor) in tensors where name.hasPrefix("optimizer.") {
                    let rest = name.dropFirst("optimizer.".count)
                    guard let dot = rest.firstIndex(of: ".") else { continue }
                    let label = rest[..<dot]
                    let parameter = String(rest[rest.index(after: dot)...])
                    guard label != "step", let expected = sizes[parameter] else { continue }
                    guard tensor.values.count == expected else {
                        throw OptimizerStateError(
                            "optimizer state \(name) holds \(tensor.values.count) values, the parameter has \(expected)")
                    }
                }
            }
        }
        var emaUpdates: Int?
        if ema != nil {
            guard let text = metadata[emaUpdatesKey], let updates = Int(text), updates >= 0 else {
                throw OptimizerStateError("the checkpoint has no EMA state (\"\(emaUpdatesKey)\" metadata)")
            }
            emaUpdates = updates
        }
        // EMA first: it validates everything before changing anything, and so does the optimizer,
        // but the optimizer must not be touched if the EMA part fails. Snapshot the EMA to undo.
        var emaBackup: [String: HostTensor]?
        var emaBackupCount = 0
        if let ema, let emaUpdates {
            emaBackup = Dictionary(ema.stateTensors().map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
            emaBackupCount = ema.updateCount
            try ema.loadState(tensors, updateCount: emaUpdates)
        }
        if let optimizer, let optimizerStep {
            do {
                try optimizer.loadState(tensors, stepCount: optimizerStep)
            } catch {
                if let ema, let emaBackup { try? ema.loadState(emaBackup, updateCount: emaBackupCount) }
                throw error
            }
        }
    }
}
