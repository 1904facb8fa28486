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

/* Taps kx of one kernel row over one output row, for G channel vectors (G literal, 1..DWGW_GROUP): K*G
   sums, interior columns unchecked. Each sum is a chain of dependent FMAs along the row; one vector at a
   time gave K chains (3 or 5), fewer than the FMA latency needs (Zen 5: 8 in flight), so G vectors run
   side by side: 4 for 3x3 kernels, 2 for 5x5 (DWGW_VECTORS; 4 x 5 sums would not leave registers for the
   loads). Harness, B0's shapes at batch 8: 0.65-0.8x the time for 3x3, 0.8x for 5x5 (28x28x240 within the
   noise). Every sum adds the same products in the same order as alone: the same bits. Only the last vector
   of a group may be partial (`full` 0, mask m). */
#define DWGW_GROUP 4
#define DWGW_VECTORS(K) ((K) <= 3 ? 4 : 2)
AI void dwgw_row(int K, int S, int G, int full, VM m, const float *z, const float *xRow, ptrdiff_t C, ptrdiff_t W,
                 ptrdiff_t outW, ptrdiff_t padLeft, ptrdiff_t lo, ptrdiff_t hi, float *out) {
    VF acc[DWGW_GROUP][7];
    for (int g = 0; g < G; g++)
        for (int kx = 0; kx < K; kx++) acc[g][kx] = V_ZERO();
#define DWGW_LD(p, g) ((full || (g) < G - 1) ? V_LOAD(p) : V_LOADM((p), m))
    /* Edge columns (some taps outside the row), checked tap by tap. */
#define DWGW_EDGE_COLUMN(ox)                                                                                   \
    do {                                                                                                       \
        const ptrdiff_t ix0 = (ox) * S - padLeft;                                                              \
        const float *xp = xRow + ix0 * C;                                                                      \
        VF zv[DWGW_GROUP];                                                                                     \
        for (int g = 0; g < G; g++) zv[g] = DWGW_LD(z + (ox) * C + g * VW, g);                                 \
        for (int kx = 0; kx < K; kx++) {                                                                       \
            const ptrdiff_t ix = ix0 + kx;                                                                     \
            if (ix >= 0 && ix < W)                                                                             \
                for (int g = 0; g < G; g++)                                                                    \
                    acc[g][kx] = V_FMADD(DWGW_LD(xp + kx * C + g * VW, g), zv[g], acc[g][kx]);                 \
        }                                                                                                      \
    } while (0)
    for (ptrdiff_t ox = 0; ox < lo; ox++) DWGW_EDGE_COLUMN(ox);
    /* Interior columns in a loop of their own, with no checks. Sharing one loop with the edge columns (a
       test of lo <= ox < hi per column) left clang short of registers with 10 sums (5x5, two vectors): it
       kept the five tap pointers and the bounds on the stack and reloaded them every column, six scalar
       loads beside twelve vector ones for ten FMAs. Here one pointer walks the row and the taps are offsets
       of it. Each sum still adds the same products in the same (column) order: the same bits. */
    {
        const float *xp = xRow + (lo * S - padLeft) * C, *zp = z + lo * C;
        for (ptrdiff_t ox = lo; ox < hi; ox++, xp += S * C, zp += C) {
            VF zv[DWGW_GROUP];
            for (int g = 0; g < G; g++) zv[g] = DWGW_LD(zp + g * VW, g);
            for (int kx = 0; kx < K; kx++)
                for (int g = 0; g < G; g++) acc[g][kx] = V_FMADD(DWGW_LD(xp + kx * C + g * VW, g), zv[g], acc[g][kx]);
        }
    }
    for (ptrdiff_t ox = hi; ox < outW; ox++) DWGW_EDGE_COLUMN(ox);  /* lo <= hi: dw_interior_columns */
#undef DWGW_EDGE_COLUMN
    for (int g = 0; g < G; g++)
        for (int kx = 0; kx < K; kx++) {
            float *o = out + kx * C + g * VW;
            const VF sum = V_ADD(DWGW_LD(o, g), acc[g][kx]);
            if (full || g < G - 1) V_STORE(o, sum);
            else V_STOREM(o, m, sum);
        }
#undef DWGW_LD
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
        for (ptrdiff_t c = c0; c < c1; c += DWGW_VECTORS(K) * VW) {
            const ptrdiff_t left = min_index(DWGW_VECTORS(K) * VW, c1 - c);
            const int vectors = (int)((left + VW - 1) / VW);
            const int whole = left % VW == 0;
            const VM tail = whole ? V_MASK(1) : V_MASK(left % VW);
            for (ptrdiff_t ky = kyLo; ky < kyHi; ky++) {
                const float *xRow = x + ((n * H + iy0 + ky) * W) * C + c;
                float *out = target + (ky * K) * C + c;
#define DWGW_GROUP_OF(G)                                                                                       \
    do {                                                                                                       \
        if (whole) dwgw_row(K, S, G, 1, tail, zRow + c, xRow, C, W, outW, padLeft, lo, hi, out);               \
        else dwgw_row(K, S, G, 0, tail, zRow + c, xRow, C, W, outW, padLeft, lo, hi, out);                     \
    } while (0)
                if (vectors == 4) DWGW_GROUP_OF(4);
                else if (vectors == 3) DWGW_GROUP_OF(3);
                else if (vectors == 2) DWGW_GROUP_OF(2);
                else DWGW_GROUP_OF(1);
#undef DWGW_GROUP_OF
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
/* One pixel's G channel vectors from c (G literal, 1..DWGI_GROUP): the taps found for its row (zRows/wRows)
   and column (offsets). Each vector's sum is one chain of up to K*K dependent FMAs (kernel rows, then kx
   ascending); G vectors give G independent chains instead of one. Alone, this measured within the noise
   (14x14x672 5x5 stayed at 37-40 GFLOP/s per core: its loads came from L2, see dwgi_row) and 0.9-1.0x the
   time on the narrow layers; with dwgi_row's channel blocks the wide layers run at 92-101 GFLOP/s. Every
   vector sums the same products in the same order as alone: the same bits. Only the last vector of a group
   may be partial (`full` 0, mask m). */
#define DWGI_GROUP 4
#define DWGI_PIXEL_MAJOR_BYTES (32 * 1024)
AI void dwgi_sum(int K, int G, int full, VM m, const float *const *zRows, const float *const *wRows, int rows,
                 const ptrdiff_t *zOffset, const ptrdiff_t *wOffset, int taps, ptrdiff_t c, float *out) {
    VF acc[DWGI_GROUP];
    for (int g = 0; g < G; g++) acc[g] = V_ZERO();
    for (int r = 0; r < K; r++) {
        if (r >= rows) break;
        for (int j = 0; j < K; j++) {
            if (j >= taps) break;
            const float *zp = zRows[r] + zOffset[j] + c, *wp = wRows[r] + wOffset[j] + c;
            for (int g = 0; g < G; g++) {
                const int whole = full || g < G - 1;
                const VF zv = whole ? V_LOAD(zp + g * VW) : V_LOADM(zp + g * VW, m);
                const VF wv = whole ? V_LOAD(wp + g * VW) : V_LOADM(wp + g * VW, m);
                acc[g] = V_FMADD(zv, wv, acc[g]);
            }
        }
    }
    for (int g = 0; g < G; g++) {
        if (full || g < G - 1) V_STORE(out + c + g * VW, acc[g]);
        else V_STOREM(out + c + g * VW, m, acc[g]);
    }
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
    /* One pixel reads K*K taps of dZ and of the weights for every channel. When those exceed about L1
       (B0's 14x14x672 5x5: 67 KB each), the next pixel found none of them there and every load came from
       L2: the channels then go in blocks of DWGI_GROUP vectors, outermost, so that a block's taps over the
       whole row stay in L1 (harness, 14x14x672 and 7x7x1152 5x5: 2.4x as fast). Narrower layers keep the
       pixels outermost, which streams the rows once (the block order measured 1.4x slower on 56x56x144 3x3
       at batch 8, from memory). Each output is summed as before either way: the same bits. */
    const ptrdiff_t tapBytes = (ptrdiff_t)(K * K) * (c1 - c0) * 2 * (ptrdiff_t)sizeof(float);
    const ptrdiff_t block = tapBytes > DWGI_PIXEL_MAJOR_BYTES ? DWGI_GROUP * VW : c1 - c0;
    for (ptrdiff_t cb = c0; cb < c1; cb += block) {
        const ptrdiff_t cbEnd = min_index(c1, cb + block);
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
            ptrdiff_t c = cb;
            for (; c + DWGI_GROUP * VW <= cbEnd; c += DWGI_GROUP * VW)
                dwgi_sum(K, DWGI_GROUP, 1, V_MASK(1), zRows, wRows, rows, zOffset, wOffset, taps, c, out);
            /* The rest: up to DWGI_GROUP - 1 whole vectors and a partial one, in one group. */
            const ptrdiff_t left = cbEnd - c;
            if (left <= 0) continue;
            const int vectors = (int)((left + VW - 1) / VW);
            const int whole = left % VW == 0;
            const VM tail = whole ? V_MASK(1) : V_MASK(left % VW);
#define DWGI_REST(G)                                                                                           \
    do {                                                                                                       \
        if (whole) dwgi_sum(K, G, 1, tail, zRows, wRows, rows, zOffset, wOffset, taps, c, out);                \
        else dwgi_sum(K, G, 0, tail, zRows, wRows, rows, zOffset, wOffset, taps, c, out);                      \
    } while (0)
            if (vectors == 1) DWGI_REST(1);
            else if (vectors == 2) DWGI_REST(2);
            else if (vectors == 3) DWGI_REST(3);
            else DWGI_REST(4);
#undef DWGI_REST
        }
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

#undef DWGW_GROUP
#undef DWGW_VECTORS
#undef DWGI_GROUP
#undef DWGI_PIXEL_MAJOR_BYTES
