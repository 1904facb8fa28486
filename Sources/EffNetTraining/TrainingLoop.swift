// The training loop: epochs of train steps, optimizer and EMA updates, a per-step learning-rate
// schedule, validation after each epoch, events to callbacks, checkpoints and exact resumption.

import EffNetRuntime
import Foundation

/// Trains a generated model (`EfficientNetB0Training`, ...).
///
///     let loop = TrainingLoop(model: model, optimizer: SGD(momentum: 0.9), schedule: CosineSchedule(...),
///                             epochs: 10, train: trainSource, validation: valSource,
///                             callbacks: [ProgressCallback(), MetricsLogger(...), CheckpointCallback(...)])
///     if let url = resumeURL { try loop.resume(from: url) }
///     let summary = try loop.fit()
///
/// Per batch: learning rate from `schedule` at the global step → `trainStep` → finiteness check
/// (input, logits, loss and gradients; a non-finite step is skipped — no update, BatchNorm running
/// statistics put back — and reported as `nonFiniteLoss`)
/// → optimizer step over `groups` → EMA update → global step + 1.
///
/// Batches of one image cannot train (train-mode BatchNorm needs two): they are skipped and counted
/// in `EpochMetrics.skippedBatches`. In validation a batch of one is padded with a copy of its image
/// (eval-mode BatchNorm treats images independently, so the result is exact).
///
/// Validation runs the training model in eval form: `TrainingOptions(dropout: false,
/// stochasticDepth: false, frozenBlocks: blockNames.count)` — running statistics, nothing updated,
/// no backward — with the EMA weights when there is an EMA and `evaluateWithEMA` (the raw
/// weights are swapped back afterwards).
public final class TrainingLoop<Model: TrainableModel>: TrainingLoopControl {
    public let model: Model
    public let optimizer: any Optimizer
    public var groups: [ParameterGroup]
    public var schedule: any LearningRateSchedule
    public var options: TrainingOptions
    public let ema: ExponentialMovingAverage?
    public var epochs: Int
    public let train: any BatchSource
    public let validation: (any BatchSource)?
    public var callbacks: [any TrainingCallback]
    /// Validate with the EMA shadows (when there is an EMA).
    public var evaluateWithEMA = true
    /// Also check the gradient buffer for NaN / infinity before each update.
    public var checkGradients = true
    /// Keep the confusion matrix of validation (`EpochMetrics.validation.confusion`).
    public var trackConfusion = true
    /// BatchNorm re-estimation: at the end of each epoch, before validation and the checkpoint, the
    /// running statistics of the trained BatchNorm layers are replaced by their plain average over
    /// this many training batches (forward passes only, dropout and stochastic depth off), as in
    /// "precise BN". Fine-tuning needs it when the running statistics move slowly (momentum 0.01 in
    /// Lite and B5-B7) while the batch statistics the network trains with move fast: evaluation
    /// would otherwise normalise with stale statistics. 0: off. Nothing to do when every
    /// BatchNorm layer is frozen.
    public var batchNormRecalibrationBatches = 0

    public private(set) var state = TrainingState()
    public private(set) var stopReason: String?
    /// Set by `resume(from:)`: the checkpoint's epoch.
    public private(set) var resumedAtEpoch: Int?
    /// Metrics of every epoch completed by this loop object.
    public private(set) var history: [EpochMetrics] = []

    /// `groups` nil: one group (no weight decay, scale 1) of the slots `options.frozenBlocks` leaves
    /// trainable.
    public init(model: Model, optimizer: any Optimizer, groups: [ParameterGroup]? = nil,
                schedule: any LearningRateSchedule, options: TrainingOptions = TrainingOptions(),
                ema: ExponentialMovingAverage? = nil, epochs: Int, train: any BatchSource,
                validation: (any BatchSource)? = nil, callbacks: [any TrainingCallback] = []) {
        self.model = model
        self.optimizer = optimizer
        self.groups = groups
            ?? [ParameterGroup(slots: Model.trainingDescriptor.trainableSlots(frozenBlocks: options.frozenBlocks))]
        self.schedule = schedule
        self.options = options
        self.ema = ema
        self.epochs = epochs
        self.train = train
        self.validation = validation
        self.callbacks = callbacks
    }

    public var batchesPerEpoch: Int { train.batchesPerEpoch }

    public func requestStop(reason: String) {
        if stopReason == nil { stopReason = reason }
    }

    public func updateBest(metric: String, value: Double, epoch: Int) {
        state.bestMetric = value
        state.bestMetricName = metric
        state.bestEpoch = epoch
    }

    public func saveCheckpoint(to url: URL) throws {
        var extra: [String: String] = [:]
        for callback in callbacks {
            for (key, value) in callback.checkpointMetadata() {
                extra[TrainingCheckpoint.callbackPrefix + key] = value
            }
        }
        try TrainingCheckpoint.save(model: model, optimizer: optimizer, ema: ema, state: state,
                                    extraMetadata: extra, to: url)
    }

    /// Restores weights, optimizer, EMA, counters, random state, best metric and callback state
    /// from a checkpoint written by `saveCheckpoint(to:)`; `fit()` then continues at its epoch.
    public func resume(from url: URL) throws {
        let (restored, metadata) = try TrainingCheckpoint.restore(from: url, model: model, optimizer: optimizer, ema: ema)
        state = restored
        resumedAtEpoch = restored.epoch
        var callbackEntries: [String: String] = [:]
        for (key, value) in metadata where key.hasPrefix(TrainingCheckpoint.callbackPrefix) {
            callbackEntries[String(key.dropFirst(TrainingCheckpoint.callbackPrefix.count))] = value
        }
        for callback in callbacks { callback.restore(checkpointMetadata: callbackEntries) }
    }

    /// Runs epochs `state.epoch ..< epochs` (fewer when a callback requests a stop).
    @discardableResult
    public func fit() throws -> FitSummary {
        stopReason = nil
        try ParameterGroup.validate(groups, bufferCount: Model.trainingDescriptor.parameterFloats)
        let fitStart = Date()
        let firstEpoch = state.epoch
        var ranHistory: [EpochMetrics] = []
        for callback in callbacks { callback.fitStart(self) }

        while state.epoch < epochs, stopReason == nil {
            guard let metrics = try runEpoch(state.epoch) else { break }
            ranHistory.append(metrics)
        }
        let summary = FitSummary(epochsRun: state.epoch - firstEpoch, state: state, stopReason: stopReason,
                                 history: ranHistory, seconds: Date().timeIntervalSince(fitStart))
        for callback in callbacks { callback.fitEnd(summary, loop: self) }
        return summary
    }

    /// One epoch; nil when a stop was requested before it completed.
    private func runEpoch(_ epoch: Int) throws -> EpochMetrics? {
        let classes = Model.descriptor.classes
        let perEpoch = train.batchesPerEpoch
        let epochStart = Date()
        for callback in callbacks { callback.epochStart(epoch, loop: self) }
        var metrics = ClassificationMetrics(classes: classes)
        var trainSeconds = 0.0
        var skipped = 0
        var learningRate = schedule.learningRate(step: state.globalStep, stepsPerEpoch: max(perEpoch, 1))

        var index = -1
        var dataWait = 0.0
        let batches = train.batches(epoch: epoch).makeIterator()
        while true {
            let waitStart = Date()
            guard let (images, labels) = batches.next() else { break }
            dataWait += Date().timeIntervalSince(waitStart)
            index += 1
            let n = images.shape.first ?? 0
            guard n >= 2 else {
                skipped += 1
                continue
            }
            learningRate = schedule.learningRate(step: state.globalStep, stepsPerEpoch: max(perEpoch, 1))
            let start = BatchStart(epoch: epoch, batch: index, batchesPerEpoch: perEpoch, globalStep: state.globalStep,
                                   batchSize: n, learningRate: learningRate)
            for callback in callbacks { callback.batchStart(start, loop: self) }

            let stepStart = Date()
            saveRunningStatistics()
            var result: TrainingStepResult?
            var cause: String?
            do {
                result = try model.trainStep(images: images, labels: labels, options: options)
            } catch ModelInputError.nonFinite {
                cause = "input"
            } catch CrossEntropyError.nonFiniteLogit {
                cause = "logits"
            }
            if let result, cause == nil {
                if !result.loss.isFinite {
                    cause = "loss"
                } else if checkGradients && !gradientsAreFinite() {
                    cause = "gradient"
                }
            }
            if let cause {
                restoreRunningStatistics()
                trainSeconds += Date().timeIntervalSince(stepStart)
                skipped += 1
                let event = NonFiniteLoss(epoch: epoch, batch: index, globalStep: state.globalStep,
                                          loss: result?.loss ?? .nan, cause: cause)
                for callback in callbacks { callback.nonFiniteLoss(event, loop: self) }
                if stopReason != nil { return nil }
                continue
            }
            let step = result!
            optimizer.step(parameters: model.parameters, gradients: UnsafePointer(model.gradients),
                           groups: groups, learningRate: learningRate)
            ema?.update(parameters: UnsafePointer(model.parameters))
            state.globalStep += 1
            trainSeconds += Date().timeIntervalSince(stepStart)

            let batchTop1 = ClassificationMetrics.top1(logits: step.logits.values, labels: labels, classes: classes)
            metrics.add(logits: step.logits.values, labels: labels, meanLoss: step.loss)
            let end = BatchEnd(epoch: epoch, batch: index, batchesPerEpoch: perEpoch, globalStep: state.globalStep,
                               batchSize: n, loss: step.loss, top1: batchTop1, learningRate: learningRate,
                               epochLoss: metrics.meanLoss, epochTop1: metrics.top1, epochImages: metrics.count,
                               epochSeconds: trainSeconds)
            for callback in callbacks { callback.batchEnd(end, loop: self) }
            if stopReason != nil { return nil }
        }

        try recalibrateBatchNorm(epoch: epoch)
        let evaluation = try validation.map { try evaluate($0) }
        state.epoch = epoch + 1
        let result = EpochMetrics(
            epoch: epoch, globalStep: state.globalStep, trainLoss: metrics.meanLoss, trainTop1: metrics.top1,
            validationLoss: evaluation?.loss, validationTop1: evaluation?.top1, validationTop5: evaluation?.top5,
            learningRate: learningRate, imagesPerSecond: trainSeconds > 0 ? Double(metrics.count) / trainSeconds : 0,
            seconds: Date().timeIntervalSince(epochStart), dataWaitSeconds: dataWait, trainImages: metrics.count,
            skippedBatches: skipped, validation: evaluation)
        history.append(result)
        for callback in callbacks { callback.epochEnd(result, loop: self) }
        for callback in callbacks { callback.checkpoint(result, loop: self) }
        return result
    }

    /// See `batchNormRecalibrationBatches`. The batches are the epoch's own (same augmentation);
    /// the model's random state is left as it was, so resuming stays exact. A non-finite batch puts
    /// the previous statistics back and ends the re-estimation.
    private func recalibrateBatchNorm(epoch: Int) throws {
        guard batchNormRecalibrationBatches > 0,
              options.frozenBlocks < Model.trainingDescriptor.backboneBlocks else { return }
        let savedRandom = model.random
        defer { model.random = savedRandom }
        saveRunningStatistics()
        var used = 0
        for (images, labels) in train.batches(epoch: epoch) {
            guard used < batchNormRecalibrationBatches else { break }
            guard (images.shape.first ?? 0) >= 2 else { continue }
            let pass = TrainingOptions(dropout: false, stochasticDepth: false, labelSmoothing: 0,
                                       frozenBlocks: options.frozenBlocks, batchNormMomentum: 1 / Double(used + 1),
                                       computeGradients: false, recomputeActivations: options.recomputeActivations)
            let loss = (try? model.trainStep(images: images, labels: labels, options: pass))?.loss ?? .nan
            guard loss.isFinite else {
                restoreRunningStatistics()
                return
            }
            used += 1
        }
    }

    /// BatchNorm running statistics before the current step: a diverged train-mode forward pass
    /// updates them before the loss shows the problem, so a skipped step puts them back.
    private var runningStatistics: [Float] = []

    private func saveRunningStatistics() {
        let slots = Model.trainingDescriptor.stateSlots
        if runningStatistics.isEmpty { runningStatistics = [Float](repeating: 0, count: slots.reduce(0) { $0 + $1.count }) }
        runningStatistics.withUnsafeMutableBufferPointer { buffer in
            var at = 0
            for slot in slots {
                (buffer.baseAddress! + at).update(from: model.parameters + slot.offset, count: slot.count)
                at += slot.count
            }
        }
    }

    private func restoreRunningStatistics() {
        runningStatistics.withUnsafeBufferPointer { buffer in
            var at = 0
            for slot in Model.trainingDescriptor.stateSlots {
                (model.parameters + slot.offset).update(from: buffer.baseAddress! + at, count: slot.count)
                at += slot.count
            }
        }
    }

    private func gradientsAreFinite() -> Bool {
        let g = model.gradients
        var sum: Float = 0
        for group in groups {
            for slot in group.slots {
                for i in 0..<slot.count { sum += g[slot.offset + i] * 0 }
            }
        }
        // x * 0 is NaN exactly when x is NaN or infinite; the sum propagates it.
        return !sum.isNaN
    }

    /// Eval-mode loss, top-1/top-5 accuracy and confusion matrix over `source` (epoch 0's batches),
    /// with the EMA weights when there is an EMA and `evaluateWithEMA`. Model state (parameters,
    /// running statistics, random state, gradients) is unchanged afterwards.
    public func evaluate(_ source: any BatchSource) throws -> EvaluationResult {
        let training = Model.trainingDescriptor
        let classes = Model.descriptor.classes
        let evalOptions = TrainingOptions(dropout: false, stochasticDepth: false, labelSmoothing: 0,
                                          frozenBlocks: training.blockNames.count, computeGradients: false,
                                          recomputeActivations: options.recomputeActivations)
        let savedRandom = model.random
        var backup: [Float]?
        if evaluateWithEMA, let ema {
            backup = Array(UnsafeBufferPointer(start: model.parameters, count: training.parameterFloats))
            ema.copyShadow(into: model.parameters)
        }
        defer {
            if let backup { model.parameters.update(from: backup, count: backup.count) }
            model.random = savedRandom
        }
        var metrics = ClassificationMetrics(classes: classes, trackConfusion: trackConfusion)
        for (images, labels) in source.batches(epoch: 0) {
            let n = images.shape.first ?? 0
            guard n >= 1 else { continue }
            var input = images, inputLabels = labels
            if n == 1 {  // pad: eval-mode BatchNorm is per image, so the copy changes nothing
                input = HostTensor(shape: [2] + images.shape.dropFirst(), values: images.values + images.values)
                inputLabels = labels + labels
            }
            let result = try model.trainStep(images: input, labels: inputLabels, options: evalOptions)
            metrics.add(logits: result.logits.values, labels: inputLabels, meanLoss: result.loss, rows: n)
        }
        return EvaluationResult(loss: metrics.meanLoss, top1: metrics.top1, top5: metrics.top5, images: metrics.count,
                                confusion: metrics.confusion)
    }
}
