import EffNetData
import EffNetRuntime
import Foundation
import XCTest

/// Collects `onSkip` calls from the loader.
final class SkipLog: @unchecked Sendable {
    private let lock = NSLock()
    private var files: [SkippedFile] = []
    var all: [SkippedFile] { lock.lock(); defer { lock.unlock() }; return files }
    func add(_ file: SkippedFile) { lock.lock(); files.append(file); lock.unlock() }
}

final class BatchLoaderTests: XCTestCase {
    /// Resize + center crop to 32, a random flip (so augmentation is visible), ToTensor.
    let transform = Compose([Resize(shorterSide: 32), CenterCrop(32), RandomHorizontalFlip()]).then(ToTensor())

    /// 12 small images: "color" (7, label 0) and "gray" (5, label 1).
    private func dataset() throws -> (TemporaryTree, ImageFolder) {
        let tree = try TemporaryTree()
        let color = ["photo.jpg", "photo444.jpg", "progressive.jpg", "rgb.png", "odd.jpg", "palette.png", "rgba.png"]
        for (i, name) in color.enumerated() { try tree.copy(name, to: "color/\(i)_\(name)") }
        let gray = ["gray.jpg", "gray.png", "gray_alpha.png", "gray.jpg", "gray.png"]
        for (i, name) in gray.enumerated() { try tree.copy(name, to: "gray/\(i)_\(name)") }
        return (tree, try ImageFolder(root: tree.root))
    }

    private func loader(_ folder: ImageFolder, batchSize: Int = 5, shuffle: Bool = false, seed: UInt64 = 1,
                        dropLast: Bool = false, workers: Int = 2, prefetch: Int = 2) -> BatchLoader {
        BatchLoader(samples: folder.samples, transform: transform, batchSize: batchSize, shuffle: shuffle, seed: seed,
                    dropLast: dropLast, workers: workers, prefetch: prefetch, onSkip: nil)
    }

    func testEveryEpochCoversEverySampleExactlyOnceInOrderWithoutShuffle() throws {
        let (tree, folder) = try dataset()
        _ = tree
        let batches = Array(loader(folder).epoch(0))
        XCTAssertEqual(batches.flatMap(\.sampleIndices), Array(0..<12))
        XCTAssertEqual(batches.map(\.index), [0, 1, 2])
        XCTAssertTrue(batches.allSatisfy { $0.skipped.isEmpty && $0.epoch == 0 })
    }

    func testEveryEpochCoversEverySampleExactlyOnceWithShuffle() throws {
        let (tree, folder) = try dataset()
        _ = tree
        let l = loader(folder, shuffle: true)
        for epoch in 0..<3 {
            let seen = Array(l.epoch(epoch)).flatMap(\.sampleIndices)
            XCTAssertEqual(seen.count, 12)
            XCTAssertEqual(seen.sorted(), Array(0..<12), "epoch \(epoch)")
            XCTAssertEqual(seen, l.order(epoch: epoch))
            XCTAssertNotEqual(seen, Array(0..<12), "epoch \(epoch) is not shuffled")
        }
    }

    func testLastPartialBatchIsDeliveredUnlessDropLast() throws {
        let (tree, folder) = try dataset()
        _ = tree
        let keep = loader(folder)
        XCTAssertEqual(keep.batchesPerEpoch, 3)
        let kept = Array(keep.epoch(0))
        XCTAssertEqual(kept.map(\.count), [5, 5, 2])
        XCTAssertEqual(kept.map(\.images.shape), [[5, 3, 32, 32], [5, 3, 32, 32], [2, 3, 32, 32]])

        let drop = loader(folder, shuffle: true, dropLast: true)
        XCTAssertEqual(drop.batchesPerEpoch, 2)
        let dropped = Array(drop.epoch(0))
        XCTAssertEqual(dropped.map(\.count), [5, 5])
        XCTAssertEqual(dropped.flatMap(\.sampleIndices), Array(drop.order(epoch: 0).prefix(10)))

        XCTAssertEqual(loader(folder, batchSize: 4).batchesPerEpoch, 3)
        XCTAssertEqual(loader(folder, batchSize: 4, dropLast: true).batchesPerEpoch, 3)
        XCTAssertEqual(loader(folder, batchSize: 20, dropLast: true).batchesPerEpoch, 0)
        XCTAssertEqual(Array(loader(folder, batchSize: 20, dropLast: true).epoch(0)).count, 0)
        XCTAssertEqual(Array(loader(folder, batchSize: 20).epoch(0)).map(\.count), [12])
    }

    func testBatchesAreIdenticalAcrossRunsWorkerCountsAndPrefetchDepths() throws {
        let (tree, folder) = try dataset()
        _ = tree
        func run(workers: Int, prefetch: Int) -> [[Float]] {
            let l = loader(folder, batchSize: 3, shuffle: true, seed: 9, workers: workers, prefetch: prefetch)
            return (0..<2).flatMap { e in Array(l.epoch(e)).map { $0.images.values + $0.labels.map(Float.init) } }
        }
        let reference = run(workers: 1, prefetch: 2)
        XCTAssertEqual(reference.count, 8)
        XCTAssertEqual(run(workers: 1, prefetch: 2), reference, "same settings, second run")
        XCTAssertEqual(run(workers: 2, prefetch: 2), reference, "2 workers")
        XCTAssertEqual(run(workers: 3, prefetch: 1), reference, "3 workers, prefetch 1")
        XCTAssertEqual(run(workers: 2, prefetch: 4), reference, "2 workers, prefetch 4")
        XCTAssertEqual(run(workers: 0, prefetch: 1), reference, "synchronous")
    }

    func testShuffleAndAugmentationDifferBetweenEpochsButNotBetweenRuns() throws {
        let (tree, folder) = try dataset()
        _ = tree
        let l = loader(folder, shuffle: true, seed: 5)
        XCTAssertNotEqual(l.order(epoch: 0), l.order(epoch: 1))
        XCTAssertEqual(l.order(epoch: 1), loader(folder, shuffle: true, seed: 5).order(epoch: 1))
        XCTAssertNotEqual(l.order(epoch: 1), loader(folder, shuffle: true, seed: 6).order(epoch: 1))
        XCTAssertEqual(loader(folder).order(epoch: 3), Array(0..<12), "no shuffle: dataset order")

        // The same sample is augmented differently in different epochs (random flips of 12 images).
        let plain = loader(folder, batchSize: 12)
        let e0 = try XCTUnwrap(Array(plain.epoch(0)).first), e1 = try XCTUnwrap(Array(plain.epoch(1)).first)
        XCTAssertEqual(e0.sampleIndices, e1.sampleIndices)
        XCTAssertNotEqual(e0.images.values, e1.images.values)
        // ... and each sample's augmentation does not depend on the batch it lands in.
        let single = try XCTUnwrap(try XCTUnwrap(Array(loader(folder, batchSize: 1).epoch(1)))[4].images.values)
        XCTAssertEqual(Array(e1.images.values[(4 * 3072)..<(5 * 3072)]), single)
        guard case .success(let image) = plain.load(sample: 4, epoch: 1) else { return XCTFail("sample 4 failed") }
        XCTAssertEqual(image.values, single)
    }

    func testLabelsMatchTheClassOfEachImage() throws {
        let (tree, folder) = try dataset()
        _ = tree
        for batch in loader(folder, batchSize: 4, shuffle: true).epoch(0) {
            XCTAssertEqual(batch.labels, batch.sampleIndices.map { folder.samples[$0].label })
            let plane = 32 * 32
            for (k, label) in batch.labels.enumerated() {
                let image = Array(batch.images.values[(k * 3 * plane)..<((k + 1) * 3 * plane)])
                let r = image[0..<plane], g = image[plane..<(2 * plane)]
                // The "gray" class (label 1) has equal channels; the colour photos do not.
                XCTAssertEqual(Array(r) == Array(g), label == 1, "sample \(batch.sampleIndices[k]) label \(label)")
                XCTAssertTrue(image.allSatisfy { $0 >= 0 && $0 <= 1 })
            }
        }
    }

    func testCorruptEmptyAndNonImageFilesAreSkippedReportedAndCounted() throws {
        let tree = try TemporaryTree()
        try tree.copy("photo.jpg", to: "a/a1.jpg")        // 0
        try tree.file("a/b_zero.jpg", Data())               // 1: zero bytes
        try tree.copy("garbage.jpg", to: "a/c_corrupt.jpg") // 2: JPEG header, corrupt data
        try tree.copy("text.png", to: "a/d_text.png")       // 3: text named .png
        try tree.copy("truncated.jpg", to: "a/e_cut.jpg")   // 4: truncated JPEG
        try tree.copy("rgb.png", to: "a/f.png")             // 5
        try tree.copy("gray.jpg", to: "b/x.jpg")            // 6
        try tree.copy("gray.png", to: "b/y.png")            // 7
        let folder = try ImageFolder(root: tree.root)
        XCTAssertEqual(folder.count, 8)

        for workers in [0, 2] {
            let log = SkipLog()
            let l = BatchLoader(samples: folder.samples, transform: transform, batchSize: 3, workers: workers,
                                onSkip: { log.add($0) })
            let batches = Array(l.epoch(0))
            // Batches keep their slots: a bad file makes its batch smaller, never pulls in later samples.
            XCTAssertEqual(batches.map(\.count), [1, 1, 2])
            XCTAssertEqual(batches.map(\.sampleIndices), [[0], [5], [6, 7]])
            XCTAssertEqual(batches.map { $0.skipped.map(\.sampleIndex) }, [[1, 2], [3, 4], []])
            XCTAssertEqual(batches.map(\.labels), [[0], [0], [1, 1]])
            XCTAssertEqual(batches[0].images.shape, [1, 3, 32, 32])
            let reasons = batches.flatMap(\.skipped).map(\.reason)
            XCTAssertTrue(reasons[0].contains("b_zero.jpg") && reasons[0].contains("empty"), reasons[0])
            XCTAssertTrue(reasons[1].contains("c_corrupt.jpg") && reasons[1].contains("corrupt"), reasons[1])
            XCTAssertTrue(reasons[2].contains("d_text.png") && reasons[2].contains("not a JPEG or PNG"), reasons[2])
            XCTAssertTrue(reasons[3].contains("e_cut.jpg") && reasons[3].contains("truncated"), reasons[3])
            XCTAssertEqual(l.skippedFiles(epoch: 0).map(\.sampleIndex), [1, 2, 3, 4])
            XCTAssertEqual(log.all.map(\.sampleIndex), [1, 2, 3, 4])
            XCTAssertEqual(l.skippedFiles(epoch: 1), [])

            // A batch of only bad files is still delivered (empty), so the skips are reported.
            let pairs = Array(BatchLoader(samples: folder.samples, transform: transform, batchSize: 2, workers: workers,
                                          onSkip: nil).epoch(2))
            XCTAssertEqual(pairs.map(\.count), [1, 0, 1, 2])
            XCTAssertEqual(pairs[1].images.shape, [0, 0, 0, 0])
            XCTAssertEqual(pairs[1].skipped.map(\.sampleIndex), [2, 3])
        }

        // With shuffling every good file still comes exactly once and every bad one is counted once.
        let shuffled = BatchLoader(samples: folder.samples, transform: transform, batchSize: 3, shuffle: true,
                                   seed: 3, onSkip: nil)
        let batches = Array(shuffled.epoch(1))
        XCTAssertEqual(batches.flatMap(\.sampleIndices).sorted(), [0, 5, 6, 7])
        XCTAssertEqual(shuffled.skippedFiles(epoch: 1).map(\.sampleIndex).sorted(), [1, 2, 3, 4])
    }

    func testLeavingAnEpochEarlyStopsItsWorkersAndLaterEpochsStillWork() throws {
        let (tree, folder) = try dataset()
        _ = tree
        let l = loader(folder, batchSize: 2, shuffle: true, workers: 2, prefetch: 1)
        for batch in l.epoch(0) {
            XCTAssertEqual(batch.index, 0)
            break
        }
        var iterator = l.epoch(1).makeIterator()
        _ = iterator.next()
        iterator = l.epoch(2).makeIterator()  // abandons epoch 1 mid-way
        XCTAssertEqual(Array(l.epoch(0)).flatMap(\.sampleIndices), l.order(epoch: 0))
        XCTAssertEqual(iterator.next()?.index, 0)
    }

    func testTransformCanBeAClosureAndEvalPresetFits() throws {
        let (tree, folder) = try dataset()
        _ = tree
        let closure = BatchLoader(samples: folder.samples, transform: { image, _ in
            ToTensor().apply(image.resized(width: 8, height: 8, filter: .bilinear))
        }, batchSize: 12, onSkip: nil)
        XCTAssertEqual(Array(closure.epoch(0)).first?.images.shape, [12, 3, 8, 8])
        let eval = BatchLoader(samples: folder.samples, transform: EvalPreset(resize: 36, crop: 32, normalization: .imagenet),
                               batchSize: 6, onSkip: nil)
        let batch = try XCTUnwrap(Array(eval.epoch(0)).first)
        XCTAssertEqual(batch.images.shape, [6, 3, 32, 32])
        let single = try EvalPreset(resize: 36, crop: 32, normalization: .imagenet).preprocess(contentsOf: folder.samples[2].url)
        XCTAssertEqual(Array(batch.images.values[(2 * 3072)..<(3 * 3072)]), single.values)
    }
}
