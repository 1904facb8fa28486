import EffNetSpec

/// A fusion decision of the inference emitter: which squeeze-excitations take their channel means from
/// row sums that the depthwise layer before them writes as it goes (`Kernels.depthwiseConv` /
/// `Kernels.expandDepthwise` with `rowSums:`, then `Kernels.squeezeExcite[Scales]` with `rowSums:`),
/// instead of reading the whole depthwise output back in a pass of their own (RowChannelSums.swift).
///
/// Every SE whose input is a depthwise layer's output qualifies: the row sums are
/// outHeight x channels floats per image at the front of the kernel scratch (`ws`), and the depthwise
/// call's band, the SE's vectors and a folded projection's scales and weights move up past them.
struct SqueezeExciteRowSums {
    /// Squeeze-excitation layer name -> the depthwise layer that writes its row sums.
    private(set) var depthwise: [String: PlannedLayer] = [:]
    /// Depthwise layer name -> the squeeze-excitation that reads them.
    private(set) var squeezeExcite: [String: PlannedLayer] = [:]

    init(plan: ModelPlan) {
        for block in plan.blocks {
            for (dw, se) in zip(block.layers, block.layers.dropFirst())
            where dw.operation == .depthwiseConvolution && se.operation == .squeezeExcitation && se.input == dw.output {
                depthwise[se.name] = dw
                squeezeExcite[dw.name] = se
            }
        }
    }

    /// Floats of row sums per image before the SE layer `se` (0 when it computes its own means).
    func floatsPerImage(se: PlannedLayer) -> Int {
        depthwise[se.name].map { $0.outputShape.height * $0.outputShape.channels } ?? 0
    }

    /// `ws` advanced past the row sums of `se` and then by `extra` (Swift source at batch `n`).
    func scratch(after se: PlannedLayer, plus extra: String? = nil) -> String {
        let floats = floatsPerImage(se: se)
        var terms: [String] = []
        if floats > 0 { terms.append("\(floats) &* n") }
        if let extra { terms.append(extra) }
        if terms.isEmpty { return "ws" }
        return terms.count == 1 ? "ws + " + terms[0] : "ws + (" + terms.joined(separator: " &+ ") + ")"
    }

    /// The row sums of `se` in front of a scratch size `term` (Swift source at batch `n`). A call, not a
    /// literal times n: literals added inside the workspace's long `max(...)` made the type checker give up.
    func workspace(before se: PlannedLayer?, _ term: String) -> String {
        guard let se, let dw = depthwise[se.name] else { return term }
        return "Kernels.rowSumsFloats(batch: n, outHeight: \(dw.outputShape.height), "
            + "channels: \(dw.outputShape.channels)) &+ " + term
    }
}
