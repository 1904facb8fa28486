import ArgumentParser
import EffNetRuntime
import EffNetSpec

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a variant's layers, parameters, MACs and memory plan.")

    @Argument(help: "The variant, e.g. EfficientNetB0 or b0.") var variant: String
    @Option(help: "Batch size for the memory plan.") var batch: Int = 1
    @Flag(help: "Print the full plan as JSON (the schema Tools/ scripts read).") var json = false
    @Flag(help: "Only the summary, no layer table.") var summary = false
    @Flag(help: "Also show the training memory plan (saved activations and gradients) at --batch.") var train = false

    func run() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        let plan = try VariantLookup.plan(of: try VariantLookup.find(variant))
        if json {
            print(PlanReport.json(plan))
        } else {
            print(PlanReport.text(plan, batch: batch, layers: !summary), terminator: "")
            if train { printTrainingMemory(try VariantLookup.training(variant).trainingDescriptor) }
        }
    }

    func printTrainingMemory(_ t: TrainingDescriptor) {
        print()
        print("training memory plan at batch \(batch) (generated train step, float32):")
        print("  parameters         \(PlanReport.bytes(t.parameterFloats * 4))  (PyTorch layout, plus running statistics)")
        print("  gradients          \(PlanReport.bytes(t.parameterFloats * 4))")
        print("  training arena     \(PlanReport.bytes(t.arenaFloatsPerImage * batch * 4))  "
              + "(\(PlanReport.grouped(t.arenaFloatsPerImage)) floats per image: saved activations and gradients, packed by lifetime)")
        print("  batch statistics   \(PlanReport.bytes(t.fixedFloats * 4))  (BatchNorm mean/invstd, re-laid depthwise weights)")
        print("  total              \(PlanReport.bytes(t.bytes(batch: batch)))  (optimizer state comes on top: SGD +1x, AdamW +2x parameters)")
        print()
        let saved = t.bytes(batch: batch) - t.bytes(batch: batch, recomputing: true)
        print("  with --recompute-activations (BN+activation and squeeze-excitation outputs recomputed in the backward pass")
        print("  from the saved conv outputs: about one extra BatchNorm-apply pass per layer, same gradients):")
        print("  training arena     \(PlanReport.bytes(t.recomputingArenaFloatsPerImage * batch * 4))  "
              + "(\(PlanReport.grouped(t.recomputingArenaFloatsPerImage)) floats per image)")
        print("  total              \(PlanReport.bytes(t.bytes(batch: batch, recomputing: true)))  "
              + "(saves \(PlanReport.bytes(saved)), \(Int((100 * Double(saved) / Double(t.bytes(batch: batch))).rounded())) % of the total)")
    }
}
