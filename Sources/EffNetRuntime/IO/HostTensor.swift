/// A dense float32 tensor in host memory, stored row-major (C order).
///
/// This is the exchange type of the tensor-file layer: safetensors and `.npy` readers produce it,
/// writers consume it, and every ``WeightStore`` hands weights out as `HostTensor`s. Kernels work
/// on raw buffers; they borrow `values` with `withUnsafeBufferPointer`.
public struct HostTensor: Sendable, Equatable {
    /// Extent of each dimension, outermost first. `[]` is a scalar (one value).
    public var shape: [Int]
    /// `shape.reduce(1, *)` values in row-major order.
    public var values: [Float]

    /// Creates a tensor; `values.count` must equal the product of `shape`.
    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "HostTensor: negative dimension in shape \(shape)")
        precondition(
            values.count == HostTensor.elementCount(of: shape),
            "HostTensor: shape \(shape) needs \(HostTensor.elementCount(of: shape)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    /// A tensor of the given shape filled with `value` (zero by default).
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, values: [Float](repeating: value, count: HostTensor.elementCount(of: shape)))
    }

    /// Number of values (`shape.reduce(1, *)`).
    public var elementCount: Int { values.count }

    /// Number of values a tensor of `shape` holds: the product of its dimensions (1 for `[]`).
    public static func elementCount(of shape: [Int]) -> Int {
        shape.reduce(1, *)
    }
}
