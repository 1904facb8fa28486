import ArgumentParser
import EffNetData
import EffNetRuntime
import Foundation

/// Top-k classes for images: JPEG/PNG files (decoded and preprocessed with the variant's eval
/// preset) or preprocessed NCHW float32 .npy batches.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the top-k classes for images (.jpg/.png, or preprocessed .npy batches).")

    @Option(help: "The variant, e.g. EfficientNetLite0.") var variant: String
    @Option(help: "Weights (.safetensors, or prepared by effnet prepare-weights).") var weights: String
    @OptionGroup var release: WeightReleaseOption
    @Option(help: "Class names, one per line (default: classes.txt beside the weights, or Weights/imagenet-classes.txt for 1000 classes).")
    var labels: String?
    @Option(name: .customLong("top-k"), help: "How many classes to show per image.") var topK: Int = 5
    @Flag(help: "Print JSON instead of text.") var json = false
    @Argument(help: "Images (.jpg, .jpeg, .png) or batches (.npy, [N, C, R, R]).") var inputs: [String]
    @OptionGroup var threading: ThreadOptions

    func run() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one input .npy file") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
        let model = try VariantLookup.find(variant)
        let classes = model.descriptor.classes
        let names = try classNames(count: classes)
        let network = try model.init(weights: try release.open(weights),
                                     pool: try threading.pool())
        var results: [[String: Any]] = []
        let plan = try VariantLookup.plan(of: model)
        let preset = plan.evalPreset
        for path in inputs {
            let url = URL(fileURLWithPath: path)
            let batch: HostTensor
            if url.pathExtension.lowercased() == "npy" {
                batch = try NPY.readFloat32(url)
            } else {
                batch = try preset.preprocess(contentsOf: url).batchTensor
            }
            let logits = try network.logits(for: batch)
            for image in 0..<logits.shape[0] {
                let row = Array(logits.values[(image * classes)..<((image + 1) * classes)])
                let probabilities = softmax(row)
                let top = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }.prefix(topK)
                let label = logits.shape[0] == 1 ? path : "\(path)[\(image)]"
                if json {
                    results.append(["input": label, "top": top.map {
                        ["class": $0, "name": names[$0], "probability": Double(probabilities[$0])] as [String: Any]
                    }])
                } else {
                    print(label)
                    for index in top {
                        print(String(format: "  %6.2f%%  %4d  %@", 100 * probabilities[index], index, names[index]))
                    }
                }
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    func classNames(count: Int) throws -> [String] {
        let beside = URL(fileURLWithPath: weights).deletingLastPathComponent().appendingPathComponent("classes.txt").path
        let path = labels ?? (FileManager.default.fileExists(atPath: beside) ? beside
                              : (count == 1000 ? "Weights/imagenet-classes.txt" : nil))
        guard let path, FileManager.default.fileExists(atPath: path) else {
            if let labels { throw ValidationError("cannot read class names from \(labels)") }
            return (0..<count).map { "class \($0)" }
        }
        let names = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        guard names.count == count else {
            throw ValidationError("\(path) has \(names.count) class names; the model has \(count) classes")
        }
        return names
    }

    func softmax(_ logits: [Float]) -> [Float] {
        let top = logits.max() ?? 0
        let exps = logits.map { Foundation.exp($0 - top) }
        let sum = exps.reduce(0, +)
        return exps.map { $0 / sum }
    }
}
