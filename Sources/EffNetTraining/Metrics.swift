// Classification metrics: mean loss, top-1 / top-5 accuracy, confusion matrix; per-epoch summary.

import EffNetRuntime

/// Accumulates loss and accuracy over batches of logits `[N, classes]`.
public struct ClassificationMetrics: Sendable, Equatable {
    public let classes: Int
    /// Images counted.
    public private(set) var count = 0
    /// Sum over images of the per-image loss (batch mean × batch size).
    public private(set) var lossSum = 0.0
    public private(set) var top1Correct = 0
    public private(set) var top5Correct = 0
    /// `confusion[truth][prediction]`, only when `trackConfusion`.
    public private(set) var confusion: [[Int]]

    public init(classes: Int, trackConfusion: Bool = false) {
        self.classes = classes
        confusion = trackConfusion ? Array(repeating: Array(repeating: 0, count: classes), count: classes) : []
    }

    public var meanLoss: Double { count == 0 ? .nan : lossSum / Double(count) }
    public var top1: Double { count == 0 ? .nan : Double(top1Correct) / Double(count) }
    public var top5: Double { count == 0 ? .nan : Double(top5Correct) / Double(count) }

    /// Adds a batch: `logits` `[N, classes]` (row-major), its labels and its mean loss.
    /// Only the first `rows` rows are counted (default: all), for padded batches.
    public mutating func add(logits: [Float], labels: [Int], meanLoss: Double, rows: Int? = nil) {
        let n = rows ?? labels.count
        precondition(logits.count >= n * classes, "ClassificationMetrics: logits too short")
        for i in 0..<n {
            let row = logits[(i * classes)..<((i + 1) * classes)]
            let label = labels[i]
            let target = row[row.startIndex + label]
            // Rank of the true class: classes scoring strictly higher (ties favour the truth).
            let higher = row.reduce(0) { $0 + ($1 > target ? 1 : 0) }
            if higher < 1 { top1Correct += 1 }
            if higher < 5 { top5Correct += 1 }
            if !confusion.isEmpty {
                var best = row.startIndex
                for j in row.indices where row[j] > row[best] { best = j }
                confusion[label][best - row.startIndex] += 1
            }
        }
        count += n
        lossSum += meanLoss * Double(n)
    }

    /// Top-1 accuracy of one batch.
    public static func top1(logits: [Float], labels: [Int], classes: Int) -> Double {
        var metrics = ClassificationMetrics(classes: classes)
        metrics.add(logits: logits, labels: labels, meanLoss: 0)
        return metrics.top1
    }
}

/// The result of one evaluation pass.
public struct EvaluationResult: Sendable, Equatable {
    public var loss: Double
    public var top1: Double
    public var top5: Double
    public var images: Int
    /// `confusion[truth][prediction]`.
    public var confusion: [[Int]]
}

/// One row of the metrics log: what an epoch did.
public struct EpochMetrics: Sendable, Equatable {
    /// 0-based epoch index.
    public var epoch: Int
    /// Optimizer steps taken so far (after this epoch).
    public var globalStep: Int
    public var trainLoss: Double
    public var trainTop1: Double
    public var validationLoss: Double?
    public var validationTop1: Double?
    public var validationTop5: Double?
    /// Learning rate of the epoch's last step.
    public var learningRate: Double
    /// Training throughput (images trained / training seconds, validation excluded).
    public var imagesPerSecond: Double
    /// Wall time of the epoch including validation.
    public var seconds: Double
    /// Time the training steps waited for the loader's next batch (0 when the loader keeps ahead).
    public var dataWaitSeconds: Double = 0
    /// Training images used (skipped batches excluded).
    public var trainImages: Int
    /// Batches skipped (size 1, or non-finite loss).
    public var skippedBatches: Int
    public var validation: EvaluationResult?

    /// Metric names accepted by `value(named:)`, and the metrics log columns after `epoch`, `step`.
    public static let metricNames = [
        "train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "lr", "images_per_second", "seconds",
        "data_wait_seconds",
    ]

    public func value(named name: String) -> Double? {
        switch name {
        case "train_loss": return trainLoss
        case "train_top1": return trainTop1
        case "val_loss": return validationLoss
        case "val_top1": return validationTop1
        case "val_top5": return validationTop5
        case "lr": return learningRate
        case "images_per_second": return imagesPerSecond
        case "seconds": return seconds
        case "data_wait_seconds": return dataWaitSeconds
        default: return nil
        }
    }
}

/// Whether a monitored metric improves downwards (loss) or upwards (accuracy).
public enum MetricMode: String, Sendable {
    case min, max

    /// `min` for names containing "loss", else `max`.
    public static func automatic(for metric: String) -> MetricMode { metric.contains("loss") ? .min : .max }

    /// Whether `value` beats `best` by more than `minDelta`.
    public func isImprovement(_ value: Double, over best: Double?, minDelta: Double = 0) -> Bool {
        guard value.isFinite else { return false }
        guard let best else { return true }
        switch self {
        case .min: return value < best - minDelta
        case .max: return value > best + minDelta
        }
    }
}
