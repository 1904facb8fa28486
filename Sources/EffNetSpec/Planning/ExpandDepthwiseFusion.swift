/// A fusion decision of the plan: which MBConv expansions the inference code runs fused with the
/// depthwise convolution that reads them (`Kernels.expandDepthwise`), so the expanded tensor is never
/// written out. The memory planner keeps a fused expansion's input alive until the depthwise layer (the
/// fused call reads it while writing the depthwise output); the emitter emits the fused call.
///
/// Fusing pays where the expanded map is too large to stay in cache between the two layers: the early,
/// high-resolution stages (B0: 112x112x96 and 56x56x144 floats per image). Late stages (14x14, 7x7) are
/// left alone: their maps fit in L2 anyway, and a fused task re-expands the rows its neighbours also need.
/// The training step keeps both layers: its backward pass needs the expanded tensor.
public struct ExpandDepthwiseFusion: Sendable {
    /// Expanded maps of at least this many floats per image are fused: 600 KB, about a third of this
    /// machine's 2 MB L2, which also has to hold the layer's input and the depthwise output (B0: the
    /// 28x28x240 maps are fused, the 14x14x672 ones, whose ranges would re-expand a third of their rows
    /// at batch 1, are not).
    public static let minimumExpandedFloats = 150 * 1024

    /// Fused expansion layer name -> its depthwise convolution.
    public private(set) var depthwise: [String: PlannedLayer] = [:]
    /// Depthwise layer name -> the expansion fused into it.
    public private(set) var expansion: [String: PlannedLayer] = [:]

    public init(plan: ModelPlan) { self.init(blocks: plan.blocks) }

    public init(blocks: [PlannedBlock]) {
        let layers = blocks.flatMap(\.layers)
        for block in blocks {
            for (expand, dw) in zip(block.layers, block.layers.dropFirst())
            where expand.operation == .pointwiseConvolution && expand.residual == nil
                && dw.operation == .depthwiseConvolution && dw.input == expand.output
                && [3, 5].contains(dw.kernel) && [1, 2].contains(dw.stride)
                && expand.outputShape.pixels * expand.outputShape.channels >= Self.minimumExpandedFloats
                // The expanded tensor must have no other reader.
                && layers.allSatisfy({ $0.name == dw.name || ($0.input != expand.output && $0.residual != expand.output) }) {
                depthwise[expand.name] = dw
                expansion[dw.name] = expand
            }
        }
    }
}
