import ArgumentParser
import EffNetData
import EffNetRuntime
import EffNetTraining
import Foundation

/// Eval-mode accuracy of a variant on an image folder: top-1, top-5, per-class accuracy, and the
/// confusion matrix as CSV. Uses `val/` when the folder has `train/` and `val/`, else all of it.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Accuracy of a variant on an image folder.")

    @Option(help: "The variant, e.g. EfficientNetLite0Digits.") var variant: String
    @Option(help: "Weights or a training checkpoint (.safetensors), or weights prepared by effnet prepare-weights.") var weights: String
    @Option(help: "Image folder: <class>/<images>, or train/ and val/ (val/ is used).") var data: String
    @Option(name: .customLong("batch-size"), help: "Images per forward pass.") var batchSize: Int = 16
    @Option(help: "Write the confusion matrix here (CSV: rows true class, columns predicted).") var confusion: String?
    @OptionGroup var threading: ThreadOptions

    func run() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        let model = try VariantLookup.find(variant)
        let descriptor = model.descriptor
        let plan = try VariantLookup.plan(of: model)
        let found = try ImageFolder.trainAndValidation(root: URL(fileURLWithPath: data))
        let folder = found.validation ?? found.train
        guard folder.classes.count == descriptor.classes else {
            throw ValidationError("\(data) has \(folder.classes.count) classes but \(descriptor.name) has \(descriptor.classes)")
        }
        let network = try model.init(weights: try InferenceWeightFiles.open(URL(fileURLWithPath: weights)),
                                     pool: try threading.pool())
        let preset = plan.evalPreset
        let loader = BatchLoader(samples: folder.samples, transform: preset, batchSize: batchSize)
        var metrics = ClassificationMetrics(classes: descriptor.classes, trackConfusion: true)
        for batch in loader.epoch(0) where batch.count > 0 {
            let logits = try network.logits(for: batch.images)
            let loss = try CrossEntropy.loss(logits: logits.values, labels: batch.labels, classes: descriptor.classes,
                                             labelSmoothing: 0)
            metrics.add(logits: logits.values, labels: batch.labels, meanLoss: loss)
        }
        let skipped = loader.skippedFiles(epoch: 0).count
        print(String(format: "%@ on %@: %d images%@, loss %.4f, top-1 %.2f%%, top-5 %.2f%%", descriptor.name, data,
                     metrics.count, skipped > 0 ? " (\(skipped) unreadable skipped)" : "", metrics.meanLoss,
                     100 * metrics.top1, 100 * metrics.top5))
        print("per-class accuracy:")
        for (index, name) in folder.classes.enumerated() {
            let row = metrics.confusion[index]
            let total = row.reduce(0, +)
            let accuracy = total == 0 ? "-" : String(format: "%.1f%%", 100 * Double(row[index]) / Double(total))
            print("  \(name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(accuracy.leftPadded(7))  (\(total) images)")
        }
        if let confusion {
            var csv = "true\\predicted," + folder.classes.joined(separator: ",") + "\n"
            for (index, name) in folder.classes.enumerated() {
                csv += name + "," + metrics.confusion[index].map(String.init).joined(separator: ",") + "\n"
            }
            try csv.write(to: URL(fileURLWithPath: confusion), atomically: true, encoding: .utf8)
            print("confusion matrix written to \(confusion)")
        }
    }
}
