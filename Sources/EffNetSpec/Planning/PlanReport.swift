import Foundation

/// Human- and machine-readable views of a plan: the `effnet info` table and the plan JSON that
/// the Python reference tools read.
public enum PlanReport {
    public static func json(_ plan: ModelPlan) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // A ModelPlan holds only strings, numbers and arrays: encoding cannot fail.
        return String(decoding: try! encoder.encode(plan), as: UTF8.self)
    }

    public static func decode(_ json: String) throws -> ModelPlan {
        try JSONDecoder().decode(ModelPlan.self, from: Data(json.utf8))
    }

    public static func text(_ plan: ModelPlan, batch: Int, layers showLayers: Bool = true) -> String {
        var out = ""
        func line(_ s: String = "") { out += s + "\n" }
        line("\(plan.model)  (\(plan.source)\(plan.baseChain.isEmpty ? "" : ", base " + plan.baseChain.joined(separator: " <- ")))")
        line("  resolution    \(plan.resolution)x\(plan.resolution), \(plan.inputChannels) input channels, \(plan.classes) classes")
        line("  scaling       width \(format(plan.width)), depth \(format(plan.depth))")
        line("  activation    \(plan.activation.rawValue), padding \(plan.padding.rawValue), "
             + "batchnorm eps \(format(plan.batchNorm.eps)) momentum \(format(plan.batchNorm.momentum))")
        line("  regularise    dropout \(format(plan.dropout)), stochastic depth \(format(plan.stochasticDepth))")
        line("  preprocess    resize \(plan.preprocess.resize), crop \(plan.preprocess.crop), normalize \(plan.preprocess.normalization.rawValue)")
        line("  parameters    \(grouped(plan.parameterCount))")
        line("  MACs          \(grouped(plan.macs)) per image (\(String(format: "%.3f", Double(plan.macs) / 1e9)) G)")
        if showLayers {
            line()
            let header = pad("layer", 26) + pad("operation", 20) + pad("input", 14) + pad("output", 14)
                + lpad("params", 11) + lpad("MACs", 14)
            line(header)
            line(String(repeating: "-", count: header.count))
            for block in plan.blocks {
                line("# \(block.name): \(block.summary)"
                     + (block.stochasticDepth.map { ", drop-path \(String(format: "%.4f", $0))" } ?? ""))
                for layer in block.layers {
                    let op = layer.operation.rawValue + (layer.kernel > 1 ? " \(layer.kernel)x\(layer.kernel)/\(layer.stride)" : "")
                    line(pad(layer.name, 26) + pad(op, 20) + pad("\(layer.inputShape)", 14)
                         + pad("\(layer.outputShape)", 14) + lpad(grouped(layer.parameterCount), 11)
                         + lpad(grouped(layer.macs), 14) + (layer.residual != nil ? "  + shortcut" : ""))
                }
            }
        }
        line()
        line("memory plan at batch \(batch) (float32, NHWC activations, one arena with reuse):")
        line("  activation arena   \(bytes(plan.memory.arenaBytes(batch: batch)))"
             + "  (\(grouped(plan.memory.arenaFloatsPerImage)) floats per image;"
             + " without reuse \(bytes(plan.memory.unsharedFloatsPerImage * batch * 4)))")
        let fused = plan.tensors.filter { $0.arenaOffset == nil && $0.id != 0 && $0.id != plan.tensors.count - 1 }
        if !fused.isEmpty {
            line("  not in the arena   \(fused.count) expanded tensors of fused expand+depthwise calls (kept in "
                 + "L2-sized bands; a call that runs as two kernels holds its own in its workspace)")
        }
        line("  SE workspace       \(bytes(plan.memory.squeezeExciteWorkspacePerImage * batch * 4))")
        let weights = plan.parameters.reduce(0) { $0 + $1.elements } * 4
        line("  weights            \(bytes(weights)) as stored (BatchNorm folded at load for inference)")
        return out
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e6 ? String(format: "%.1f", value) : String(format: "%g", value)
    }

    public static func grouped(_ value: Int) -> String {
        let digits = String(value)
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    public static func bytes(_ count: Int) -> String {
        let mib = Double(count) / 1_048_576
        return mib >= 1 ? String(format: "%.1f MiB", mib) : String(format: "%.1f KiB", Double(count) / 1024)
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    static func lpad(_ s: String, _ width: Int) -> String {
        s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s
    }
}
