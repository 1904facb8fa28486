import EffNetSpec

/// A fusion decision of the inference emitter: which MBConv blocks may run image by image on one worker
/// (`Kernels.mbconvPerImage`: expansion + depthwise + squeeze-excitation + projection; for a block without
/// an expansion `Kernels.depthwisePerImage`) when the batch gives every worker whole images. The emitted
/// code asks `Kernels.mbconvRunsPerImage` / `depthwiseRunsPerImage` at run time and keeps the
/// layer-by-layer calls for the other case. A stem that feeds only such a block (EfficientNet's first) is
/// computed inside that block's call, image by image (`stemFeeds`).
///
/// A block qualifies when its expansion (if it has one) is fused with the depthwise layer, its SE reads
/// that layer's row sums and is folded into the projection, and the projection's output does not share
/// arena space with the block's input: image by image, one worker writes image n's output while another
/// still reads image m from the input, which the layer-by-layer order never does.
struct MBConvPerImage {
    struct Block {
        /// nil for a block that starts with its depthwise layer (expand ratio 1).
        var expand: PlannedLayer?
        var depthwise, squeezeExcite, project: PlannedLayer
        /// The layer whose emission carries the per-image call: the expansion, or the depthwise layer.
        var first: PlannedLayer { expand ?? depthwise }
    }

    /// Name of the block's first layer (expansion, or depthwise without one) -> its block.
    private(set) var byFirstLayer: [String: Block] = [:]
    /// Names of the SE and projection layers of those blocks (no calls of their own on that path).
    private(set) var tail: Set<String> = []
    /// The stem, when its output feeds nothing but a block without an expansion that runs per image, which
    /// then computes each image's stem output itself (`Kernels.depthwisePerImage(stem:)`): that block.
    private(set) var stemFeeds: (stem: PlannedLayer, block: Block)?

    init(plan: ModelPlan, fusion: ExpandDepthwiseFusion, folding: SqueezeExciteFolding, rowSums: SqueezeExciteRowSums) {
        for block in plan.blocks {
            for layer in block.layers {
                let expand: PlannedLayer?, dw: PlannedLayer
                if let fused = fusion.depthwise[layer.name] {
                    (expand, dw) = (layer, fused)
                } else if layer.operation == .depthwiseConvolution, fusion.expansion[layer.name] == nil,
                          layer.name == block.layers.first?.name {
                    (expand, dw) = (nil, layer)
                } else {
                    continue
                }
                guard let se = block.layers.first(where: { rowSums.depthwise[$0.name]?.name == dw.name }),
                      let project = folding.projection[se.name],
                      !Self.overlap(plan.tensors[layer.input], plan.tensors[project.output]) else { continue }
                byFirstLayer[layer.name] = Block(expand: expand, depthwise: dw, squeezeExcite: se, project: project)
                tail.formUnion([se.name, project.name])
            }
        }
        if let stem = plan.layers.first(where: { $0.operation == .stemConvolution }),
           let block = byFirstLayer.values.first(where: { $0.expand == nil && $0.depthwise.input == stem.output }),
           block.project.residual == nil,
           plan.layers.filter({ $0.input == stem.output || $0.residual == stem.output }).count == 1 {
            stemFeeds = (stem, block)
        }
    }

    /// The stem that the block starting at layer `name` computes inside its per-image call, if any.
    func stem(feedingBlockAt name: String) -> PlannedLayer? {
        stemFeeds.flatMap { $0.block.first.name == name ? $0.stem : nil }
    }

    /// The run-time test of the stem inside the first block's per-image call (Swift source at batch `n`);
    /// the stem's own call is skipped exactly when it holds.
    static func stemCondition(_ stem: PlannedLayer, _ b: Block) -> String {
        "Kernels.stemRunsPerImage(batch: n, inChannels: \(stem.inputShape.channels), height: \(stem.inputShape.height), "
            + "width: \(stem.inputShape.width), kernel: \(stem.kernel), stride: \(stem.stride), "
            + "outHeight: \(stem.outputShape.height), outWidth: \(stem.outputShape.width), "
            + "outChannels: \(stem.outputShape.channels), depthwiseKernel: \(b.depthwise.kernel), "
            + "depthwiseStride: \(b.depthwise.stride), threads: pool.threadCount)"
    }

    /// Whether two arena tensors share floats (per image; the batch scales both alike).
    static func overlap(_ a: PlannedTensor, _ b: PlannedTensor) -> Bool {
        guard let x = a.arenaOffset, let y = b.arenaOffset else { return false }
        return x < y + b.shape.elements && y < x + a.shape.elements
    }

    /// The run-time test and the workspace term of `block` (Swift source at batch `n`).
    static func condition(_ b: Block) -> String {
        guard let expand = b.expand else {
            return "Kernels.depthwiseRunsPerImage(batch: n, kernel: \(b.depthwise.kernel), stride: \(b.depthwise.stride), "
                + "threads: pool.threadCount)"
        }
        return "Kernels.mbconvRunsPerImage(batch: n, height: \(expand.inputShape.height), width: \(expand.inputShape.width), "
            + "inChannels: \(expand.inputShape.channels), expandedChannels: \(expand.outputShape.channels), "
            + "kernel: \(b.depthwise.kernel), stride: \(b.depthwise.stride), outHeight: \(b.depthwise.outputShape.height), "
            + "threads: pool.threadCount)"
    }

    /// With `stemInside`, the block's per-image call may compute the stem too (one input image per worker).
    static func workspace(_ b: Block, stemInside: Bool = false) -> String {
        guard let expand = b.expand else {
            let stem = stemInside ? "stemImageFloats: \(b.depthwise.inputShape.elements), " : ""
            return "Kernels.depthwisePerImageWorkspaceFloats(batch: n, outHeight: \(b.depthwise.outputShape.height), "
                + "outWidth: \(b.depthwise.outputShape.width), channels: \(b.depthwise.outputShape.channels), "
                + "squeezeChannels: \(b.squeezeExcite.squeezeChannels ?? 1), "
                + "outChannels: \(b.project.outputShape.channels), \(stem)threads: pool.threadCount)"
        }
        return "Kernels.mbconvPerImageWorkspaceFloats(batch: n, width: \(expand.inputShape.width), "
            + "expandedChannels: \(expand.outputShape.channels), kernel: \(b.depthwise.kernel), "
            + "outHeight: \(b.depthwise.outputShape.height), outWidth: \(b.depthwise.outputShape.width), "
            + "squeezeChannels: \(b.squeezeExcite.squeezeChannels ?? 1), "
            + "outChannels: \(b.project.outputShape.channels), threads: pool.threadCount)"
    }
}
