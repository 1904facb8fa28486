import ArgumentParser
import EffNetCodegen
import EffNetSpec
import Foundation

/// The spec compiler's command line. SwiftPM's build plugin runs `model` and `registry` on every
/// build; people run `describe`, `check` and `refresh-generated` by hand.
@main
struct EffnetGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "effnet-gen",
        abstract: "Compile EfficientNet specs (Specs/*.effnet) into Swift.",
        subcommands: [Model.self, Registry.self, Describe.self, Check.self, RefreshGenerated.self]
    )
}

/// Loads the spec folder and resolves one model, printing compiler-style errors on failure.
func resolvePlan(specs: String, model: String) throws -> ModelPlan {
    let library = try SpecFiles.loadLibrary(folder: URL(fileURLWithPath: specs))
    return Planner.plan(try library.resolve(model))
}

/// Writes only when the text changed, so SwiftPM does not recompile an unchanged variant.
func writeIfChanged(_ text: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    if let existing = try? String(contentsOf: url, encoding: .utf8), existing == text { return }
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: url, atomically: true, encoding: .utf8)
}

/// Spec errors go to stderr in `file:line:column: error: message` form, which SwiftPM and
/// editors show as diagnostics on the spec file, and the command fails.
func reportingSpecErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let errors as SpecErrors {
        FileHandle.standardError.write(Data((errors.description + "\n").utf8))
        throw ExitCode.failure
    }
}

extension EffnetGen {
    struct Model: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate the Swift source of one variant.")
        @Option(help: "The folder holding the *.effnet specs.") var specs: String
        @Option(help: "The model to generate (its `model` name).") var model: String
        @Option(help: "Where to write the Swift file.") var output: String

        func run() throws {
            let plan = try reportingSpecErrors { try resolvePlan(specs: specs, model: model) }
            try writeIfChanged(ModelEmitter.emit(plan, specSources: try SpecFiles.sources(of: plan, folder: URL(fileURLWithPath: specs))), to: output)
        }
    }

    struct Registry: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate the list of variants a target links.")
        @Option(help: "Where to write the Swift file.") var output: String
        @Argument(help: "Variant module names.") var variants: [String] = []

        func run() throws {
            try writeIfChanged(RegistryEmitter.emit(variants: variants), to: output)
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a model's plan: layers, parameters, MACs, memory.")
        @Option(help: "The folder holding the *.effnet specs.") var specs: String = "Specs"
        @Argument(help: "The model name.") var model: String
        @Option(help: "Batch size for the memory plan.") var batch: Int = 1
        @Flag(help: "Print the plan as JSON.") var json = false

        func run() throws {
            let plan = try reportingSpecErrors { try resolvePlan(specs: specs, model: model) }
            print(json ? PlanReport.json(plan) : PlanReport.text(plan, batch: batch), terminator: json ? "\n" : "")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Parse, resolve and plan every spec; report all errors.")
        @Option(help: "The folder holding the *.effnet specs.") var specs: String = "Specs"

        func run() throws {
            try reportingSpecErrors {
                let library = try SpecFiles.loadLibrary(folder: URL(fileURLWithPath: specs))
                var failures: [SpecError] = []
                for name in library.modelNames {
                    do {
                        let plan = Planner.plan(try library.resolve(name))
                        print("\(name): \(PlanReport.grouped(plan.parameterCount)) parameters, "
                              + "\(String(format: "%.3f", Double(plan.macs) / 1e9)) GMACs at \(plan.resolution)")
                    } catch {
                        failures += (error as? SpecErrors)?.errors ?? []
                    }
                }
                if !failures.isEmpty { throw SpecErrors(failures) }
            }
        }
    }

    struct RefreshGenerated: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "refresh-generated",
            abstract: "Rewrite the checked-in copies in Generated/ (code and plan of every spec).")
        @Option(help: "The folder holding the *.effnet specs.") var specs: String = "Specs"
        @Option(help: "The folder for the checked-in copies.") var output: String = "Generated"

        func run() throws {
            try reportingSpecErrors {
                let library = try SpecFiles.loadLibrary(folder: URL(fileURLWithPath: specs))
                for name in library.modelNames {
                    let plan = Planner.plan(try library.resolve(name))
                    try writeIfChanged(ModelEmitter.emit(plan, specSources: try SpecFiles.sources(of: plan, folder: URL(fileURLWithPath: specs))),
                                       to: "\(output)/\(name)/\(name)+Generated.swift")
                    try writeIfChanged(PlanReport.json(plan) + "\n", to: "\(output)/\(name)/plan.json")
                    print("\(output)/\(name): \(PlanReport.grouped(plan.parameterCount)) parameters")
                }
            }
        }
    }
}
