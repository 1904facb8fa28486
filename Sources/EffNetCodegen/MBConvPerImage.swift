import EffNetSpec

/// A fusion decision of the inference emitter: which MBConv blocks may run image by image on one worker
/// (`Kernels.mbconvPerImage`: expansion + depthwise + squeeze-excitation + projection) when the batch gives
/// every worker whole images. The emitted code asks `Kernels.mbconvRunsPerImage` at run time and keeps the
/// layer-by-layer calls for the other case.
///
/// A block qualifies when its expansion is fused with the depthwise layer, its SE reads that layer's row
/// sums and is folded into the projection, and the projection's output does not share arena space with
/// the block's input: image by image, one worker writes image n's output while another still expands
/// image m from the input, which the layer-by-layer order never does.
struct MBConvPerImage {
    struct Block {
        var expand, depthwise, squeezeExcite, project: PlannedLayer
    }

    /// Expansion layer name -> its block.
    private(set) var byExpansion: [String: Block] = [:]
    /// Names of the SE and projection layers of those blocks (no calls of their own on that path).
    private(set) var tail: Set<String> = []

    init(plan: ModelPlan, fusion: ExpandDepthwiseFusion, folding: SqueezeExciteFolding, rowSums: SqueezeExciteRowSums) {
        for block in plan.blocks {
            for layer in block.layers {
                guard let dw = fusion.depthwise[layer.name],
                      let se = block.layers.first(where: { rowSums.depthwise[$0.name]?.name == dw.name }),
                      let project = folding.projection[se.name],
                      !Self.overlap(plan.tensors[layer.input], plan.tensors[project.output]) else { continue }
                byExpansion[layer.name] = Block(expand: layer, depthwise: dw, squeezeExcite: se, project: project)
                tail.formUnion([se.name, project.name])
            }
        }
    }

    /// Whether two arena tensors share floats (per image; the batch scales both alike).
    static func overlap(_ a: PlannedTensor, _ b: PlannedTensor) -> Bool {
        guard let x = a.arenaOffset, let y = b.arenaOffset else { return false }
        return x < y + b.shape.elements && y < x + a.shape.elements
    }

    /// The run-time test and the workspace term of `block` (Swift source at batch `n`).
    static func condition(_ b: Block) -> String {
        "Kernels.mbconvRunsPerImage(batch: n, height: \(b.expand.inputShape.height), width: \(b.expand.inputShape.width), "
            + "inChannels: \(b.expand.inputShape.channels), expandedChannels: \(b.expand.outputShape.channels), "
            + "kernel: \(b.depthwise.kernel), stride: \(b.depthwise.stride), outHeight: \(b.depthwise.outputShape.height), "
            + "threads: pool.threadCount)"
    }

    static func workspace(_ b: Block) -> String {
        "Kernels.mbconvPerImageWorkspaceFloats(batch: n, width: \(b.expand.inputShape.width), "
            + "expandedChannels: \(b.expand.outputShape.channels), kernel: \(b.depthwise.kernel), "
            + "outHeight: \(b.depthwise.outputShape.height), outWidth: \(b.depthwise.outputShape.width), "
            + "squeezeChannels: \(b.squeezeExcite.squeezeChannels ?? 1), "
            + "outChannels: \(b.project.outputShape.channels), threads: pool.threadCount)"
    }
}
