import ArgumentParser
import EffNetRuntime
import Foundation

struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a variant in eval mode on an NCHW float32 .npy batch and write the logits.")

    @Option(help: "The variant, e.g. EfficientNetB0.") var variant: String
    @Option(help: "Weights (.safetensors, torchvision state_dict names; or prepared by effnet prepare-weights).") var weights: String
    @Option(help: "Input batch: .npy, float32, shape [N, C, R, R].") var input: String
    @Option(help: "Where to write the logits: .npy, float32, shape [N, classes].") var output: String
    @OptionGroup var threading: ThreadOptions

    func run() throws {
        let model = try VariantLookup.find(variant)
        let store = try InferenceWeightFiles.open(URL(fileURLWithPath: weights))
        let batch = try NPY.readFloat32(URL(fileURLWithPath: input))
        let network = try model.init(weights: store, pool: try threading.pool())
        let logits = try network.logits(for: batch)
        try NPY.write(logits, to: URL(fileURLWithPath: output))
    }
}
