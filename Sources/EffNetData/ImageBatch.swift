import EffNetRuntime
import Foundation

/// A file the loader could not use (unreadable, empty, not JPEG/PNG, corrupt, truncated).
public struct SkippedFile: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file.
    public var url: URL
    /// Its index in the loader's `samples`.
    public var sampleIndex: Int
    /// Its label.
    public var label: Int
    /// Why it was skipped (the decoder's message, naming the file by path).
    public var reason: String

    public init(url: URL, sampleIndex: Int, label: Int, reason: String) {
        self.url = url
        self.sampleIndex = sampleIndex
        self.label = label
        self.reason = reason
    }

    public var description: String { reason }
}

/// One batch of a ``BatchLoader`` epoch.
public struct ImageBatch: Sendable {
    /// `[N, C, H, W]` float32 images (NCHW), N = `labels.count`.
    public var images: HostTensor
    /// The label of each image.
    public var labels: [Int]
    /// The loader's sample index of each image.
    public var sampleIndices: [Int]
    /// Files of this batch's slots that could not be loaded (not in `images`).
    public var skipped: [SkippedFile]
    /// The epoch.
    public var epoch: Int
    /// Position of the batch in its epoch (0-based).
    public var index: Int

    /// Number of images.
    public var count: Int { labels.count }
}
