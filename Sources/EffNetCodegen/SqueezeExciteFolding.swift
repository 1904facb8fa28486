import EffNetSpec

/// A fusion decision of the inference emitter: which squeeze-excitations are folded into the
/// projection that follows them (`Kernels.squeezeExciteScales` + `Kernels.pointwiseConvScaledInput`)
/// instead of scaling the activation in place.
///
/// Folding multiplies the projection's weights (outChannels × channels per image) instead of the
/// activation (pixels × channels per image), so it pays when the feature map has more pixels than
/// the projection has output channels: the early, large stages. The training step keeps the plain
/// SE, whose output its backward pass needs anyway.
struct SqueezeExciteFolding {
    /// Folded squeeze-excitation layer name -> its projection.
    private(set) var projection: [String: PlannedLayer] = [:]
    /// Projection layer name -> the squeeze-excitation folded into it.
    private(set) var squeezeExcite: [String: PlannedLayer] = [:]

    init(plan: ModelPlan) {
        for block in plan.blocks {
            for (se, next) in zip(block.layers, block.layers.dropFirst())
            where se.operation == .squeezeExcitation && next.operation == .pointwiseConvolution
                && next.input == se.output && se.inputShape.pixels > next.outputShape.channels {
                projection[se.name] = next
                squeezeExcite[next.name] = se
            }
        }
    }

    /// Scratch of a folded pair at batch `n` (Swift source): the scales, then the larger of the
    /// SE's vectors and the per-image scaled weights.
    static func workspace(se: PlannedLayer, projection: PlannedLayer) -> String {
        "Kernels.squeezeExciteProjectionWorkspaceFloats(batch: n, channels: \(se.inputShape.channels), "
            + "squeezeChannels: \(se.squeezeChannels ?? 1), outChannels: \(projection.outputShape.channels))"
    }
}
