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

/* Independent sums a block should have in flight: a chain of multiply-adds into one sum issues one per
   FMA latency (4 cycles), and it takes about 8 to keep both FMA pipes busy. A whole interior block has
   DW_BLOCK. The short blocks (1 or 2 outputs) and the edge pixels take DW_GROUPS channel groups at once
   instead of one: on small maps they are most of the work (7x7 with a 5x5 kernel: 4 of 7 columns are
   edges and the other 3 go as 2 + 1), and one group at a time left those chains latency-bound (B0's
   7x7x1152 5x5 layer: 22 GMAC/s against 131 peak, single-thread harness). Each output's sum is
   computed in the same order either way: the same bits. */
#define DW_GROUPS (VW == 16 ? 4 : 2)

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

/* P interior outputs for G whole channel groups side by side (the short blocks: see DW_GROUPS). */
AI void dw_block_groups(int act, int K, int S, int P, int G, ptrdiff_t R, const float *x, ptrdiff_t rowStep,
                        ptrdiff_t C, const float *w, const float *bias, float *out) {
    VF acc[8];
    GROUP_UNROLL for (int g = 0; g < G; g++) {
        const VF b = V_LOAD(bias + g * VW);
        GROUP_UNROLL for (int p = 0; p < P; p++) acc[g * P + p] = b;
    }
    for (ptrdiff_t r = 0; r < R; r++) {
        const float *xr = x + r * rowStep;
        const float *wr = w + r * K * C;
        for (int kx = 0; kx < K; kx++) {
            GROUP_UNROLL for (int g = 0; g < G; g++) {
                const VF wv = V_LOAD(wr + kx * C + g * VW);
                GROUP_UNROLL for (int p = 0; p < P; p++)
                    acc[g * P + p] = V_FMADD(V_LOAD(xr + (p * S + kx) * C + g * VW), wv, acc[g * P + p]);
            }
        }
    }
    v_activate_group(acc, G * P, act);
    GROUP_UNROLL for (int g = 0; g < G; g++)
        GROUP_UNROLL for (int p = 0; p < P; p++) V_STORE(out + p * C + g * VW, acc[g * P + p]);
}

/* One output whose taps kxLo..<kxHi lie inside the image (the rest read zero padding), for G channel
   groups side by side (G = 1 for the masked tail). */
AI void dw_edge(int act, int K, int G, ptrdiff_t R, ptrdiff_t kxLo, ptrdiff_t kxHi, int full, VM m, const float *x,
                ptrdiff_t rowStep, ptrdiff_t C, const float *w, const float *bias, float *out) {
    VF acc[DW_GROUPS];
    GROUP_UNROLL for (int g = 0; g < G; g++) acc[g] = LD(bias + g * VW);
    for (ptrdiff_t r = 0; r < R; r++) {
        const float *xr = x + r * rowStep;
        const float *wr = w + r * K * C;
        /* The skips are the same for every channel group of the pixel, so they predict well. */
        for (int kx = 0; kx < K; kx++)
            if (kx >= kxLo && kx < kxHi)
                GROUP_UNROLL for (int g = 0; g < G; g++)
                    acc[g] = V_FMADD(LD(xr + kx * C + g * VW), LD(wr + kx * C + g * VW), acc[g]);
    }
    v_activate_group(acc, G, act);
    GROUP_UNROLL for (int g = 0; g < G; g++) ST(out + g * VW, acc[g]);
}

/* P interior outputs over channels c0..<c1: full groups, then the masked tail. The full-height case
   (R == K, every row but the image's first and last few) gets the literal trip count. */
AI void dw_interior(int act, int K, int S, int P, ptrdiff_t R, const float *x, ptrdiff_t rowStep, ptrdiff_t C,
                    const float *w, const float *bias, float *out, ptrdiff_t c0, ptrdiff_t c1) {
    const ptrdiff_t end = c0 + (c1 - c0) / VW * VW;
    ptrdiff_t c = c0;
    if (P * DW_GROUPS <= DW_BLOCK) { /* a short block: several channel groups at once (DW_GROUPS) */
        const ptrdiff_t groupsEnd = c0 + (end - c0) / (DW_GROUPS * VW) * (DW_GROUPS * VW);
        if (R == K)
            for (; c < groupsEnd; c += DW_GROUPS * VW)
                dw_block_groups(act, K, S, P, DW_GROUPS, K, x + c, rowStep, C, w + c, bias + c, out + c);
        else
            for (; c < groupsEnd; c += DW_GROUPS * VW)
                dw_block_groups(act, K, S, P, DW_GROUPS, R, x + c, rowStep, C, w + c, bias + c, out + c);
    }
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
    const ptrdiff_t groupsEnd = c0 + (end - c0) / (DW_GROUPS * VW) * (DW_GROUPS * VW);
    ptrdiff_t c = c0;
    for (; c < groupsEnd; c += DW_GROUPS * VW)
        dw_edge(act, K, DW_GROUPS, R, kxLo, kxHi, 1, V_MASK(VW), x + c, rowStep, C, w + c, bias + c, out + c);
    for (; c < end; c += VW) dw_edge(act, K, 1, R, kxLo, kxHi, 1, V_MASK(VW), x + c, rowStep, C, w + c, bias + c, out + c);
    if (c < c1) dw_edge(act, K, 1, R, kxLo, kxHi, 0, V_MASK(c1 - c), x + c, rowStep, C, w + c, bias + c, out + c);
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

/* Channels per pass over an output row. Pixel by pixel, each output reads K x K input vectors and as many
   weight vectors per channel group, and the next output reads most of the same inputs again; with all
   the channels at once that is K*K*C*8 bytes per output (B0's 7x7x1152 5x5 layer: 230 KB), which leaves
   L1 before the neighbour comes back for it, so every multiply-add loaded two vectors from L2 (L2-bound
   at 22 GMAC/s). Where one output's inputs and weights exceed DW_L1_FLOATS, a pass over fewer channels
   keeps its K input rows of the row's width and its weights within that: a multiple of the channel
   groups handled together, at least those. Single-thread harness (SiLU, time per map): 7x7x1152 5x5
   66 -> 25 us, 3x3 23 -> 12; 14x14x672 5x5 85 -> 56, stride 2 34 -> 24; 28x28x240 5x5 93 -> 74; B3's
   10x10x1392 5x5 123 -> 71, 19x19x816 5x5 217 -> 133. Maps whose outputs fit (56x56x144 3x3,
   112x112x96) measured 1.04-1.06x the time in passes of 64 channels and keep one pass. */
#define DW_L1_FLOATS 8192
AI ptrdiff_t dw_channel_chunk(int K, ptrdiff_t W, ptrdiff_t channels) {
    if (2 * K * K * channels <= DW_L1_FLOATS) return channels;
    const ptrdiff_t step = DW_GROUPS * VW;
    ptrdiff_t chunk = DW_L1_FLOATS / (K * W + K * K) / step * step;
    if (chunk < step) chunk = step;
    return chunk < channels ? chunk : channels;
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
    const ptrdiff_t chunk = dw_channel_chunk(K, W, c1 - c0);
    for (ptrdiff_t cc = c0; cc < c1; cc += chunk) {
        const ptrdiff_t ce = min_index(c1, cc + chunk);
        ptrdiff_t ox = 0;
        while (ox < outWidth) {
            const float *x = input + (inTop + ox * S * C);
            float *out = outRow + ox * C;
            if (ox >= oxLo && ox + DW_BLOCK <= oxHi) {
                dw_interior(act, K, S, DW_BLOCK, R, x, rowStep, C, w, bias, out, cc, ce);
                ox += DW_BLOCK;
            } else if (ox >= oxLo && ox + 2 <= oxHi) {
                dw_interior(act, K, S, 2, R, x, rowStep, C, w, bias, out, cc, ce);
                ox += 2;
            } else if (ox >= oxLo && ox < oxHi) {
                dw_interior(act, K, S, 1, R, x, rowStep, C, w, bias, out, cc, ce);
                ox += 1;
            } else {
                const ptrdiff_t ix0 = ox * S - padLeft;
                dw_edge_pixel(act, K, R, ix0 < 0 ? -ix0 : 0, min_index(K, W - ix0), x, rowStep, C, w, bias, out,
                              cc, ce);
                ox += 1;
            }
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
#undef DW_GROUPS
#undef DW_L1_FLOATS
