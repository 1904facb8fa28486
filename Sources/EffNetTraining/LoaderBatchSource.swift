import EffNetData
import EffNetRuntime

/// An image-folder ``BatchLoader`` as the training loop's ``BatchSource``. Batches that lost
/// images to unreadable files are delivered smaller; batches left with fewer than 2 images are
/// dropped (train-mode BatchNorm needs two), and every drop is counted per epoch.
public final class LoaderBatchSource: BatchSource, @unchecked Sendable {
    public let loader: BatchLoader

    public init(_ loader: BatchLoader) {
        self.loader = loader
    }

    public var batchesPerEpoch: Int { loader.batchesPerEpoch }

    public func batches(epoch: Int) -> AnySequence<(images: HostTensor, labels: [Int])> {
        AnySequence(loader.epoch(epoch).lazy.filter { $0.count >= 2 }.map { (images: $0.images, labels: $0.labels) })
    }

    /// Files skipped as unreadable in an epoch (after it ran).
    public func skipped(epoch: Int) -> [SkippedFile] { loader.skippedFiles(epoch: epoch) }
}
