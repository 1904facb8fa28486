import ArgumentParser
import EffNetRuntime
import EffNetSpec

struct ListVariants: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the linked variants.")

    func run() throws {
        print("variant                 resolution  classes   parameters")
        for model in LinkedVariants.all {
            let d = model.descriptor
            let name = d.name.padding(toLength: 22, withPad: " ", startingAt: 0)
            let res = String(d.resolution).leftPadded(10)
            print("\(name)  \(res)  \(String(d.classes).leftPadded(7))  \(PlanReport.grouped(d.parameterCount).leftPadded(11))")
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
