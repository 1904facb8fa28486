// CPU feature detection and the public entry points, which forward to the AVX-512 or AVX2 build of
// each kernel. The caller passes the instruction set so tests can run every supported one in one process.
#include "CEffNetSIMD.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#if defined(__x86_64__)
#include "KernelDeclarations.h"
#endif

int effnet_simd_best_isa(void) {
#if defined(__x86_64__)
    // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV).
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        return EFFNET_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return EFFNET_ISA_AVX2;
#endif
    return EFFNET_ISA_NONE;
}

/* Read by v_quotient_group in the AVX-512 kernels (VectorAVX512.h) with plain loads: it is set at load
   and, by tests, between kernel calls. */
int effnet_avx512_quotient_mode = EFFNET_QUOTIENT_RECIPROCAL;

int effnet_quotient_for_cpu(void) {
#if defined(__x86_64__)
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return EFFNET_QUOTIENT_RECIPROCAL;
    const int amd = ebx == 0x68747541u && edx == 0x69746e65u && ecx == 0x444d4163u; /* "AuthenticAMD" */
    if (!amd || !__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return EFFNET_QUOTIENT_RECIPROCAL;
    unsigned int family = (eax >> 8) & 0xf;
    if (family == 0xf) family += (eax >> 20) & 0xff;
    /* Zen 4 (0x19) and Zen 5 (0x1A) on; Zen 3, also 0x19, has no AVX-512, so the mode goes unused there. */
    return family >= 0x19 ? EFFNET_QUOTIENT_DIVIDE : EFFNET_QUOTIENT_RECIPROCAL;
#else
    return EFFNET_QUOTIENT_RECIPROCAL;
#endif
}

int effnet_avx512_quotient(void) { return effnet_avx512_quotient_mode; }

void effnet_set_avx512_quotient(int mode) {
    effnet_avx512_quotient_mode = mode == EFFNET_QUOTIENT_DIVIDE ? EFFNET_QUOTIENT_DIVIDE : EFFNET_QUOTIENT_RECIPROCAL;
}

/* At load, before any kernel: EFFNET_QUOTIENT, else the CPU's choice (with a note for a value that is
   neither, as EFFNET_SIMD gets). */
__attribute__((constructor)) static void effnet_choose_quotient(void) {
    const char *requested = getenv("EFFNET_QUOTIENT");
    if (requested && strcmp(requested, "divide") == 0) {
        effnet_set_avx512_quotient(EFFNET_QUOTIENT_DIVIDE);
        return;
    }
    if (requested && strcmp(requested, "reciprocal") == 0) {
        effnet_set_avx512_quotient(EFFNET_QUOTIENT_RECIPROCAL);
        return;
    }
    const int chosen = effnet_quotient_for_cpu();
    if (requested && requested[0] != 0)
        fprintf(stderr, "effnet: EFFNET_QUOTIENT=%s is not one of divide, reciprocal; using %s\n", requested,
                chosen == EFFNET_QUOTIENT_DIVIDE ? "divide" : "reciprocal");
    effnet_set_avx512_quotient(chosen);
}

#if defined(__x86_64__)
#define EFFNET_RETURN_FORWARD(name, ...)                                                                       \
    return isa == EFFNET_ISA_AVX512 ? name##_avx512(__VA_ARGS__) : name##_avx2(__VA_ARGS__)
#define EFFNET_FORWARD(name, ...)                                                                              \
    do {                                                                                                       \
        if (isa == EFFNET_ISA_AVX512) name##_avx512(__VA_ARGS__);                                              \
        else name##_avx2(__VA_ARGS__);                                                                         \
    } while (0)
#else
// Unreachable: effnet_simd_best_isa() is EFFNET_ISA_NONE here, so Swift never selects a C path.
#define EFFNET_FORWARD(name, ...) __builtin_trap()
#define EFFNET_RETURN_FORWARD(name, ...) __builtin_trap()
#endif

void effnet_bias_activation(int isa, int act, float *out, ptrdiff_t ldo, ptrdiff_t rows, ptrdiff_t cols,
                            const float *bias, const float *residual) {
    EFFNET_FORWARD(effnet_bias_activation, act, out, ldo, rows, cols, bias, residual);
}

void effnet_bn_statistics(int isa, const float *x, ptrdiff_t C, ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t p0,
                          ptrdiff_t p1, ptrdiff_t tileRows, double *sums, double *squares, int accumulate) {
    EFFNET_FORWARD(effnet_bn_statistics, x, C, b0, b1, p0, p1, tileRows, sums, squares, accumulate);
}

void effnet_bn_apply(int isa, int act, const float *z, ptrdiff_t C, ptrdiff_t p0, ptrdiff_t p1,
                     ptrdiff_t tileRows, const float *gamma, const float *beta, const float *mean,
                     const float *invStd, float *output) {
    EFFNET_FORWARD(effnet_bn_apply, act, z, C, p0, p1, tileRows, gamma, beta, mean, invStd, output);
}

void effnet_bn_backward_sums(int isa, int act, const float *dOut, const float *z, ptrdiff_t C, ptrdiff_t b0,
                             ptrdiff_t b1, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows, const float *gamma,
                             const float *beta, const float *mean, const float *invStd, const float *seScale,
                             const float *seShift, ptrdiff_t imagePixels, double *sums, double *projections,
                             float *dYOut) {
    EFFNET_FORWARD(effnet_bn_backward_sums, act, dOut, z, C, b0, b1, p0, p1, tileRows, gamma, beta, mean, invStd,
                   seScale, seShift, imagePixels, sums, projections, dYOut);
}

void effnet_bn_backward_input(int isa, int act, const float *dOut, const float *z, ptrdiff_t C, ptrdiff_t b0,
                              ptrdiff_t b1, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows, const float *gamma,
                              const float *beta, const float *mean, const float *invStd, const float *meanGrad,
                              const float *projGrad, float *gradInput) {
    EFFNET_FORWARD(effnet_bn_backward_input, act, dOut, z, C, b0, b1, p0, p1, tileRows, gamma, beta, mean, invStd,
                   meanGrad, projGrad, gradInput);
}

void effnet_activation_backward(int isa, int act, const float *gradOutput, const float *y, ptrdiff_t count,
                                float *gradInput) {
    EFFNET_FORWARD(effnet_activation_backward, act, gradOutput, y, count, gradInput);
}

int effnet_depthwise_row(int isa, int act, const float *input, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,
                         ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outHeight,
                         ptrdiff_t outWidth, const float *weights, const float *bias, float *output, ptrdiff_t row,
                         ptrdiff_t c0, ptrdiff_t c1) {
    EFFNET_RETURN_FORWARD(effnet_depthwise_row, act, input, H, W, C, kernel, stride, padTop, padLeft, outHeight,
                          outWidth, weights, bias, output, row, c0, c1);
}

void effnet_gemm_bias_activation(int isa, int act, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x,
                                 ptrdiff_t lda, const float *w, ptrdiff_t ldb, const float *bias,
                                 const float *residual, float *y, ptrdiff_t ldc) {
    EFFNET_FORWARD(effnet_gemm_bias_activation, act, M, N, K, x, lda, w, ldb, bias, residual, y, ldc);
}

void effnet_matvec_bias(int isa, ptrdiff_t rows, ptrdiff_t cols, const float *W, const float *x, const float *bias,
                        float *y) {
    EFFNET_FORWARD(effnet_matvec_bias, rows, cols, W, x, bias, y);
}

void effnet_gemm_prefetching_rows(int isa, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x, ptrdiff_t lda,
                                  const float *w, ptrdiff_t ldb, float *y, ptrdiff_t ldc, const float *nextA,
                                  const float *nextB) {
    EFFNET_FORWARD(effnet_gemm_prefetching_rows, M, N, K, x, lda, w, ldb, y, ldc, nextA, nextB);
}

int effnet_expand_depthwise_rows(int isa, int expandAct, int dwAct, const float *input, ptrdiff_t H, ptrdiff_t W,
                                 ptrdiff_t Cin, ptrdiff_t Ce, const float *expandWeights, const float *expandBias,
                                 ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft,
                                 ptrdiff_t outHeight, ptrdiff_t outWidth, const float *dwWeights, const float *dwBias,
                                 float *output, ptrdiff_t n, ptrdiff_t oy0, ptrdiff_t oy1, ptrdiff_t c0, ptrdiff_t c1,
                                 float *band, ptrdiff_t bandRows, float *rowSums) {
    EFFNET_RETURN_FORWARD(effnet_expand_depthwise_rows, expandAct, dwAct, input, H, W, Cin, Ce, expandWeights,
                          expandBias, kernel, stride, padTop, padLeft, outHeight, outWidth, dwWeights, dwBias, output,
                          n, oy0, oy1, c0, c1, band, bandRows, rowSums);
}

void effnet_row_channel_sums(int isa, const float *row, ptrdiff_t width, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                             float *sums) {
    EFFNET_FORWARD(effnet_row_channel_sums, row, width, C, c0, c1, sums);
}

int effnet_stem_rows(int isa, int act, const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W, ptrdiff_t k,
                     ptrdiff_t s, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, const float *w,
                     const float *bias, ptrdiff_t Cout, float *output, ptrdiff_t row0, ptrdiff_t row1) {
    EFFNET_RETURN_FORWARD(effnet_stem_rows, act, input, Cin, H, W, k, s, padTop, padLeft, outH, outW, w, bias, Cout,
                          output, row0, row1);
}

void effnet_stem_im2col(int isa, const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W, ptrdiff_t k,
                        ptrdiff_t s, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t p0,
                        ptrdiff_t count, ptrdiff_t ahead, ptrdiff_t total, float *col) {
    EFFNET_FORWARD(effnet_stem_im2col, input, Cin, H, W, k, s, padTop, padLeft, outH, outW, p0, count, ahead, total,
                   col);
}

int effnet_depthwise_grad_weights_rows(int isa, const float *dZ, const float *x, ptrdiff_t H, ptrdiff_t W,
                                       ptrdiff_t C, ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop,
                                       ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t r0, ptrdiff_t r1,
                                       ptrdiff_t c0, ptrdiff_t c1, float *target) {
    EFFNET_RETURN_FORWARD(effnet_depthwise_grad_weights_rows, dZ, x, H, W, C, kernel, stride, padTop, padLeft, outH,
                          outW, r0, r1, c0, c1, target);
}

int effnet_depthwise_grad_input_row(int isa, const float *dZ, const float *w, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,
                                    ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft,
                                    ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t row, ptrdiff_t c0, ptrdiff_t c1,
                                    float *gradInput) {
    EFFNET_RETURN_FORWARD(effnet_depthwise_grad_input_row, dZ, w, H, W, C, kernel, stride, padTop, padLeft, outH, outW,
                          row, c0, c1, gradInput);
}

void effnet_channel_means(int isa, const float *x, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                          float scale, float *output) {
    EFFNET_FORWARD(effnet_channel_means, x, pixels, C, c0, c1, scale, output);
}

void effnet_channel_sums_accumulate(int isa, const float *x, ptrdiff_t pixels, ptrdiff_t C, float *total) {
    EFFNET_FORWARD(effnet_channel_sums_accumulate, x, pixels, C, total);
}

void effnet_weight_gradient_gemm(int isa, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda,
                                 const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    EFFNET_FORWARD(effnet_weight_gradient_gemm, M, N, K, a, lda, b, ldb, c, ldc, accumulate);
}

void effnet_channel_dots(int isa, const float *a, const float *b, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0,
                         ptrdiff_t c1, float *output) {
    EFFNET_FORWARD(effnet_channel_dots, a, b, pixels, C, c0, c1, output);
}

void effnet_scale_channels(int isa, const float *x, const float *s, const float *add, ptrdiff_t pixels, ptrdiff_t C,
                           ptrdiff_t c0, ptrdiff_t c1, float *out) {
    EFFNET_FORWARD(effnet_scale_channels, x, s, add, pixels, C, c0, c1, out);
}

void effnet_squeeze_excite_scales(int isa, int act, ptrdiff_t C, ptrdiff_t S, const float *means,
                                  const float *reduceWeights, const float *reduceBias, const float *expandWeights,
                                  const float *expandBias, float *hidden, float *scales) {
    EFFNET_FORWARD(effnet_squeeze_excite_scales, act, C, S, means, reduceWeights, reduceBias, expandWeights,
                   expandBias, hidden, scales);
}

float effnet_fma_chains(int isa, ptrdiff_t iterations, float scale, float shift) {
    EFFNET_RETURN_FORWARD(effnet_fma_chains, iterations, scale, shift);
}
