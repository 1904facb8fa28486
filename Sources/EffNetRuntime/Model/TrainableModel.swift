import Foundation

/// What the generated training code tells the runtime: where each parameter lives in the flat
/// parameter buffer (torchvision layout, `state_dict` order) and how big its buffers are.
public struct TrainingDescriptor: Sendable {
    /// Trainable tensors (weights, BatchNorm weight/bias, biases); gradients use the same offsets.
    public let parameterSlots: [ParameterSlot]
    /// BatchNorm running statistics (state, updated by train-mode forward passes).
    public let stateSlots: [ParameterSlot]
    /// Floats of the parameter buffer (and of the gradient buffer).
    public let parameterFloats: Int
    /// Floats per image of the training arena: saved activations and gradients, with reuse.
    public let arenaFloatsPerImage: Int
    /// The same with `TrainingOptions.recomputeActivations`: BN+activation and squeeze-excitation
    /// outputs are not kept for the backward pass but recomputed there from the saved conv outputs.
    public let recomputingArenaFloatsPerImage: Int
    /// Floats of batch-independent scratch: BatchNorm batch statistics, re-laid depthwise weights.
    public let fixedFloats: Int
    /// The generated blocks in forward order (`features.0` the stem, ..., the head, `classifier`).
    public let blockNames: [String]
    /// For each parameter slot, the index of the block it belongs to.
    public let parameterBlocks: [Int]

    public init(parameterSlots: [ParameterSlot], stateSlots: [ParameterSlot], parameterFloats: Int,
                arenaFloatsPerImage: Int, recomputingArenaFloatsPerImage: Int, fixedFloats: Int,
                blockNames: [String], parameterBlocks: [Int]) {
        self.parameterSlots = parameterSlots
        self.stateSlots = stateSlots
        self.parameterFloats = parameterFloats
        self.arenaFloatsPerImage = arenaFloatsPerImage
        self.recomputingArenaFloatsPerImage = recomputingArenaFloatsPerImage
        self.fixedFloats = fixedFloats
        self.blockNames = blockNames
        self.parameterBlocks = parameterBlocks
    }

    /// The slots an optimizer should update when the first `frozenBlocks` blocks are frozen.
    public func trainableSlots(frozenBlocks: Int) -> [ParameterSlot] {
        zip(parameterSlots, parameterBlocks).filter { $0.1 >= frozenBlocks }.map(\.0)
    }

    /// Frozen-block count that trains only the classifier (a frozen backbone, head included).
    public var backboneBlocks: Int { blockNames.count - 1 }

    /// Frozen-block count that trains the last `stages` MBConv stages, the head and the
    /// classifier (blocks are named `features.<stage>.<repeat>`).
    public func frozenBlocks(trainingLastStages stages: Int) -> Int {
        let stageOf = blockNames.map { name -> Int? in
            let parts = name.split(separator: ".")
            return parts.count == 3 ? Int(parts[1]) : nil
        }
        let stageNumbers = Array(Set(stageOf.compactMap { $0 })).sorted()
        guard stages > 0 else { return blockNames.count - 2 }  // head and classifier train
        guard stages < stageNumbers.count else { return 1 }   // everything but the stem
        let firstTrained = stageNumbers[stageNumbers.count - stages]
        return stageOf.firstIndex { $0 == firstTrained } ?? 0
    }

    public var allSlots: [ParameterSlot] { parameterSlots + stateSlots }

    /// Floats per image of the arena under the memory plan `recomputeActivations` selects.
    public func arenaFloatsPerImage(recomputing: Bool) -> Int {
        recomputing ? recomputingArenaFloatsPerImage : arenaFloatsPerImage
    }

    /// Bytes of the training memory at a batch size: parameters, gradients, fixed scratch and arena.
    public func bytes(batch: Int, recomputing: Bool = false) -> Int {
        (2 * parameterFloats + fixedFloats + arenaFloatsPerImage(recomputing: recomputing) * batch) * 4
    }
}

/// Switches of one training step.
public struct TrainingOptions: Sendable {
    /// Dropout before the classifier at the spec's rate (off: identity, as in `effnet grad`).
    public var dropout: Bool
    /// Stochastic depth on residual blocks at the spec's per-block rates.
    public var stochasticDepth: Bool
    /// Cross-entropy label smoothing.
    public var labelSmoothing: Double
    /// The first `frozenBlocks` generated blocks are frozen: their BatchNorm layers run in eval
    /// mode (running statistics, not updated), stochastic depth is off in them, and the backward
    /// pass stops before them, so their gradients stay zero. See `TrainingDescriptor.backboneBlocks`
    /// and `frozenBlocks(trainingLastStages:)`.
    public var frozenBlocks: Int
    /// Replaces the spec's BatchNorm momentum in the running-statistics update of the trained
    /// blocks: `running = (1 - m) * running + m * batch`. Fine-tuning on a small dataset may want
    /// the running statistics to follow faster than the ImageNet setting (0.01 in Lite and B5-B7);
    /// `1 / (k + 1)` at the k-th of a series of batches gives their plain average (BatchNorm
    /// re-estimation, see `TrainingLoop.batchNormRecalibrationBatches`). nil: the spec's value.
    public var batchNormMomentum: Double?
    /// false: forward pass and loss only (train-mode BatchNorm still updates its running
    /// statistics); the gradient buffer is neither cleared nor written.
    public var computeGradients: Bool
    /// true: trade time for memory. The forward pass keeps the conv outputs and BatchNorm
    /// statistics but not the BN+activation outputs (nor the squeeze-excitation outputs made from
    /// them); the backward pass recomputes each one right before the layer that needs it, with the
    /// forward's own kernels, so losses and gradients are bit-identical. The training step then
    /// uses a smaller memory plan (`TrainingDescriptor.recomputingArenaFloatsPerImage`; `effnet
    /// info VARIANT --train` shows both) for about one extra BN-apply pass per layer.
    public var recomputeActivations: Bool

    public init(dropout: Bool = true, stochasticDepth: Bool = true, labelSmoothing: Double = 0, frozenBlocks: Int = 0,
                batchNormMomentum: Double? = nil, computeGradients: Bool = true, recomputeActivations: Bool = false) {
        self.dropout = dropout
        self.stochasticDepth = stochasticDepth
        self.labelSmoothing = labelSmoothing
        self.frozenBlocks = frozenBlocks
        self.batchNormMomentum = batchNormMomentum
        self.computeGradients = computeGradients
        self.recomputeActivations = recomputeActivations
    }

    /// Deterministic: train-mode BatchNorm only (the gradient-parity setting).
    public static let deterministic = TrainingOptions(dropout: false, stochasticDepth: false, labelSmoothing: 0)
}

public enum TrainingInputError: Error, CustomStringConvertible, Equatable {
    case wrongShape(model: String, expected: [Int], found: [Int])
    case labelCount(expected: Int, found: Int)
    case labelOutOfRange(index: Int, label: Int, classes: Int)
    case batchTooSmall(model: String)

    public var description: String {
        switch self {
        case let .wrongShape(model, expected, found):
            return "\(model) trains on NCHW float32 batches of shape [N, \(expected.map(String.init).joined(separator: ", "))];"
                + " got [\(found.map(String.init).joined(separator: ", "))]"
        case let .labelCount(expected, found):
            return "the batch has \(expected) images but \(found) labels"
        case let .labelOutOfRange(index, label, classes):
            return "label \(label) of image \(index) is outside 0..<\(classes)"
        case let .batchTooSmall(model):
            return "\(model): train-mode BatchNorm needs at least 2 images per batch"
        }
    }
}

/// A generated model in training form (`EfficientNetB0Training`, ...): parameters in PyTorch
/// layout, train-mode forward, loss and a generated backward pass, no allocation per step.
public protocol TrainableModel: AnyObject {
    static var descriptor: ModelDescriptor { get }
    static var trainingDescriptor: TrainingDescriptor { get }

    init(weights: any WeightStore, pool: WorkerPool) throws

    /// All parameters and running statistics, at the slots' offsets.
    var parameters: UnsafeMutablePointer<Float> { get }
    /// Gradients of the last step, at the parameter slots' offsets.
    var gradients: UnsafeMutablePointer<Float> { get }
    /// Random state for dropout and stochastic depth (saved with checkpoints).
    var random: CounterRandom { get set }

    /// The training step's kernel calls in order (forward, loss, backward), with MACs where
    /// known: the table a `LayerProfiler` for this model is made from.
    static var profiledLayers: [LayerProfiler.Layer] { get }

    /// When set, every kernel call of `trainStep` is timed into it (`effnet bench --train --profile`).
    /// It must be made from `profiledLayers`. Nil (the default) costs a nil check per call.
    var profiler: LayerProfiler? { get set }

    /// Train-mode forward, mean cross-entropy and backward. Overwrites `gradients`, updates the
    /// BatchNorm running statistics, writes the logits, returns the loss. Sizes are trusted:
    /// use `trainStep(images:labels:options:)` for checked input.
    func trainStep(input: UnsafePointer<Float>, labels: [Int], batch: Int, options: TrainingOptions,
                   logits: UnsafeMutablePointer<Float>) throws -> Double
}

public struct TrainingStepResult: Sendable {
    public var loss: Double
    public var logits: HostTensor
}

extension TrainableModel {
    public init(weights: any WeightStore) throws { try self.init(weights: weights, pool: .shared) }

    /// A profiler for this model's training step (attach it with `profiler = ...`).
    public func makeProfiler() -> LayerProfiler { LayerProfiler(layers: Self.profiledLayers) }

    /// Checks the batch and labels, then runs one training step (no optimizer update).
    public func trainStep(images: HostTensor, labels: [Int], options: TrainingOptions) throws -> TrainingStepResult {
        let d = Self.descriptor
        guard images.shape.count == 4, images.shape[0] >= 1, Array(images.shape.dropFirst()) == d.inputShape else {
            throw TrainingInputError.wrongShape(model: d.name, expected: d.inputShape, found: images.shape)
        }
        let batch = images.shape[0]
        guard batch >= 2 else { throw TrainingInputError.batchTooSmall(model: d.name) }
        guard labels.count == batch else { throw TrainingInputError.labelCount(expected: batch, found: labels.count) }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= d.classes }) {
            throw TrainingInputError.labelOutOfRange(index: bad, label: labels[bad], classes: d.classes)
        }
        if let bad = images.values.firstIndex(where: { !$0.isFinite }) {
            throw ModelInputError.nonFinite(model: d.name, index: bad)
        }
        var logits = [Float](repeating: 0, count: batch * d.classes)
        let loss = try images.values.withUnsafeBufferPointer { x in
            try logits.withUnsafeMutableBufferPointer { y in
                try trainStep(input: x.baseAddress!, labels: labels, batch: batch, options: options, logits: y.baseAddress!)
            }
        }
        return TrainingStepResult(loss: loss, logits: HostTensor(shape: [batch, d.classes], values: logits))
    }

    /// A tensor of the parameter buffer (or running statistics) by torchvision name.
    public func parameter(_ name: String) -> HostTensor? {
        slotTensor(name, from: parameters)
    }

    /// The gradient of a trainable parameter by torchvision name.
    public func gradient(_ name: String) -> HostTensor? {
        guard Self.trainingDescriptor.parameterSlots.contains(where: { $0.name == name }) else { return nil }
        return slotTensor(name, from: gradients)
    }

    /// Every parameter and running statistic, torchvision names, for saving as safetensors.
    public func exportWeights() -> [(name: String, tensor: HostTensor)] {
        Self.descriptor.parameters.compactMap { p in parameter(p.name).map { (p.name, $0) } }
    }

    private func slotTensor(_ name: String, from buffer: UnsafeMutablePointer<Float>) -> HostTensor? {
        guard let slot = Self.trainingDescriptor.allSlots.first(where: { $0.name == name }),
              let shape = Self.descriptor.parameters.first(where: { $0.name == name })?.shape else { return nil }
        return HostTensor(shape: shape, values: Array(UnsafeBufferPointer(start: buffer + slot.offset, count: slot.count)))
    }
}

/// Owns the flat buffers of a training model. Generated training classes keep one.
public final class TrainingBuffers: @unchecked Sendable {
    public let parameters: UnsafeMutablePointer<Float>
    public let gradients: UnsafeMutablePointer<Float>
    public let fixed: UnsafeMutablePointer<Float>
    public let arena = ActivationArena()
    /// The floats of `parameters` (and `gradients`) and of `fixed`, for freeing them.
    private let parameterFloats: Int, fixedFloats: Int

    /// Loads every parameter and running statistic by name and shape from `store`.
    public init(descriptor: ModelDescriptor, training: TrainingDescriptor, store: any WeightStore) throws {
        // The parameters and their gradients are read and written in every step, layer by layer: huge
        // pages as for the arena (LargeBuffer).
        parameterFloats = training.parameterFloats
        fixedFloats = training.fixedFloats
        parameters = LargeBuffer.allocate(floats: training.parameterFloats)
        parameters.initialize(repeating: 0, count: max(training.parameterFloats, 1))
        gradients = LargeBuffer.allocate(floats: training.parameterFloats)
        gradients.initialize(repeating: 0, count: max(training.parameterFloats, 1))
        fixed = LargeBuffer.allocate(floats: training.fixedFloats)
        fixed.initialize(repeating: 0, count: max(training.fixedFloats, 1))
        let shapes = Dictionary(uniqueKeysWithValues: descriptor.parameters.map { ($0.name, $0.shape) })
        // On a throw the object is fully initialised, so deinit frees the buffers.
        for slot in training.allSlots {
            let tensor = try store.tensor(slot.name, shape: shapes[slot.name] ?? [slot.count])
            (parameters + slot.offset).update(from: tensor.values, count: slot.count)
        }
    }

    deinit {
        LargeBuffer.deallocate(parameters, floats: parameterFloats)
        LargeBuffer.deallocate(gradients, floats: parameterFloats)
        LargeBuffer.deallocate(fixed, floats: fixedFloats)
    }
}

/// Small helpers the generated training code calls between kernels.
public enum TrainingSupport {
    /// Eval-mode BatchNorm (running statistics, nothing updated) and activation, for frozen
    /// layers: output = act(gamma * (z - mean) / sqrt(var + eps) + beta). NHWC, `pixels` = N*H*W.
    public static func batchNormForwardEval(input: UnsafePointer<Float>, pixels: Int, channels: Int,
                                            gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                            runningMean: UnsafePointer<Float>, runningVar: UnsafePointer<Float>,
                                            eps: Double, activation: Activation, output: UnsafeMutablePointer<Float>,
                                            scratch: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        // scratch: 2 * channels floats for the per-channel scale and shift.
        for c in 0..<channels {
            let scale = Double(gamma[c]) / (Double(runningVar[c]) + eps).squareRoot()
            scratch[c] = Float(scale)
            scratch[channels + c] = Float(Double(beta[c]) - Double(runningMean[c]) * scale)
        }
        let rows = 64
        pool.parallelFor((pixels + rows - 1) / rows) { chunk in
            let start = chunk * rows, end = min(pixels, start + rows)
            for p in start..<end {
                let z = input + p * channels, y = output + p * channels
                for c in 0..<channels { y[c] = z[c] * scratch[c] + scratch[channels + c] }
            }
        }
        Kernels.applyActivation(output, count: pixels * channels, activation: activation, pool: pool)
    }

    /// Adds a depthwise weight gradient in the kernel layout [k][k][C] into PyTorch's [C][1][k][k].
    public static func accumulateDepthwiseGradient(_ kernelLayout: UnsafePointer<Float>, channels: Int, kernel: Int,
                                                   into torchLayout: UnsafeMutablePointer<Float>) {
        let taps = kernel * kernel
        for c in 0..<channels {
            for t in 0..<taps {
                torchLayout[c * taps + t] += kernelLayout[t * channels + c]
            }
        }
    }
}

/// Everything one generated training step's functions read: the batch size, the caller's input,
/// the arena (`t`) with the offsets of its buffers under the memory plan in use, parameters (`p`),
/// gradients (`g`), fixed scratch (`f`), kernel workspace, and the profiler that times each call,
/// if one is attached.
public struct TrainingStepContext {
    public let n: Int
    public let x: UnsafePointer<Float>
    public let t: UnsafeMutablePointer<Float>
    /// Floats per image from `t` to each buffer of the step (the generated `arenaOffsets` table,
    /// standard or recomputing column).
    public let offsets: [Int]
    public let p: UnsafeMutablePointer<Float>
    public let g: UnsafeMutablePointer<Float>
    public let f: UnsafeMutablePointer<Float>
    public let ws: UnsafeMutablePointer<Float>
    public let options: TrainingOptions
    public let labels: [Int]
    public let logits: UnsafeMutablePointer<Float>
    public let profiler: LayerProfiler?

    public init(n: Int, x: UnsafePointer<Float>, t: UnsafeMutablePointer<Float>, offsets: [Int],
                p: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>, f: UnsafeMutablePointer<Float>,
                ws: UnsafeMutablePointer<Float>, options: TrainingOptions, labels: [Int],
                logits: UnsafeMutablePointer<Float>, profiler: LayerProfiler? = nil) {
        self.n = n
        self.x = x
        self.t = t
        self.offsets = offsets
        self.p = p
        self.g = g
        self.f = f
        self.ws = ws
        self.options = options
        self.labels = labels
        self.logits = logits
        self.profiler = profiler
    }

    /// Buffer `id` of the step's arena (its offset scaled by the batch size).
    @inline(__always) public func tensor(_ id: Int) -> UnsafeMutablePointer<Float> { t + offsets[id] &* n }
}
