import EffNetData
import EffNetRuntime

/// An image-folder ``BatchLoader`` as the training loop's ``BatchSource``. Batches that lost
/// images to unreadable files are delivered smaller and only empty ones are dropped (the files
/// are counted per epoch); a single-image batch goes to the loop, which skips it in training
/// (train-mode BatchNorm needs two) and pads it in validation.
public final class LoaderBatchSource: BatchSource, @unchecked Sendable {
    public let loader: BatchLoader

    public init(_ loader: BatchLoader) {
        self.loader = loader
    }

    public var batchesPerEpoch: Int { loader.batchesPerEpoch }

    public func batches(epoch: Int) -> AnySequence<(images: HostTensor, labels: [Int])> {
        AnySequence(loader.epoch(epoch).lazy.filter { $0.count > 0 }.map { (images: $0.images, labels: $0.labels) })
    }

    /// Files skipped as unreadable in an epoch (after it ran).
    public func skipped(epoch: Int) -> [SkippedFile] { loader.skippedFiles(epoch: epoch) }
}
