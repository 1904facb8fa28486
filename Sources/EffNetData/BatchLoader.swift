import EffNetRuntime
import Foundation

/// Loads batches of images for training or evaluation: decodes files, applies a per-sample
/// transform, stacks the results into NCHW tensors, on worker threads that run ahead of the
/// caller.
///
///     let loader = BatchLoader(samples: folder.samples, transform: augment, batchSize: 16,
///                              shuffle: true, seed: 1)
///     for epoch in 0..<10 {
///         for batch in loader.epoch(epoch) { train(batch.images, batch.labels) }
///     }
///
/// **Order.** Each epoch visits every sample once: in `samples` order, or, with `shuffle`, in
/// a permutation drawn from `(seed, epoch)` (``order(epoch:)``). Consecutive runs of
/// `batchSize` positions form the batches; the last one may be smaller (dropped when
/// `dropLast`).
///
/// **Determinism.** A sample's random transform draws from its own generator,
/// ``generator(seed:epoch:sample:)``, keyed by the seed, the epoch and the sample's index, and
/// batches are delivered in order; so the batches are a pure function of (samples, transform,
/// batch size, shuffle, seed, epoch), whatever the worker count, prefetch depth or thread timing.
///
/// **Bad files.** A file that cannot be decoded is skipped, not fatal: its batch is just
/// smaller (it holds the images of its slots that loaded, in order) and lists the file in
/// ``ImageBatch/skipped``; `onSkip` is called (by default a warning on standard error) and the file
/// is counted in ``skippedFiles(epoch:)``. A batch whose files all failed is still delivered,
/// with zero images (`images.shape == [0, 0, 0, 0]`), so that nothing is skipped silently;
/// check `batch.count` before training on a batch. Batches are never refilled from later
/// samples (that would make the batch composition depend on which files are broken).
///
/// **Threads.** `workers` threads decode and transform samples (sample by sample, so the
/// threads share each batch) while the caller consumes earlier batches; at most `prefetch`
/// batches beyond the one the caller holds are prepared or waiting. `workers: 0` loads each
/// batch on the caller's thread when it is asked for. Every transformed sample must have the
/// same shape (a fixed crop size); a mismatch stops the program with the files involved.
/// Breaking out of an epoch loop stops its workers (after their current sample).
public final class BatchLoader: @unchecked Sendable {
    /// The per-sample transform: decoded image and the sample's generator to a CHW float image.
    public typealias SampleTransform = @Sendable (RGBImage, inout SplitMix64) -> PlanarImage

    public let samples: [ImageFolder.Sample]
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public let dropLast: Bool
    public let workers: Int
    public let prefetch: Int
    public let decodeOptions: DecodeOptions
    let transform: SampleTransform
    let onSkip: (@Sendable (SkippedFile) -> Void)?

    private let statsLock = NSLock()
    private var skippedByEpoch: [Int: [SkippedFile]] = [:]

    /// A loader over `samples` with a transform closure.
    public init(
        samples: [ImageFolder.Sample],
        transform: @escaping SampleTransform,
        batchSize: Int,
        shuffle: Bool = false,
        seed: UInt64 = 0,
        dropLast: Bool = false,
        workers: Int = 2,
        prefetch: Int = 2,
        decodeOptions: DecodeOptions = DecodeOptions(),
        onSkip: (@Sendable (SkippedFile) -> Void)? = BatchLoader.warnOnStandardError
    ) {
        precondition(batchSize > 0, "BatchLoader: batchSize must be positive, got \(batchSize)")
        precondition(workers >= 0, "BatchLoader: workers must be >= 0, got \(workers)")
        precondition(prefetch >= 1, "BatchLoader: prefetch must be >= 1, got \(prefetch)")
        self.samples = samples
        self.transform = transform
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.workers = workers
        self.prefetch = prefetch
        self.decodeOptions = decodeOptions
        self.onSkip = onSkip
    }

    /// A loader over `samples` with a ``Transform`` from ``RGBImage`` to ``PlanarImage``, e.g.
    /// `Compose([RandomResizedCrop(224), RandomHorizontalFlip()]).then(ToTensor(normalization: .imagenet))`
    /// or an ``EvalPreset``.
    public convenience init<T: Transform>(
        samples: [ImageFolder.Sample],
        transform: T,
        batchSize: Int,
        shuffle: Bool = false,
        seed: UInt64 = 0,
        dropLast: Bool = false,
        workers: Int = 2,
        prefetch: Int = 2,
        decodeOptions: DecodeOptions = DecodeOptions(),
        onSkip: (@Sendable (SkippedFile) -> Void)? = BatchLoader.warnOnStandardError
    ) where T.Input == RGBImage, T.Output == PlanarImage {
        self.init(samples: samples, transform: { image, rng in transform.apply(image, using: &rng) },
                  batchSize: batchSize, shuffle: shuffle, seed: seed, dropLast: dropLast, workers: workers,
                  prefetch: prefetch, decodeOptions: decodeOptions, onSkip: onSkip)
    }

    /// The default `onSkip`: one `warning:` line on standard error.
    public static let warnOnStandardError: @Sendable (SkippedFile) -> Void = { file in
        FileHandle.standardError.write(Data("warning: skipping \(file.reason)\n".utf8))
    }

    /// Batches in an epoch (counting the last partial batch unless `dropLast`).
    public var batchesPerEpoch: Int {
        dropLast ? samples.count / batchSize : (samples.count + batchSize - 1) / batchSize
    }

    /// Sample positions used per epoch (all samples, or whole batches only with `dropLast`).
    var samplesPerEpoch: Int { dropLast ? batchesPerEpoch * batchSize : samples.count }

    /// The sample indices of epoch `epoch` in delivery order (before `dropLast` trims the end).
    public func order(epoch: Int) -> [Int] {
        var order = Array(samples.indices)
        guard shuffle, order.count > 1 else { return order }
        var rng = SplitMix64(seed: SplitMix64.mix(seed ^ 0x5348_5546_464C_4521), stream: UInt64(truncatingIfNeeded: epoch))
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, rng.int(below: i + 1))
        }
        return order
    }

    /// The generator sample `sample` draws its random transform from in epoch `epoch`.
    public static func generator(seed: UInt64, epoch: Int, sample: Int) -> SplitMix64 {
        SplitMix64(seed: seed, stream: (UInt64(truncatingIfNeeded: epoch) << 40) ^ UInt64(truncatingIfNeeded: sample))
    }

    /// The batches of epoch `epoch` (0-based). Workers start when iteration starts; each
    /// iteration of the returned sequence loads the epoch afresh.
    public func epoch(_ epoch: Int) -> Epoch {
        precondition(epoch >= 0, "BatchLoader: negative epoch \(epoch)")
        return Epoch(loader: self, index: epoch)
    }

    /// Files skipped so far in the latest iteration of epoch `epoch` (in batch order).
    public func skippedFiles(epoch: Int) -> [SkippedFile] {
        statsLock.lock()
        defer { statsLock.unlock() }
        return skippedByEpoch[epoch] ?? []
    }

    /// Decodes and transforms one sample as the loader does in epoch `epoch`.
    public func load(sample index: Int, epoch: Int) -> Result<PlanarImage, SkippedFile> {
        let s = samples[index]
        let image: RGBImage
        do {
            image = try ImageDecoder.decode(contentsOf: s.url, options: decodeOptions)
        } catch var error as ImageDecodingError {
            error.file = s.url.path
            return .failure(SkippedFile(url: s.url, sampleIndex: index, label: s.label, reason: error.description))
        } catch {
            return .failure(SkippedFile(url: s.url, sampleIndex: index, label: s.label, reason: "\(s.url.path): \(error)"))
        }
        var rng = BatchLoader.generator(seed: seed, epoch: epoch, sample: index)
        return .success(transform(image, &rng))
    }

    // MARK: - Epochs

    /// The batches of one epoch.
    public struct Epoch: Sequence {
        public let loader: BatchLoader
        public let index: Int

        public func makeIterator() -> Iterator {
            loader.resetStatistics(epoch: index)
            return Iterator(run: EpochRun(loader: loader, epoch: index))
        }

        /// Hands out the epoch's batches in order; stops the workers when it goes away.
        public struct Iterator: IteratorProtocol {
            private let handle: RunHandle

            init(run: EpochRun) {
                handle = RunHandle(run)
            }

            public mutating func next() -> ImageBatch? {
                guard let batch = handle.run.next() else { return nil }
                handle.run.loader.record(batch)
                return batch
            }
        }
    }

    /// Owned by iterators only (workers hold the run, not this), so its end means nobody
    /// will ask for more batches.
    final class RunHandle {
        let run: EpochRun
        init(_ run: EpochRun) {
            self.run = run
            run.start()
        }
        deinit { run.cancel() }
    }

    func resetStatistics(epoch: Int) {
        statsLock.lock()
        skippedByEpoch[epoch] = []
        statsLock.unlock()
    }

    func record(_ batch: ImageBatch) {
        guard !batch.skipped.isEmpty else { return }
        statsLock.lock()
        skippedByEpoch[batch.epoch, default: []] += batch.skipped
        statsLock.unlock()
        if let onSkip { batch.skipped.forEach(onSkip) }
    }

    /// Stacks the loaded samples of one batch (in slot order) into an ``ImageBatch``.
    func assemble(epoch: Int, index: Int, order: ArraySlice<Int>, results: [Result<PlanarImage, SkippedFile>]) -> ImageBatch {
        var images: [PlanarImage] = []
        var labels: [Int] = [], indices: [Int] = [], skipped: [SkippedFile] = []
        images.reserveCapacity(results.count)
        for (sample, result) in zip(order, results) {
            switch result {
            case .success(let image):
                images.append(image)
                labels.append(samples[sample].label)
                indices.append(sample)
            case .failure(let file):
                skipped.append(file)
            }
        }
        guard let first = images.first else {
            return ImageBatch(images: HostTensor(shape: [0, 0, 0, 0], values: []), labels: [], sampleIndices: [],
                         skipped: skipped, epoch: epoch, index: index)
        }
        let shape = [first.channels, first.height, first.width]
        for (k, image) in images.enumerated() where [image.channels, image.height, image.width] != shape {
            preconditionFailure(
                "BatchLoader: the transform gave \(samples[indices[0]].url.path) shape \(shape) but "
                    + "\(samples[indices[k]].url.path) shape \([image.channels, image.height, image.width]); "
                    + "use a transform with a fixed output size (e.g. a crop)")
        }
        let per = first.values.count
        let values = [Float](unsafeUninitializedCapacity: per * images.count) { buffer, count in
            for (k, image) in images.enumerated() {
                image.values.withUnsafeBufferPointer { src in
                    (buffer.baseAddress! + k * per).initialize(from: src.baseAddress!, count: per)
                }
            }
            count = per * images.count
        }
        return ImageBatch(images: HostTensor(shape: [images.count] + shape, values: values), labels: labels,
                     sampleIndices: indices, skipped: skipped, epoch: epoch, index: index)
    }
}
