// RMSProp as TensorFlow 1 implements it (the optimizer the EfficientNet paper trained with).

/// `tf.compat.v1.train.RMSPropOptimizer` (uncentered), which the EfficientNet reference builds
/// as `RMSPropOptimizer(lr, decay=0.9, momentum=0.9, epsilon=1e-3)` (tensorflow/tpu
/// models/official/efficientnet/utils.py `build_optimizer`). The kernel (ApplyRMSProp):
///
///     g  = grad + wd·p                       (the reference adds wd·Σ‖w‖²/2 to the loss, BN excluded)
///     ms = ms + (g² - ms)·(1-ρ)              (= ρ·ms + (1-ρ)·g²)
///     mom = momentum·mom + lr·g / sqrt(ms + ε)   (ε inside the square root)
///     p -= mom
///
/// `ms` starts at 1.0 and `mom` at 0: TF1's `RMSPropOptimizer._create_slots` makes the "rms" slot
/// with `init_ops.ones_initializer` and the "momentum" slot with zeros
/// (tensorflow/python/training/rmsprop.py). (Keras' `tf.keras.optimizers.RMSprop` starts at zero;
/// we follow the TF1 optimizer the paper used.) Note the learning rate sits inside the momentum
/// buffer, so a learning-rate change takes effect gradually, as in TF.
///
/// State: `optimizer.rms.<parameter>` and `optimizer.momentum.<parameter>`.
public final class RMSProp: Optimizer {
    public let decay: Double
    public let momentum: Double
    public let epsilon: Double
    /// The initial mean square (1.0 as in TF1's RMSPropOptimizer).
    public let initialMeanSquare: Float
    public private(set) var stepCount = 0
    private let meanSquares: SlotStateBuffers
    private let momentumBuffers = SlotStateBuffers(label: "momentum")

    public var kind: String { "rmsprop" }
    public var hyperparameters: [String: String] {
        ["decay": "\(decay)", "momentum": "\(momentum)", "epsilon": "\(epsilon)",
         "initial_mean_square": "\(initialMeanSquare)"]
    }

    public init(decay: Double = 0.9, momentum: Double = 0.9, epsilon: Double = 1e-3, initialMeanSquare: Float = 1) {
        precondition(decay >= 0 && decay <= 1 && momentum >= 0 && epsilon >= 0, "RMSProp: invalid hyperparameters")
        self.decay = decay
        self.momentum = momentum
        self.epsilon = epsilon
        self.initialMeanSquare = initialMeanSquare
        self.meanSquares = SlotStateBuffers(label: "rms", initialValue: initialMeanSquare)
    }

    public func step(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        groups: [ParameterGroup], learningRate: Double
    ) {
        stepCount += 1
        let oneMinusRho = FVec(repeating: Float(1 - decay))
        let mu = FVec(repeating: Float(momentum))
        let eps = FVec(repeating: Float(epsilon))
        for group in groups {
            let lr = FVec(repeating: Float(learningRate * group.learningRateScale))
            for slot in group.slots where slot.count > 0 {
                let wd = FVec(repeating: Float(group.weightDecay(for: slot)))
                let p = parameters + slot.offset
                let g = gradients + slot.offset
                let ms = meanSquares.buffer(for: slot).pointer
                let mom = momentumBuffers.buffer(for: slot).pointer
                forEachChunk(slot.count) { i, lanes in
                    let pv = loadLanes(p + i, lanes)
                    let gv = loadLanes(g + i, lanes) + wd * pv
                    var msv = loadLanes(ms + i, lanes)
                    msv = msv + (gv * gv - msv) * oneMinusRho
                    let momv = mu * loadLanes(mom + i, lanes) + (gv * lr) / (msv + eps).squareRoot()
                    storeLanes(msv, ms + i, lanes)
                    storeLanes(momv, mom + i, lanes)
                    storeLanes(pv - momv, p + i, lanes)
                }
            }
        }
    }

    public func stateTensors() -> [(name: String, tensor: HostTensor)] {
        (meanSquares.tensors() + momentumBuffers.tensors()).sorted { $0.name < $1.name }
    }

    public func loadState(_ tensors: [String: HostTensor], stepCount: Int) throws {
        guard stepCount >= 0 else { throw OptimizerStateError("negative step count \(stepCount)") }
        let ms = try meanSquares.parse(tensors)
        let mom = try momentumBuffers.parse(tensors)
        guard Set(ms.keys) == Set(mom.keys), ms.allSatisfy({ mom[$0.key]!.count == $0.value.count }) else {
            throw OptimizerStateError(
                "RMSProp state needs optimizer.rms.* and optimizer.momentum.* of equal size for every parameter")
        }
        meanSquares.replace(with: ms)
        momentumBuffers.replace(with: mom)
        self.stepCount = stepCount
    }
}
