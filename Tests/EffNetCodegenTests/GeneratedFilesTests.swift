import EffNetCodegen
import EffNetSpec
import Foundation
import XCTest

/// The reviewed copies in Generated/ are exactly what the generator emits today. When this fails,
/// the generator or a spec changed: run `swift run effnet-gen refresh-generated` and review the diff.
final class GeneratedFilesTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let specs = root.appendingPathComponent("Specs")
    static let generated = root.appendingPathComponent("Generated")

    func testGeneratedCopiesMatchTheGenerator() throws {
        let library = try SpecFiles.loadLibrary(folder: Self.specs)
        XCTAssertFalse(library.modelNames.isEmpty)
        for name in library.modelNames {
            let plan = Planner.plan(try library.resolve(name))
            let code = ModelEmitter.emit(plan, specSources: try SpecFiles.sources(of: plan, folder: Self.specs))
            let folder = Self.generated.appendingPathComponent(name)
            let committedCode = try? String(contentsOf: folder.appendingPathComponent("\(name)+Generated.swift"), encoding: .utf8)
            let committedPlan = try? String(contentsOf: folder.appendingPathComponent("plan.json"), encoding: .utf8)
            XCTAssertTrue(committedCode == code,
                          "Generated/\(name)/\(name)+Generated.swift is stale: run `swift run effnet-gen refresh-generated`")
            XCTAssertTrue(committedPlan == PlanReport.json(plan) + "\n",
                          "Generated/\(name)/plan.json is stale: run `swift run effnet-gen refresh-generated`")
        }
    }

    func testEveryVariantInGeneratedHasASpec() throws {
        let library = try SpecFiles.loadLibrary(folder: Self.specs)
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.generated.path).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(Set(folders), Set(library.modelNames), "Generated/ has a folder per spec, no leftovers")
    }
}
