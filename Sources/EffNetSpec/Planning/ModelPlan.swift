/// The planner's output: the concrete network as a list of layers with exact shapes, its
/// parameter table, its cost, and a static memory plan. Codable, so that the generator can embed
/// it in generated code (for `effnet info`) and Python tools can build a reference from it.

/// Shape of one image's activation, channels last (the runtime's NHWC layout).
public struct FeatureShape: Sendable, Codable, Hashable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
    }

    public static func vector(_ channels: Int) -> FeatureShape { FeatureShape(height: 1, width: 1, channels: channels) }

    public var pixels: Int { height * width }
    public var elements: Int { height * width * channels }
    public var description: String { height == 1 && width == 1 ? "\(channels)" : "\(height)x\(width)x\(channels)" }
}

/// Zero padding of a convolution, per side.
public struct Padding: Sendable, Codable, Hashable {
    public var top: Int
    public var left: Int
    public var bottom: Int
    public var right: Int
}

public enum LayerOperation: String, Sendable, Codable {
    /// Dense k×k convolution reading the NCHW network input (+ folded BN, activation).
    case stemConvolution = "stem-conv"
    /// 1×1 convolution (+ BN, activation, optional residual add): a GEMM in NHWC.
    case pointwiseConvolution = "pointwise-conv"
    /// Depthwise k×k convolution (+ BN, activation).
    case depthwiseConvolution = "depthwise-conv"
    /// Squeeze-and-excitation, in place on its input.
    case squeezeExcitation = "squeeze-excitation"
    case globalAveragePool = "global-average-pool"
    /// Dropout (identity in eval) then Linear.
    case linear
}

/// One activation buffer. Offsets and sizes are in floats per image: the runtime multiplies them
/// by the batch size, so one plan serves every batch size.
public struct PlannedTensor: Sendable, Codable, Hashable {
    public var id: Int
    public var name: String
    public var shape: FeatureShape
    /// Offset into the activation arena, per image; nil for the network input and the logits, which
    /// live in the caller's buffers, and for the output of an expansion fused with its depthwise layer,
    /// which never exists whole in the inference arena (`MemoryPlanner.place`).
    public var arenaOffset: Int?
}

public struct PlannedLayer: Sendable, Codable {
    /// The torchvision module path, e.g. `features.2.0.block.1`.
    public var name: String
    public var operation: LayerOperation
    /// What the layer is in the block: stem, expand, depthwise, squeeze-excitation, project, head, pool, classifier.
    public var role: String
    public var input: Int
    public var output: Int
    /// Tensor added to the output (MBConv identity shortcut), if any.
    public var residual: Int?
    public var inputShape: FeatureShape
    public var outputShape: FeatureShape
    public var kernel: Int
    public var stride: Int
    public var padding: Padding
    public var activation: ActivationKind?
    /// Squeeze channels of a squeeze-excitation layer.
    public var squeezeChannels: Int?
    /// Parameter names, torchvision `state_dict` style. Conv layers list the conv weight first,
    /// then their BatchNorm's weight, bias, running_mean, running_var.
    public var parameters: [String]
    public var parameterCount: Int
    public var macs: Int
}

/// An MBConv block (or the stem, head, classifier): the unit the generator emits as one function.
public struct PlannedBlock: Sendable, Codable {
    public var name: String
    public var summary: String
    /// Drop probability of this block's residual branch in training (torchvision row mode).
    public var stochasticDepth: Double?
    public var layers: [PlannedLayer]
}

public struct ParameterInfo: Sendable, Codable, Hashable {
    public var name: String
    public var shape: [Int]
    /// Running statistics are state, not trainable parameters.
    public var trainable: Bool

    public var elements: Int { shape.reduce(1, *) }
}

public struct MemoryPlan: Sendable, Codable {
    /// Floats per image of the shared activation arena (all intermediate tensors, with reuse).
    public var arenaFloatsPerImage: Int
    /// Floats per image if every tensor had its own buffer: what reuse saves.
    public var unsharedFloatsPerImage: Int
    /// Floats per image of scratch for squeeze-excitation (pooled vector, hidden and scales).
    public var squeezeExciteWorkspacePerImage: Int

    public func arenaBytes(batch: Int) -> Int { arenaFloatsPerImage * batch * 4 }
}

public struct StemInfo: Sendable, Codable {
    public var kernel: Int
    public var stride: Int
    public var channels: Int
}

public struct HeadInfo: Sendable, Codable {
    public var channels: Int
}

public struct BatchNormInfo: Sendable, Codable {
    public var eps: Double
    public var momentum: Double
}

public struct PreprocessInfo: Sendable, Codable {
    public var resize: Int
    public var crop: Int
    public var normalization: InputNormalization
}

public struct ModelPlan: Sendable, Codable {
    public var model: String
    public var source: String
    public var baseChain: [String]
    public var resolution: Int
    public var inputChannels: Int
    public var classes: Int
    public var dropout: Double
    public var activation: ActivationKind
    public var padding: PaddingMode
    public var batchNorm: BatchNormInfo
    public var stochasticDepth: Double
    public var width: Double
    public var depth: Double
    public var stem: StemInfo
    public var stages: [ScaledStage]
    public var head: HeadInfo
    public var preprocess: PreprocessInfo
    public var parameters: [ParameterInfo]
    public var parameterCount: Int
    public var macs: Int
    public var blocks: [PlannedBlock]
    public var tensors: [PlannedTensor]
    public var memory: MemoryPlan

    public var layers: [PlannedLayer] { blocks.flatMap(\.layers) }
    public var inputShape: [Int] { [inputChannels, resolution, resolution] }
}
