// The vector vocabulary KernelTemplate.h is written in, for AVX2 + FMA (8 float lanes, vector masks).
// Included only through Instantiate.h from AVX2.c, inside its target("avx2,fma") region.
#ifndef CEFFNETSIMD_VECTOR_AVX2_H
#define CEFFNETSIMD_VECTOR_AVX2_H

#include <immintrin.h>
#include <stdint.h>

typedef __m256 VF;
typedef __m256i VM;
#define VW 8
#define FN(name) name##_avx2
/* Rows of the GEMM register tile: 4 x 3 accumulators + 3 weight vectors + 1 broadcast <= 16 registers. */
#define GEMM_MR 4
/* SiLUs interleaved per group (v_activate_group). With 16 registers a group's temporaries spill: the
   expand+depthwise and depthwise harnesses measured 0.95-1.08x with groups, so AVX2 keeps one at a time. */
#define SILU_GROUP_WIDTH 1

/* A window of 8 into this table is the mask of the first n lanes. */
static const int32_t avx2_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

#define V_MASK(n) _mm256_loadu_si256((const __m256i *)(avx2_mask_table + 8 - (n))) /* n < 8 */
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_LOADM(p, m) _mm256_maskload_ps((p), (m)) /* masked-off lanes read 0, never fault */
#define V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define V_STOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ZERO() _mm256_setzero_ps()
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_SUB(a, b) _mm256_sub_ps((a), (b))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_FMADD(a, b, c) _mm256_fmadd_ps((a), (b), (c))   /* a*b + c */
#define V_FNMADD(a, b, c) _mm256_fnmadd_ps((a), (b), (c)) /* c - a*b */
/* x86 max/min return the second operand when either is NaN: with the bound first, NaN passes
   through like Swift's compare-and-replace clamp. */
#define V_MAX_BOUND(bound, v) _mm256_max_ps((bound), (v))
#define V_MIN_BOUND(bound, v) _mm256_min_ps((bound), (v))
/* x clamped to [-88, 87] for exp(-x) (v_one_plus_exp_of_negative_group); 87 keeps 2^-m a normal float
   for the exponent-field power of two below. */
#define V_CLAMP_EXP_ARGUMENT(x) _mm256_max_ps(_mm256_set1_ps(-88.0f), _mm256_min_ps(_mm256_set1_ps(87.0f), (x)))
/* y * 2^n for an integer-valued n (the polynomial form of v_one_plus_exp_of_negative_group): n + magic
   (= n + 127 + 1.5*2^23) holds n + 127 in its low mantissa bits, which the shift moves into the exponent
   field. */
#define V_SCALE_BY_POW2(y, n, magic) \
    _mm256_mul_ps((y), _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(_mm256_add_ps((n), (magic))), 23)))
/* g where lo < y < hi, else 0 (kept when y is NaN, like the Swift code). */
#define V_KEEP_STRICTLY_INSIDE(g, y, lo, hi) \
    _mm256_andnot_ps(_mm256_or_ps(_mm256_cmp_ps((y), (lo), _CMP_LE_OQ), _mm256_cmp_ps((y), (hi), _CMP_GE_OQ)), (g))

/* a / d for d >= 1 (the SiLU and sigmoid denominators). Exact: rcp_ps has only 12 bits, and one
   Newton step would leave ~1.3e-7 of relative error on top of the rounding. */
static inline __attribute__((always_inline)) __m256 v_quotient(__m256 a, __m256 d) { return _mm256_div_ps(a, d); }
/* q[i] = a[i] / d[i] for a group of n vectors (VectorAVX512.h's interface). */
static inline __attribute__((always_inline)) void v_quotient_group(const __m256 *a, const __m256 *d, __m256 *q,
                                                                   int n) {
    for (int i = 0; i < n; i++) q[i] = _mm256_div_ps(a[i], d[i]);
}

static inline __attribute__((always_inline)) void v_spill(VF v, float *lanes) { _mm256_storeu_ps(lanes, v); }

/* The sum of the 8 lanes (halves added pairwise down to one). */
static inline __attribute__((always_inline)) float v_reduce_add(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define V_REDUCE_ADD(v) v_reduce_add(v)

#endif
