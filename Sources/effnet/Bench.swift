import ArgumentParser
import EffNetRuntime
import Foundation

/// Release-build inference benchmark: latency at a batch size (median and p90 after warm-up),
/// throughput, peak RSS and achieved MACs/s.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmark inference of a variant.")

    @Option(help: "The variant, e.g. EfficientNetB0.") var variant: String = "EfficientNetB0"
    @Option(parsing: .upToNextOption, help: "Batch sizes to measure, e.g. --batch 1 16.") var batch: [Int] = [1]
    @Option(help: "Timed runs per batch size.") var iterations: Int = 30
    @Option(help: "Untimed warm-up runs per batch size.") var warmup: Int = 3
    @Option(help: "Weights (.safetensors); default: synthetic weights (speed does not depend on values).")
    var weights: String?
    @Flag(help: "Print one JSON object per batch size instead of a table.") var json = false
    @Flag(help: "Benchmark training steps (train-mode forward, loss, backward, SGD update) instead of inference.")
    var train = false
    @Flag(help: "Benchmark the data loader (decode + training augmentation of --data) instead of the model.")
    var loader = false
    @Option(help: "Image folder for --loader (default: the bundled Data/digits/train).") var data: String = "Data/digits/train"
    @Option(parsing: .upToNextOption, help: "Loader worker counts to measure with --loader.") var workers: [Int] = [1, 2]
    @Flag(help: "With --loader: add AutoAugment (ImageNet policy) to the augmentation.") var autoaugment = false
    @OptionGroup var threading: ThreadOptions

    func run() throws {
        guard iterations >= 1, warmup >= 0 else { throw ValidationError("--iterations must be >= 1, --warmup >= 0") }
        if train { return try runTraining() }
        if loader {
            let plan = try VariantLookup.plan(of: try VariantLookup.find(variant))
            return try LoaderBenchmark(data: URL(fileURLWithPath: data), plan: plan, batchSize: batch.first ?? 16,
                                       workerCounts: workers, autoaugment: autoaugment, epochs: 1, json: json).run()
        }
        let model = try VariantLookup.find(variant)
        let d = model.descriptor
        let store = try weightStore()
        let pool = try threading.pool()
        let network = try model.init(weights: store, pool: pool)
        let macs = try VariantLookup.plan(of: model).macs
        if !json {
            let header = "\(d.name) at \(d.resolution)x\(d.resolution), \(pool.threadCount) threads, "
                + "\(iterations) runs after \(warmup) warm-up\n"
            FileHandle.standardError.write(Data(header.utf8))
            print("batch   median ms     p90 ms    images/s   GMAC/s   peak RSS")
        }
        for n in batch {
            guard n >= 1 else { throw ValidationError("batch sizes must be at least 1") }
            let input = benchmarkInput(n * d.inputChannels * d.resolution * d.resolution)
            var logits = [Float](repeating: 0, count: n * d.classes)
            let (median, p90) = input.withUnsafeBufferPointer { x in
                logits.withUnsafeMutableBufferPointer { y in
                    timeRuns(warmup: warmup, iterations: iterations) {
                        network.forward(input: x.baseAddress!, batch: n, logits: y.baseAddress!)
                    }
                }
            }
            let imagesPerSecond = Double(n) / (median / 1000)
            let gmacs = Double(macs) * imagesPerSecond / 1e9
            let rss = PeakMemory.residentBytes()
            if json {
                let object: [String: Any] = [
                    "variant": d.name, "batch": n, "threads": pool.threadCount, "median_ms": median, "p90_ms": p90,
                    "images_per_second": imagesPerSecond, "gmacs_per_second": gmacs, "peak_rss_bytes": rss,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "%5d %11.2f %10.2f %11.1f %8.1f %7.0f MB", n, median, p90, imagesPerSecond, gmacs,
                             Double(rss) / 1e6))
            }
        }
    }

    /// --weights, or synthetic weights: speed does not depend on the values.
    func weightStore() throws -> any WeightStore {
        try weights.map { try SafeTensorsFile(contentsOf: URL(fileURLWithPath: $0)) } ?? SyntheticWeights(seed: 1)
    }

    /// Training throughput: each timed run is one full step (forward, loss, backward, SGD with
    /// momentum) at the batch size, with dropout and stochastic depth on.
    func runTraining() throws {
        let model = try VariantLookup.training(variant)
        let d = model.descriptor
        let store = try weightStore()
        let pool = try threading.pool()
        let network = try model.init(weights: store, pool: pool)
        let sgd = SGD(momentum: 0.9)
        let groups = [ParameterGroup(slots: model.trainingDescriptor.parameterSlots, weightDecay: 1e-5)]
        if !json {
            FileHandle.standardError.write(Data("\(d.name) training at \(d.resolution)x\(d.resolution), \(pool.threadCount) threads\n".utf8))
            print("batch   median ms     p90 ms    images/s   peak RSS")
        }
        for n in batch {
            guard n >= 2 else { throw ValidationError("training batches need at least 2 images") }
            let input = benchmarkInput(n * d.inputChannels * d.resolution * d.resolution)
            let labels = (0..<n).map { $0 % d.classes }
            var logits = [Float](repeating: 0, count: n * d.classes)
            let (median, p90) = try input.withUnsafeBufferPointer { x in
                try logits.withUnsafeMutableBufferPointer { y in
                    try timeRuns(warmup: warmup, iterations: iterations) {
                        _ = try network.trainStep(input: x.baseAddress!, labels: labels, batch: n, options: TrainingOptions(),
                                                  logits: y.baseAddress!)
                        sgd.step(parameters: network.parameters, gradients: network.gradients, groups: groups, learningRate: 0.01)
                    }
                }
            }
            let rss = PeakMemory.residentBytes()
            if json {
                let object: [String: Any] = [
                    "variant": d.name, "batch": n, "threads": pool.threadCount, "mode": "train", "median_ms": median,
                    "p90_ms": p90, "images_per_second": Double(n) / (median / 1000), "peak_rss_bytes": rss,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "%5d %11.1f %10.1f %11.1f %7.0f MB", n, median, p90, Double(n) / (median / 1000),
                             Double(rss) / 1e6))
            }
        }
    }
}

/// Median and p90 of `iterations` timed runs after `warmup` untimed ones, in milliseconds.
func timeRuns(warmup: Int, iterations: Int, _ body: () throws -> Void) rethrows -> (median: Double, p90: Double) {
    var times: [Double] = []
    for run in 0..<(warmup + iterations) {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        if run >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
    }
    times.sort()
    return (times[times.count / 2], times[min(times.count - 1, Int(Double(times.count) * 0.9))])
}

/// A deterministic benchmark batch (values do not affect speed).
func benchmarkInput(_ count: Int) -> [Float] {
    (0..<count).map { Float(($0 &* 7919) % 255) / 128 - 1 }
}

enum PeakMemory {
    /// Peak resident set size (VmHWM) of this process, from /proc on Linux; 0 where unavailable.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
