import CEffNetSIMD

/// The C kernels (CEffNetSIMD) for one instruction set, with Swift argument types. Kernels ask for
/// `CSIMDKernels.active` and fall back to their Swift loops when it is nil; tests build one per
/// supported path and compare it with the Swift code.
struct CSIMDKernels {
    let isa: Int32

    /// The active path's kernels, or nil when `SIMDPath.active` is `.swift`.
    static let active: CSIMDKernels? = CSIMDKernels(SIMDPath.active)

    init?(_ path: SIMDPath) {
        switch path {
        case .swift: return nil
        case .avx2: isa = EFFNET_ISA_AVX2
        case .avx512: isa = EFFNET_ISA_AVX512
        }
    }

    /// rows × cols block at `out` (row stride `ldo`): out = act(out + bias[col]) (+ residual, same layout,
    /// added after the activation). No bias: act(out).
    func biasActivation(_ activation: Activation, out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, cols: Int,
                        bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?) {
        effnet_bias_activation(isa, activation.code, out, ldo, rows, cols, bias, residual)
    }

    /// y[m][n] = act(Σ_k x[m][k]·w[k][n] + bias[n]) (+ residual[m][n]) with the epilogue in registers
    /// (GemmTemplate.h). `w` is input-major (K × N, row stride `ldw`); y and residual have row stride `ldy`.
    func gemmBiasActivation(_ activation: Activation, rows M: Int, cols N: Int, depth K: Int,
                            x: UnsafePointer<Float>, ldx: Int, w: UnsafePointer<Float>, ldw: Int,
                            bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
                            y: UnsafeMutablePointer<Float>, ldy: Int) {
        effnet_gemm_bias_activation(isa, activation.code, M, N, K, x, ldx, w, ldw, bias, residual, y, ldy)
    }

    /// y[i] = W[i]·x + bias[i] for i < rows, W row-major (`rows` × `cols`, PyTorch Linear's layout)
    /// (MatVecTemplate.h). Each output's value does not depend on the other rows in the call.
    func matvecBias(rows: Int, cols: Int, w: UnsafePointer<Float>, x: UnsafePointer<Float>,
                    bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        effnet_matvec_bias(isa, rows, cols, w, x, bias, y)
    }

    /// y = x·w with the bits of `gemmBiasActivation(.identity, ...)` (no bias or residual), prefetching into
    /// L2 the M rows of K floats at `nextA` and `nextB` while it computes (hints: never read; nil, none).
    func gemmPrefetchingRows(rows M: Int, cols N: Int, depth K: Int, x: UnsafePointer<Float>, ldx: Int,
                             w: UnsafePointer<Float>, ldw: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                             nextA: UnsafePointer<Float>?, nextB: UnsafePointer<Float>?) {
        effnet_gemm_prefetching_rows(isa, M, N, K, x, ldx, w, ldw, y, ldy, nextA, nextB)
    }

    /// Output rows `rows` of image `image` of depthwise(act(expand(input))) through a band of `bandRows`
    /// expanded rows (see `Kernels.expandDepthwise`), and with `rowSums` each row's channel sums (as
    /// `rowChannelSums`, at rowSums[(image·outHeight + oy)·expandedChannels]); only the expanded `channels`
    /// (default: all) of each. False, writing nothing, for geometries without a C depthwise row kernel.
    func expandDepthwiseRows(_ expandActivation: Activation, _ depthwiseActivation: Activation,
                             input: UnsafePointer<Float>, height: Int, width: Int, inChannels: Int,
                             expandedChannels: Int, expandWeights: UnsafePointer<Float>,
                             expandBias: UnsafePointer<Float>, kernel: Int, stride: Int, padTop: Int, padLeft: Int,
                             outHeight: Int, outWidth: Int, depthwiseWeights: UnsafePointer<Float>,
                             depthwiseBias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, image: Int,
                             rows: Range<Int>, channels: Range<Int>? = nil, band: UnsafeMutablePointer<Float>,
                             bandRows: Int, rowSums: UnsafeMutablePointer<Float>? = nil) -> Bool {
        let channels = channels ?? 0..<expandedChannels
        return effnet_expand_depthwise_rows(isa, expandActivation.code, depthwiseActivation.code, input, height,
                                            width, inChannels, expandedChannels, expandWeights, expandBias, kernel,
                                            stride, padTop, padLeft, outHeight, outWidth, depthwiseWeights,
                                            depthwiseBias, output, image, rows.lowerBound, rows.upperBound,
                                            channels.lowerBound, channels.upperBound, band, bandRows, rowSums) != 0
    }

    /// sums[c] = Σ_x row[x·channels + c] for c in `range`, over `width` pixels of one NHWC row (four partial
    /// sums per channel, pixels x mod 4, combined (s0 + s1) + (s2 + s3): DepthwiseTemplate.h).
    func rowChannelSums(_ row: UnsafePointer<Float>, width: Int, channels: Int, _ range: Range<Int>,
                        sums: UnsafeMutablePointer<Float>) {
        effnet_row_channel_sums(isa, row, width, channels, range.lowerBound, range.upperBound, sums)
    }

    /// Output rows `rows` (row = n·outHeight + oy) of the stem convolution, reading the NCHW image directly
    /// (StemTemplate.h). `weights` input-major [inChannels·kernel·kernel][outChannels]. False, writing
    /// nothing, for stems too large for the kernel's offset tables or scratch.
    func stemRows(_ activation: Activation, input: UnsafePointer<Float>, inChannels: Int, height: Int, width: Int,
                  kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
                  weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
                  output: UnsafeMutablePointer<Float>, rows: Range<Int>) -> Bool {
        effnet_stem_rows(isa, activation.code, input, inChannels, height, width, kernel, stride, padTop, padLeft,
                         outHeight, outWidth, weights, bias, outChannels, output, rows.lowerBound,
                         rows.upperBound) != 0
    }

    /// im2col rows of the stem for output pixels `pixels` of `total` (see `Kernels.stemIm2col`; the same
    /// values), prefetching the image rows of the pixels `ahead` further on (StemTemplate.h).
    func stemIm2col(input: UnsafePointer<Float>, inChannels: Int, height: Int, width: Int, kernel: Int, stride: Int,
                    padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int, pixels: Range<Int>, ahead: Int,
                    total: Int, col: UnsafeMutablePointer<Float>) {
        effnet_stem_im2col(isa, input, inChannels, height, width, kernel, stride, padTop, padLeft, outHeight,
                           outWidth, pixels.lowerBound, pixels.count, ahead, total, col)
    }

    /// Whether `stemRows` takes this stem: it is asked for an empty row range, which writes nothing.
    func handlesStem(inChannels: Int, height: Int, width: Int, kernel: Int, stride: Int, outHeight: Int,
                     outWidth: Int, outChannels: Int) -> Bool {
        var unused: Float = 0  // never read or written for an empty range
        return withUnsafeMutablePointer(to: &unused) { p in
            effnet_stem_rows(isa, Activation.identity.code, p, inChannels, height, width, kernel, stride, 0, 0,
                             outHeight, outWidth, p, p, outChannels, p, 0, 0) != 0
        }
    }

    /// output[c] = scale · Σ_p x[p][c] for c in `channels` (see `Kernels.channelMeans`; same bits).
    func channelMeans(_ x: UnsafePointer<Float>, pixels: Int, channels C: Int, _ channels: Range<Int>, scale: Float,
                      output: UnsafeMutablePointer<Float>) {
        effnet_channel_means(isa, x, pixels, C, channels.lowerBound, channels.upperBound, scale, output)
    }

    /// total[c] += the block sums `channelMeans` takes of these rows, c < C (total: C rounded up to 16 floats).
    func channelSumsAccumulate(_ x: UnsafePointer<Float>, pixels: Int, channels C: Int,
                               total: UnsafeMutablePointer<Float>) {
        effnet_channel_sums_accumulate(isa, x, pixels, C, total)
    }

    /// c[m][n] = (accumulate ? c[m][n] : 0) + Σ_k a[k·lda + m]·b[k·ldb + n] for m < M, n < N: a 1x1
    /// convolution's weight gradient from two NHWC maps (see `TrainingKernels.pointwiseConvBackward`).
    func weightGradientGemm(rows M: Int, cols N: Int, depth K: Int, _ a: UnsafePointer<Float>, lda: Int,
                            _ b: UnsafePointer<Float>, ldb: Int, _ c: UnsafeMutablePointer<Float>, ldc: Int,
                            accumulate: Bool) {
        effnet_weight_gradient_gemm(isa, M, N, K, a, lda, b, ldb, c, ldc, accumulate ? 1 : 0)
    }

    /// output[c] = Σ_p a[p][c]·b[p][c] for c in `channels` (see `TrainingKernels.channelDots`; same bits).
    func channelDots(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, pixels: Int, channels C: Int,
                     _ channels: Range<Int>, output: UnsafeMutablePointer<Float>) {
        effnet_channel_dots(isa, a, b, pixels, C, channels.lowerBound, channels.upperBound, output)
    }

    /// out[p][c] = x[p][c]·s[c] (+ add[c]) for c in `channels` (see `Kernels.scaleChannels`); `out`
    /// may be `x`.
    func scaleChannels(_ x: UnsafePointer<Float>, scales s: UnsafePointer<Float>, add: UnsafePointer<Float>?,
                       pixels: Int, channels C: Int, _ channels: Range<Int>, output: UnsafeMutablePointer<Float>) {
        effnet_scale_channels(isa, x, s, add, pixels, C, channels.lowerBound, channels.upperBound, output)
    }

    /// One image's squeeze-excitation scales from its channel means: hidden = act(Wr·means + br),
    /// scales = sigmoid(We·hidden + be), Wr [squeezeChannels][channels], We [channels][squeezeChannels].
    func squeezeExciteScales(_ activation: Activation, channels: Int, squeezeChannels: Int, means: UnsafePointer<Float>,
                             reduceWeights: UnsafePointer<Float>, reduceBias: UnsafePointer<Float>,
                             expandWeights: UnsafePointer<Float>, expandBias: UnsafePointer<Float>,
                             hidden: UnsafeMutablePointer<Float>, scales: UnsafeMutablePointer<Float>) {
        effnet_squeeze_excite_scales(isa, activation.code, channels, squeezeChannels, means, reduceWeights, reduceBias,
                                     expandWeights, expandBias, hidden, scales)
    }

    /// Σ (x − K), Σ (x − K)² per channel (see `TrainingKernels.bnStatisticsPart`).
    func bnStatistics(_ x: UnsafePointer<Float>, _ C: Int, _ b0: Int, _ b1: Int, _ p0: Int, _ p1: Int,
                      tileRows: Int, _ sums: UnsafeMutablePointer<Double>, _ squares: UnsafeMutablePointer<Double>,
                      accumulate: Bool = false) {
        effnet_bn_statistics(isa, x, C, b0, b1, p0, p1, tileRows, sums, squares, accumulate ? 1 : 0)
    }

    /// output = act(gamma·(z − mean)·invStd + beta), rows p0..<p1 (see `TrainingKernels.bnApply`).
    func bnApply(_ activation: Activation, _ z: UnsafePointer<Float>, _ C: Int, _ p0: Int, _ p1: Int, tileRows: Int,
                 _ gamma: UnsafePointer<Float>, _ beta: UnsafePointer<Float>, _ mean: UnsafePointer<Float>,
                 _ invStd: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        effnet_bn_apply(isa, activation.code, z, C, p0, p1, tileRows, gamma, beta, mean, invStd, output)
    }

    /// ΣdY, ΣdY·xhat per channel, optionally storing dY (see `TrainingKernels.bnBackwardSumsPart`); with `se`,
    /// dOut is the squeeze-excitation's output gradient, taken through it as it is read (dYOut required).
    func bnBackwardSums(_ activation: Activation, _ dOut: UnsafePointer<Float>, _ z: UnsafePointer<Float>, _ C: Int,
                        _ b0: Int, _ b1: Int, _ p0: Int, _ p1: Int, tileRows: Int, _ gamma: UnsafePointer<Float>,
                        _ beta: UnsafePointer<Float>, _ mean: UnsafePointer<Float>, _ invStd: UnsafePointer<Float>,
                        _ sums: UnsafeMutablePointer<Double>, _ projections: UnsafeMutablePointer<Double>,
                        _ dYOut: UnsafeMutablePointer<Float>?, se: SqueezeExciteGradientSource? = nil) {
        precondition(se == nil || dYOut != nil, "bnBackwardSums: the SE source needs dYOut")
        effnet_bn_backward_sums(isa, activation.code, dOut, z, C, b0, b1, p0, p1, tileRows, gamma, beta, mean, invStd,
                                se?.scale, se?.shift, se?.imagePixels ?? 1, sums, projections, dYOut)
    }

    /// gradInput = gamma·invStd·(dY − ΣdY/M − xhat·ΣdY·xhat/M) (see `TrainingKernels.bnBackwardInputPart`).
    func bnBackwardInput(_ activation: Activation, _ dOut: UnsafePointer<Float>, _ z: UnsafePointer<Float>, _ C: Int,
                         _ b0: Int, _ b1: Int, _ p0: Int, _ p1: Int, tileRows: Int, _ gamma: UnsafePointer<Float>,
                         _ beta: UnsafePointer<Float>, _ mean: UnsafePointer<Float>, _ invStd: UnsafePointer<Float>,
                         _ meanGrad: UnsafePointer<Float>, _ projGrad: UnsafePointer<Float>,
                         _ gradInput: UnsafeMutablePointer<Float>) {
        effnet_bn_backward_input(isa, activation.code, dOut, z, C, b0, b1, p0, p1, tileRows, gamma, beta, mean, invStd,
                                 meanGrad, projGrad, gradInput)
    }

    /// Whether `depthwiseRow` handles this geometry (k 3 and 5, stride 1 and 2).
    static func handlesDepthwise(kernel: Int, stride: Int) -> Bool {
        (kernel == 3 || kernel == 5) && (stride == 1 || stride == 2)
    }

    /// Output row `row` (= n·outHeight + oy), channels c0..<c1 of `Kernels.depthwiseConv`: taps, bias and
    /// activation. Only for geometries `handlesDepthwise` accepts.
    func depthwiseRow(_ activation: Activation, _ s: DepthwiseShape, _ row: Int, _ c0: Int, _ c1: Int,
                      _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                      _ output: UnsafeMutablePointer<Float>) {
        let done = effnet_depthwise_row(isa, activation.code, input, s.height, s.width, s.channels, s.kernel, s.stride,
                                        s.padTop, s.padLeft, s.outHeight, s.outWidth, weights, bias, output, row, c0, c1)
        precondition(done == 1, "depthwiseRow: k \(s.kernel) stride \(s.stride) has no C kernel")
    }

    /// target[ky][kx][c] += the depthwise weight gradient of output rows `rows`, channels `channels`
    /// (see `TrainingKernels.depthwiseGradWeightsRows`). False, writing nothing, for geometries other than
    /// kernel 3 and 5 with stride 1 and 2.
    func depthwiseGradWeightsRows(_ s: DepthwiseShape, rows: Range<Int>, channels: Range<Int>,
                                  _ dZ: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                  _ target: UnsafeMutablePointer<Float>) -> Bool {
        effnet_depthwise_grad_weights_rows(isa, dZ, x, s.height, s.width, s.channels, s.kernel, s.stride, s.padTop,
                                           s.padLeft, s.outHeight, s.outWidth, rows.lowerBound, rows.upperBound,
                                           channels.lowerBound, channels.upperBound, target) != 0
    }

    /// Row `row` (= n·height + iy), channels `channels` of the depthwise input gradient (overwritten; see
    /// `TrainingKernels.depthwiseGradInputRow`). False, writing nothing, for geometries other than kernel
    /// 3 and 5 with stride 1 and 2.
    func depthwiseGradInputRow(_ s: DepthwiseShape, row: Int, channels: Range<Int>, _ dZ: UnsafePointer<Float>,
                               _ weights: UnsafePointer<Float>, _ gradInput: UnsafeMutablePointer<Float>) -> Bool {
        effnet_depthwise_grad_input_row(isa, dZ, weights, s.height, s.width, s.channels, s.kernel, s.stride, s.padTop,
                                        s.padLeft, s.outHeight, s.outWidth, row, channels.lowerBound,
                                        channels.upperBound, gradInput) != 0
    }

    /// gradInput = gradOutput·act'(y) over `count` floats.
    func activationBackward(_ activation: Activation, _ gradOutput: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                            count: Int, _ gradInput: UnsafeMutablePointer<Float>) {
        effnet_activation_backward(isa, activation.code, gradOutput, y, count, gradInput)
    }
}

extension Activation {
    /// The C kernels' activation code.
    var code: Int32 {
        switch self {
        case .identity: return EFFNET_ACT_IDENTITY
        case .silu: return EFFNET_ACT_SILU
        case .relu6: return EFFNET_ACT_RELU6
        }
    }
}
