// Build-tool plugin: thin by design. It only decides which spec files a target depends on and
// runs `effnet-gen`; all the compiling happens in the generator (Sources/effnet-gen).
//
// - A variant target `X` (one with Specs/X.effnet) gets `X+Generated.swift`: the whole model.
// - Any other target it is applied to (the `effnet` tool) gets `LinkedVariants+Generated.swift`,
//   a registry of the variant targets it depends on, so the tool lists exactly what it links.
import Foundation
import PackagePlugin

@main
struct EffNetGeneratorPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let generator = try context.tool(named: "effnet-gen").url
        let specsFolder = context.package.directoryURL.appending(path: "Specs")
        // Every spec is an input: a variant may name another as its `base`, and the generator
        // checks that model names are unique. The generator rewrites its output only when the
        // text changes, so an edit to one spec recompiles only the variants it affects.
        let allSpecs = try FileManager.default
            .contentsOfDirectory(at: specsFolder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "effnet" }
            .sorted { $0.path < $1.path }
        let ownSpec = specsFolder.appending(path: "\(target.name).effnet")

        if FileManager.default.fileExists(atPath: ownSpec.path) {
            let output = context.pluginWorkDirectoryURL.appending(path: "\(target.name)+Generated.swift")
            return [
                .buildCommand(
                    displayName: "Generating \(target.name) from Specs/\(target.name).effnet",
                    executable: generator,
                    arguments: ["model", "--specs", specsFolder.path, "--model", target.name,
                                "--output", output.path],
                    inputFiles: allSpecs,
                    outputFiles: [output]
                ),
            ]
        }

        // Registry mode: the variants this target links, in dependency order.
        let linkedVariants = target.recursiveTargetDependencies
            .map(\.name)
            .filter { FileManager.default.fileExists(atPath: specsFolder.appending(path: "\($0).effnet").path) }
        let output = context.pluginWorkDirectoryURL.appending(path: "LinkedVariants+Generated.swift")
        return [
            .buildCommand(
                displayName: "Generating the registry of linked variants for \(target.name)",
                executable: generator,
                arguments: ["registry", "--output", output.path] + linkedVariants,
                inputFiles: [],
                outputFiles: [output]
            ),
        ]
    }
}
