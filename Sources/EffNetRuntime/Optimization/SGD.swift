// Stochastic gradient descent with momentum: torch.optim.SGD semantics.

/// `torch.optim.SGD` exactly (foreach=False, maximize=False):
///
///     g = grad + wd·p                       (L2 weight decay, per group and slot kind)
///     buf = g                                on a parameter's first step
///     buf = momentum·buf + (1-dampening)·g  afterwards
///     g = nesterov ? g + momentum·buf : buf (only when momentum ≠ 0)
///     p -= lr·g
///
/// State: `optimizer.momentum.<parameter>` (only when momentum ≠ 0).
public final class SGD: Optimizer {
    public let momentum: Double
    public let dampening: Double
    public let nesterov: Bool
    public private(set) var stepCount = 0
    private let momentumBuffers = SlotStateBuffers(label: "momentum")

    public var kind: String { "sgd" }
    public var hyperparameters: [String: String] {
        ["momentum": "\(momentum)", "dampening": "\(dampening)", "nesterov": "\(nesterov)"]
    }

    public init(momentum: Double = 0, dampening: Double = 0, nesterov: Bool = false) {
        precondition(momentum >= 0 && dampening >= 0, "SGD: momentum and dampening must be >= 0")
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
    }

    public func step(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        groups: [ParameterGroup], learningRate: Double
    ) {
        stepCount += 1
        for group in groups {
            let lr = FVec(repeating: Float(learningRate * group.learningRateScale))
            for slot in group.slots where slot.count > 0 {
                let wd = FVec(repeating: Float(group.weightDecay(for: slot)))
                let p = parameters + slot.offset
                let g = gradients + slot.offset
                if momentum == 0 {
                    forEachChunk(slot.count) { i, lanes in
                        let pv = loadLanes(p + i, lanes)
                        let gv = loadLanes(g + i, lanes) + wd * pv
                        storeLanes(pv - lr * gv, p + i, lanes)
                    }
                    continue
                }
                let (buf, fresh) = momentumBuffers.buffer(for: slot)
                let mu = FVec(repeating: Float(momentum))
                let keep = FVec(repeating: Float(1 - dampening))
                let nesterov = self.nesterov
                forEachChunk(slot.count) { i, lanes in
                    let pv = loadLanes(p + i, lanes)
                    let gv = loadLanes(g + i, lanes) + wd * pv
                    let bv = fresh ? gv : mu * loadLanes(buf + i, lanes) + keep * gv
                    storeLanes(bv, buf + i, lanes)
                    let dv = nesterov ? gv + mu * bv : bv
                    storeLanes(pv - lr * dv, p + i, lanes)
                }
            }
        }
    }

    public func stateTensors() -> [(name: String, tensor: HostTensor)] {
        momentumBuffers.tensors()
    }

    public func loadState(_ tensors: [String: HostTensor], stepCount: Int) throws {
        guard stepCount >= 0 else { throw OptimizerStateError("negative step count \(stepCount)") }
        try momentumBuffers.load(tensors)
        self.stepCount = stepCount
    }
}
