import Foundation

/// The shared state of one epoch's iteration: workers claim sample positions in order (no
/// further than `prefetch` batches ahead of the consumer), store their results by position, and
/// the worker finishing a batch's last slot stacks it; the consumer takes batches in order.
final class EpochRun: @unchecked Sendable {
    let loader: BatchLoader
    let epoch: Int
    let order: [Int]
    let total: Int
    let batchCount: Int

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var nextPosition = 0
    private var delivered = 0
    private var cancelled = false
    private var results: [Result<PlanarImage, SkippedFile>?]
    private var remaining: [Int]
    private var ready: [Int: ImageBatch] = [:]

    init(loader: BatchLoader, epoch: Int) {
        self.loader = loader
        self.epoch = epoch
        order = loader.order(epoch: epoch)
        total = loader.samplesPerEpoch
        batchCount = loader.batchesPerEpoch
        results = Array(repeating: nil, count: total)
        remaining = (0..<batchCount).map { min(loader.batchSize, loader.samplesPerEpoch - $0 * loader.batchSize) }
    }

    private func range(ofBatch b: Int) -> Range<Int> {
        (b * loader.batchSize)..<min((b + 1) * loader.batchSize, total)
    }

    func start() {
        guard batchCount > 0 else { return }
        for k in 0..<min(loader.workers, total) {
            let thread = Thread { [self] in work() }
            thread.name = "BatchLoader worker \(k)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// A worker thread's loop.
    private func work() {
        condition.lock()
        while !cancelled && nextPosition < total {
            let p = nextPosition
            let b = p / loader.batchSize
            if b >= delivered + loader.prefetch {
                condition.wait()
                continue
            }
            nextPosition += 1
            condition.unlock()
            let result = loader.load(sample: order[p], epoch: epoch)
            condition.lock()
            results[p] = result
            remaining[b] -= 1
            if remaining[b] == 0 {
                let r = range(ofBatch: b)
                let slots = results[r].map { $0! }
                for i in r { results[i] = nil }
                condition.unlock()
                let batch = loader.assemble(epoch: epoch, index: b, order: order[r], results: slots)
                condition.lock()
                ready[b] = batch
                condition.broadcast()
            }
        }
        condition.unlock()
    }

    /// The next batch, waiting for the workers if needed; nil after the last.
    func next() -> ImageBatch? {
        condition.lock()
        defer { condition.unlock() }
        guard delivered < batchCount else { return nil }
        let b = delivered
        if loader.workers == 0 {
            let r = range(ofBatch: b)
            let slots = order[r].map { loader.load(sample: $0, epoch: epoch) }
            delivered += 1
            return loader.assemble(epoch: epoch, index: b, order: order[r], results: slots)
        }
        while ready[b] == nil { condition.wait() }
        let batch = ready.removeValue(forKey: b)!
        delivered += 1
        condition.broadcast()
        return batch
    }
}
