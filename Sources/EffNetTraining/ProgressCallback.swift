// Progress on the terminal: a live one-line bar on a TTY, plain lines otherwise (logs, CI).

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Prints progress. On a terminal (`isatty(STDOUT_FILENO)`) one line is redrawn with `\r`:
/// `epoch 3/10 [=======>      ] 12/40 loss 2.3012 acc 12.5% 45.2 img/s ETA 0:32`; each epoch
/// ends with a summary line. Elsewhere one plain line every `everyBatches` batches and one per epoch.
public final class ProgressCallback: TrainingCallback {
    public let interactive: Bool
    public let everyBatches: Int
    public let barWidth: Int
    private let write: (String) -> Void
    private var lastLength = 0

    /// `interactive` nil: decided by `isatty` on standard output. `write` defaults to standard output.
    public init(interactive: Bool? = nil, everyBatches: Int = 50, barWidth: Int = 24,
                write: ((String) -> Void)? = nil) {
        self.interactive = interactive ?? (isatty(STDOUT_FILENO) != 0)
        self.everyBatches = max(everyBatches, 1)
        self.barWidth = max(barWidth, 4)
        self.write = write ?? { text in FileHandle.standardOutput.write(Data(text.utf8)) }
    }

    public func fitStart(_ loop: any TrainingLoopControl) {
        if loop.state.epoch > 0 {
            write("resuming at epoch \(loop.state.epoch + 1)/\(loop.epochs), step \(loop.state.globalStep)\n")
        }
    }

    public func batchEnd(_ batch: BatchEnd, loop: any TrainingLoopControl) {
        let done = batch.batch + 1
        let total = max(batch.batchesPerEpoch, done)
        let rate = batch.imagesPerSecond
        let perBatch = done > 0 ? batch.epochSeconds / Double(done) : 0
        let eta = perBatch * Double(total - done)
        let stats = "loss \(Self.fixed(batch.epochLoss, 4)) acc \(Self.fixed(batch.epochTop1 * 100, 1))%"
            + " \(Self.fixed(rate, 1)) img/s"
        if interactive {
            let filled = Int(Double(barWidth) * Double(done) / Double(total))
            let bar = String(repeating: "=", count: max(filled - 1, 0)) + (filled > 0 ? (done == total ? "=" : ">") : "")
                + String(repeating: " ", count: barWidth - filled)
            var line = "epoch \(batch.epoch + 1)/\(loop.epochs) [\(bar)] \(done)/\(total) \(stats) ETA \(Self.clock(eta))"
            let pad = max(lastLength - line.count, 0)
            lastLength = line.count
            line += String(repeating: " ", count: pad)
            write("\r" + line)
        } else if done % everyBatches == 0 || done == total {
            write("epoch \(batch.epoch + 1)/\(loop.epochs) batch \(done)/\(total) \(stats) lr \(String(format: "%.4g", batch.learningRate))\n")
        }
    }

    public func nonFiniteLoss(_ event: NonFiniteLoss, loop: any TrainingLoopControl) {
        endLine()
        write("epoch \(event.epoch + 1) batch \(event.batch + 1): non-finite \(event.cause) (loss \(event.loss)), update skipped\n")
    }

    public func epochEnd(_ metrics: EpochMetrics, loop: any TrainingLoopControl) {
        endLine()
        var line = "epoch \(metrics.epoch + 1)/\(loop.epochs): train loss \(Self.fixed(metrics.trainLoss, 4))"
            + " acc \(Self.fixed(metrics.trainTop1 * 100, 2))%"
        if let loss = metrics.validationLoss, let top1 = metrics.validationTop1, let top5 = metrics.validationTop5 {
            line += " | val loss \(Self.fixed(loss, 4)) top-1 \(Self.fixed(top1 * 100, 2))% top-5 \(Self.fixed(top5 * 100, 2))%"
        }
        line += " | \(Self.fixed(metrics.imagesPerSecond, 1)) img/s"
        if metrics.seconds > 0 { line += " (\(Self.fixed(100 * metrics.dataWaitSeconds / metrics.seconds, 1))% waiting for data)" }
        line += ", lr \(String(format: "%.4g", metrics.learningRate)), \(Self.clock(metrics.seconds))"
        if metrics.skippedBatches > 0 { line += ", \(metrics.skippedBatches) batches skipped" }
        write(line + "\n")
    }

    public func fitEnd(_ summary: FitSummary, loop: any TrainingLoopControl) {
        endLine()
        if let reason = summary.stopReason { write("stopped: \(reason)\n") }
    }

    private func endLine() {
        if interactive && lastLength > 0 { write("\n") }
        lastLength = 0
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        value.isFinite ? String(format: "%.\(digits)f", value) : "\(value)"
    }

    /// `m:ss` or `h:mm:ss`.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%d:%02d", s / 60, s % 60)
    }
}
