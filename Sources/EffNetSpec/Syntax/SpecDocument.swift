/// What one spec file says, statement by statement, before `base` inheritance is resolved.
/// Every statement is optional here: a derived spec states only what differs from its base.

public enum ActivationKind: String, Sendable, Codable, CaseIterable {
    case silu
    case relu6
}

public enum PaddingMode: String, Sendable, Codable, CaseIterable {
    /// PyTorch style: `(k-1)/2` on every side.
    case symmetric
    /// TensorFlow SAME: output `ceil(in/stride)`, the odd extra pixel goes bottom/right.
    case tfSame = "tf-same"
}

/// How input pixels (0...1 after ToTensor) are normalised before the network.
public enum InputNormalization: String, Sendable, Codable, CaseIterable {
    /// torchvision: ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
    case imagenet
    /// EfficientNet-Lite (TF reference): `(pixel - 127) / 128` on 0...255 values.
    case lite
}

public enum ScalingStatement: Sendable, Equatable {
    case multipliers(width: Double, depth: Double)
    /// Compound scaling: depth = alpha^phi, width = beta^phi, resolution = gamma^phi.
    case compound(phi: Double, alpha: Double, beta: Double, gamma: Double)
}

public struct BatchNormStatement: Sendable, Equatable {
    public var eps: Double
    public var momentum: Double
}

public struct StemStatement: Sendable, Equatable {
    public var kernel: Int
    public var stride: Int
    public var channels: Int
    /// `fixed`: channels are not multiplied by the width (EfficientNet-Lite).
    public var fixed: Bool
}

public struct StageStatement: Sendable, Equatable {
    public var expand: Double
    public var kernel: Int
    public var stride: Int
    public var channels: Int
    public var repeats: Int
    /// nil: no squeeze-and-excitation.
    public var seRatio: Double?
    /// `fixed-repeats`: repeats are not multiplied by the depth (first/last Lite stage).
    public var fixedRepeats: Bool
}

public enum HeadStatement: Sendable, Equatable {
    /// `head conv 1x1 channels N [fixed]`: N scaled by the width unless fixed.
    case channels(Int, fixed: Bool)
    /// `head conv 1x1 expand R`: R times the last stage's scaled channels (torchvision's rule, R = 4).
    case expand(Int)
}

public struct PreprocessStatement: Sendable, Equatable {
    public var resize: Int
    public var crop: Int
    public var normalization: InputNormalization
}

public struct SpecDocument: Sendable {
    public var file: String
    public var model: Located<String>?
    public var base: Located<String>?
    public var resolution: Located<Int>?
    public var scaling: Located<ScalingStatement>?
    public var dropout: Located<Double>?
    public var activation: Located<ActivationKind>?
    public var batchNorm: Located<BatchNormStatement>?
    public var padding: Located<PaddingMode>?
    public var stochasticDepth: Located<Double>?
    public var inputChannels: Located<Int>?
    public var stem: Located<StemStatement>?
    /// Empty: inherit the base's stage table. Otherwise it replaces the whole table.
    public var stages: [Located<StageStatement>] = []
    public var head: Located<HeadStatement>?
    public var classes: Located<Int>?
    public var preprocess: Located<PreprocessStatement>?

    public init(file: String) { self.file = file }
}
