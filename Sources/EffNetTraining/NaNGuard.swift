// Stops a run on a non-finite loss or gradient.

/// Requests a stop when a step's loss, gradient or input is not finite (more than `tolerance`
/// times in the run). The loop has already skipped the update, so weights are the last good ones,
/// the epoch does not end, and no checkpoint is written over the last good one.
public final class NaNGuard: TrainingCallback {
    /// Non-finite steps allowed (skipped) before stopping; 0 stops at the first.
    public let tolerance: Int
    public private(set) var events: [NonFiniteLoss] = []

    public init(tolerance: Int = 0) {
        precondition(tolerance >= 0, "NaNGuard: tolerance must be >= 0")
        self.tolerance = tolerance
    }

    public var tripped: Bool { events.count > tolerance }

    public func nonFiniteLoss(_ event: NonFiniteLoss, loop: any TrainingLoopControl) {
        events.append(event)
        if events.count > tolerance {
            loop.requestStop(reason: "non-finite \(event.cause) (loss \(event.loss)) at epoch \(event.epoch), batch"
                             + " \(event.batch), step \(event.globalStep)")
        }
    }
}
