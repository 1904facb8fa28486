import Foundation
import XCTest

/// Runs the `effnet` command-line tool that `swift test` builds next to the test bundle, the way a
/// user runs it: as a separate process, from the package root.
struct EffnetCommand {
    /// The package root (these tests' fixtures and the bundled data are addressed from it).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `effnet` executable: `EFFNET_BINARY` when set, else beside the test bundle
    /// (`swift test` builds every product of the package into the same folder).
    static func executable() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["EFFNET_BINARY"] {
            return URL(fileURLWithPath: path)
        }
        var folders = Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        folders.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for folder in folders {
            let candidate = folder.appendingPathComponent("effnet")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw NotBuilt(searched: folders.map(\.path))
    }

    struct NotBuilt: Error, CustomStringConvertible {
        let searched: [String]
        var description: String {
            "the effnet executable is not built (searched \(searched.joined(separator: ", "))); "
                + "run `swift build -c release` or set EFFNET_BINARY"
        }
    }

    /// Output of a finished run.
    struct Result {
        var status: Int32
        var output: String
    }

    /// Runs `effnet arguments...` to completion; standard output and error are captured together.
    static func run(_ arguments: [String]) throws -> Result {
        let process = try start(arguments, log: nil)
        process.process.waitUntilExit()
        defer { try? FileManager.default.removeItem(at: process.log) }  // its own temporary log
        return Result(status: process.process.terminationStatus, output: try process.output())
    }

    /// A running `effnet`, its output going to a file that can be read while it runs.
    struct Running {
        let process: Process
        let log: URL

        func output() throws -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    }

    static func start(_ arguments: [String], log: URL?) throws -> Running {
        let logURL = log ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("effnet-cli-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return Running(process: process, log: logURL)
    }
}
