// Prototypes of the per-instruction-set kernels (defined by KernelTemplate.h, once per ISA), so that
// Dispatch.c and both instantiations agree on them.
#ifndef CEFFNETSIMD_KERNEL_DECLARATIONS_H
#define CEFFNETSIMD_KERNEL_DECLARATIONS_H
#if defined(__x86_64__)

#include <stddef.h>

#define EFFNET_DECLARE_KERNELS(SUFFIX)                                                                         \
    void effnet_bias_activation_##SUFFIX(int act, float *out, ptrdiff_t ldo, ptrdiff_t rows, ptrdiff_t cols,   \
                                         const float *bias, const float *residual);                           \
    void effnet_bn_statistics_##SUFFIX(const float *x, ptrdiff_t C, ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t p0,  \
                                       ptrdiff_t p1, ptrdiff_t tileRows, double *sums, double *squares,         \
                                       int accumulate);                                                        \
    void effnet_bn_apply_##SUFFIX(int act, const float *z, ptrdiff_t C, ptrdiff_t p0, ptrdiff_t p1,            \
                                  ptrdiff_t tileRows, const float *gamma, const float *beta, const float *mean, \
                                  const float *invStd, float *output);                                         \
    void effnet_bn_backward_sums_##SUFFIX(int act, const float *dOut, const float *z, ptrdiff_t C, ptrdiff_t b0, \
                                          ptrdiff_t b1, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows,           \
                                          const float *gamma, const float *beta, const float *mean,              \
                                          const float *invStd, const float *seScale, const float *seShift,     \
                                          ptrdiff_t imagePixels, double *sums, double *projections,            \
                                          float *dYOut);                                                       \
    void effnet_bn_backward_input_##SUFFIX(int act, const float *dOut, const float *z, ptrdiff_t C,             \
                                           ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t p0, ptrdiff_t p1,              \
                                           ptrdiff_t tileRows, const float *gamma, const float *beta,           \
                                           const float *mean, const float *invStd, const float *meanGrad,      \
                                           const float *projGrad, float *gradInput);                            \
    void effnet_activation_backward_##SUFFIX(int act, const float *gradOutput, const float *y, ptrdiff_t count, \
                                             float *gradInput);                                          \
    int effnet_depthwise_row_##SUFFIX(int act, const float *input, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,        \
                                      ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft,   \
                                      ptrdiff_t outHeight, ptrdiff_t outWidth, const float *weights,             \
                                      const float *bias, float *output, ptrdiff_t row, ptrdiff_t c0,             \
                                      ptrdiff_t c1);                                                          \
    void effnet_gemm_bias_activation_##SUFFIX(int act, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x,     \
                                              ptrdiff_t lda, const float *w, ptrdiff_t ldb, const float *bias,     \
                                              const float *residual, float *y, ptrdiff_t ldc);                      \
    void effnet_matvec_bias_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const float *W, const float *x,             \
                                     const float *bias, float *y);                                             \
    void effnet_gemm_prefetching_rows_##SUFFIX(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x, ptrdiff_t lda, \
                                               const float *w, ptrdiff_t ldb, float *y, ptrdiff_t ldc,            \
                                               const float *nextA, const float *nextB);                           \
    int effnet_expand_depthwise_rows_##SUFFIX(int expandAct, int dwAct, const float *input, ptrdiff_t H,          \
                                              ptrdiff_t W, ptrdiff_t Cin, ptrdiff_t Ce, const float *expandWeights, \
                                              const float *expandBias, ptrdiff_t kernel, ptrdiff_t stride,          \
                                              ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outHeight,             \
                                              ptrdiff_t outWidth, const float *dwWeights, const float *dwBias,      \
                                              float *output, ptrdiff_t n, ptrdiff_t oy0, ptrdiff_t oy1,            \
                                              ptrdiff_t c0, ptrdiff_t c1, float *band, ptrdiff_t bandRows,          \
                                              float *rowSums);                                                      \
    void effnet_row_channel_sums_##SUFFIX(const float *row, ptrdiff_t width, ptrdiff_t C, ptrdiff_t c0,        \
                                          ptrdiff_t c1, float *sums);                                        \
    int effnet_stem_rows_##SUFFIX(int act, const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W,            \
                                  ptrdiff_t k, ptrdiff_t s, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH,    \
                                  ptrdiff_t outW, const float *w, const float *bias, ptrdiff_t Cout, float *output, \
                                  ptrdiff_t row0, ptrdiff_t row1);                                              \
    void effnet_stem_im2col_##SUFFIX(const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W, ptrdiff_t k,     \
                                     ptrdiff_t s, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH,             \
                                     ptrdiff_t outW, ptrdiff_t p0, ptrdiff_t count, ptrdiff_t ahead,               \
                                     ptrdiff_t total, float *col);                                                 \
    int effnet_depthwise_grad_weights_rows_##SUFFIX(const float *dZ, const float *x, ptrdiff_t H, ptrdiff_t W,     \
                                                    ptrdiff_t C, ptrdiff_t kernel, ptrdiff_t stride,               \
                                                    ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH,            \
                                                    ptrdiff_t outW, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t c0,       \
                                                    ptrdiff_t c1, float *target);                                \
    int effnet_depthwise_grad_input_row_##SUFFIX(const float *dZ, const float *w, ptrdiff_t H, ptrdiff_t W,        \
                                                 ptrdiff_t C, ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, \
                                                 ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t row,  \
                                                 ptrdiff_t c0, ptrdiff_t c1, float *gradInput);                   \
    void effnet_channel_means_##SUFFIX(const float *x, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1, \
                                       float scale, float *output);                                             \
    void effnet_channel_sums_accumulate_##SUFFIX(const float *x, ptrdiff_t pixels, ptrdiff_t C, float *total);    \
    void effnet_weight_gradient_gemm_##SUFFIX(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda, \
                                              const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc,           \
                                              int accumulate);                                               \
    void effnet_channel_dots_##SUFFIX(const float *a, const float *b, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0, \
                                      ptrdiff_t c1, float *output);                                             \
    void effnet_scale_channels_##SUFFIX(const float *x, const float *s, const float *add, ptrdiff_t pixels,       \
                                        ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1, float *out);                     \
    void effnet_squeeze_excite_scales_##SUFFIX(int act, ptrdiff_t C, ptrdiff_t S, const float *means,              \
                                               const float *reduceWeights, const float *reduceBias,                 \
                                               const float *expandWeights, const float *expandBias, float *hidden,  \
                                               float *scales);                                                      \
    float effnet_fma_chains_##SUFFIX(ptrdiff_t iterations, float scale, float shift);

EFFNET_DECLARE_KERNELS(avx512)
EFFNET_DECLARE_KERNELS(avx2)

#endif
#endif
