// Adam with decoupled weight decay: torch.optim.AdamW semantics.

import Foundation

/// `torch.optim.AdamW` exactly (amsgrad=False, maximize=False, single-tensor path):
///
///     t += 1                                  (per parameter)
///     p *= 1 - lr·wd                          (decoupled decay, per group and slot kind)
///     m = m + (1-β1)·(g - m)                  (lerp)
///     v = β2·v + (1-β2)·g²
///     p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + ε)
///
/// State: `optimizer.exp_avg.<parameter>`, `optimizer.exp_avg_sq.<parameter>` and the per-parameter
/// step `optimizer.step.<parameter>` (PyTorch counts steps per parameter).
public final class AdamW: Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double
    public private(set) var stepCount = 0
    private let firstMoments = SlotStateBuffers(label: "exp_avg")
    private let secondMoments = SlotStateBuffers(label: "exp_avg_sq")
    private var steps = SlotStepCounters()

    public var kind: String { "adamw" }
    public var hyperparameters: [String: String] {
        ["beta1": "\(beta1)", "beta2": "\(beta2)", "epsilon": "\(epsilon)"]
    }

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2) && epsilon >= 0, "AdamW: invalid hyperparameters")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public func step(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        groups: [ParameterGroup], learningRate: Double
    ) {
        stepCount += 1
        let oneMinusBeta1 = FVec(repeating: Float(1 - beta1))
        let b2 = FVec(repeating: Float(beta2))
        let oneMinusBeta2 = FVec(repeating: Float(1 - beta2))
        let eps = FVec(repeating: Float(epsilon))
        for group in groups {
            let lr = learningRate * group.learningRateScale
            for slot in group.slots where slot.count > 0 {
                let t = (steps.steps[slot.name] ?? 0) + 1
                steps.steps[slot.name] = t
                let shrink = FVec(repeating: Float(1 - lr * group.weightDecay(for: slot)))
                let stepSize = FVec(repeating: Float(lr / (1 - pow(beta1, Double(t)))))
                let correction2Sqrt = FVec(repeating: Float((1 - pow(beta2, Double(t))).squareRoot()))
                let p = parameters + slot.offset
                let g = gradients + slot.offset
                let m = firstMoments.buffer(for: slot).pointer
                let v = secondMoments.buffer(for: slot).pointer
                forEachChunk(slot.count) { i, lanes in
                    let pv = loadLanes(p + i, lanes) * shrink
                    let gv = loadLanes(g + i, lanes)
                    var mv = loadLanes(m + i, lanes)
                    mv = mv + oneMinusBeta1 * (gv - mv)
                    let vv = b2 * loadLanes(v + i, lanes) + oneMinusBeta2 * (gv * gv)
                    let denom = vv.squareRoot() / correction2Sqrt + eps
                    storeLanes(mv, m + i, lanes)
                    storeLanes(vv, v + i, lanes)
                    storeLanes(pv - stepSize * (mv / denom), p + i, lanes)
                }
            }
        }
    }

    public func stateTensors() -> [(name: String, tensor: HostTensor)] {
        (firstMoments.tensors() + secondMoments.tensors() + steps.tensors()).sorted { $0.name < $1.name }
    }

    public func loadState(_ tensors: [String: HostTensor], stepCount: Int) throws {
        guard stepCount >= 0 else { throw OptimizerStateError("negative step count \(stepCount)") }
        let m = try firstMoments.parse(tensors)
        let v = try secondMoments.parse(tensors)
        var counters = SlotStepCounters()
        try counters.load(tensors)
        guard Set(m.keys) == Set(v.keys), Set(m.keys) == Set(counters.steps.keys),
            m.allSatisfy({ v[$0.key]!.count == $0.value.count })
        else {
            throw OptimizerStateError(
                "AdamW state needs optimizer.exp_avg.*, optimizer.exp_avg_sq.* (equal sizes) and optimizer.step.*"
                    + " for every parameter")
        }
        firstMoments.replace(with: m)
        secondMoments.replace(with: v)
        steps = counters
        self.stepCount = stepCount
    }
}
