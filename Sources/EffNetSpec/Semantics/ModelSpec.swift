/// A fully resolved spec: `base` inheritance applied, defaults filled in, every statement known.
/// Still unscaled: channels and repeats are the block table's, not the variant's.
public struct ModelSpec: Sendable {
    public var name: String
    /// The file that defines the model, and the files it inherits from (nearest first).
    public var file: String
    public var baseChain: [String]
    public var resolution: Int
    public var scaling: ScalingStatement
    public var dropout: Double
    public var activation: ActivationKind
    public var batchNorm: BatchNormStatement
    public var padding: PaddingMode
    public var stochasticDepth: Double
    public var inputChannels: Int
    public var stem: StemStatement
    public var stages: [StageStatement]
    public var head: HeadStatement
    public var classes: Int
    public var preprocess: PreprocessStatement

    /// The block table's statements with their locations, for errors found while scaling.
    public var stageLocations: [SourceLocation]

    /// Defaults for statements a spec may leave out (torchvision's B0 settings).
    public enum Defaults {
        public static let scaling = ScalingStatement.multipliers(width: 1, depth: 1)
        public static let dropout = 0.2
        public static let activation = ActivationKind.silu
        public static let batchNorm = BatchNormStatement(eps: 1e-5, momentum: 0.1)
        public static let padding = PaddingMode.symmetric
        public static let stochasticDepth = 0.2
        public static let inputChannels = 3
    }
}
