import ArgumentParser
import EffNetRuntime
import Foundation

/// One deterministic training step's gradients: train-mode BatchNorm (batch statistics), dropout
/// and stochastic depth off, mean cross-entropy. Writes every trainable parameter's gradient
/// under its torchvision name, the updated BatchNorm running statistics under theirs, and the
/// loss (tensor `loss` and metadata), atomically.
struct Grad: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute the gradients of one training step (for checking against PyTorch).")

    @Option(help: "The variant, e.g. EfficientNetB0.") var variant: String
    @Option(help: "Weights (.safetensors, torchvision state_dict names).") var weights: String
    @Option(help: "Input batch: .npy, float32, shape [N, C, R, R], N >= 2.") var input: String
    @Option(help: "Labels: .npy, integers, shape [N].") var labels: String
    @Option(help: "Where to write the gradients (.safetensors).") var output: String
    @Option(help: "Cross-entropy label smoothing.") var labelSmoothing: Double = 0
    @Flag(name: .customLong("recompute-activations"),
          help: "Recompute BN+activation outputs in the backward pass (the low-memory plan; same gradients).")
    var recomputeActivations = false
    @OptionGroup var threading: ThreadOptions

    func run() throws {
        let model = try VariantLookup.training(variant)
        let store = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: weights))
        let batch = try NPY.readFloat32(URL(fileURLWithPath: input))
        let (labelShape, labelValues) = try NPY.readInt64(URL(fileURLWithPath: labels))
        guard labelShape.count == 1 else {
            throw ValidationError("labels must be a 1-D array of class indices; got shape \(labelShape)")
        }
        let network = try model.init(weights: store, pool: try threading.pool())
        let options = TrainingOptions(dropout: false, stochasticDepth: false, labelSmoothing: labelSmoothing,
                                      recomputeActivations: recomputeActivations)
        let result = try network.trainStep(images: batch, labels: labelValues.map { Int($0) }, options: options)
        guard result.loss.isFinite else { throw ValidationError("the loss is \(result.loss); nothing written") }
        let training = model.trainingDescriptor
        var tensors: [(name: String, tensor: HostTensor)] = []
        for slot in training.parameterSlots { tensors.append((slot.name, network.gradient(slot.name)!)) }
        for slot in training.stateSlots { tensors.append((slot.name, network.parameter(slot.name)!)) }
        if let bad = tensors.first(where: { $0.tensor.values.contains { !$0.isFinite } }) {
            throw ValidationError("\(bad.name) holds NaN or infinite values; nothing written")
        }
        tensors.append(("loss", HostTensor(shape: [1], values: [Float(result.loss)])))
        try SafeTensors.write(tensors, metadata: ["loss": "\(result.loss)", "variant": model.descriptor.name,
                                                   "contents": "gradients of trainable parameters; updated running statistics"],
                              to: URL(fileURLWithPath: output))
        print(String(format: "loss %.8f; %d gradients and %d running statistics written to %@",
                     result.loss, training.parameterSlots.count, training.stateSlots.count, output))
    }
}
