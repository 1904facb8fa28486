import ArgumentParser
import EffNetData
import EffNetRuntime
import EffNetSpec

/// Finds a linked variant by name: exact (`EfficientNetB0`), case-insensitive, or by its short
/// form (`b0`, `lite0`).
enum VariantLookup {
    static func find(_ name: String) throws -> any GeneratedModel.Type {
        let wanted = name.lowercased()
        if let match = LinkedVariants.all.first(where: {
            let full = $0.descriptor.name.lowercased()
            return full == wanted || full == "efficientnet" + wanted
        }) {
            return match
        }
        let known = LinkedVariants.all.map { $0.descriptor.name }.joined(separator: ", ")
        throw ValidationError("unknown variant `\(name)`; linked variants: \(known)")
    }

    /// The training form of a linked variant.
    static func training(_ name: String) throws -> any TrainableModel.Type {
        let model = try find(name)
        return LinkedVariants.training.first { $0.descriptor.name == model.descriptor.name }!
    }

    /// Re-plans a linked variant from the spec text embedded in it: the same plan the generator made.
    static func plan(of model: any GeneratedModel.Type) throws -> ModelPlan {
        let descriptor = model.descriptor
        let documents = try descriptor.specSources.map { try SpecParser.parse($0.text, file: $0.file) }
        return Planner.plan(try SpecLibrary(documents: documents).resolve(descriptor.name))
    }
}

extension ModelPlan {
    /// The input normalisation of the variant's eval preset, as the data pipeline names it.
    var inputNormalization: Normalization { preprocess.normalization == .lite ? .lite : .imagenet }

    /// The variant's eval preprocessing: bicubic resize, center crop, normalisation.
    var evalPreset: EvalPreset {
        EvalPreset(resize: preprocess.resize, crop: preprocess.crop, normalization: inputNormalization)
    }
}

/// Thread count shared by the commands: 2 by default (this project's machines), EFFNET_THREADS
/// or --threads to change it.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Worker threads (default: EFFNET_THREADS or min(2, cores)).")
    var threads: Int?

    func pool() throws -> WorkerPool {
        guard let threads else { return .shared }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        return WorkerPool(threads: threads)
    }
}
