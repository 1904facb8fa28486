// The depthwise convolution's backward (training): the weight gradient and the input gradient, written
// against the V_* vocabulary and instantiated per instruction set by KernelTemplate.h (no include guard on
// purpose).
//
// Weight gradient:
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
    ptrdiff_t lo, hi; /* output columns whose K taps all lie inside the row */
    dw_interior_columns(K, S, padLeft, W, outW, &lo, &hi);
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

/* Input gradient, gathered: gradInput[n][iy][ix][c] = sum over the taps (ky, kx) that reach (iy, ix) of
   dZ[n][oy][ox][c] * w[ky][kx][c], oy = (iy + padTop - ky)/S, ox = (ix + padLeft - kx)/S (exact
   divisions, inside the output). The taps that reach a row or a column are found once per row / column;
   each channel vector then sums them, kernel rows then kx ascending. Like the weight gradient, this
   replaces SSE2-baseline Swift loops (DepthwiseConvBackward.swift keeps them for the portable path). */
/* One pixel's channel vector at c: the taps found for its row (zRows/wRows) and column (offsets). */
AI void dwgi_sum(int K, int full, VM m, const float *const *zRows, const float *const *wRows, int rows,
                 const ptrdiff_t *zOffset, const ptrdiff_t *wOffset, int taps, ptrdiff_t c, float *out) {
    VF acc = V_ZERO();
    for (int r = 0; r < K; r++) {
        if (r >= rows) break;
        for (int j = 0; j < K; j++) {
            if (j >= taps) break;
            acc = V_FMADD(LD(zRows[r] + zOffset[j] + c), LD(wRows[r] + wOffset[j] + c), acc);
        }
    }
    ST(out + c, acc);
}

AI void dwgi_row(int K, int S, const float *dZ, const float *w, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,
                 ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t row, ptrdiff_t c0,
                 ptrdiff_t c1, float *gradInput) {
    const ptrdiff_t n = row / H;
    const ptrdiff_t ty = row - n * H + padTop;
    const float *zRows[7];
    const float *wRows[7];
    int rows = 0;
    for (int ky = 0; ky < K; ky++) {
        const ptrdiff_t d = ty - ky;
        if (d < 0 || d % S != 0 || d / S >= outH) continue;
        zRows[rows] = dZ + (n * outH + d / S) * outW * C;
        wRows[rows] = w + ky * K * C;
        rows++;
    }
    float *outRow = gradInput + row * W * C;
    for (ptrdiff_t ix = 0; ix < W; ix++) {
        const ptrdiff_t tx = ix + padLeft;
        ptrdiff_t zOffset[7], wOffset[7];
        int taps = 0;
        for (int kx = 0; kx < K; kx++) {
            const ptrdiff_t d = tx - kx;
            if (d < 0 || d % S != 0 || d / S >= outW) continue;
            zOffset[taps] = d / S * C;
            wOffset[taps] = kx * C;
            taps++;
        }
        float *out = outRow + ix * C;
        ptrdiff_t c = c0;
        for (; c + VW <= c1; c += VW) dwgi_sum(K, 1, V_MASK(1), zRows, wRows, rows, zOffset, wOffset, taps, c, out);
        if (c < c1) dwgi_sum(K, 0, V_MASK(c1 - c), zRows, wRows, rows, zOffset, wOffset, taps, c, out);
    }
}

int FN(effnet_depthwise_grad_input_row)(const float *dZ, const float *w, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,
                                        ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft,
                                        ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t row, ptrdiff_t c0, ptrdiff_t c1,
                                        float *gradInput) {
#define DWGI_CASE(K, S)                                                                                        \
    if (kernel == K && stride == S) {                                                                          \
        dwgi_row(K, S, dZ, w, H, W, C, padTop, padLeft, outH, outW, row, c0, c1, gradInput);                    \
        return 1;                                                                                              \
    }
    DWGI_CASE(3, 1)
    DWGI_CASE(3, 2)
    DWGI_CASE(5, 1)
    DWGI_CASE(5, 2)
#undef DWGI_CASE
    return 0;
}
