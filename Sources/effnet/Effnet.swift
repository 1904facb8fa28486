import ArgumentParser

/// `effnet`: run, inspect and benchmark the EfficientNet variants compiled into this tool.
@main
struct Effnet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "effnet",
        abstract: "EfficientNet models compiled from specs: inspect, run and benchmark them.",
        discussion: "Variants are the specs in Specs/ listed in Package.swift; `effnet list` shows them.",
        subcommands: [ListVariants.self, Info.self, Infer.self, Predict.self, Train.self, Evaluate.self, Grad.self, Bench.self,
                      PrepareWeights.self]
    )
}
