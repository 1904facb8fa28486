// The depthwise convolution forward row kernel, written against the V_* vocabulary. KernelTemplate.h
// includes it (so it shares LD/ST, WITH_ACTIVATION and v_activate) once per instruction set.
//
// Same structure as the Swift kernel (DepthwiseConv.swift): kernel rows above/below the image are
// dropped from the ky range, only columns near the left/right edge test their taps, and interior
// columns go in blocks of DW_BLOCK outputs so each weight vector load feeds DW_BLOCK fused
// multiply-adds (independent chains that hide the FMA latency). Kernel size, stride, block width and
// "all k kernel rows inside the image" are literals at every call site, so the tap loops unroll.
// No include guard on purpose: it is instantiated once per instruction set.

/* Outputs per interior block: 4 sums leave room in AVX2's 16 registers for the weight and the inputs
   that stride-1 neighbours share; AVX-512 has 32 registers and takes 8. */
#define DW_BLOCK (VW == 16 ? 8 : 4)

/* P outputs, `S` input pixels apart, one channel group: x, w, bias and out point at the group's first
   channel of tap (first valid kernel row, kx = 0), of the weights of that row, and of output 0. R kernel
   rows of the input are `rowStep` floats apart. */
AI void dw_block(int act, int K, int S, int P, ptrdiff_t R, int full, VM m, const float *x, ptrdiff_t rowStep,
                 ptrdiff_t C, const float *w, const float *bias, float *out) {
    VF acc[8];
    const VF b = LD(bias);
    for (int p = 0; p < P; p++) acc[p] = b;
    for (ptrdiff_t r = 0; r < R; r++) {
        const float *xr = x + r * rowStep;
        const float *wr = w + r * K * C;
        for (int kx = 0; kx < K; kx++) {
            const VF wv = LD(wr + kx * C);
            for (int p = 0; p < P; p++) acc[p] = V_FMADD(LD(xr + (p * S + kx) * C), wv, acc[p]);
        }
    }
    /* The activation across all P outputs at once (v_activate_group): single-thread harness on B0's
       stride-1 shapes, 0.86-0.96x the time (stride 2: 0.99-1.0x); groups of 2 and 4 measured 0.96-1.05x. */
    v_activate_group(acc, P, act);
    for (int p = 0; p < P; p++) ST(out + p * C, acc[p]);
}

/* One output whose taps kxLo..<kxHi lie inside the image (the rest read zero padding). */
AI void dw_edge(int act, int K, ptrdiff_t R, ptrdiff_t kxLo, ptrdiff_t kxHi, int full, VM m, const float *x,
                ptrdiff_t rowStep, ptrdiff_t C, const float *w, const float *bias, float *out) {
    VF acc = LD(bias);
    for (ptrdiff_t r = 0; r < R; r++) {
        const float *xr = x + r * rowStep;
        const float *wr = w + r * K * C;
        /* The skips are the same for every channel group of the pixel, so they predict well. */
        for (int kx = 0; kx < K; kx++)
            if (kx >= kxLo && kx < kxHi) acc = V_FMADD(LD(xr + kx * C), LD(wr + kx * C), acc);
    }
    ST(out, v_activate(acc, act));
}

/* P interior outputs over channels c0..<c1: full groups, then the masked tail. The full-height case
   (R == K, every row but the image's first and last few) gets the literal trip count. */
AI void dw_interior(int act, int K, int S, int P, ptrdiff_t R, const float *x, ptrdiff_t rowStep, ptrdiff_t C,
                    const float *w, const float *bias, float *out, ptrdiff_t c0, ptrdiff_t c1) {
    const ptrdiff_t end = c0 + (c1 - c0) / VW * VW;
    ptrdiff_t c = c0;
    if (R == K) {
        for (; c < end; c += VW) dw_block(act, K, S, P, K, 1, V_MASK(VW), x + c, rowStep, C, w + c, bias + c, out + c);
        if (c < c1) dw_block(act, K, S, P, K, 0, V_MASK(c1 - c), x + c, rowStep, C, w + c, bias + c, out + c);
    } else {
        for (; c < end; c += VW) dw_block(act, K, S, P, R, 1, V_MASK(VW), x + c, rowStep, C, w + c, bias + c, out + c);
        if (c < c1) dw_block(act, K, S, P, R, 0, V_MASK(c1 - c), x + c, rowStep, C, w + c, bias + c, out + c);
    }
}

AI void dw_edge_pixel(int act, int K, ptrdiff_t R, ptrdiff_t kxLo, ptrdiff_t kxHi, const float *x, ptrdiff_t rowStep,
                      ptrdiff_t C, const float *w, const float *bias, float *out, ptrdiff_t c0, ptrdiff_t c1) {
    const ptrdiff_t end = c0 + (c1 - c0) / VW * VW;
    ptrdiff_t c = c0;
    for (; c < end; c += VW) dw_edge(act, K, R, kxLo, kxHi, 1, V_MASK(VW), x + c, rowStep, C, w + c, bias + c, out + c);
    if (c < c1) dw_edge(act, K, R, kxLo, kxHi, 0, V_MASK(c1 - c), x + c, rowStep, C, w + c, bias + c, out + c);
}

/* Interior output columns [*lo, *hi) of a row: every one of the K taps inside the image row
   (ox*S >= padLeft and ox*S + K <= W + padLeft). The weight gradient (DepthwiseBackwardTemplate.h)
   uses it too. */
AI void dw_interior_columns(int K, int S, ptrdiff_t padLeft, ptrdiff_t W, ptrdiff_t outWidth, ptrdiff_t *lo,
                            ptrdiff_t *hi) {
    const ptrdiff_t last = W - K + padLeft;
    *hi = last >= 0 ? min_index(outWidth, last / S + 1) : 0;
    *lo = min_index(padLeft > 0 ? (padLeft + S - 1) / S : 0, *hi);
}

/* Output row `row` (= n*outHeight + oy). `input` holds the image rows from `firstRow` (counted like
   n*H + iy) on: the whole batch with firstRow 0, or a band of expanded rows (ExpandDepthwiseTemplate.h). */
AI void dw_row(int act, int K, int S, const float *input, ptrdiff_t firstRow, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C,
               ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outHeight, ptrdiff_t outWidth, const float *weights,
               const float *bias, float *output, ptrdiff_t row, ptrdiff_t c0, ptrdiff_t c1) {
    const ptrdiff_t n = row / outHeight;
    const ptrdiff_t iy0 = (row - n * outHeight) * S - padTop;
    const ptrdiff_t kyLo = iy0 < 0 ? -iy0 : 0;
    const ptrdiff_t kyHi = min_index(K, H - iy0);
    const ptrdiff_t R = kyHi > kyLo ? kyHi - kyLo : 0;
    ptrdiff_t oxLo, oxHi;
    dw_interior_columns(K, S, padLeft, W, outWidth, &oxLo, &oxHi);
    const ptrdiff_t rowStep = W * C;
    /* Offset (floats) of tap (kyLo, kx = 0) of output column 0; it may lie before the image. Only taps
       inside the image are ever read. */
    const ptrdiff_t inTop = ((n * H + iy0 + kyLo - firstRow) * W - padLeft) * C;
    const float *w = weights + kyLo * K * C;
    float *outRow = output + row * outWidth * C;
    ptrdiff_t ox = 0;
    while (ox < outWidth) {
        const float *x = input + (inTop + ox * S * C);
        float *out = outRow + ox * C;
        if (ox >= oxLo && ox + DW_BLOCK <= oxHi) {
            dw_interior(act, K, S, DW_BLOCK, R, x, rowStep, C, w, bias, out, c0, c1);
            ox += DW_BLOCK;
        } else if (ox >= oxLo && ox + 2 <= oxHi) {
            dw_interior(act, K, S, 2, R, x, rowStep, C, w, bias, out, c0, c1);
            ox += 2;
        } else if (ox >= oxLo && ox < oxHi) {
            dw_interior(act, K, S, 1, R, x, rowStep, C, w, bias, out, c0, c1);
            ox += 1;
        } else {
            const ptrdiff_t ix0 = ox * S - padLeft;
            dw_edge_pixel(act, K, R, ix0 < 0 ? -ix0 : 0, min_index(K, W - ix0), x, rowStep, C, w, bias, out, c0, c1);
            ox += 1;
        }
    }
}

/* sums[c] = sum over the `width` pixels of one finished output row of out[x][c], for c in c0..<c1: the
   squeeze-excitation's channel sums, taken while the row is still in L1 (or the worker's L2) instead of
   in a later pass over the whole map. Four partial sums per channel group (pixels x, x+1, x+2, x+3)
   hide the add latency; they are combined as (s0 + s1) + (s2 + s3), so the result depends only on the
   row, not on how the map was split into tasks. */
AI void row_sums_group(int full, VM m, const float *out, ptrdiff_t width, ptrdiff_t C, float *sums) {
    VF s[4] = {V_ZERO(), V_ZERO(), V_ZERO(), V_ZERO()};
    ptrdiff_t x = 0;
    for (; x + 4 <= width; x += 4)
        for (int j = 0; j < 4; j++) s[j] = V_ADD(s[j], LD(out + (x + j) * C));
    for (int j = 0; x < width; x++, j++) s[j] = V_ADD(s[j], LD(out + x * C));
    ST(sums, V_ADD(V_ADD(s[0], s[1]), V_ADD(s[2], s[3])));
}

AI void row_channel_sums(const float *out, ptrdiff_t width, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1, float *sums) {
    const ptrdiff_t end = c0 + (c1 - c0) / VW * VW;
    ptrdiff_t c = c0;
    for (; c < end; c += VW) row_sums_group(1, V_MASK(VW), out + c, width, C, sums + c);
    if (c < c1) row_sums_group(0, V_MASK(c1 - c), out + c, width, C, sums + c);
}

void FN(effnet_row_channel_sums)(const float *row, ptrdiff_t width, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                                 float *sums) {
    row_channel_sums(row, width, C, c0, c1, sums);
}

#define DW_GEOMETRY(K, S)                                                                                      \
    WITH_ACTIVATION(act, dw_row(A, K, S, input, 0, H, W, C, padTop, padLeft, outHeight, outWidth, weights,     \
                                bias, output, row, c0, c1))

int FN(effnet_depthwise_row)(int act, const float *input, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C, ptrdiff_t kernel,
                             ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outHeight,
                             ptrdiff_t outWidth, const float *weights, const float *bias, float *output,
                             ptrdiff_t row, ptrdiff_t c0, ptrdiff_t c1) {
    if (kernel == 3 && stride == 1) { DW_GEOMETRY(3, 1) }
    else if (kernel == 3 && stride == 2) { DW_GEOMETRY(3, 2) }
    else if (kernel == 5 && stride == 1) { DW_GEOMETRY(5, 1) }
    else if (kernel == 5 && stride == 2) { DW_GEOMETRY(5, 2) }
    else return 0;
    return 1;
}

#undef DW_GEOMETRY
#undef DW_BLOCK
