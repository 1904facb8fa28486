// The kernels, written once against the V_* vocabulary of VectorAVX512.h / VectorAVX2.h. Instantiate.h
// includes this inside a target(...) region once per instruction set (from AVX512.c and AVX2.c), which
// makes FN(name) = name_avx512 / name_avx2.
//
// They mirror the Swift SIMD code (Activation.swift, BatchNormTraining.swift): same loop order, tiling and
// float-per-tile / Double-total accumulation. The differences are wider registers, fused multiply-adds
// (one rounding instead of two), masked tails and a shorter exp (see v_one_plus_exp_of_negative_group).
// This file has no include guard on purpose: it is instantiated once per instruction set.

#include <stdint.h>
#include <string.h>

#include "CEffNetSIMD.h"
#include "KernelDeclarations.h"
#include "WeightPrefetch.h"

#define AI static inline __attribute__((always_inline))

/* Full groups use plain loads/stores; the channel tail uses masked ones (m = its lane mask). `full`
   is a literal at every call site, so each variant compiles to straight code. */
#define LD(p) (full ? V_LOAD(p) : V_LOADM((p), m))
#define ST(p, v)                                                                                               \
    do {                                                                                                       \
        if (full) V_STORE((p), (v));                                                                           \
        else V_STOREM((p), m, (v));                                                                            \
    } while (0)

/* Calls `call` with the activation code as the constant A, so each activation gets its own loop. */
#define WITH_ACTIVATION(act, call)                                                                             \
    switch (act) {                                                                                             \
    case EFFNET_ACT_SILU: { const int A = EFFNET_ACT_SILU; call; } break;                                     \
    case EFFNET_ACT_RELU6: { const int A = EFFNET_ACT_RELU6; call; } break;                                   \
    default: { const int A = EFFNET_ACT_IDENTITY; call; } break;                                               \
    }

/* Loops over the vectors of a group (a literal count) must unroll so the group stays in registers. */
#if defined(__clang__)
#define GROUP_UNROLL _Pragma("clang loop unroll(full)")
#else
#define GROUP_UNROLL _Pragma("GCC unroll 8")
#endif

/* Most vectors a caller hands to one v_activate_group (the depthwise kernel's block of 8 outputs). */
#define ACTIVATION_GROUP_MAX 8

/* 1 + exp(-x[i]) for the n vectors of a group: the denominator of sigmoid and SiLU, the only form the
   kernels need. x is clamped to [-88, 87] or [-88, 88] first (the ISA header's V_CLAMP_EXP_ARGUMENT: the
   same results, as 1 + exp(-x) rounds to 1 from x = 17 on). Two forms, by instruction set; both measured
   over every float against a Double reference (C harness, both quotient modes' division), and
   Tools/exp_minimax.py prints where their constants come from.

   Each step runs across the whole group before the next one starts. One vector's exp is a chain of ~15
   dependent operations (~60 cycles); issued one whole chain after another, the scheduler fills with
   operations that wait on their predecessor and the two vector ports idle. A loop of SiLUs over L1 data
   took 19-20 cycles per vector one at a time, 14 in pairs and 13.3 in groups of 4 or 8 (session 10).
   The operations per vector and their order are the same either way, so the results are bit-identical. */
#ifdef V_EXP_TABLE
/* Table form (AVX-512): exp(-x) = 2^(k/16) * exp(r), k the integer nearest -16x/ln2 and
   r = -x - k*ln2/16 in [-ln2/32, ln2/32], on which a degree-3 polynomial (Lawson near-minimax, 1.6e-9)
   is enough where the polynomial form below needs degree 6 on a 16 times wider interval.
   - k comes as the low bits of t = magic - 16x/ln2 (the add rounds to an integer); its low 4 bits,
     j = k mod 16, select T_j ~ 2^(j/16) from the table (one vpermps, which looks only at those 4 bits).
   - The table holds bits(T_j) - (j << 19); adding bits(t) << 19 = (k << 19) (mod 2^32: magic's bits
     shift out) puts j back and adds floor(k/16) to the exponent field: 2^(k/16) without a vscalefps.
     x = 88 gives floor(k/16) = -127, an exponent field of 0: a denormal that 1 + ... ignores; x = -88
     gives 2^126 * T_15, below FLT_MAX.
   - T_j is a float, 2^(j/16) rounded (up to 6e-8 off). Its error ln(2^(j/16) / T_j), from a second
     table, is added to r; without it SiLU's maximum relative error was 2.19e-7 (240 floats beyond the
     tests' 2e-7), with it 1.744e-7, as with the polynomial form.
   - The last step 1 + p*2^(k/16) is one fused multiply-add, p never rounded to a float of its own.
   SiLU over L1 data (groups of 8, division): 1.39 against 1.61 ns per vector on the Zen 5 host. */
static const uint32_t exp_table_bits[16] __attribute__((aligned(64))) = {
    0x3F800000, 0x3F7DAAC3, 0x3F7B95C2, 0x3F79C3D3, 0x3F7837F0, 0x3F76F532, 0x3F75FED7, 0x3F75583F,
    0x3F7504F3, 0x3F7508A4, 0x3F75672A, 0x3F76248C, 0x3F7744FD, 0x3F78CCDF, 0x3F7AC0C7, 0x3F7D257D};
static const float exp_table_corrections[16] __attribute__((aligned(64))) = {
    0.0f,           4.62854715e-08f,  -1.19921575e-08f, 4.72978208e-08f,  3.19341815e-08f, 3.62105723e-08f,
    -3.09907229e-08f, -7.47521334e-09f, 1.71142709e-08f, -3.04768335e-08f, 5.23333421e-09f, 6.10759177e-09f,
    -1.4719606e-08f, -5.25879518e-09f, -6.12825968e-09f, 5.14060927e-09f};

AI void v_one_plus_exp_of_negative_group(const VF *xs, VF *d, int n) {
    VF x[ACTIVATION_GROUP_MAX], t[ACTIVATION_GROUP_MAX], k[ACTIVATION_GROUP_MAX], r[ACTIVATION_GROUP_MAX];
    const VF magic = V_SET1(12582912.0f); /* 1.5 * 2^23 */
    const VF powers = V_LOAD((const float *)exp_table_bits);
    const VF corrections = V_LOAD(exp_table_corrections);
    GROUP_UNROLL for (int i = 0; i < n; i++) x[i] = V_CLAMP_EXP_ARGUMENT(xs[i]);
    GROUP_UNROLL for (int i = 0; i < n; i++) t[i] = V_FMADD(x[i], V_SET1(-23.083120654223414f), magic); /* -16/ln2 */
    GROUP_UNROLL for (int i = 0; i < n; i++) k[i] = V_SUB(t[i], magic);
    /* r = -x - k*ln2/16 in two parts (Cody-Waite: k*0.693359375/16 is exact), plus T_j's correction. */
    GROUP_UNROLL for (int i = 0; i < n; i++) r[i] = V_FNMSUB(k[i], V_SET1(0.693359375f / 16), x[i]);
    GROUP_UNROLL for (int i = 0; i < n; i++) r[i] = V_FMADD(k[i], V_SET1(2.12194440e-4f / 16), r[i]);
    GROUP_UNROLL for (int i = 0; i < n; i++) r[i] = V_ADD(r[i], V_TABLE16_LOOKUP(corrections, t[i]));
    /* exp(r) = 1 + r + c2*r^2 + c3*r^3. */
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_FMADD(V_SET1(0.16666074f), r[i], V_SET1(0.5000162f));
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_FMADD(d[i], r[i], V_SET1(1.0f));
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_FMADD(d[i], r[i], V_SET1(1.0f));
    GROUP_UNROLL for (int i = 0; i < n; i++)
        d[i] = V_FMADD(d[i], V_ADD_SHIFTED_BITS(V_TABLE16_LOOKUP(powers, t[i]), t[i], 19), V_SET1(1.0f));
}
#else
/* Polynomial form (AVX2): exp(-x) = 2^-m * exp(-r) with m the integer nearest x/ln2 and
   r = x - m*ln2 in [-ln2/2, ln2/2], computed without negating x first. exp(-r) is a degree-6 polynomial
   with relative-error minimax coefficients (2.6e-9 before rounding to float), in Horner form: one FMA
   per degree. Swift's vectorExp keeps Cephes' degree-7 form 1 + r + r^2*P(r), which needs 8 operations
   here against 6; with FMAs the shorter one loses nothing that shows. Measured over every float with
   |x| <= 90 against a Double reference (max relative error, Cephes -> this): exp(-x) 8.5e-8 -> 1.0e-7,
   sigmoid 1.48e-7 -> 1.69e-7, SiLU 1.744e-7 -> 1.756e-7. In the GEMM harness the expansions (K = 16..112,
   SiLU on every output) took 0.95-0.96x the time. */
AI void v_one_plus_exp_of_negative_group(const VF *xs, VF *d, int n) {
    VF x[ACTIVATION_GROUP_MAX], minus_m[ACTIVATION_GROUP_MAX], r[ACTIVATION_GROUP_MAX];
    /* t = x/ln2 + (1.5*2^23 + 127): the add rounds x/ln2 to the nearest integer m; minus_m = -m exactly. */
    const VF magic = V_SET1(12582912.0f + 127.0f);
    GROUP_UNROLL for (int i = 0; i < n; i++) x[i] = V_CLAMP_EXP_ARGUMENT(xs[i]);
    GROUP_UNROLL for (int i = 0; i < n; i++) minus_m[i] = V_SUB(magic, V_FMADD(x[i], V_SET1(1.4426950408889634f), magic));
    /* r = x - m*ln2 in two parts (Cody-Waite). */
    GROUP_UNROLL for (int i = 0; i < n; i++) r[i] = V_FMADD(minus_m[i], V_SET1(0.693359375f), x[i]);
    GROUP_UNROLL for (int i = 0; i < n; i++) r[i] = V_FNMADD(minus_m[i], V_SET1(2.12194440e-4f), r[i]);
    /* exp(-r) = 1 - c1*r + c2*r^2 - ... + c6*r^6. */
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_FMADD(V_SET1(1.4061241e-3f), r[i], V_SET1(-8.379011e-3f));
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_FMADD(d[i], r[i], V_SET1(4.1664775e-2f));
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_FMADD(d[i], r[i], V_SET1(-1.6666366e-1f));
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_FMADD(d[i], r[i], V_SET1(5.0000006e-1f));
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_FMADD(d[i], r[i], V_SET1(-1.0f));
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_FMADD(d[i], r[i], V_SET1(1.0f));
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_SCALE_BY_POW2(d[i], minus_m[i], magic);
    GROUP_UNROLL for (int i = 0; i < n; i++) d[i] = V_ADD(V_SET1(1.0f), d[i]);
}
#endif

/* 1/(1 + exp(-x)) (v_quotient: see the ISA header for its accuracy). */
AI VF v_sigmoid(VF x) {
    VF d;
    v_one_plus_exp_of_negative_group(&x, &d, 1);
    return v_quotient(V_SET1(1.0f), d);
}

/* SiLU in place on the n vectors of a group, step by step across the group (see
   v_one_plus_exp_of_negative_group). */
AI void v_silu_group(VF *v, int n) {
    VF d[ACTIVATION_GROUP_MAX];
    v_one_plus_exp_of_negative_group(v, d, n);
    v_quotient_group(v, d, v, n);
}

AI VF v_activate(VF v, int act) {
    switch (act) {
    case EFFNET_ACT_SILU: v_silu_group(&v, 1); return v;
    case EFFNET_ACT_RELU6: return V_MIN_BOUND(V_SET1(6.0f), V_MAX_BOUND(V_ZERO(), v));
    default: return v;
    }
}

/* v_activate on each of the n vectors of a group (n a literal <= ACTIVATION_GROUP_MAX), SiLU's steps
   interleaved across up to SILU_GROUP_WIDTH of them (the ISA header's choice): the same bits as one at a
   time, in about 2/3 of the time on AVX-512. */
AI void v_activate_group(VF *v, int n, int act) {
    if (act == EFFNET_ACT_SILU) {
        GROUP_UNROLL for (int i = 0; i < n; i += SILU_GROUP_WIDTH)
            v_silu_group(v + i, n - i < SILU_GROUP_WIDTH ? n - i : SILU_GROUP_WIDTH);
        return;
    }
    GROUP_UNROLL for (int i = 0; i < n; i++) v[i] = v_activate(v[i], act);
}

/* grad[i] * act'(y[i]) for the n vectors of a group, in place in grad: silu' = s*(1 + y*(1 - s)),
   s = sigmoid(y), its steps interleaved across the group (see v_one_plus_exp_of_negative_group); relu6' = 1
   strictly inside (0, 6). */
AI void v_activation_gradient_group(VF *grad, const VF *y, int n, int act) {
    switch (act) {
    case EFFNET_ACT_SILU: {
        const VF one = V_SET1(1.0f);
        GROUP_UNROLL for (int i0 = 0; i0 < n; i0 += SILU_GROUP_WIDTH) {
            const int w = n - i0 < SILU_GROUP_WIDTH ? n - i0 : SILU_GROUP_WIDTH;
            VF s[ACTIVATION_GROUP_MAX];
            v_one_plus_exp_of_negative_group(y + i0, s, w);
            VF ones[ACTIVATION_GROUP_MAX];
            GROUP_UNROLL for (int i = 0; i < w; i++) ones[i] = one;
            v_quotient_group(ones, s, s, w);
            GROUP_UNROLL for (int i = 0; i < w; i++)
                grad[i0 + i] = V_MUL(V_MUL(grad[i0 + i], s[i]), V_FMADD(y[i0 + i], V_SUB(one, s[i]), one));
        }
        return;
    }
    case EFFNET_ACT_RELU6:
        GROUP_UNROLL for (int i = 0; i < n; i++) grad[i] = V_KEEP_STRICTLY_INSIDE(grad[i], y[i], V_ZERO(), V_SET1(6.0f));
        return;
    default: return;
    }
}

AI VF v_activation_gradient(VF grad, VF y, int act) {
    v_activation_gradient_group(&grad, &y, 1, act);
    return grad;
}

/* slot[i] += lane i, for the first w lanes (a tile's float sums into the Double totals). */
AI void flush_lanes(VF v, double *slot, ptrdiff_t w) {
    float lanes[VW];
    v_spill(v, lanes);
    for (ptrdiff_t i = 0; i < w; i++) slot[i] += (double)lanes[i];
}

AI ptrdiff_t min_index(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }

// MARK: - Pointwise epilogue and in-place activation

/* n consecutive vectors of a row (n a literal, 4 or 1; masked only as the one tail vector), the
   activation interleaved across them (v_activate_group). */
AI void bias_activation_vectors(int act, int n, int full, VM m, float *row, const float *bias, const float *res) {
    VF v[4];
    GROUP_UNROLL for (int i = 0; i < n; i++) v[i] = bias ? V_ADD(LD(row + i * VW), LD(bias + i * VW)) : LD(row + i * VW);
    v_activate_group(v, n, act);
    GROUP_UNROLL for (int i = 0; i < n; i++) ST(row + i * VW, res ? V_ADD(v[i], LD(res + i * VW)) : v[i]);
}

AI void bias_activation_block(int act, float *out, ptrdiff_t ldo, ptrdiff_t rows, ptrdiff_t cols,
                              const float *bias, const float *residual) {
    const ptrdiff_t full16 = cols / VW * VW;
    const VM all = V_MASK(VW);
    for (ptrdiff_t r = 0; r < rows; r++) {
        float *row = out + r * ldo;
        const float *res = residual ? residual + r * ldo : 0;
        ptrdiff_t c = 0;
        for (; c + 4 * VW <= full16; c += 4 * VW)
            bias_activation_vectors(act, 4, 1, all, row + c, bias ? bias + c : 0, res ? res + c : 0);
        for (; c < full16; c += VW)
            bias_activation_vectors(act, 1, 1, all, row + c, bias ? bias + c : 0, res ? res + c : 0);
        if (c < cols)
            bias_activation_vectors(act, 1, 0, V_MASK(cols - c), row + c, bias ? bias + c : 0, res ? res + c : 0);
    }
}

void FN(effnet_bias_activation)(int act, float *out, ptrdiff_t ldo, ptrdiff_t rows, ptrdiff_t cols,
                                const float *bias, const float *residual) {
    /* Bias and residual presence as literals too, so the inner loop has no tests. */
    if (bias && residual) {
        WITH_ACTIVATION(act, bias_activation_block(A, out, ldo, rows, cols, bias, residual))
    } else if (bias) {
        WITH_ACTIVATION(act, bias_activation_block(A, out, ldo, rows, cols, bias, 0))
    } else if (residual) {
        WITH_ACTIVATION(act, bias_activation_block(A, out, ldo, rows, cols, 0, residual))
    } else {
        WITH_ACTIVATION(act, bias_activation_block(A, out, ldo, rows, cols, 0, 0))
    }
}

AI void activation_backward_all(int act, const float *gradOutput, const float *y, ptrdiff_t count,
                                float *gradInput) {
    ptrdiff_t i = 0;
    for (; i + VW <= count; i += VW) {
        const int full = 1;
        const VM m = V_MASK(VW);
        ST(gradInput + i, v_activation_gradient(LD(gradOutput + i), LD(y + i), act));
    }
    if (i < count) {
        const int full = 0;
        const VM m = V_MASK(count - i);
        ST(gradInput + i, v_activation_gradient(LD(gradOutput + i), LD(y + i), act));
    }
}

void FN(effnet_activation_backward)(int act, const float *gradOutput, const float *y, ptrdiff_t count,
                                    float *gradInput) {
    WITH_ACTIVATION(act, activation_backward_all(A, gradOutput, y, count, gradInput))
}

// MARK: - BatchNorm statistics

/* One channel group (c, w lanes) of one tile: Σ(x − K) and Σ(x − K)² with K = row 0, two rows at a
   time into two accumulator pairs. */
AI void statistics_group(int full, VM m, const float *x, ptrdiff_t C, ptrdiff_t c, ptrdiff_t r0, ptrdiff_t r1,
                         double *sums, double *squares, ptrdiff_t w) {
    const VF shift = LD(x + c);
    VF a0 = V_ZERO(), a1 = V_ZERO(), q0 = V_ZERO(), q1 = V_ZERO();
    ptrdiff_t p = r0;
    for (; p + 2 <= r1; p += 2) {
        VF d0 = V_SUB(LD(x + p * C + c), shift);
        VF d1 = V_SUB(LD(x + (p + 1) * C + c), shift);
        a0 = V_ADD(a0, d0);
        q0 = V_FMADD(d0, d0, q0);
        a1 = V_ADD(a1, d1);
        q1 = V_FMADD(d1, d1, q1);
    }
    if (p < r1) {
        VF d = V_SUB(LD(x + p * C + c), shift);
        a0 = V_ADD(a0, d);
        q0 = V_FMADD(d, d, q0);
    }
    flush_lanes(V_ADD(a0, a1), sums, w);
    flush_lanes(V_ADD(q0, q1), squares, w);
}

void FN(effnet_bn_statistics)(const float *x, ptrdiff_t C, ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t p0,
                              ptrdiff_t p1, ptrdiff_t tileRows, double *sums, double *squares, int accumulate) {
    if (!accumulate)
        for (ptrdiff_t i = 0; i < b1 - b0; i++) sums[i] = squares[i] = 0;
    for (ptrdiff_t r0 = p0; r0 < p1; r0 += tileRows) {
        const ptrdiff_t r1 = min_index(p1, r0 + tileRows);
        for (ptrdiff_t c = b0; c < b1; c += VW) {
            const ptrdiff_t w = min_index(VW, b1 - c);
            if (w == VW) statistics_group(1, V_MASK(VW), x, C, c, r0, r1, sums + (c - b0), squares + (c - b0), w);
            else statistics_group(0, V_MASK(w), x, C, c, r0, r1, sums + (c - b0), squares + (c - b0), w);
        }
    }
}

// MARK: - BatchNorm apply

/* Channels per sweep of the rows in the row-walking BatchNorm passes below: their per-channel
   coefficients and sums stay in small stack arrays (L1). */
#define BN_ROW_CHUNK 2048

/* Rows p0..p1 of channels c0..c1 (at most BN_ROW_CHUNK), row by row: every channel of a row before the
   next row, so the pass streams the map in memory order. Walking one vector of channels down a tile of
   rows instead touched one cache line per row at a C*4-byte stride; with SiLU's arithmetic in the loop
   the hardware prefetchers then did not keep up. Single-thread harness, B0's 112x112x96 and 56x56x144 maps
   at batch 8: 0.70-0.86x the time. Each element gets the same operations as before, so the same bits. */
/* n consecutive vectors of one row of apply_rows (n a literal, 4 or 1; masked only as the one tail
   vector), the activation interleaved across them (v_activate_group). `mean`, `beta` and `scale` point
   at the first vector's channels. */
AI void apply_vectors(int act, int n, int full, VM m, const float *zr, const float *mean, const float *scale,
                      const float *beta, float *yr) {
    VF v[4];
    GROUP_UNROLL for (int i = 0; i < n; i++)
        v[i] = V_FMADD(V_SUB(LD(zr + i * VW), LD(mean + i * VW)), V_LOAD(scale + i * VW), LD(beta + i * VW));
    v_activate_group(v, n, act);
    GROUP_UNROLL for (int i = 0; i < n; i++) ST(yr + i * VW, v[i]);
}

AI void apply_rows(int act, const float *z, ptrdiff_t C, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t c0, ptrdiff_t c1,
                   const float *gamma, const float *beta, const float *mean, const float *invStd, float *output) {
    float scale[BN_ROW_CHUNK] __attribute__((aligned(64)));
    const ptrdiff_t width = c1 - c0;
    const ptrdiff_t whole = width / VW * VW;
    const VM m = V_MASK(width % VW == 0 ? 1 : width % VW);
    for (ptrdiff_t c = 0; c < whole; c += VW) {
        const int full = 1;
        V_STORE(scale + c, V_MUL(LD(invStd + c0 + c), LD(gamma + c0 + c)));
    }
    if (whole < width) {
        const int full = 0;
        V_STORE(scale + whole, V_MUL(LD(invStd + c0 + whole), LD(gamma + c0 + whole)));
    }
    for (ptrdiff_t p = p0; p < p1; p++) {
        const float *zr = z + p * C + c0;
        float *yr = output + p * C + c0;
        ptrdiff_t c = 0;
        for (; c + 4 * VW <= whole; c += 4 * VW)
            apply_vectors(act, 4, 1, m, zr + c, mean + c0 + c, scale + c, beta + c0 + c, yr + c);
        for (; c < whole; c += VW) apply_vectors(act, 1, 1, m, zr + c, mean + c0 + c, scale + c, beta + c0 + c, yr + c);
        if (c < width) apply_vectors(act, 1, 0, m, zr + c, mean + c0 + c, scale + c, beta + c0 + c, yr + c);
    }
}

AI void apply_group(int act, int full, VM m, const float *z, ptrdiff_t C, ptrdiff_t c, ptrdiff_t r0, ptrdiff_t r1,
                    const float *gamma, const float *beta, const float *mean, const float *invStd, float *output) {
    const VF mu = LD(mean + c);
    const VF scale = V_MUL(LD(invStd + c), LD(gamma + c));
    const VF b = LD(beta + c);
    for (ptrdiff_t p = r0; p < r1; p++) {
        const ptrdiff_t i = p * C + c;
        ST(output + i, v_activate(V_FMADD(V_SUB(LD(z + i), mu), scale, b), act));
    }
}

AI void apply_tiles(int act, const float *z, ptrdiff_t C, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows,
                   const float *gamma, const float *beta, const float *mean, const float *invStd, float *output) {
    for (ptrdiff_t r0 = p0; r0 < p1; r0 += tileRows) {
        const ptrdiff_t r1 = min_index(p1, r0 + tileRows);
        for (ptrdiff_t c = 0; c < C; c += VW) {
            const ptrdiff_t w = min_index(VW, C - c);
            if (w == VW) apply_group(act, 1, V_MASK(VW), z, C, c, r0, r1, gamma, beta, mean, invStd, output);
            else apply_group(act, 0, V_MASK(w), z, C, c, r0, r1, gamma, beta, mean, invStd, output);
        }
    }
}

/* Narrow maps (fewer than 4 vectors of channels) keep the tile walk: one vector of channels down a tile
   of rows, then the next. With 2-3 vectors per row the row walk's per-row set-up and the sums kept in
   memory cost more than it saves (harness: 1.0-1.4x the time for 24-40 channels). Both give the same
   bits, so the choice is speed only. */
#define BN_ROW_WALK_MIN_CHANNELS (4 * VW)

AI void apply_part(int act, const float *z, ptrdiff_t C, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows,
                   const float *gamma, const float *beta, const float *mean, const float *invStd, float *output) {
    if (C < BN_ROW_WALK_MIN_CHANNELS) {
        apply_tiles(act, z, C, p0, p1, tileRows, gamma, beta, mean, invStd, output);
        return;
    }
    for (ptrdiff_t c0 = 0; c0 < C; c0 += BN_ROW_CHUNK)
        apply_rows(act, z, C, p0, p1, c0, min_index(C, c0 + BN_ROW_CHUNK), gamma, beta, mean, invStd, output);
}

void FN(effnet_bn_apply)(int act, const float *z, ptrdiff_t C, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows,
                         const float *gamma, const float *beta, const float *mean, const float *invStd,
                         float *output) {
    WITH_ACTIVATION(act, apply_part(A, z, C, p0, p1, tileRows, gamma, beta, mean, invStd, output))
}

// MARK: - BatchNorm backward

/* One tile (rows r0..r1) of channels b0..b1 (at most BN_ROW_CHUNK), row by row like apply_rows, with
   the tile's float sums per channel in stack arrays, flushed into the Double totals at the tile's end:
   per lane the same adds in the same order as walking one vector of channels down the tile, so the same
   bits. Harness as for apply_rows, SiLU with dY stored: 0.73-0.93x the time. */
/* The squeeze-excitation's input gradient at one vector, dOut*scale + shift (scale and shift the image's
   [C] rows at the vector's channels): multiply, then add, as effnet_scale_channels computes it, so the
   fused pass reads the same values the SE backward's own pass would have written. */
AI VF se_input_gradient(int full, VM m, const float *dOut, const float *scale, const float *shift) {
    return V_ADD(V_MUL(LD(dOut), LD(scale)), LD(shift));
}

/* The image of map row p and the next image's first row, advanced as p walks forward (rows of one tile
   may belong to two images). */
typedef struct { ptrdiff_t image, next, imagePixels; } image_cursor;
AI image_cursor image_cursor_at(ptrdiff_t p, ptrdiff_t imagePixels) {
    const ptrdiff_t n = p / imagePixels;
    return (image_cursor){n, (n + 1) * imagePixels, imagePixels};
}
AI void image_cursor_advance(image_cursor *cursor, ptrdiff_t p) {
    while (p >= cursor->next) {
        cursor->image++;
        cursor->next += cursor->imagePixels;
    }
}

/* n consecutive vectors of one row of backward_sums_tile, starting at element i of the map and at the
   channel of `gamma`..`invStd`, `tileSums` and `tileProjections` (n a literal, 4 or 1; masked only as the
   one tail vector), SiLU's gradient interleaved across them (v_activation_gradient_group). */
AI void backward_sums_vectors(int act, int storeDY, int se, int n, int full, VM m, const float *dOut,
                              const float *z, ptrdiff_t i, const float *gamma, const float *beta, const float *mean,
                              const float *invStd, const float *seScale, const float *seShift, float *tileSums,
                              float *tileProjections, float *dYOut) {
    VF xhat[4], y[4], dy[4];
    GROUP_UNROLL for (int g = 0; g < n; g++) {
        xhat[g] = V_MUL(V_SUB(LD(z + i + g * VW), LD(mean + g * VW)), LD(invStd + g * VW));
        y[g] = V_FMADD(xhat[g], LD(gamma + g * VW), LD(beta + g * VW));
        dy[g] = se ? se_input_gradient(full, m, dOut + i + g * VW, seScale + g * VW, seShift + g * VW)
                   : LD(dOut + i + g * VW);
    }
    v_activation_gradient_group(dy, y, n, act);
    GROUP_UNROLL for (int g = 0; g < n; g++) {
        if (storeDY) ST(dYOut + i + g * VW, dy[g]);
        V_STORE(tileSums + g * VW, V_ADD(V_LOAD(tileSums + g * VW), dy[g]));
        V_STORE(tileProjections + g * VW, V_FMADD(dy[g], xhat[g], V_LOAD(tileProjections + g * VW)));
    }
}

AI void backward_sums_tile(int act, int storeDY, int se, const float *dOut, const float *z, ptrdiff_t C,
                           ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t r0, ptrdiff_t r1, const float *gamma,
                           const float *beta, const float *mean, const float *invStd, const float *seScale,
                           const float *seShift, ptrdiff_t imagePixels, float *tileSums, float *tileProjections,
                           double *sums, double *projections, float *dYOut) {
    const ptrdiff_t width = b1 - b0;
    const ptrdiff_t whole = width / VW * VW;
    const VM m = V_MASK(width % VW == 0 ? 1 : width % VW);
    for (ptrdiff_t c = 0; c < width; c += VW) {
        V_STORE(tileSums + c, V_ZERO());
        V_STORE(tileProjections + c, V_ZERO());
    }
    image_cursor cursor = image_cursor_at(r0, se ? imagePixels : 1);
    for (ptrdiff_t p = r0; p < r1; p++) {
        const float *rs = gamma, *ra = gamma;  /* read only when se */
        if (se) {
            image_cursor_advance(&cursor, p);
            rs = seScale + cursor.image * C + b0;
            ra = seShift + cursor.image * C + b0;
        }
        ptrdiff_t c = 0;
        for (; c + 4 * VW <= whole; c += 4 * VW)
            backward_sums_vectors(act, storeDY, se, 4, 1, m, dOut, z, p * C + b0 + c, gamma + b0 + c, beta + b0 + c,
                                  mean + b0 + c, invStd + b0 + c, rs + c, ra + c, tileSums + c, tileProjections + c,
                                  dYOut);
        for (; c < whole; c += VW)
            backward_sums_vectors(act, storeDY, se, 1, 1, m, dOut, z, p * C + b0 + c, gamma + b0 + c, beta + b0 + c,
                                  mean + b0 + c, invStd + b0 + c, rs + c, ra + c, tileSums + c, tileProjections + c,
                                  dYOut);
        if (c < width)
            backward_sums_vectors(act, storeDY, se, 1, 0, m, dOut, z, p * C + b0 + c, gamma + b0 + c, beta + b0 + c,
                                  mean + b0 + c, invStd + b0 + c, rs + c, ra + c, tileSums + c, tileProjections + c,
                                  dYOut);
    }
    for (ptrdiff_t c = 0; c < width; c += VW) {
        const ptrdiff_t w = min_index(VW, width - c);
        flush_lanes(V_LOAD(tileSums + c), sums + c, w);
        flush_lanes(V_LOAD(tileProjections + c), projections + c, w);
    }
}

AI void backward_sums_group(int act, int storeDY, int se, int full, VM m, const float *dOut, const float *z,
                            ptrdiff_t C, ptrdiff_t c, ptrdiff_t r0, ptrdiff_t r1, const float *gamma,
                            const float *beta, const float *mean, const float *invStd, const float *seScale,
                            const float *seShift, ptrdiff_t imagePixels, double *sums, double *projections,
                            float *dYOut, ptrdiff_t w) {
    const VF mu = LD(mean + c), s = LD(invStd + c), g = LD(gamma + c), b = LD(beta + c);
    VF a0 = V_ZERO(), q0 = V_ZERO();
    image_cursor cursor = image_cursor_at(r0, se ? imagePixels : 1);
    for (ptrdiff_t p = r0; p < r1; p++) {
        const ptrdiff_t i = p * C + c;
        const VF xhat = V_MUL(V_SUB(LD(z + i), mu), s);
        VF d;
        if (se) {
            image_cursor_advance(&cursor, p);
            d = se_input_gradient(full, m, dOut + i, seScale + cursor.image * C + c, seShift + cursor.image * C + c);
        } else {
            d = LD(dOut + i);
        }
        const VF dy = v_activation_gradient(d, V_FMADD(xhat, g, b), act);
        if (storeDY) ST(dYOut + i, dy);
        a0 = V_ADD(a0, dy);
        q0 = V_FMADD(dy, xhat, q0);
    }
    flush_lanes(a0, sums, w);
    flush_lanes(q0, projections, w);
}

AI void backward_sums_part(int act, int storeDY, int se, const float *dOut, const float *z, ptrdiff_t C,
                           ptrdiff_t b0, ptrdiff_t b1, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows,
                           const float *gamma, const float *beta, const float *mean, const float *invStd,
                           const float *seScale, const float *seShift, ptrdiff_t imagePixels, double *sums,
                           double *projections, float *dYOut) {
    float tileSums[BN_ROW_CHUNK] __attribute__((aligned(64)));
    float tileProjections[BN_ROW_CHUNK] __attribute__((aligned(64)));
    for (ptrdiff_t i = 0; i < b1 - b0; i++) sums[i] = projections[i] = 0;
    if (b1 - b0 < BN_ROW_WALK_MIN_CHANNELS) {
        for (ptrdiff_t r0 = p0; r0 < p1; r0 += tileRows) {
            const ptrdiff_t r1 = min_index(p1, r0 + tileRows);
            for (ptrdiff_t c = b0; c < b1; c += VW) {
                const ptrdiff_t w = min_index(VW, b1 - c);
                if (w == VW)
                    backward_sums_group(act, storeDY, se, 1, V_MASK(VW), dOut, z, C, c, r0, r1, gamma, beta, mean,
                                        invStd, seScale, seShift, imagePixels, sums + (c - b0),
                                        projections + (c - b0), dYOut, w);
                else
                    backward_sums_group(act, storeDY, se, 0, V_MASK(w), dOut, z, C, c, r0, r1, gamma, beta, mean,
                                        invStd, seScale, seShift, imagePixels, sums + (c - b0),
                                        projections + (c - b0), dYOut, w);
            }
        }
        return;
    }
    for (ptrdiff_t k0 = b0; k0 < b1; k0 += BN_ROW_CHUNK) {
        const ptrdiff_t k1 = min_index(b1, k0 + BN_ROW_CHUNK);
        for (ptrdiff_t r0 = p0; r0 < p1; r0 += tileRows)
            backward_sums_tile(act, storeDY, se, dOut, z, C, k0, k1, r0, min_index(p1, r0 + tileRows), gamma, beta,
                               mean, invStd, seScale, seShift, imagePixels, tileSums, tileProjections,
                               sums + (k0 - b0), projections + (k0 - b0), dYOut);
    }
}

void FN(effnet_bn_backward_sums)(int act, const float *dOut, const float *z, ptrdiff_t C, ptrdiff_t b0,
                                 ptrdiff_t b1, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows, const float *gamma,
                                 const float *beta, const float *mean, const float *invStd, const float *seScale,
                                 const float *seShift, ptrdiff_t imagePixels, double *sums, double *projections,
                                 float *dYOut) {
    if (seScale) {
        WITH_ACTIVATION(act, backward_sums_part(A, 1, 1, dOut, z, C, b0, b1, p0, p1, tileRows, gamma, beta, mean,
                                                invStd, seScale, seShift, imagePixels, sums, projections, dYOut))
    } else if (dYOut) {
        WITH_ACTIVATION(act, backward_sums_part(A, 1, 0, dOut, z, C, b0, b1, p0, p1, tileRows, gamma, beta, mean,
                                                invStd, 0, 0, 1, sums, projections, dYOut))
    } else {
        WITH_ACTIVATION(act, backward_sums_part(A, 0, 0, dOut, z, C, b0, b1, p0, p1, tileRows, gamma, beta, mean,
                                                invStd, 0, 0, 1, sums, projections, 0))
    }
}

AI void backward_input_group(int act, int full, VM m, const float *dOut, const float *z, ptrdiff_t C, ptrdiff_t c,
                             ptrdiff_t r0, ptrdiff_t r1, const float *gamma, const float *beta, const float *mean,
                             const float *invStd, const float *meanGrad, const float *projGrad, float *gradInput) {
    const VF mu = LD(mean + c), s = LD(invStd + c), g = LD(gamma + c), b = LD(beta + c);
    const VF gs = V_MUL(g, s);
    const VF mg = LD(meanGrad), pg = LD(projGrad);
    /* Four rows at a time, SiLU's gradient interleaved across them (v_activation_gradient_group); n is a
       literal at both calls. */
#define BACKWARD_INPUT_ROWS(n)                                                                                 \
    do {                                                                                                       \
        VF xhat[4], y[4], dy[4];                                                                               \
        GROUP_UNROLL for (int j = 0; j < (n); j++) {                                                           \
            const ptrdiff_t i = (p + j) * C + c;                                                               \
            xhat[j] = V_MUL(V_SUB(LD(z + i), mu), s);                                                          \
            y[j] = V_FMADD(xhat[j], g, b);                                                                     \
            dy[j] = LD(dOut + i);                                                                              \
        }                                                                                                      \
        v_activation_gradient_group(dy, y, (n), act);                                                          \
        GROUP_UNROLL for (int j = 0; j < (n); j++)                                                             \
            ST(gradInput + (p + j) * C + c, V_MUL(V_FNMADD(xhat[j], pg, V_SUB(dy[j], mg)), gs));               \
    } while (0)
    ptrdiff_t p = r0;
    for (; p + 4 <= r1; p += 4) BACKWARD_INPUT_ROWS(4);
    for (; p < r1; p++) BACKWARD_INPUT_ROWS(1);
#undef BACKWARD_INPUT_ROWS
}

AI void backward_input_part(int act, const float *dOut, const float *z, ptrdiff_t C, ptrdiff_t b0, ptrdiff_t b1,
                            ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows, const float *gamma, const float *beta,
                            const float *mean, const float *invStd, const float *meanGrad, const float *projGrad,
                            float *gradInput) {
    for (ptrdiff_t r0 = p0; r0 < p1; r0 += tileRows) {
        const ptrdiff_t r1 = min_index(p1, r0 + tileRows);
        for (ptrdiff_t c = b0; c < b1; c += VW) {
            const ptrdiff_t w = min_index(VW, b1 - c);
            if (w == VW)
                backward_input_group(act, 1, V_MASK(VW), dOut, z, C, c, r0, r1, gamma, beta, mean, invStd,
                                     meanGrad + (c - b0), projGrad + (c - b0), gradInput);
            else
                backward_input_group(act, 0, V_MASK(w), dOut, z, C, c, r0, r1, gamma, beta, mean, invStd,
                                     meanGrad + (c - b0), projGrad + (c - b0), gradInput);
        }
    }
}

void FN(effnet_bn_backward_input)(int act, const float *dOut, const float *z, ptrdiff_t C, ptrdiff_t b0,
                                  ptrdiff_t b1, ptrdiff_t p0, ptrdiff_t p1, ptrdiff_t tileRows, const float *gamma,
                                  const float *beta, const float *mean, const float *invStd, const float *meanGrad,
                                  const float *projGrad, float *gradInput) {
    WITH_ACTIVATION(act, backward_input_part(A, dOut, z, C, b0, b1, p0, p1, tileRows, gamma, beta, mean, invStd,
                                             meanGrad, projGrad, gradInput))
}

/* The depthwise row kernel shares this file's macros and activations. */
#include "DepthwiseTemplate.h"
#include "DepthwiseBackwardTemplate.h"

/* So do the pointwise GEMM and the expansion fused with the depthwise convolution (which uses both). */
#include "GemmTemplate.h"
#include "WeightGradientTemplate.h"
#include "ExpandDepthwiseTemplate.h"
#include "StemTemplate.h"
#include "ChannelPassesTemplate.h"
#include "MatVecTemplate.h"
#include "SqueezeExciteTemplate.h"

/* The FMA loop that measures the machine's peak. */
#include "PeakTemplate.h"

#undef AI
#undef LD
#undef ST
#undef WITH_ACTIVATION
#undef BN_ROW_CHUNK
#undef BN_ROW_WALK_MIN_CHANNELS
