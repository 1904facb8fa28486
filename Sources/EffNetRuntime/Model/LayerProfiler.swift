#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Time per generated kernel call, for `effnet bench --profile`.
///
/// A generated model (or training step) owns a static table of its kernel calls
/// (`profiledLayers`) and, when a profiler is attached, brackets each call with `start()` and
/// `stop(index)`. With no profiler attached the brackets are a nil check each, so the forward
/// pass pays nothing measurable for them; a model runs single-threaded from its caller's point
/// of view (the worker pool is joined inside each kernel), so one clock on the calling thread
/// sees each call's whole wall time.
public final class LayerProfiler {
    /// One entry of a generated model's call table.
    public struct Layer: Sendable, Hashable {
        /// The torchvision module the call works for (`features.1.0.block.0`); training steps
        /// also have `classifier.0` (dropout), `loss`, `logits` and `gradients` (zeroing).
        public let name: String
        /// The group the profile sums over: `depthwise`, `expand 1x1`, `BN+act backward`, ...
        public let kind: String
        /// Multiply-accumulates per image; nil where none are counted (BatchNorm, pooling, copies).
        public let macsPerImage: Int?
        /// What runs, with shapes, e.g. `depthwise 3x3/1 + BN + silu, [n, 112, 112, 32] -> [n, 112, 112, 32]`.
        public let summary: String

        public init(_ name: String, kind: String, macsPerImage: Int?, _ summary: String) {
            self.name = name
            self.kind = kind
            self.macsPerImage = macsPerImage
            self.summary = summary
        }
    }

    /// A layer's totals over every profiled run.
    public struct Row: Sendable {
        public let index: Int
        public let layer: Layer
        public let calls: Int
        public let images: Int
        public let nanoseconds: UInt64

        /// Milliseconds per call (per run when the layer runs once per run).
        public var millisecondsPerCall: Double { calls == 0 ? 0 : Double(nanoseconds) / Double(calls) / 1e6 }

        /// Achieved GFLOP/s, 2 FLOPs per MAC; nil where the layer counts no MACs.
        public var gigaflopsPerSecond: Double? {
            guard let macs = layer.macsPerImage, macs > 0, nanoseconds > 0 else { return nil }
            return 2 * Double(macs) * Double(images) / Double(nanoseconds)
        }
    }

    public let layers: [Layer]
    /// Runs started with `beginRun(batch:)`.
    public private(set) var runs = 0
    private var nanoseconds: [UInt64]
    private var calls: [Int]
    private var images: [Int]
    private var batch = 0
    private var startedAt: UInt64 = 0

    public init(layers: [Layer]) {
        self.layers = layers
        nanoseconds = Array(repeating: 0, count: layers.count)
        calls = Array(repeating: 0, count: layers.count)
        images = Array(repeating: 0, count: layers.count)
    }

    /// Called by the generated code once per forward pass (training step), before its first layer.
    public func beginRun(batch: Int) {
        runs += 1
        self.batch = batch
    }

    @inline(__always)
    public func start() {
        startedAt = Self.now()
    }

    /// Ends the call started by the last `start()` and charges it to layer `index` of the table.
    @inline(__always)
    public func stop(_ index: Int) {
        let elapsed = Self.now() &- startedAt
        nanoseconds[index] &+= elapsed
        calls[index] &+= 1
        images[index] &+= batch
    }

    /// Forgets every measurement (the table stays).
    public func reset() {
        runs = 0
        for i in layers.indices { (nanoseconds[i], calls[i], images[i]) = (0, 0, 0) }
    }

    /// Every layer in table order, including those that never ran (calls 0).
    public var rows: [Row] {
        layers.indices.map { Row(index: $0, layer: layers[$0], calls: calls[$0], images: images[$0], nanoseconds: nanoseconds[$0]) }
    }

    /// The layers of one kind summed: where the time goes by kernel type.
    public struct KindTotal: Sendable {
        public let kind: String
        /// Layers of this kind that ran.
        public let layers: Int
        public let nanoseconds: UInt64
        /// FLOPs of the kind's layers over every call (2 per MAC).
        public let flops: Double

        public var gigaflopsPerSecond: Double? { flops > 0 && nanoseconds > 0 ? flops / Double(nanoseconds) : nil }
    }

    /// Totals per `Layer.kind` over the layers that ran, most time first.
    public var kinds: [KindTotal] {
        var order: [String] = []
        var totals: [String: (layers: Int, nanoseconds: UInt64, flops: Double)] = [:]
        for row in rows where row.calls > 0 {
            let kind = row.layer.kind
            if totals[kind] == nil { order.append(kind) }
            let flops = 2 * Double(row.layer.macsPerImage ?? 0) * Double(row.images)
            let sum = totals[kind, default: (0, 0, 0)]
            totals[kind] = (sum.layers + 1, sum.nanoseconds + row.nanoseconds, sum.flops + flops)
        }
        return order.map { KindTotal(kind: $0, layers: totals[$0]!.layers, nanoseconds: totals[$0]!.nanoseconds,
                                     flops: totals[$0]!.flops) }
            .sorted { $0.nanoseconds > $1.nanoseconds }
    }

    /// Sum of all layers' time, in nanoseconds.
    public var totalNanoseconds: UInt64 { nanoseconds.reduce(0, &+) }

    /// Sum of all layers' time, in milliseconds per run.
    public var millisecondsPerRun: Double {
        runs == 0 ? 0 : Double(totalNanoseconds) / Double(runs) / 1e6
    }

    /// Monotonic clock in nanoseconds (clock_gettime is a vDSO call: ~20 ns, no system call).
    @inline(__always)
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// What one `start()`/`stop(_:)` pair costs on this machine, in nanoseconds: the time
    /// profiling adds per call, measured directly because it is far below run-to-run noise.
    public static func nanosecondsPerCall(samples: Int = 100_000) -> Double {
        let probe = LayerProfiler(layers: [Layer("probe", kind: "probe", macsPerImage: nil, "start/stop pair")])
        probe.beginRun(batch: 1)
        let begin = now()
        for _ in 0..<samples {
            probe.start()
            probe.stop(0)
        }
        return Double(now() - begin) / Double(samples)
    }

    /// Stops a program when a profiler made for another model is attached (the indices would
    /// charge the wrong layers or run past the table). Generated `profiler` setters call it.
    public func requireTable(_ table: [Layer], of model: String) {
        precondition(layers == table, "this LayerProfiler was not made from \(model)'s profiledLayers")
    }
}
