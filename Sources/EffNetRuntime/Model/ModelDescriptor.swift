/// What a generated model tells the runtime about itself. Every number here was computed by the
/// planner at generation time; the runtime only reads it.
public struct ModelDescriptor: Sendable {
    public struct Parameter: Sendable, Hashable {
        /// torchvision `state_dict` name, the canonical name in our safetensors files.
        public let name: String
        public let shape: [Int]
        /// Running statistics are state, not trainable parameters.
        public let trainable: Bool

        public init(_ name: String, _ shape: [Int], trainable: Bool = true) {
            self.name = name
            self.shape = shape
            self.trainable = trainable
        }

        public var elements: Int { shape.reduce(1, *) }
    }

    public let name: String
    /// Input is NCHW float32: [batch, inputChannels, resolution, resolution].
    public let resolution: Int
    public let inputChannels: Int
    public let classes: Int
    /// Every tensor the model reads from a weight file, in torchvision `state_dict` order.
    public let parameters: [Parameter]
    /// How the inference weights (BatchNorm folded, re-laid out) are made from `parameters`.
    public let preparation: [WeightPreparation]
    /// Floats of the prepared inference weights.
    public let preparedFloats: Int
    /// Floats per image of the activation arena.
    public let arenaFloatsPerImage: Int
    /// The spec text this model was generated from (its own file first, then its bases), so
    /// tools can re-plan it exactly (`effnet info`) without the Specs folder.
    public let specSources: [SpecSource]

    public struct SpecSource: Sendable, Hashable {
        public let file: String
        public let text: String

        public init(file: String, text: String) {
            self.file = file
            self.text = text
        }
    }

    public init(name: String, resolution: Int, inputChannels: Int, classes: Int, parameters: [Parameter],
                preparation: [WeightPreparation], preparedFloats: Int, arenaFloatsPerImage: Int,
                specSources: [SpecSource]) {
        self.name = name
        self.resolution = resolution
        self.inputChannels = inputChannels
        self.classes = classes
        self.parameters = parameters
        self.preparation = preparation
        self.preparedFloats = preparedFloats
        self.arenaFloatsPerImage = arenaFloatsPerImage
        self.specSources = specSources
    }

    public var parameterCount: Int { parameters.filter(\.trainable).reduce(0) { $0 + $1.elements } }
    public var inputShape: [Int] { [inputChannels, resolution, resolution] }
}

/// One step that turns stored parameters into the inference weight blob.
public enum WeightPreparation: Sendable {
    /// Fold eval-mode BatchNorm (`<batchNorm>.weight/bias/running_mean/running_var`) into a
    /// bias-free convolution and store the folded weights in `layout`.
    case foldConvolution(weight: String, shape: [Int], batchNorm: String, eps: Double, layout: Layout,
                         weightOffset: Int, biasOffset: Int)
    /// Copy a tensor as it is (squeeze-excitation and classifier weights and biases).
    case copy(name: String, shape: [Int], offset: Int)

    /// How a folded convolution's weights are laid out for the kernel that reads them.
    public enum Layout: Sendable {
        /// [k][k][channels], for the channel-vectorised depthwise kernel.
        case depthwise
        /// [in·k·k][out], PyTorch's [out][in][k][k] transposed: rows of output channels, as the GEMM of
        /// `Kernels.pointwiseConv(inputMajorWeights:)` and `Kernels.stemConv(inputMajorWeights:)` reads them.
        case inputMajor
    }
}
