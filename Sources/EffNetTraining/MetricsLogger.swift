// Per-epoch metrics as CSV and JSON lines, rewritten atomically after every epoch.

import EffNetRuntime
import Foundation

/// Writes one row per epoch to a CSV file (with header) and/or a JSON-lines file.
///
/// Each epoch the whole file is rewritten through a temporary file and a rename (`AtomicFile`), so
/// a killed run never leaves half a line. On a resumed run (the loop's `state.epoch` > 0 at
/// `fitStart`) the rows already in the files with `epoch >= state.epoch` are dropped — the epochs
/// about to be re-run — so the log has exactly one row per epoch; a fresh run starts empty files.
///
/// Columns: `epoch` (0-based), `step`, then `EpochMetrics.metricNames`; empty (CSV) / null (JSON)
/// when a value is missing or not finite.
public final class MetricsLogger: TrainingCallback {
    public let csvURL: URL?
    public let jsonLinesURL: URL?
    private var csvRows: [String] = []
    private var jsonRows: [String] = []

    public static let columns = ["epoch", "step"] + EpochMetrics.metricNames

    public init(csv: URL? = nil, jsonLines: URL? = nil) {
        csvURL = csv
        jsonLinesURL = jsonLines
    }

    public func fitStart(_ loop: any TrainingLoopControl) {
        for url in [csvURL, jsonLinesURL].compactMap({ $0 }) { AtomicFile.removeStaleTemporaries(of: url) }
        let keepBelow = loop.state.epoch
        csvRows = keepBelow > 0 ? Self.existingRows(csvURL, keepBelow: keepBelow, epochOf: Self.csvEpoch) : []
        jsonRows = keepBelow > 0 ? Self.existingRows(jsonLinesURL, keepBelow: keepBelow, epochOf: Self.jsonEpoch) : []
        flush()
    }

    public func epochEnd(_ metrics: EpochMetrics, loop: any TrainingLoopControl) {
        csvRows.append(Self.csvRow(metrics))
        jsonRows.append(Self.jsonRow(metrics))
        flush()
    }

    /// Write failures are reported on standard error; training goes on.
    private func flush() {
        do {
            if let csvURL {
                try Self.write(([Self.columns.joined(separator: ",")] + csvRows), to: csvURL)
            }
            if let jsonLinesURL { try Self.write(jsonRows, to: jsonLinesURL) }
        } catch {
            FileHandle.standardError.write(Data("metrics log: \(error)\n".utf8))
        }
    }

    private static func write(_ lines: [String], to url: URL) throws {
        let text = lines.map { $0 + "\n" }.joined()
        try AtomicFile.write(to: url) { try $0.write(Array(text.utf8)) }
    }

    private static func values(_ metrics: EpochMetrics) -> [Double?] {
        EpochMetrics.metricNames.map { metrics.value(named: $0) }
    }

    static func csvRow(_ metrics: EpochMetrics) -> String {
        ([String(metrics.epoch), String(metrics.globalStep)]
            + values(metrics).map { $0.map { $0.isFinite ? "\($0)" : "" } ?? "" }).joined(separator: ",")
    }

    static func jsonRow(_ metrics: EpochMetrics) -> String {
        let fields = zip(columns.dropFirst(2), values(metrics)).map { name, value in
            "\"\(name)\":" + (value.map { $0.isFinite ? "\($0)" : "null" } ?? "null")
        }
        return "{" + (["\"epoch\":\(metrics.epoch)", "\"step\":\(metrics.globalStep)"] + fields).joined(separator: ",") + "}"
    }

    private static func existingRows(_ url: URL?, keepBelow: Int, epochOf: (String) -> Int?) -> [String] {
        guard let url, let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init).filter { line in
            guard let epoch = epochOf(line) else { return false }  // header, blank or malformed
            return epoch < keepBelow
        }
    }

    static func csvEpoch(_ line: String) -> Int? {
        line.split(separator: ",", omittingEmptySubsequences: false).first.flatMap { Int($0) }
    }

    static func jsonEpoch(_ line: String) -> Int? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return (object["epoch"] as? NSNumber)?.intValue
    }
}
