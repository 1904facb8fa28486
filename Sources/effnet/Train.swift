import ArgumentParser
import EffNetData
import EffNetRuntime
import EffNetSpec
import EffNetTraining
import Foundation

/// Fine-tunes a variant on an image folder (one subfolder per class; `train/` + `val/`, or a
/// validation split by fraction), from pretrained weights whose classifier is replaced when the
/// class count differs. Writes last/best checkpoints, metrics (CSV and JSON lines) and the class
/// names into --output.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fine-tune a variant on an image folder.")

    @Option(help: "The variant to train; its class count must equal the data's (e.g. EfficientNetLite0Digits).")
    var variant: String
    @Option(help: "Image folder: <class>/<images>, or train/<class>/ and val/<class>/.") var data: String
    @Option(help: "Pretrained weights (.safetensors); a classifier of another class count is replaced.")
    var pretrained: String?
    @Option(help: "Epochs.") var epochs: Int = 3
    @Option(name: .customLong("batch-size"), help: "Images per step (at least 2).") var batchSize: Int = 16
    @Option(help: "Base learning rate.") var lr: Double = 0.05
    @Option(help: "sgd (momentum 0.9), rmsprop (TF, as in the paper) or adamw.") var optimizer: String = "sgd"
    @Option(help: "constant, cosine or exponential (0.97 every 2.4 epochs).") var schedule: String = "cosine"
    @Option(name: .customLong("warmup-epochs"), help: "Linear warm-up epochs.") var warmupEpochs: Double = 0
    @Option(name: .customLong("weight-decay"), help: "Weight decay (not on BatchNorm and biases).") var weightDecay: Double = 1e-5
    @Option(name: .customLong("label-smoothing"), help: "Cross-entropy label smoothing.") var labelSmoothing: Double = 0.1
    @Flag(help: "AutoAugment (ImageNet policy) on training images.") var autoaugment = false
    @Option(name: .customLong("min-crop-scale"), help: "Smallest area fraction RandomResizedCrop keeps (torchvision: 0.08).")
    var minCropScale: Double = 0.08
    @Flag(name: .customLong("freeze-backbone"), help: "Train only the classifier (backbone BatchNorm in eval mode).")
    var freezeBackbone = false
    @Option(name: .customLong("train-last-stages"), help: "Freeze all but the last K MBConv stages (plus head and classifier).")
    var trainLastStages: Int?
    @Option(name: .customLong("bn-momentum"), help: "BatchNorm momentum of the trained layers (default: the spec's).")
    var batchNormMomentum: Double?
    @Option(name: .customLong("recalibrate-bn"),
            help: "Re-estimate the trained BatchNorm layers' running statistics over N training batches at each epoch end (0: off; nothing to do with --freeze-backbone).")
    var recalibrateBatchNorm: Int = 20
    @Flag(name: .customLong("recompute-activations"),
          help: "Use less memory: recompute BN+activation outputs in the backward pass (see `effnet info V --train`).")
    var recomputeActivations = false
    @Option(name: .customLong("validation-fraction"), help: "Validation split when there is no val/ folder.")
    var validationFraction: Double = 0.2
    @Option(help: "Output folder for checkpoints and metrics.") var output: String = "runs/train"
    @Option(help: "Resume from a checkpoint (e.g. runs/train/last.safetensors).") var resume: String?
    @Option(help: "Seed for shuffling, augmentation, dropout and the new classifier.") var seed: UInt64 = 1
    @OptionGroup var threading: ThreadOptions

    func run() throws {
        guard batchSize >= 2 else { throw ValidationError("--batch-size must be at least 2 (train-mode BatchNorm)") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        let model = try VariantLookup.training(variant)
        try train(model)
    }

    func train<Model: TrainableModel>(_: Model.Type) throws {
        let descriptor = Model.descriptor
        let plan = try VariantLookup.plan(of: try VariantLookup.find(variant))
        let folders = try ImageFolder.trainAndValidation(root: URL(fileURLWithPath: data),
                                                         validationFraction: validationFraction, seed: seed)
        let classes = folders.train.classes
        guard classes.count == descriptor.classes else {
            throw ValidationError("\(data) has \(classes.count) classes but \(descriptor.name) is compiled for "
                                  + "\(descriptor.classes); add a spec with `base \(descriptor.name)` and "
                                  + "`classifier classes \(classes.count)` (see README, Adding a variant)")
        }
        for empty in folders.train.emptyClasses { say("warning: class folder \(empty) has no images") }

        // Weights: pretrained, the classifier replaced when its shape differs. (Training from scratch
        // would need torchvision's kaiming init of every layer; not offered yet.)
        let store: any WeightStore
        if let pretrained {
            let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: pretrained))
            if file.shape(of: "classifier.1.weight") != [descriptor.classes, plan.head.channels] {
                say("replacing the classifier: \(pretrained) has \(file.shape(of: "classifier.1.weight") ?? []), "
                      + "\(descriptor.name) needs [\(descriptor.classes), \(plan.head.channels)]")
                store = NewClassifierWeights(pretrained: file, seed: seed)
            } else {
                store = file
            }
        } else {
            throw ValidationError("give --pretrained weights (e.g. Weights/EfficientNetLite0.safetensors)")
        }
        let network = try Model(weights: store, pool: try threading.pool())
        network.random = CounterRandom(seed: seed)

        let training = Model.trainingDescriptor
        var frozen = 0
        if freezeBackbone { frozen = training.backboneBlocks }
        if let trainLastStages { frozen = training.frozenBlocks(trainingLastStages: trainLastStages) }
        if let batchNormMomentum, !(batchNormMomentum > 0 && batchNormMomentum <= 1) {
            throw ValidationError("--bn-momentum must be in (0, 1]")
        }
        guard recalibrateBatchNorm >= 0 else { throw ValidationError("--recalibrate-bn must be >= 0") }
        let options = TrainingOptions(labelSmoothing: labelSmoothing, frozenBlocks: frozen,
                                      batchNormMomentum: batchNormMomentum, recomputeActivations: recomputeActivations)

        // Data: training augmentation at the compiled resolution; the variant's eval preset for validation.
        guard minCropScale > 0, minCropScale <= 1 else { throw ValidationError("--min-crop-scale must be in (0, 1]") }
        var augment: [any ImageTransform] = [RandomResizedCrop(plan.resolution, scale: minCropScale...1.0),
                                             RandomHorizontalFlip()]
        if autoaugment { augment.append(AutoAugment(policy: .imagenet)) }
        let trainTransform = Compose(augment).then(ToTensor(normalization: plan.inputNormalization))
        let evalTransform = plan.evalPreset
        let trainSource = LoaderBatchSource(BatchLoader(samples: folders.train.samples, transform: trainTransform,
                                                        batchSize: batchSize, shuffle: true, seed: seed))
        let validationSource: LoaderBatchSource? = folders.validation.count == 0 ? nil
            : LoaderBatchSource(BatchLoader(samples: folders.validation.samples, transform: evalTransform, batchSize: batchSize))

        let stepsPerEpoch = trainSource.batchesPerEpoch
        let totalSteps = max(1, stepsPerEpoch * epochs)
        var learningRate: any LearningRateSchedule
        switch schedule {
        case "constant": learningRate = ConstantSchedule(lr)
        case "cosine": learningRate = CosineSchedule(base: lr, totalSteps: totalSteps)
        case "exponential": learningRate = ExponentialDecaySchedule(base: lr)
        default: throw ValidationError("unknown --schedule \(schedule); expected constant, cosine or exponential")
        }
        let warmupSteps = Int(warmupEpochs * Double(stepsPerEpoch))
        if warmupSteps > 0 { learningRate = LinearWarmup(wrapping: AnySchedule(learningRate), warmupSteps: warmupSteps) }
        let optimizerObject: any Optimizer
        switch optimizer {
        case "sgd": optimizerObject = SGD(momentum: 0.9, nesterov: true)
        case "rmsprop": optimizerObject = RMSProp()
        case "adamw": optimizerObject = AdamW()
        default: throw ValidationError("unknown --optimizer \(optimizer); expected sgd, rmsprop or adamw")
        }
        let groups = [ParameterGroup(slots: training.trainableSlots(frozenBlocks: frozen), weightDecay: weightDecay)]

        let out = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try (classes.joined(separator: "\n") + "\n").write(to: out.appendingPathComponent("classes.txt"),
                                                          atomically: true, encoding: .utf8)
        let monitor = validationSource == nil ? "train_loss" : "val_top1"
        let loop = TrainingLoop(
            model: network, optimizer: optimizerObject, groups: groups, schedule: learningRate, options: options,
            epochs: epochs, train: trainSource, validation: validationSource,
            callbacks: [
                ProgressCallback(),
                MetricsLogger(csv: out.appendingPathComponent("metrics.csv"),
                              jsonLines: out.appendingPathComponent("metrics.jsonl")),
                CheckpointCallback(directory: out, monitor: monitor),
                NaNGuard(),
            ])
        loop.batchNormRecalibrationBatches = recalibrateBatchNorm
        if let resume { try loop.resume(from: URL(fileURLWithPath: resume)) }
        say("\(descriptor.name): \(folders.train.count) training and \(folders.validation.count) validation images, "
              + "\(classes.count) classes; \(frozen > 0 ? "first \(frozen) blocks frozen" : "all layers train"); "
              + "\(stepsPerEpoch) steps per epoch"
              + (recalibrateBatchNorm > 0 && frozen < training.backboneBlocks
                 ? "; BatchNorm statistics re-estimated over \(recalibrateBatchNorm) batches after each epoch" : ""))
        let summary = try loop.fit()
        if let last = summary.history.last {
            let validation = last.validationTop1.map { String(format: "validation top-1 %.1f%%", 100 * $0) } ?? "no validation set"
            say(String(format: "done: %d epochs in %.0f s; train loss %.4f; ", summary.epochsRun, summary.seconds, last.trainLoss)
                  + validation + "; checkpoints and metrics in \(output)")
        }
        if let reason = summary.stopReason { say("stopped early: \(reason)") }
    }
}

/// A type-erased schedule, so a warm-up can wrap whichever schedule was chosen.
struct AnySchedule: LearningRateSchedule {
    let inner: any LearningRateSchedule
    init(_ inner: any LearningRateSchedule) { self.inner = inner }
    func learningRate(step: Int, stepsPerEpoch: Int) -> Double { inner.learningRate(step: step, stepsPerEpoch: stepsPerEpoch) }
}

/// Writes a line to standard output unbuffered, so it interleaves in order with the progress
/// callback's output.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
