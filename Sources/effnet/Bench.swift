import ArgumentParser
import EffNetRuntime
import Foundation

/// Release-build inference benchmark: latency at a batch size (median and p90 after warm-up),
/// throughput, peak RSS and achieved MACs/s, also as a share of the machine's measured FMA peak
/// (`MachinePeak`); with `--profile`, the time and GFLOP/s of every generated layer (kernel call).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmark inference of a variant.")

    @Option(help: "The variant, e.g. EfficientNetB0.") var variant: String = "EfficientNetB0"
    @Option(parsing: .upToNextOption, help: "Batch sizes to measure, e.g. --batch 1 16.") var batch: [Int] = [1]
    @Option(help: "Timed runs per batch size.") var iterations: Int = 30
    @Option(help: "Untimed warm-up runs per batch size.") var warmup: Int = 3
    @Option(help: "Weights (.safetensors, or prepared by effnet prepare-weights); default: synthetic weights (speed does not depend on values).")
    var weights: String?
    @OptionGroup var release: WeightReleaseOption
    @Flag(help: "Print one JSON object per batch size instead of a table.") var json = false
    @Flag(help: "Benchmark training steps (train-mode forward, loss, backward, SGD update) instead of inference.")
    var train = false
    @Flag(help: ArgumentHelp("After the timed runs, time every generated layer (kernel call) and print where the time goes.",
                             discussion: "The profiled runs (--iterations) alternate with as many unprofiled ones, "
                                 + "so the profiler's own cost shows as the difference of their medians; the cost of one "
                                 + "timed call is also measured on its own and printed."))
    var profile = false
    @Option(help: "Layers listed by --profile, slowest first; the rest are summed in one line.")
    var profileTop: Int = 25
    @Flag(name: .customLong("recompute-activations"),
          help: "With --train: the low-memory plan that recomputes BN+activation outputs in the backward pass.")
    var recomputeActivations = false
    @Flag(help: "Benchmark the data loader (decode + training augmentation of --data) instead of the model.")
    var loader = false
    @Option(help: "Image folder for --loader (default: the bundled Data/digits/train).") var data: String = "Data/digits/train"
    @Option(parsing: .upToNextOption, help: "Loader worker counts to measure with --loader.") var workers: [Int] = [1, 2]
    @Flag(help: "With --loader: add AutoAugment (ImageNet policy) to the augmentation.") var autoaugment = false
    @OptionGroup var threading: ThreadOptions

    func run() throws {
        guard iterations >= 1, warmup >= 0 else { throw ValidationError("--iterations must be >= 1, --warmup >= 0") }
        guard profileTop >= 0 else { throw ValidationError("--profile-top must be >= 0") }
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
        let peak = MachinePeak.gigaflopsPerSecond(pool: pool)
        if !json {
            let header = "\(d.name) at \(d.resolution)x\(d.resolution), \(pool.threadCount) threads, "
                + "SIMD \(SIMDPath.activeDescription), "
                + "\(iterations) runs after \(warmup) warm-up\n"
                + (peak.map { String(format: "machine peak (FMA loop on %d threads, measured): %.0f GFLOP/s\n",
                                     pool.threadCount, $0) } ?? "")
            FileHandle.standardError.write(Data(header.utf8))
            print("batch   median ms     p90 ms    images/s   GMAC/s   of peak   peak RSS")
        }
        var profiles: [LayerProfile] = []
        for n in batch {
            guard n >= 1 else { throw ValidationError("batch sizes must be at least 1") }
            let input = benchmarkInput(n * d.inputChannels * d.resolution * d.resolution)
            var logits = [Float](repeating: 0, count: n * d.classes)
            let run = {
                input.withUnsafeBufferPointer { x in
                    logits.withUnsafeMutableBufferPointer { y in
                        network.forward(input: x.baseAddress!, batch: n, logits: y.baseAddress!)
                    }
                }
            }
            let (median, p90) = timeRuns(warmup: warmup, iterations: iterations, run)
            // Profiled runs come after the timed ones, so the figures above carry no profiling cost.
            var layerProfile: LayerProfile?
            if profile {
                let profiler = network.makeProfiler()
                let medians = timeAlternately(iterations: iterations, attach: { network.profiler = $0 ? profiler : nil }, run)
                layerProfile = LayerProfile(batch: n, profiler: profiler, unprofiledMedian: medians.plain,
                                            profiledMedian: medians.profiled)
            }
            let imagesPerSecond = Double(n) / (median / 1000)
            let gmacs = Double(macs) * imagesPerSecond / 1e9
            // 2 FLOPs per MAC against the FMA peak.
            let shareOfPeak = peak.map { 2 * gmacs / $0 }
            let rss = PeakMemory.residentBytes()
            if json {
                var object: [String: Any] = [
                    "variant": d.name, "batch": n, "threads": pool.threadCount, "simd": SIMDPath.activeDescription,
                    "median_ms": median, "p90_ms": p90,
                    "images_per_second": imagesPerSecond, "gmacs_per_second": gmacs, "peak_rss_bytes": rss,
                ].merging(layerProfile.map { ["profile": $0.json] } ?? [:]) { first, _ in first }
                if let peak, let shareOfPeak {
                    object["machine_peak_gflops"] = peak
                    object["share_of_peak"] = shareOfPeak
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let share = shareOfPeak.map { String(format: "%8.1f %%", 100 * $0) } ?? "       -  "
                print(String(format: "%5d %11.2f %10.2f %11.1f %8.1f ", n, median, p90, imagesPerSecond, gmacs)
                      + share + String(format: " %7.0f MB", Double(rss) / 1e6))
                if let layerProfile { profiles.append(layerProfile) }
            }
        }
        for layerProfile in profiles { layerProfile.printTable(top: profileTop) }
    }

    /// --weights, or synthetic weights: speed does not depend on the values.
    func weightStore() throws -> any WeightStore {
        guard let weights else {
            if release.releaseWeightsAfterUse {
                throw ValidationError("--release-weights-after-use needs --weights with a file from effnet prepare-weights")
            }
            return SyntheticWeights(seed: 1)
        }
        return try release.open(weights)
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
            let plan = recomputeActivations ? ", recomputing activations" : ""
            FileHandle.standardError.write(Data(("\(d.name) training at \(d.resolution)x\(d.resolution), \(pool.threadCount) threads, "
                                                + "SIMD \(SIMDPath.activeDescription)\(plan)\n").utf8))
            print("batch   median ms     p90 ms    images/s   peak RSS")
        }
        var profiles: [LayerProfile] = []
        for n in batch {
            guard n >= 2 else { throw ValidationError("training batches need at least 2 images") }
            let input = benchmarkInput(n * d.inputChannels * d.resolution * d.resolution)
            let labels = (0..<n).map { $0 % d.classes }
            var logits = [Float](repeating: 0, count: n * d.classes)
            // The optimizer is not generated code, so the profile reports its time on its own line.
            var optimizerNanoseconds: UInt64 = 0
            let step = {
                try input.withUnsafeBufferPointer { x in
                    try logits.withUnsafeMutableBufferPointer { y in
                        _ = try network.trainStep(input: x.baseAddress!, labels: labels, batch: n, options: TrainingOptions(recomputeActivations: recomputeActivations),
                                                  logits: y.baseAddress!)
                    }
                }
                let start = DispatchTime.now().uptimeNanoseconds
                sgd.step(parameters: network.parameters, gradients: network.gradients, groups: groups, learningRate: 0.01)
                optimizerNanoseconds += DispatchTime.now().uptimeNanoseconds - start
            }
            let (median, p90) = try timeRuns(warmup: warmup, iterations: iterations, step)
            var layerProfile: LayerProfile?
            if profile {
                let profiler = network.makeProfiler()
                optimizerNanoseconds = 0
                let medians = try timeAlternately(iterations: iterations, attach: { network.profiler = $0 ? profiler : nil }, step)
                let optimizer = Double(optimizerNanoseconds) / Double(2 * iterations) / 1e6
                layerProfile = LayerProfile(batch: n, profiler: profiler, unprofiledMedian: medians.plain,
                                            profiledMedian: medians.profiled, entry: "call",
                                            outside: [("SGD update (not generated)", optimizer)])
            }
            let rss = PeakMemory.residentBytes()
            if json {
                let object: [String: Any] = [
                    "variant": d.name, "batch": n, "threads": pool.threadCount, "simd": SIMDPath.activeDescription, "mode": "train",
                    "recompute_activations": recomputeActivations, "median_ms": median,
                    "p90_ms": p90, "images_per_second": Double(n) / (median / 1000), "peak_rss_bytes": rss,
                ].merging(layerProfile.map { ["profile": $0.json] } ?? [:]) { first, _ in first }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "%5d %11.1f %10.1f %11.1f %7.0f MB", n, median, p90, Double(n) / (median / 1000),
                             Double(rss) / 1e6))
                if let layerProfile { profiles.append(layerProfile) }
            }
        }
        for layerProfile in profiles { layerProfile.printTable(top: profileTop) }
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

/// Medians (ms) of `iterations` runs without and `iterations` runs with the profiler attached,
/// alternating, so that both see the same machine load and their difference is the profiler's cost.
func timeAlternately(iterations: Int, attach: (Bool) -> Void, _ body: () throws -> Void) rethrows
    -> (plain: Double, profiled: Double) {
    var plain: [Double] = [], profiled: [Double] = []
    for _ in 0..<iterations {
        for profiling in [false, true] {
            attach(profiling)
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            if profiling { profiled.append(milliseconds) } else { plain.append(milliseconds) }
        }
    }
    attach(false)
    return (plain.sorted()[iterations / 2], profiled.sorted()[iterations / 2])
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

/// One batch size's `--profile` result: the per-layer table, the totals per kind, and how the
/// profiled runs compare with the unprofiled ones (the profiler's own cost).
struct LayerProfile {
    let batch: Int
    let profiler: LayerProfiler
    /// Medians of the alternating runs without and with the profiler attached.
    let unprofiledMedian: Double
    let profiledMedian: Double
    /// What one table entry is: a generated layer (inference) or a kernel call (training step).
    var entry = "layer"
    /// What profiling adds per call (a start/stop pair), timed apart from the model: the fastest
    /// of 20 samples, as other processes on the machine only ever add to it.
    var profilerNanosecondsPerCall = (0..<20).map { _ in LayerProfiler.nanosecondsPerCall(samples: 5000) }.min()!
    /// Time per run spent outside the generated code but inside the timed run (the optimizer).
    var outside: [(name: String, milliseconds: Double)] = []

    var runs: Int { profiler.runs }
    var profilerMillisecondsPerRun: Double {
        profilerNanosecondsPerCall * Double(profiler.rows.reduce(0) { $0 + $1.calls }) / Double(max(runs, 1)) / 1e6
    }
    /// The layers that ran, most time first.
    var rows: [LayerProfiler.Row] { profiler.rows.filter { $0.calls > 0 }.sorted { $0.nanoseconds > $1.nanoseconds } }
    var totalNanoseconds: Double { Double(profiler.totalNanoseconds) }

    func share(_ nanoseconds: UInt64) -> Double { totalNanoseconds > 0 ? 100 * Double(nanoseconds) / totalNanoseconds : 0 }
    func millisecondsPerRun(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / Double(max(runs, 1)) / 1e6 }
    func gigaflops(_ value: Double?) -> String {
        value.map { String(format: $0 < 1 ? "%7.2f" : "%7.1f", $0) } ?? "      -"
    }

    func printTable(top: Int) {
        let overhead = 100 * (profiledMedian / unprofiledMedian - 1)
        print()
        print("profile, batch \(batch): \(runs) profiled runs alternating with \(runs) unprofiled ones")
        print(String(format: "  median %.2f ms profiled vs %.2f ms unprofiled (%+.1f %%, machine noise included); ",
                     profiledMedian, unprofiledMedian, overhead)
              + String(format: "the \(entry)s sum to %.2f ms per run", profiler.millisecondsPerRun))
        print(String(format: "  the profiler's own cost, measured: %.0f ns per \(entry), %.3f ms per run (%.3f %% of the unprofiled median)",
                     profilerNanosecondsPerCall, profilerMillisecondsPerRun, 100 * profilerMillisecondsPerRun / unprofiledMedian))
        for (name, milliseconds) in outside { print("  outside the generated code: \(name) " + String(format: "%.2f ms per run", milliseconds)) }
        let all = rows
        let nameWidth = max(20, all.prefix(top).map(\.layer.name.count).max() ?? 0)
        let kindWidth = max(18, all.map(\.layer.kind.count).max() ?? 0)
        print("    #  " + entry.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
              + "kind".padding(toLength: kindWidth, withPad: " ", startingAt: 0) + "  ms/call   share  GFLOP/s  what")
        for row in all.prefix(top) {
            print(String(format: "%5d  ", row.index) + row.layer.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                  + "  " + row.layer.kind.padding(toLength: kindWidth, withPad: " ", startingAt: 0)
                  + String(format: " %8.3f %6.1f %%", row.millisecondsPerCall, share(row.nanoseconds))
                  + " \(gigaflops(row.gigaflopsPerSecond))  \(row.layer.summary)")
        }
        let rest = all.dropFirst(top)
        if !rest.isEmpty {
            let nanoseconds = rest.reduce(UInt64(0)) { $0 + $1.nanoseconds }
            print("       " + "(\(rest.count) more \(entry)s)".padding(toLength: nameWidth + kindWidth + 2, withPad: " ", startingAt: 0)
                  + String(format: " %8.3f %6.1f %%", millisecondsPerRun(nanoseconds), share(nanoseconds)) + "  (ms per run)")
        }
        print("  by kind:")
        print("    " + "kind".padding(toLength: kindWidth, withPad: " ", startingAt: 0) + "  "
              + "\(entry)s".padding(toLength: 6, withPad: " ", startingAt: 0) + "   ms/run   share  GFLOP/s")
        for kind in profiler.kinds {
            print("    " + kind.kind.padding(toLength: kindWidth, withPad: " ", startingAt: 0)
                  + String(format: "  %6d %8.3f %6.1f %%", kind.layers, millisecondsPerRun(kind.nanoseconds), share(kind.nanoseconds))
                  + " \(gigaflops(kind.gigaflopsPerSecond))")
        }
    }

    /// The same figures for `--json`: every layer (call) that ran (table order) and the totals per kind.
    var json: [String: Any] {
        func number(_ value: Double?) -> Any { value.map { $0 as Any } ?? NSNull() }
        let layers: [[String: Any]] = profiler.rows.filter { $0.calls > 0 }.map { row in
            ["index": row.index, "name": row.layer.name, "kind": row.layer.kind, "summary": row.layer.summary,
             "calls": row.calls, "ms_per_call": row.millisecondsPerCall, "share": share(row.nanoseconds) / 100,
             "macs_per_image": number(row.layer.macsPerImage.map(Double.init)), "gflops_per_second": number(row.gigaflopsPerSecond)]
        }
        let kinds: [[String: Any]] = profiler.kinds.map { kind in
            ["kind": kind.kind, "layers": kind.layers, "ms_per_run": millisecondsPerRun(kind.nanoseconds),
             "share": share(kind.nanoseconds) / 100, "gflops_per_second": number(kind.gigaflopsPerSecond)]
        }
        var object: [String: Any] = [
            "runs": runs, "layers_ms_per_run": profiler.millisecondsPerRun, "profiled_median_ms": profiledMedian,
            "unprofiled_median_ms": unprofiledMedian, "layers": layers, "kinds": kinds,
            "profiler_ns_per_call": profilerNanosecondsPerCall, "profiler_ms_per_run": profilerMillisecondsPerRun,
        ]
        if !outside.isEmpty {
            object["outside_ms_per_run"] = Dictionary(outside.map { ($0.name, $0.milliseconds) }) { first, _ in first }
        }
        return object
    }
}
