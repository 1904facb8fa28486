/// A fusion decision of the plan: which MBConv expansions the inference code runs in one call with the
/// depthwise convolution that reads them (`Kernels.expandDepthwise`), so the expanded tensor need not be
/// written out. The memory planner keeps such an expansion's input alive until the depthwise layer (the
/// fused kernel reads it while writing the depthwise output); the emitter emits the one call.
///
/// Every expansion followed by a depthwise kernel the C code handles (3x3 and 5x5, stride 1 and 2)
/// qualifies. Whether a call then runs fused is the kernel's choice, by batch and map size: fused where
/// the expanded map would not stay in cache between the two layers, or where tasks hold whole images
/// (nothing is expanded twice); as two kernels where small maps at batch 1 would re-expand many rows.
/// The training step keeps both layers: its backward pass needs the expanded tensor.
public struct ExpandDepthwiseFusion: Sendable {
    /// Fused expansion layer name -> its depthwise convolution.
    public private(set) var depthwise: [String: PlannedLayer] = [:]
    /// Depthwise layer name -> the expansion fused into it.
    public private(set) var expansion: [String: PlannedLayer] = [:]
    /// Last layer name of a block with a fused expansion -> that expansion.
    public private(set) var expansionEndingAt: [String: PlannedLayer] = [:]

    public init(plan: ModelPlan) { self.init(blocks: plan.blocks) }

    public init(blocks: [PlannedBlock]) {
        let layers = blocks.flatMap(\.layers)
        for block in blocks {
            for (expand, dw) in zip(block.layers, block.layers.dropFirst())
            where expand.operation == .pointwiseConvolution && expand.residual == nil
                && dw.operation == .depthwiseConvolution && dw.input == expand.output
                && [3, 5].contains(dw.kernel) && [1, 2].contains(dw.stride)
                // The expanded tensor must have no other reader.
                && layers.allSatisfy({ $0.name == dw.name || ($0.input != expand.output && $0.residual != expand.output) }) {
                depthwise[expand.name] = dw
                expansion[dw.name] = expand
                if let end = block.layers.last { expansionEndingAt[end.name] = expand }
            }
        }
    }
}
