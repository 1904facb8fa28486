import ArgumentParser
import EffNetData
import EffNetSpec
import Foundation

/// `effnet bench --loader`: how fast the data pipeline feeds training — JPEG/PNG decoding plus the
/// training augmentation `effnet train` uses (RandomResizedCrop at the variant's resolution, flip,
/// optionally AutoAugment, normalisation) — in images/s for one or more worker counts, beside the
/// rate a training step consumes, so a stall shows before a long run does.
struct LoaderBenchmark {
    var data: URL
    var plan: ModelPlan
    var batchSize: Int
    var workerCounts: [Int]
    var autoaugment: Bool
    var epochs: Int
    var json: Bool

    func run() throws {
        let folder = try ImageFolder(root: data)
        guard folder.count > 0 else { throw ValidationError("\(data.path) has no images") }
        var augment: [any ImageTransform] = [RandomResizedCrop(plan.resolution), RandomHorizontalFlip()]
        if autoaugment { augment.append(AutoAugment(policy: .imagenet)) }
        let transform = Compose(augment).then(ToTensor(normalization: plan.inputNormalization))
        if !json {
            FileHandle.standardError.write(Data(("loader: \(folder.count) images from \(data.path), training transform at "
                + "\(plan.resolution)x\(plan.resolution)\(autoaugment ? " + AutoAugment" : ""), batch \(batchSize), "
                + "\(epochs) epoch(s) per measurement\n").utf8))
            print("workers    images/s   ms/batch")
        }
        for workers in workerCounts {
            guard workers >= 0 else { throw ValidationError("--workers must be >= 0") }
            let loader = BatchLoader(samples: folder.samples, transform: transform, batchSize: batchSize,
                                     shuffle: true, seed: 1, workers: workers, onSkip: nil)
            // One untimed epoch warms the file cache and the allocator.
            for _ in loader.epoch(0) {}
            var images = 0, batches = 0
            let start = DispatchTime.now().uptimeNanoseconds
            for epoch in 1...epochs {
                for batch in loader.epoch(epoch) {
                    images += batch.labels.count
                    batches += 1
                }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let rate = Double(images) / seconds
            if json {
                let object: [String: Any] = ["mode": "loader", "workers": workers, "batch": batchSize, "images": images,
                                             "images_per_second": rate, "autoaugment": autoaugment,
                                             "resolution": plan.resolution]
                let bytes = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: bytes, as: UTF8.self))
            } else {
                print(String(format: "%7d %11.1f %10.2f", workers, rate, 1000 * seconds / Double(max(batches, 1))))
            }
        }
    }
}
