// The depthwise convolution's weight gradient (training backward), written against the V_* vocabulary and
// instantiated per instruction set by KernelTemplate.h (no include guard on purpose).
//
// target[ky][kx][c] += sum over output rows r0..<r1 (row = n*outH + oy) and columns ox of
// dZ[row][ox][c] * x[n][oy*s - padTop + ky][ox*s - padLeft + kx][c].
//
// Same walk as the Swift kernel (DepthwiseConvBackward.swift): per output row, channel vector and kernel
// row, the k taps are summed along the row in registers (one dZ load feeds all k of them) and added to
// target once. The Swift code is compiled for the SSE2 baseline (8 lanes as two registers, multiply then
// add); here a vector is 16 or 8 lanes with fused multiply-adds, which matters because this is the larger
// half of the depthwise backward (B0 at batch 16: 23 of 27 ms for 112x112x96, at 15 GFLOP/s).

/* Taps kx of one kernel row over one output row: K (literal) sums, interior columns unchecked. */
AI void dwgw_row(int K, int S, int full, VM m, const float *z, const float *xRow, ptrdiff_t C, ptrdiff_t W,
                 ptrdiff_t outW, ptrdiff_t padLeft, ptrdiff_t lo, ptrdiff_t hi, float *out) {
    VF acc[7];
    for (int kx = 0; kx < K; kx++) acc[kx] = V_ZERO();
    for (ptrdiff_t ox = 0; ox < outW; ox++) {
        const ptrdiff_t ix0 = ox * S - padLeft;
        const VF zv = LD(z + ox * C);
        const float *xp = xRow + ix0 * C;
        if (ox >= lo && ox < hi) {
            for (int kx = 0; kx < K; kx++) acc[kx] = V_FMADD(LD(xp + kx * C), zv, acc[kx]);
        } else {
            for (int kx = 0; kx < K; kx++) {
                const ptrdiff_t ix = ix0 + kx;
                if (ix >= 0 && ix < W) acc[kx] = V_FMADD(LD(xp + kx * C), zv, acc[kx]);
            }
        }
    }
    for (int kx = 0; kx < K; kx++) ST(out + kx * C, V_ADD(LD(out + kx * C), acc[kx]));
}

AI void dwgw_rows(int K, int S, const float *dZ, const float *x, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,
                  ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t r0, ptrdiff_t r1,
                  ptrdiff_t c0, ptrdiff_t c1, float *target) {
    /* Output columns whose K taps all lie inside the row: ox*S - padLeft >= 0, ox*S - padLeft + K <= W. */
    const ptrdiff_t lo = (padLeft + S - 1) / S;
    const ptrdiff_t hi = W - K + padLeft >= 0 ? min_index(outW, (W - K + padLeft) / S + 1) : 0;
    for (ptrdiff_t row = r0; row < r1; row++) {
        const ptrdiff_t n = row / outH;
        const ptrdiff_t iy0 = (row - n * outH) * S - padTop;
        const ptrdiff_t kyLo = iy0 < 0 ? -iy0 : 0;
        const ptrdiff_t kyHi = min_index(K, H - iy0);
        const float *zRow = dZ + row * outW * C;
        for (ptrdiff_t c = c0; c < c1; c += VW) {
            const ptrdiff_t width = min_index(VW, c1 - c);
            for (ptrdiff_t ky = kyLo; ky < kyHi; ky++) {
                const float *xRow = x + ((n * H + iy0 + ky) * W) * C + c;
                float *out = target + (ky * K) * C + c;
                if (width == VW) dwgw_row(K, S, 1, V_MASK(1), zRow + c, xRow, C, W, outW, padLeft, lo, hi, out);
                else dwgw_row(K, S, 0, V_MASK(width), zRow + c, xRow, C, W, outW, padLeft, lo, hi, out);
            }
        }
    }
}

int FN(effnet_depthwise_grad_weights_rows)(const float *dZ, const float *x, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,
                                           ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft,
                                           ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t c0,
                                           ptrdiff_t c1, float *target) {
#define DWGW_CASE(K, S)                                                                                        \
    if (kernel == K && stride == S) {                                                                          \
        dwgw_rows(K, S, dZ, x, H, W, C, padTop, padLeft, outH, outW, r0, r1, c0, c1, target);                  \
        return 1;                                                                                              \
    }
    DWGW_CASE(3, 1)
    DWGW_CASE(3, 2)
    DWGW_CASE(5, 1)
    DWGW_CASE(5, 2)
#undef DWGW_CASE
    return 0;
}
