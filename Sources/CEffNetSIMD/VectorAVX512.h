// The vector vocabulary KernelTemplate.h is written in, for AVX-512 (16 float lanes, mask registers).
// Included only through Instantiate.h from AVX512.c, inside its target("avx512f,...") region.
#ifndef CEFFNETSIMD_VECTOR_AVX512_H
#define CEFFNETSIMD_VECTOR_AVX512_H

#include <immintrin.h>

#include "CEffNetSIMD.h" /* EFFNET_QUOTIENT_DIVIDE */

typedef __m512 VF;
typedef __mmask16 VM;
#define VW 16
#define FN(name) name##_avx512
/* Rows of the GEMM register tile: 8 x 3 accumulators + 3 weight vectors + 1 broadcast <= 32 registers. */
#define GEMM_MR 8
/* SiLUs interleaved per group (v_activate_group): up to 8 with 32 registers. */
#define SILU_GROUP_WIDTH 8

#define V_MASK(n) ((__mmask16)((1u << (n)) - 1u)) /* the first n (< 16) lanes */
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_LOADM(p, m) _mm512_maskz_loadu_ps((m), (p)) /* masked-off lanes read 0, never fault */
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_STOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ZERO() _mm512_setzero_ps()
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_SUB(a, b) _mm512_sub_ps((a), (b))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_FMADD(a, b, c) _mm512_fmadd_ps((a), (b), (c))   /* a*b + c */
#define V_FNMADD(a, b, c) _mm512_fnmadd_ps((a), (b), (c)) /* c - a*b */
/* x86 max/min return the second operand when either is NaN: with the bound first, NaN passes
   through like Swift's compare-and-replace clamp. */
#define V_MAX_BOUND(bound, v) _mm512_max_ps((bound), (v))
#define V_MIN_BOUND(bound, v) _mm512_min_ps((bound), (v))
/* x clamped to [-88, 88] for exp(-x) (v_one_plus_exp_of_negative_group) in one vrangeps (AVX-512DQ): the smaller
   magnitude of x and 88 with x's sign (imm 2: select the absolute minimum, sign from the first operand);
   a NaN x stays NaN. It replaces a min and a max. SiLU over L1 data (one loop of groups of 8, best of
   3,000) took 1.96-2.03 against 2.04-2.11 ns per vector on the Zen 5 host, and the outputs of SiLU were
   bit-identical with min/max over a sweep of 2.1 billion float bit patterns (every 97th, NaNs and
   infinities included): between 87 and 88, exp(-x) is below 2^-125 and 1 + exp(-x) rounds to 1 either way. */
#define V_CLAMP_EXP_ARGUMENT(x) _mm512_range_ps((x), _mm512_set1_ps(88.0f), 2)
/* exp takes its table form (v_one_plus_exp_of_negative_group): a 16-entry table looked up with one
   vpermps and powers of two added to exponent fields with integer operations. On the Zen 5 host those
   run beside the FMAs; the polynomial form's longer polynomial and vscalefps compete with them. */
#define V_EXP_TABLE 1
/* The lanes of `table` (16 floats) that the low 4 bits of t's lanes (as integers) select. */
#define V_TABLE16_LOOKUP(table, t) _mm512_permutexvar_ps(_mm512_castps_si512(t), (table))
/* The float whose bit pattern is bits(a) + (bits(t) << s), lane by lane (integer arithmetic). */
#define V_ADD_SHIFTED_BITS(a, t, s)                                                                          \
    _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_slli_epi32(_mm512_castps_si512(t), (s))))
#define V_FNMSUB(a, b, c) _mm512_fnmsub_ps((a), (b), (c)) /* -(a*b) - c */
/* g where lo < y < hi, else 0 (kept when y is NaN, like the Swift code). */
#define V_KEEP_STRICTLY_INSIDE(g, y, lo, hi) \
    _mm512_mask_mov_ps((g), _mm512_cmp_ps_mask((y), (lo), _CMP_LE_OQ) | _mm512_cmp_ps_mask((y), (hi), _CMP_GE_OQ), \
                       _mm512_setzero_ps())

/* Dispatch.c: EFFNET_QUOTIENT_RECIPROCAL or EFFNET_QUOTIENT_DIVIDE, fixed before kernels run. */
extern int effnet_avx512_quotient_mode;

/* a / d for d >= 1 (the SiLU and sigmoid denominators 1 + exp(-x)), in one of two ways chosen per CPU
   (effnet_quotient_for_cpu). The mode is read once per group of quotients (a plain read the compiler
   may hoist: it only changes between kernel calls); the branch always goes the same way.

   Reciprocal: rcp14 (relative error < 2^-14) plus one Markstein correction q + r*(a - d*q), 4 cheap
   instructions. vdivps zmm issued once per 16 cycles on the machine this was first measured on (Intel)
   and dominated SiLU (on session 9's Emerald Rapids host, a loop of whole SiLUs over L1 data took
   0.84-0.87x the time with the reciprocal). Checked exhaustively over every float x with |x| <= 87, with
   the Cephes exp polynomial then in use: SiLU's max relative error against a double reference is
   1.744e-7 with this and with exact division alike (1/d followed by a*(1/d) would be 2.02e-7, past the
   tests' 2e-7); sigmoid 1.482e-7 vs 1.479e-7. Where q is infinite (a = +-inf) the correction would give
   inf - inf, so q is kept: vfixupimmps classifies q and returns it for the +-inf classes (table entries
   4 and 5 = 1, "the classified operand"), the corrected quotient for every other class.

   Divide: on Zen 5 (AMD family 0x1A) vdivps zmm is pipelined and the reciprocal's multiply-adds compete
   with the exp polynomial for the two FMA pipes. SiLU over L1 data (groups of 8): 1.70 against 2.09 ns
   per vector; B0 at batch 1, five alternating pairs: median 2.70 against 2.85 ms (the fused expansions
   1.48 against 1.58 ms), B3 11.63 against 12.04 ms; training unchanged. On Zen 4 (family 0x19, which
   runs 512-bit operations as two 256-bit halves) likewise: the fused expansion 112x112 16->96 3x3/2 took
   0.74 against 0.80 ms (C harness, one thread), B0 at batch 1 5.03-5.13 against 5.22-5.30 ms. */
static inline __attribute__((always_inline)) __m512 v_quotient_reciprocal(__m512 a, __m512 d) {
    const __m512 r = _mm512_rcp14_ps(d);
    const __m512 q = _mm512_mul_ps(a, r);
    const __m512 corrected = _mm512_fmadd_ps(_mm512_fnmadd_ps(d, q, a), r, q);
    return _mm512_fixupimm_ps(corrected, q, _mm512_set1_epi32((1 << 16) | (1 << 20)), 0);
}

/* q[i] = a[i] / d[i] for a group of n vectors (n a literal at every call site). */
static inline __attribute__((always_inline)) void v_quotient_group(const __m512 *a, const __m512 *d, __m512 *q,
                                                                   int n) {
    if (effnet_avx512_quotient_mode == EFFNET_QUOTIENT_DIVIDE) {
        for (int i = 0; i < n; i++) q[i] = _mm512_div_ps(a[i], d[i]);
    } else {
        for (int i = 0; i < n; i++) q[i] = v_quotient_reciprocal(a[i], d[i]);
    }
}

static inline __attribute__((always_inline)) __m512 v_quotient(__m512 a, __m512 d) {
    __m512 q;
    v_quotient_group(&a, &d, &q, 1);
    return q;
}

static inline __attribute__((always_inline)) void v_spill(VF v, float *lanes) { _mm512_storeu_ps(lanes, v); }

/* The sum of the 16 lanes (halves added pairwise down to one). */
#define V_REDUCE_ADD(v) _mm512_reduce_add_ps(v)

#endif
