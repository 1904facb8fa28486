/// The stem convolution computed inside the first block's per-image call (inference, whole images per
/// worker).
///
/// EfficientNet's first block (`Kernels.depthwisePerImage`) reads nothing but the stem's output. Run layer
/// by layer, the stem writes that output for the whole batch first (112x112x32 floats, 1.6 MB per image in
/// B0: 26 MB at batch 16, far more than L2 and most of a 32 MB L3), and the block then fetches every image
/// back. With a `StemSource`, the worker that takes image n computes that image's stem rows into its own
/// scratch (the C stem kernel, as `Kernels.stemConv` calls it) and runs the block on them at once; the
/// scratch is used again for its next image. Each output row of the stem is the same sum whichever call
/// computes it, so the bits are those of the two calls.
public struct StemSource {
    /// The NCHW images of the batch.
    public var image: UnsafePointer<Float>
    public var inChannels, height, width, kernel, stride, padTop, padLeft: Int
    /// BN-folded weights, input-major ([inChannels·kernel·kernel][outChannels]), as `Kernels.stemConv` takes them.
    public var weights: UnsafePointer<Float>
    public var bias: UnsafePointer<Float>
    public var activation: Activation

    public init(image: UnsafePointer<Float>, inChannels: Int, height: Int, width: Int, kernel: Int, stride: Int,
                padTop: Int, padLeft: Int, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                activation: Activation) {
        self.image = image
        self.inChannels = inChannels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padTop = padTop
        self.padLeft = padLeft
        self.weights = weights
        self.bias = bias
        self.activation = activation
    }
}

extension Kernels {
    /// Whether `depthwisePerImage(stem:)` takes the stem with the first block: the block runs per image
    /// (`depthwiseRunsPerImage`) and the C stem kernel handles the stem's geometry. The stem's call is
    /// skipped exactly when this holds, so both sides of the generated code ask it with the same arguments.
    public static func stemRunsPerImage(batch: Int, inChannels: Int, height: Int, width: Int, kernel: Int,
                                        stride: Int, outHeight: Int, outWidth: Int, outChannels: Int,
                                        depthwiseKernel: Int, depthwiseStride: Int, threads: Int) -> Bool {
        guard depthwiseRunsPerImage(batch: batch, kernel: depthwiseKernel, stride: depthwiseStride, threads: threads),
              let simd = CSIMDKernels.active else { return false }
        return simd.handlesStem(inChannels: inChannels, height: height, width: width, kernel: kernel, stride: stride,
                                outHeight: outHeight, outWidth: outWidth, outChannels: outChannels)
    }

    /// Image n's stem output ([outHeight][outWidth][outChannels]) into `output`.
    @inline(__always) static func stemImage(_ stem: StemSource, _ n: Int, _ simd: CSIMDKernels, outHeight: Int,
                                            outWidth: Int, outChannels: Int, output: UnsafeMutablePointer<Float>) {
        let done = simd.stemRows(
            stem.activation, input: stem.image + n &* stem.inChannels &* stem.height &* stem.width,
            inChannels: stem.inChannels, height: stem.height, width: stem.width, kernel: stem.kernel,
            stride: stem.stride, padTop: stem.padTop, padLeft: stem.padLeft, outHeight: outHeight,
            outWidth: outWidth, weights: stem.weights, bias: stem.bias, outChannels: outChannels, output: output,
            rows: 0..<outHeight)
        precondition(done, "depthwisePerImage: the C stem kernel refused the stem (check stemRunsPerImage)")
    }
}
