// Where training and validation batches come from. Abstract, so the loop does not depend on the
// image-folder loader; `ArrayBatchSource` serves in-memory tensors (tests, small data sets).

import EffNetRuntime

/// A sequence of NCHW float32 batches with their labels, one pass per epoch.
///
/// For exact resumption the order of `batches(epoch:)` must depend only on `epoch` (and the
/// source's own seed), not on how many epochs were asked for before.
public protocol BatchSource {
    /// The batches of epoch `epoch` (0-based): images `[N, C, H, W]`, `N` labels.
    func batches(epoch: Int) -> AnySequence<(images: HostTensor, labels: [Int])>
    /// Number of batches `batches(epoch:)` yields (for schedules, progress and ETA).
    var batchesPerEpoch: Int { get }
}

/// Batches cut from one in-memory image tensor `[count, C, H, W]`, optionally shuffled per epoch
/// with a seed (a permutation that depends only on `seed` and the epoch).
public struct ArrayBatchSource: BatchSource {
    public let images: HostTensor
    public let labels: [Int]
    public let batchSize: Int
    /// Shuffle seed; nil keeps the stored order.
    public let shuffleSeed: UInt64?
    /// Drop the last batch when it has fewer than `batchSize` images.
    public let dropLast: Bool

    public init(images: HostTensor, labels: [Int], batchSize: Int, shuffleSeed: UInt64? = nil, dropLast: Bool = false) {
        precondition(images.shape.count == 4, "ArrayBatchSource: images must be [N, C, H, W]")
        precondition(images.shape[0] == labels.count, "ArrayBatchSource: one label per image")
        precondition(batchSize >= 1, "ArrayBatchSource: batchSize must be >= 1")
        self.images = images
        self.labels = labels
        self.batchSize = batchSize
        self.shuffleSeed = shuffleSeed
        self.dropLast = dropLast
    }

    public var count: Int { labels.count }

    public var batchesPerEpoch: Int {
        dropLast ? count / batchSize : (count + batchSize - 1) / batchSize
    }

    /// The image order of epoch `epoch`.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<count)
        guard let shuffleSeed else { return order }
        var random = CounterRandom(seed: shuffleSeed &+ UInt64(truncatingIfNeeded: epoch) &* 0x2545_F491_4F6C_DD1D)
        // Fisher-Yates with the counter-based generator: reproducible across platforms.
        if order.count > 1 {
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                let j = Int(random.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        return order
    }

    public func batches(epoch: Int) -> AnySequence<(images: HostTensor, labels: [Int])> {
        let order = order(epoch: epoch)
        let perImage = images.shape.dropFirst().reduce(1, *)
        let shape = Array(images.shape.dropFirst())
        let batchSize = batchSize, count = count, total = batchesPerEpoch
        let images = images, labels = labels
        return AnySequence { () -> AnyIterator<(images: HostTensor, labels: [Int])> in
            var batch = 0
            return AnyIterator {
                guard batch < total else { return nil }
                let start = batch * batchSize, end = min(count, start + batchSize)
                batch += 1
                var values = [Float]()
                values.reserveCapacity((end - start) * perImage)
                var batchLabels = [Int]()
                for index in order[start..<end] {
                    values.append(contentsOf: images.values[(index * perImage)..<((index + 1) * perImage)])
                    batchLabels.append(labels[index])
                }
                return (HostTensor(shape: [end - start] + shape, values: values), batchLabels)
            }
        }
    }
}
