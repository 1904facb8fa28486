// Elementwise hot loops and the depthwise convolution forward of EffNetRuntime in C, compiled with
// per-function AVX-512 / AVX2+FMA target attributes (SwiftPM builds Swift for the x86-64 SSE2
// baseline and the manifest cannot raise it).
//
// Every kernel takes the instruction set to run as its first argument (EFFNET_ISA_AVX2 or
// EFFNET_ISA_AVX512) so callers, and tests, choose per call; EffNetRuntime picks one process-wide
// (SIMDPath.swift). On other architectures `effnet_simd_best_isa` returns EFFNET_ISA_NONE, Swift keeps
// its portable SIMD code, and the kernels exist only as stubs that trap (so Swift needs no #if).
//
// Activation codes: 0 identity, 1 silu, 2 relu6 (the order of Swift's `Activation`).
#ifndef CEFFNETSIMD_H
#define CEFFNETSIMD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EFFNET_ISA_NONE 0
#define EFFNET_ISA_AVX2 1
#define EFFNET_ISA_AVX512 2

#define EFFNET_ACT_IDENTITY 0
#define EFFNET_ACT_SILU 1
#define EFFNET_ACT_RELU6 2

/// Turns on flush-to-zero and denormals-are-zero for the calling thread (x86; elsewhere a no-op) and
/// returns the previous mode for `effnet_flush_denormals_end`.
unsigned int effnet_flush_denormals_begin(void);
/// Restores the mode `effnet_flush_denormals_begin` returned.
void effnet_flush_denormals_end(unsigned int saved);

/// The best instruction set this CPU (and OS) supports: EFFNET_ISA_AVX512 needs avx512f/dq/bw/vl,
/// EFFNET_ISA_AVX2 needs avx2 and fma.
int effnet_simd_best_isa(void);

#define EFFNET_QUOTIENT_RECIPROCAL 0
#define EFFNET_QUOTIENT_DIVIDE 1

/// How the AVX-512 kernels compute the quotients of SiLU and sigmoid, a / (1 + exp(-x)): a reciprocal
/// estimate with one correction (EFFNET_QUOTIENT_RECIPROCAL) or vdivps (EFFNET_QUOTIENT_DIVIDE). Both
/// keep SiLU within 2e-7 of the exact value; they differ in speed by CPU and in the last bit. Chosen
/// once at load: `EFFNET_QUOTIENT=divide|reciprocal` if set, else `effnet_quotient_for_cpu()`.
int effnet_avx512_quotient(void);
/// The CPU's choice: divide on AMD family 0x19 and later (Zen 4, Zen 5), where vdivps zmm runs beside
/// the FMAs and the reciprocal's extra multiply-adds cost more; the reciprocal elsewhere (Intel).
int effnet_quotient_for_cpu(void);
/// Switches the mode (tests). Not synchronized with running kernels: call it between them.
void effnet_set_avx512_quotient(int mode);

/// Gives the calling thread a window of `bytes` from `begin` to bring into L2 while it runs forward GEMMs
/// (effnet_gemm_bias_activation, and the expansions of effnet_expand_depthwise_rows): each 8-row strip
/// of K steps takes the window's next K cache lines and prefetches one per k step, until the window is
/// empty. For the weights of the layers that come next, which at batch 1 are otherwise read cold from
/// memory when their layer starts. A hint only: no result changes, and a range past the end of a
/// mapping is harmless (prefetches never fault). A new window replaces what is left of the last one.
void effnet_weight_prefetch_set(const void *begin, size_t bytes);
/// Bytes of the calling thread's window not yet prefetched (tests).
size_t effnet_weight_prefetch_pending(void);

/// rows x cols block at `out` (row stride ldo): out = act(out + bias[col]) (+ residual[row][col],
/// same layout, added after the activation). `bias` and `residual` may be NULL.
void effnet_bias_activation(int isa, int act, float *out, ptrdiff_t ldo, ptrdiff_t rows, ptrdiff_t cols,
                            const float *bias, const float *residual);

/// Train-mode BatchNorm statistics over rows p0..<p1 and channels b0..<b1 of x [rows][C], walked in
/// tiles of `tileRows` rows: sums[c-b0] = sum(x - K), squares[c-b0] = sum((x - K)^2) with K = x[0][c].
/// Float sums per tile, flushed into the Double totals: from zero, or with `accumulate` onto what they
/// hold, so that calls over consecutive row ranges (each a whole number of tiles but the last) add the
/// same tile sums in the same order as one call over all of them.
void effnet_bn_statistics(int isa, const float *x, ptrdiff_t C, ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t p0,
                          ptrdiff_t p1, ptrdiff_t tileRows, double *sums, double *squares, int accumulate);

/// output = act(gamma*(z - mean)*invStd + beta) over rows p0..<p1, all C channels, in tiles.
void effnet_bn_apply(int isa, int act, const float *z, ptrdiff_t C, ptrdiff_t p0, ptrdiff_t p1,
                     ptrdiff_t tileRows, const float *gamma, const float *beta, const float *mean,
                     const float *invStd, float *output);

/// Backward pass 1 of act(BN_train(z)) over rows p0..<p1, channels b0..<b1: with
/// xhat = (z - mean)*invStd and dY = dOut*act'(xhat*gamma + beta), sums[c-b0] = sum(dY) and
/// projections[c-b0] = sum(dY*xhat) (float per tile, flushed into the Double totals it overwrites).
/// When dYOut is not NULL, dY is also stored there (may equal dOut). When seScale is not NULL (dYOut must
/// then be set), the gradient at row p is dOut[p]*seScale[n] + seShift[n] instead of dOut[p], n = p /
/// imagePixels ([C] rows per image): the squeeze-excitation's input gradient, taken as this pass reads it.
void effnet_bn_backward_sums(int isa, int act, const float *dOut, const float *z, ptrdiff_t C, ptrdiff_t b0,
                             ptrdiff_t b1, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows, const float *gamma,
                             const float *beta, const float *mean, const float *invStd, const float *seScale,
                             const float *seShift, ptrdiff_t imagePixels, double *sums, double *projections,
                             float *dYOut);

/// Backward pass 2: gradInput = gamma*invStd*(dY - meanGrad[c-b0] - xhat*projGrad[c-b0]) over rows
/// p0..<p1, channels b0..<b1 (gradInput may equal dOut).
void effnet_bn_backward_input(int isa, int act, const float *dOut, const float *z, ptrdiff_t C, ptrdiff_t b0,
                              ptrdiff_t b1, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows, const float *gamma,
                              const float *beta, const float *mean, const float *invStd, const float *meanGrad,
                              const float *projGrad, float *gradInput);

/// gradInput[i] = gradOutput[i]*act'(y[i]) over count floats (gradInput may equal gradOutput).
void effnet_activation_backward(int isa, int act, const float *gradOutput, const float *y, ptrdiff_t count,
                                float *gradInput);

/// Depthwise convolution forward, one output row `row` (= n*outHeight + oy), channels c0..<c1, NHWC
/// input [*][H][W][C], weights [kernel][kernel][C], zero padding (padTop/padLeft; bottom/right implied
/// by outHeight/outWidth): output = act(sum of input*weight over the taps + bias). Handles kernel 3 and
/// 5 with stride 1 and 2 and returns 1; returns 0 without writing anything for other geometries.
int effnet_depthwise_row(int isa, int act, const float *input, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,
                         ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outHeight,
                         ptrdiff_t outWidth, const float *weights, const float *bias, float *output, ptrdiff_t row,
                         ptrdiff_t c0, ptrdiff_t c1);

/// The 1x1-convolution GEMM with the epilogue in registers (GemmTemplate.h):
/// y[m][n] = act(sum_k x[m][k]*w[k][n] + bias[n]) (+ residual[m][n], after the activation) for m < M,
/// n < N, k < K. x has row stride lda, w (input-major weights, K x N) ldb, y and residual ldc.
/// `bias` and `residual` may be NULL; y must not overlap x or w.
void effnet_gemm_bias_activation(int isa, int act, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x,
                                 ptrdiff_t lda, const float *w, ptrdiff_t ldb, const float *bias,
                                 const float *residual, float *y, ptrdiff_t ldc);

/// y[i] = W[i]·x + bias[i] for i < rows, W row-major [rows][cols] (PyTorch Linear's layout): the
/// classifier at batch 1, and squeeze-excitation's products. Four rows at a time; each output is a sum
/// over lanes of per-lane partial sums, fixed for a given `cols`, so the result does not depend on how
/// the rows are split between callers.
void effnet_matvec_bias(int isa, ptrdiff_t rows, ptrdiff_t cols, const float *W, const float *x, const float *bias,
                        float *y);

/// y = x·w as effnet_gemm_bias_activation with no bias, activation or residual (the same bits), while
/// prefetching into L2 the M rows of K floats at nextA and at nextB (the next band's dY and z of a 1x1
/// convolution backward, whose K is the conv's output channels). nextA/nextB are hints: never read.
void effnet_gemm_prefetching_rows(int isa, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x, ptrdiff_t lda,
                                  const float *w, ptrdiff_t ldb, float *y, ptrdiff_t ldc, const float *nextA,
                                  const float *nextB);

/// An MBConv expansion fused with its depthwise convolution (ExpandDepthwiseTemplate.h): output rows
/// oy0..<oy1 of image n, channels c0..<c1, of depthwise(act(expand(input))), without writing the expanded
/// tensor (the output's other channels are left alone). input is
/// NHWC [*][H][W][Cin]; expandWeights input-major [Cin][Ce]; dwWeights [kernel][kernel][Ce]; output NHWC
/// [*][outHeight][outWidth][Ce]. `band` is scratch of bandRows x W x Ce floats, bandRows >= kernel (more
/// rows: fewer, larger sub-bands). When rowSums is not NULL, each output row's channel sums are written to
/// rowSums[row][c0..<c1] (row = n*outHeight + oy, as `effnet_row_channel_sums`) while the row is in cache.
/// Handles kernel 3 and 5 with stride 1 and 2 and returns 1; returns 0 without writing anything otherwise
/// (also for an empty or out-of-range channel range).
int effnet_expand_depthwise_rows(int isa, int expandAct, int dwAct, const float *input, ptrdiff_t H, ptrdiff_t W,
                                 ptrdiff_t Cin, ptrdiff_t Ce, const float *expandWeights, const float *expandBias,
                                 ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft,
                                 ptrdiff_t outHeight, ptrdiff_t outWidth, const float *dwWeights, const float *dwBias,
                                 float *output, ptrdiff_t n, ptrdiff_t oy0, ptrdiff_t oy1, ptrdiff_t c0, ptrdiff_t c1,
                                 float *band, ptrdiff_t bandRows, float *rowSums);

/// sums[c] = sum over x < width of row[x*C + c], for c in c0..<c1 (one NHWC output row, C channels per
/// pixel): the channel sums squeeze-excitation needs, taken per row while the row is still in cache. Four
/// partial sums per channel (pixels x mod 4), combined (s0 + s1) + (s2 + s3).
void effnet_row_channel_sums(int isa, const float *row, ptrdiff_t width, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                             float *sums);

/// The stem convolution (StemTemplate.h): output rows row0..<row1 (row = n*outH + oy) of
/// act(conv(input) + bias), input NCHW [*][Cin][H][W], w input-major [Cin*k*k][Cout] (rows ordered
/// (ci, ky, kx)), output NHWC [*][outH][outW][Cout]; zero padding padTop/padLeft (and whatever the
/// bottom/right edges need). `bias` must not be NULL. Returns 1, or 0 without writing anything when
/// Cin*k*k > 256 or a run's padded receptive fields exceed the kernel's stack scratch. With row0 == row1
/// nothing is read or written: the result only says whether the kernel takes this geometry.
int effnet_stem_rows(int isa, int act, const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W, ptrdiff_t k,
                     ptrdiff_t s, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, const float *w,
                     const float *bias, ptrdiff_t Cout, float *output, ptrdiff_t row0, ptrdiff_t row1);

/// im2col rows of the stem for output pixels p0..<p0+count of `total` (StemTemplate.h): row r holds the
/// (ci, ky, kx) receptive field of pixel p0 + r, zero outside the image. With ahead > 0 it also prefetches
/// the image rows of the output rows `ahead` pixels further on (the caller's next tile).
void effnet_stem_im2col(int isa, const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W, ptrdiff_t k,
                        ptrdiff_t s, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t p0,
                        ptrdiff_t count, ptrdiff_t ahead, ptrdiff_t total, float *col);

/// The depthwise convolution's weight gradient over output rows r0..<r1 (row = n*outH + oy), channels
/// c0..<c1 (DepthwiseBackwardTemplate.h): target[ky][kx][c] += sum over those rows and every ox of
/// dZ[row][ox][c] * x[n][oy*stride - padTop + ky][ox*stride - padLeft + kx][c] (taps outside the image
/// read zero). dZ NHWC [*][outH][outW][C], x NHWC [*][H][W][C], target [kernel][kernel][C]. Handles
/// kernel 3 and 5 with stride 1 and 2 and returns 1; returns 0 without writing anything otherwise.
int effnet_depthwise_grad_weights_rows(int isa, const float *dZ, const float *x, ptrdiff_t H, ptrdiff_t W,
                                       ptrdiff_t C, ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop,
                                       ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t r0, ptrdiff_t r1,
                                       ptrdiff_t c0, ptrdiff_t c1, float *target);

/// The depthwise convolution's input gradient, row `row` (= n*H + iy), channels c0..<c1
/// (DepthwiseBackwardTemplate.h): gradInput[row][ix][c] = sum over the taps (ky, kx) reaching (iy, ix) of
/// dZ[n][oy][ox][c] * w[ky][kx][c], with oy*stride - padTop + ky = iy and ox*stride - padLeft + kx = ix.
/// Overwrites; dZ NHWC [*][outH][outW][C], w [kernel][kernel][C], gradInput NHWC [*][H][W][C]. Handles
/// kernel 3 and 5 with stride 1 and 2 and returns 1; returns 0 without writing anything otherwise.
int effnet_depthwise_grad_input_row(int isa, const float *dZ, const float *w, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,
                                    ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft,
                                    ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t row, ptrdiff_t c0, ptrdiff_t c1,
                                    float *gradInput);

/// output[c] = scale * sum over p < pixels of x[p*C + c], for c in c0..<c1 (ChannelPassesTemplate.h): the
/// same float sums in the same order as the Swift `Kernels.channelMeansSwift`, so the same bits.
void effnet_channel_means(int isa, const float *x, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                          float scale, float *output);

/// total[c] += the sums effnet_channel_means takes of x's rows, for every c < C, in its blocks of 64 pixels
/// counted from x's first row. Called on consecutive runs of one image's rows, each a whole number of blocks
/// but the last, starting from zeros, then multiplied by scale, total has the bits of effnet_channel_means
/// over the image. total holds C floats rounded up to a multiple of 16.
void effnet_channel_sums_accumulate(int isa, const float *x, ptrdiff_t pixels, ptrdiff_t C, float *total);

/// c[m*ldc + n] = (accumulate ? c[m*ldc + n] : 0) + sum over k < K of a[k*lda + m] * b[k*ldb + n], for
/// m < M and n < N (WeightGradientTemplate.h): a 1x1 convolution's weight gradient from two NHWC maps,
/// the sum running over their pixel rows. Float sums in blocks of 64 rows, each block added into c.
void effnet_weight_gradient_gemm(int isa, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda,
                                 const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate);

/// output[c] = sum over p < pixels of a[p*C + c] * b[p*C + c], for c in c0..<c1 (ChannelPassesTemplate.h):
/// the same float products and sums in the same order as the Swift `TrainingKernels.channelDotsSwift`.
void effnet_channel_dots(int isa, const float *a, const float *b, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0,
                         ptrdiff_t c1, float *output);

/// out[p*C + c] = x[p*C + c] * s[c] (+ add[c] when add is not null), for p < pixels and c in c0..<c1
/// (ChannelPassesTemplate.h). Elementwise, so out may be x (in place).
void effnet_scale_channels(int isa, const float *x, const float *s, const float *add, ptrdiff_t pixels, ptrdiff_t C,
                           ptrdiff_t c0, ptrdiff_t c1, float *out);

/// Squeeze-excitation from one image's channel means to its scales (SqueezeExciteTemplate.h):
/// hidden[j] = act(sum_c reduceWeights[j][c]*means[c] + reduceBias[j]) for j < S, then
/// scales[c] = sigmoid(sum_j expandWeights[c][j]*hidden[j] + expandBias[c]) for c < C. reduceWeights is
/// [S][C] and expandWeights [C][S], PyTorch's layouts; hidden holds S floats, scales C.
void effnet_squeeze_excite_scales(int isa, int act, ptrdiff_t C, ptrdiff_t S, const float *means,
                                  const float *reduceWeights, const float *reduceBias, const float *expandWeights,
                                  const float *expandBias, float *hidden, float *scales);

/// `iterations` rounds of 12 independent vector FMAs (PeakTemplate.h), for measuring the machine's peak:
/// 12 x lanes x 2 FLOPs per round of acc = acc*scale + shift. The result only keeps the loop alive.
float effnet_fma_chains(int isa, ptrdiff_t iterations, float scale, float shift);

#ifdef __cplusplus
}
#endif

#endif
