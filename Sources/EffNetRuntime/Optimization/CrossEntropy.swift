// Softmax cross-entropy with label smoothing, forward and backward in one pass.

import Foundation

/// A batch the loss cannot be computed for.
public enum CrossEntropyError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `labels[index]` is outside `0..<classes`.
    case labelOutOfRange(index: Int, label: Int, classes: Int)
    /// `logits[sample, class]` is NaN or infinite.
    case nonFiniteLogit(sample: Int, classIndex: Int, value: Float)
    /// No samples, no classes, or a smoothing outside [0, 1].
    case invalidArguments(String)

    public var description: String {
        switch self {
        case .labelOutOfRange(let index, let label, let classes):
            return "cross-entropy: label \(label) of sample \(index) is outside 0..<\(classes)"
        case .nonFiniteLogit(let sample, let classIndex, let value):
            return "cross-entropy: logit [\(sample), \(classIndex)] is \(value); the forward pass diverged"
        case .invalidArguments(let reason):
            return "cross-entropy: \(reason)"
        }
    }
}

/// Mean softmax cross-entropy over a batch, PyTorch `CrossEntropyLoss(label_smoothing: ε)`:
/// the target of a sample with label y is `(1-ε)·onehot(y) + ε/K`, and
/// `loss = mean_b( logsumexp(x_b) - Σ_k target_bk · x_bk )`.
/// Logits are `[batch, classes]` row-major; sums run in Double.
public enum CrossEntropy {
    /// The loss, and `gradLogits = (softmax(x) - target) / batch` (overwritten). Validates labels
    /// and logits first: on error nothing is written.
    public static func forwardBackward(
        logits: UnsafePointer<Float>, labels: [Int], classes: Int, labelSmoothing: Double,
        gradLogits: UnsafeMutablePointer<Float>
    ) throws -> Double {
        try validate(logits: logits, labels: labels, classes: classes, labelSmoothing: labelSmoothing)
        let batch = labels.count
        let offTarget = labelSmoothing / Double(classes)
        let onTarget = 1 - labelSmoothing + offTarget
        let scale = 1 / Double(batch)
        var total = 0.0
        for b in 0..<batch {
            let row = logits + b * classes
            let grad = gradLogits + b * classes
            let (maximum, sumExp) = rowStatistics(row, classes)
            total += rowLoss(row, classes, label: labels[b], maximum: maximum, sumExp: sumExp,
                             labelSmoothing: labelSmoothing)
            let inverseSum = 1 / sumExp
            for k in 0..<classes {
                let probability = exp(Double(row[k]) - maximum) * inverseSum
                let target = k == labels[b] ? onTarget : offTarget
                grad[k] = Float((probability - target) * scale)
            }
        }
        return total * scale
    }

    /// The loss only.
    public static func loss(
        logits: UnsafePointer<Float>, labels: [Int], classes: Int, labelSmoothing: Double
    ) throws -> Double {
        try validate(logits: logits, labels: labels, classes: classes, labelSmoothing: labelSmoothing)
        var total = 0.0
        for b in 0..<labels.count {
            let row = logits + b * classes
            let (maximum, sumExp) = rowStatistics(row, classes)
            total += rowLoss(row, classes, label: labels[b], maximum: maximum, sumExp: sumExp,
                             labelSmoothing: labelSmoothing)
        }
        return total / Double(labels.count)
    }

    /// Array convenience: `logits.count` must be `labels.count · classes`.
    public static func forwardBackward(
        logits: [Float], labels: [Int], classes: Int, labelSmoothing: Double, gradLogits: inout [Float]
    ) throws -> Double {
        guard logits.count == labels.count * classes else {
            throw CrossEntropyError.invalidArguments(
                "\(logits.count) logits for \(labels.count) samples of \(classes) classes")
        }
        if gradLogits.count != logits.count { gradLogits = [Float](repeating: 0, count: logits.count) }
        return try logits.withUnsafeBufferPointer { x in
            try gradLogits.withUnsafeMutableBufferPointer { g in
                try forwardBackward(
                    logits: x.baseAddress!, labels: labels, classes: classes, labelSmoothing: labelSmoothing,
                    gradLogits: g.baseAddress!)
            }
        }
    }

    private static func validate(
        logits: UnsafePointer<Float>, labels: [Int], classes: Int, labelSmoothing: Double
    ) throws {
        guard !labels.isEmpty, classes > 0 else {
            throw CrossEntropyError.invalidArguments("needs at least one sample and one class")
        }
        guard labelSmoothing >= 0, labelSmoothing <= 1 else {
            throw CrossEntropyError.invalidArguments("label smoothing \(labelSmoothing) is outside [0, 1]")
        }
        for (index, label) in labels.enumerated() where !(0..<classes).contains(label) {
            throw CrossEntropyError.labelOutOfRange(index: index, label: label, classes: classes)
        }
        for i in 0..<(labels.count * classes) where !logits[i].isFinite {
            throw CrossEntropyError.nonFiniteLogit(sample: i / classes, classIndex: i % classes, value: logits[i])
        }
    }

    /// Row maximum and Σ exp(x - max).
    @inline(__always)
    private static func rowStatistics(_ row: UnsafePointer<Float>, _ classes: Int) -> (Double, Double) {
        var maximum = -Double.infinity
        for k in 0..<classes { maximum = max(maximum, Double(row[k])) }
        var sumExp = 0.0
        for k in 0..<classes { sumExp += exp(Double(row[k]) - maximum) }
        return (maximum, sumExp)
    }

    /// `logsumexp - (1-ε)·x_y - (ε/K)·Σx`.
    @inline(__always)
    private static func rowLoss(
        _ row: UnsafePointer<Float>, _ classes: Int, label: Int, maximum: Double, sumExp: Double,
        labelSmoothing: Double
    ) -> Double {
        let logSumExp = maximum + log(sumExp)
        var loss = logSumExp - (1 - labelSmoothing) * Double(row[label])
        if labelSmoothing != 0 {
            var sum = 0.0
            for k in 0..<classes { sum += Double(row[k]) }
            loss -= labelSmoothing / Double(classes) * sum
        }
        return loss
    }
}
