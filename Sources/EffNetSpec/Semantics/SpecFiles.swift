import Foundation

/// A spec file's text. The generated code embeds the spec of a variant (and its bases) so that
/// the `effnet` tool can re-plan a linked variant exactly as the generator did.
public struct SpecSource: Sendable {
    public var file: String
    public var text: String

    public init(file: String, text: String) {
        self.file = file
        self.text = text
    }
}

/// Reading spec files from disk: the only file I/O in this library.
public enum SpecFiles {
    /// Parses every `*.effnet` file in a folder. File names in errors are relative to the folder's
    /// parent (`Specs/EfficientNetB0.effnet`), as a user sees them in the repository.
    public static func loadLibrary(folder: URL) throws(SpecErrors) -> SpecLibrary {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
                .filter { $0.hasSuffix(".effnet") }.sorted()
        } catch {
            throw SpecErrors([SpecError(.unreadableFile, at: SourceLocation(file: folder.path, line: 1, column: 1),
                                        "cannot read the spec folder: \(error.localizedDescription)")])
        }
        var documents: [SpecDocument] = []
        var errors: [SpecError] = []
        for name in names {
            let display = "\(folder.lastPathComponent)/\(name)"
            do {
                let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                documents.append(try SpecParser.parse(text, file: display))
            } catch let parseErrors as SpecErrors {
                errors += parseErrors.errors
            } catch {
                errors.append(SpecError(.unreadableFile, at: SourceLocation(file: display, line: 1, column: 1),
                                        "cannot read the spec: \(error.localizedDescription)"))
            }
        }
        if !errors.isEmpty { throw SpecErrors(errors) }
        return try SpecLibrary(documents: documents)
    }

    /// The text of a plan's spec file and its bases, nearest first.
    public static func sources(of plan: ModelPlan, folder: URL) throws -> [SpecSource] {
        try ([plan.source] + plan.baseChain).map { file in
            let name = URL(fileURLWithPath: file).lastPathComponent
            return SpecSource(file: file, text: try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
        }
    }
}
