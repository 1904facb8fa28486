import ArgumentParser
import EffNetRuntime
import EffNetSpec
import Foundation

/// Writes a variant's inference weights as the generated code reads them (BatchNorm folded, re-laid
/// out), so that `predict`, `evaluate`, `infer` and `bench` load them with a memory mapping instead of
/// a conversion, and can hand each block's pages back after use (`--release-weights-after-use`).
struct PrepareWeights: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare-weights",
        abstract: "Save a variant's inference weights ready to memory-map (BatchNorm folded, re-laid out).",
        discussion: "The file is tied to the variant and to this generator's weight layout: loading it into "
            + "another variant, or after a spec change that moves the weights, fails with an error saying so. "
            + "Keep the .safetensors file: training needs the named parameters.")

    @Option(help: "The variant, e.g. EfficientNetB7.") var variant: String
    @Option(help: "Weights (.safetensors); default: synthetic weights, for benchmarks.") var weights: String?
    @Option(help: "Where to write the prepared weights, e.g. EfficientNetB7.effnetw.") var output: String

    func run() throws {
        let model = try VariantLookup.find(variant)
        let descriptor = model.descriptor
        let store: any WeightStore = try weights.map { try SafeTensorsFile(contentsOf: URL(fileURLWithPath: $0)) }
            ?? SyntheticWeights(seed: 1)
        let prepared = try PreparedWeights(descriptor: descriptor, store: store)
        let url = URL(fileURLWithPath: output)
        try PreparedWeightsFile.write(prepared, descriptor: descriptor, to: url)
        let source = weights ?? "synthetic weights (seed 1)"
        print("\(descriptor.name): \(PlanReport.bytes(prepared.count * 4)) of prepared weights from \(source) -> \(output)")
    }
}
