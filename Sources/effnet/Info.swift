import ArgumentParser
import EffNetSpec

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a variant's layers, parameters, MACs and memory plan.")

    @Argument(help: "The variant, e.g. EfficientNetB0 or b0.") var variant: String
    @Option(help: "Batch size for the memory plan.") var batch: Int = 1
    @Flag(help: "Print the full plan as JSON (the schema Tools/ scripts read).") var json = false
    @Flag(help: "Only the summary, no layer table.") var summary = false

    func run() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        let plan = try VariantLookup.plan(of: try VariantLookup.find(variant))
        if json {
            print(PlanReport.json(plan))
        } else {
            print(PlanReport.text(plan, batch: batch, layers: !summary), terminator: "")
        }
    }
}
