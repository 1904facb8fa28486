import Foundation

/// The interface every generated variant implements (`EfficientNetB0`, ...). Apps use it as:
///
///     import EfficientNetB0
///     let model = try EfficientNetB0(weights: SafeTensorsFile(contentsOf: url))
///     let logits = try model.logits(for: images)      // images: [N, 3, 224, 224]
///
/// A model instance owns its arena and is not safe to call from two threads at once; make one
/// instance per thread (the weights are read-only and may be shared by loading them once each).
public protocol GeneratedModel: AnyObject {
    static var descriptor: ModelDescriptor { get }

    init(weights: any WeightStore, pool: WorkerPool) throws

    /// The forward pass's kernel calls in order, with their MACs: the table a `LayerProfiler`
    /// for this model is made from.
    static var profiledLayers: [LayerProfiler.Layer] { get }

    /// When set, every kernel call of `forward` is timed into it (`effnet bench --profile`).
    /// It must be made from `profiledLayers`. Nil (the default) costs a nil check per layer.
    var profiler: LayerProfiler? { get set }

    /// Eval-mode forward pass. `input` is NCHW float32 [batch, C, R, R]; `logits` receives
    /// [batch, classes]. Sizes are trusted: use `logits(for:)` for checked input.
    func forward(input: UnsafePointer<Float>, batch: Int, logits: UnsafeMutablePointer<Float>)
}

public enum ModelInputError: Error, CustomStringConvertible, Equatable {
    case wrongShape(model: String, expected: [Int], found: [Int])
    case nonFinite(model: String, index: Int)

    public var description: String {
        switch self {
        case let .wrongShape(model, expected, found):
            return "\(model) takes NCHW float32 input of shape [N, \(expected.map(String.init).joined(separator: ", "))]"
                + " (N >= 1); got [\(found.map(String.init).joined(separator: ", "))]"
        case let .nonFinite(model, index):
            return "\(model): the input holds a NaN or infinite value at flat index \(index)"
        }
    }
}

extension GeneratedModel {
    public init(weights: any WeightStore) throws {
        try self.init(weights: weights, pool: .shared)
    }

    public var descriptor: ModelDescriptor { Self.descriptor }

    /// A profiler for this model's forward pass (attach it with `profiler = ...`).
    public func makeProfiler() -> LayerProfiler { LayerProfiler(layers: Self.profiledLayers) }

    /// Checks the input shape, runs the forward pass and returns logits [N, classes].
    public func logits(for input: HostTensor) throws -> HostTensor {
        let d = Self.descriptor
        guard input.shape.count == 4, input.shape[0] >= 1, Array(input.shape.dropFirst()) == d.inputShape else {
            throw ModelInputError.wrongShape(model: d.name, expected: d.inputShape, found: input.shape)
        }
        if let bad = input.values.firstIndex(where: { !$0.isFinite }) {
            throw ModelInputError.nonFinite(model: d.name, index: bad)
        }
        let batch = input.shape[0]
        var output = [Float](repeating: 0, count: batch * d.classes)
        input.values.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                forward(input: x.baseAddress!, batch: batch, logits: y.baseAddress!)
            }
        }
        return HostTensor(shape: [batch, d.classes], values: output)
    }
}
