// Learning rate as a function of the optimizer step.

import Foundation

/// The base learning rate of step `step` (0-based: the rate used by the first update is
/// `learningRate(step: 0, ...)`), for a run with `stepsPerEpoch` updates per epoch.
public protocol LearningRateSchedule: Sendable {
    func learningRate(step: Int, stepsPerEpoch: Int) -> Double
}

/// The same rate at every step.
public struct ConstantSchedule: LearningRateSchedule {
    public let value: Double
    public init(_ value: Double) { self.value = value }
    public func learningRate(step: Int, stepsPerEpoch: Int) -> Double { value }
}

/// Cosine annealing from `base` to `floor` over `totalSteps` (PyTorch `CosineAnnealingLR` with
/// `T_max = totalSteps`, `eta_min = floor`, closed form):
/// `floor + (base - floor)·(1 + cos(π·step/totalSteps))/2`; stays at `floor` after `totalSteps`.
public struct CosineSchedule: LearningRateSchedule {
    public let base: Double
    public let totalSteps: Int
    public let floor: Double

    public init(base: Double, totalSteps: Int, floor: Double = 0) {
        precondition(totalSteps > 0, "CosineSchedule: totalSteps must be positive")
        self.base = base
        self.totalSteps = totalSteps
        self.floor = floor
    }

    public func learningRate(step: Int, stepsPerEpoch: Int) -> Double {
        let t = Double(min(max(step, 0), totalSteps))
        return floor + (base - floor) * (1 + cos(Double.pi * t / Double(totalSteps))) / 2
    }
}

/// `base · rate^(epoch / decayEpochs)` with `epoch = step / stepsPerEpoch`; with `staircase` the
/// exponent is floored. The EfficientNet paper's schedule is `rate 0.97, decayEpochs 2.4,
/// staircase` (TF `exponential_decay(lr, step, stepsPerEpoch·2.4, 0.97, staircase=True)`).
public struct ExponentialDecaySchedule: LearningRateSchedule {
    public let base: Double
    public let rate: Double
    public let decayEpochs: Double
    public let staircase: Bool

    public init(base: Double, rate: Double = 0.97, decayEpochs: Double = 2.4, staircase: Bool = true) {
        precondition(decayEpochs > 0 && rate > 0, "ExponentialDecaySchedule: rate and decayEpochs must be positive")
        self.base = base
        self.rate = rate
        self.decayEpochs = decayEpochs
        self.staircase = staircase
    }

    public func learningRate(step: Int, stepsPerEpoch: Int) -> Double {
        precondition(stepsPerEpoch > 0, "ExponentialDecaySchedule: stepsPerEpoch must be positive")
        let p = Double(max(step, 0)) / (Double(stepsPerEpoch) * decayEpochs)
        return base * pow(rate, staircase ? p.rounded(.down) : p)
    }
}

/// Linear warm-up in front of another schedule. For `step < warmupSteps` the rate is
/// `inner(0) · (startFactor + (1 - startFactor)·step/warmupSteps)` (PyTorch `LinearLR`; with
/// `startFactor` 0 it is the EfficientNet reference's `lr·step/warmup_steps`). From `warmupSteps`
/// on it is `inner(step)` — or `inner(step - warmupSteps)` when `offsetInner` (PyTorch
/// `SequentialLR([LinearLR, inner], milestones: [warmupSteps])`, where the inner schedule starts
/// counting at the milestone).
public struct LinearWarmup<Inner: LearningRateSchedule>: LearningRateSchedule {
    public let inner: Inner
    public let warmupSteps: Int
    public let startFactor: Double
    public let offsetInner: Bool

    public init(wrapping inner: Inner, warmupSteps: Int, startFactor: Double = 0, offsetInner: Bool = false) {
        precondition(warmupSteps >= 0, "LinearWarmup: warmupSteps must be >= 0")
        self.inner = inner
        self.warmupSteps = warmupSteps
        self.startFactor = startFactor
        self.offsetInner = offsetInner
    }

    public func learningRate(step: Int, stepsPerEpoch: Int) -> Double {
        if step < warmupSteps {
            let factor = startFactor + (1 - startFactor) * Double(max(step, 0)) / Double(warmupSteps)
            return inner.learningRate(step: 0, stepsPerEpoch: stepsPerEpoch) * factor
        }
        return inner.learningRate(step: offsetInner ? step - warmupSteps : step, stepsPerEpoch: stepsPerEpoch)
    }
}
