// Per-channel passes over one image's NHWC map [pixels][C]: channel means (global average pooling,
// squeeze-excitation's squeeze), channel dot products of two maps (squeeze-excitation's backward) and
// the per-channel scaling (its excitation, forward and backward). Instantiated per instruction set by
// KernelTemplate.h (no include guard on purpose).
//
// Walk: pixel rows outermost, the task's channels innermost, so every pass streams the map forward in
// memory order (reductions over a narrow slice of each row excepted: see channel_walk_by_columns). The
// first versions walked one vector of channels down all the pixels, then the next: one cache line of
// every row per sweep, the rows C*4 bytes apart. In a single-thread harness over 16 images (B0's SE
// shapes) the row walk took 0.53-0.97x the time of that for the dot products and 0.50-0.79x for the
// scaling; the gain is largest on the 112x112 and 14x14 maps.
//
// The reductions keep the Swift loops' sums in the same order, lane for lane (Pooling.swift
// `channelMeansSwift`, SqueezeExciteTraining.swift `channelDotsSwift`): blocks of 64 pixels, each
// block's float sum added into the total. Only the walk differs, so the bits are those of the Swift
// loops. In the row walk the per-block sums live in small stack arrays (one vector per channel of a
// chunk) instead of registers.

/* Channels reduced per sweep of the rows: the per-block sums of a chunk stay in L1 (3 x 2 KB). */
#define CHANNEL_CHUNK 512

/* A chunk of `w` channels: its vectors, where its masked last vector starts (= width when whole) and
   that vector's lane mask. */
#define CHUNK_SHAPE(w)                                                                                         \
    const ptrdiff_t width = (w);                                                                               \
    const ptrdiff_t vectors = (width + VW - 1) / VW;                                                           \
    const ptrdiff_t tailStart = width / VW * VW;                                                               \
    const VM tail = V_MASK(width % VW == 0 ? 1 : width % VW)

/* acc[c] += x[c] for the vectors of c0..c1 (relative offsets into acc), the last one masked to `tail`
   lanes when it is partial (its other lanes add 0). */
AI void accumulate_row(float *acc, const float *x, ptrdiff_t c0, ptrdiff_t c1, VM tail, ptrdiff_t tailStart) {
    ptrdiff_t c = c0;
    for (; c < tailStart; c += VW) V_STORE(acc + c, V_ADD(V_LOAD(acc + c), V_LOAD(x + c)));
    if (c < c1) V_STORE(acc + c, V_ADD(V_LOAD(acc + c), V_LOADM(x + c, tail)));
}

/* Chunk c0..c1 of the means' sums: each block of 64 pixels summed in float (`pairs`: see channel_means_chunk)
   and added into total[0..c1-c0) (whole vectors are stored: total has room for the chunk's vectors). */
AI void channel_sums_chunk(const float *x, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                          ptrdiff_t pairsEnd, float *total) {
    float even[CHANNEL_CHUNK] __attribute__((aligned(64)));
    float odd[CHANNEL_CHUNK] __attribute__((aligned(64)));
    CHUNK_SHAPE(c1 - c0);
    const ptrdiff_t pairs = (pairsEnd < c0 ? 0 : pairsEnd > c1 ? width : pairsEnd - c0);
    for (ptrdiff_t p0 = 0; p0 < pixels; p0 += 64) {
        const ptrdiff_t end = min_index(pixels, p0 + 64);
        for (ptrdiff_t v = 0; v < vectors; v++) {
            V_STORE(even + v * VW, V_ZERO());
            V_STORE(odd + v * VW, V_ZERO());
        }
        for (ptrdiff_t p = p0; p < end; p++) {
            const float *row = x + p * C + c0;
            if ((p - p0) & 1) {
                /* Odd pixels of a block: the second accumulator for paired channels, the first otherwise. */
                accumulate_row(odd, row, 0, pairs, tail, pairs < tailStart ? pairs : tailStart);
                accumulate_row(even, row, pairs, width, tail, tailStart);
            } else {
                accumulate_row(even, row, 0, width, tail, tailStart);
            }
        }
        for (ptrdiff_t v = 0; v < vectors; v++)
            V_STORE(total + v * VW,
                    V_ADD(V_LOAD(total + v * VW), V_ADD(V_LOAD(even + v * VW), V_LOAD(odd + v * VW))));
    }
}

/* One chunk c0..c1 of the means: its block sums into a zeroed total, then scaled. `pairsEnd`: channels below
   it belong to whole 16-channel groups, which the Swift loop summed with two accumulators (even and odd
   pixels of a block); the channels of a partial last group used one. Decided per 16 channels, not per
   vector, so that AVX2's 8-lane vectors sum exactly like the Swift code too. */
AI void channel_means_chunk(const float *x, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                            ptrdiff_t pairsEnd, float scale, float *output) {
    float total[CHANNEL_CHUNK] __attribute__((aligned(64)));
    CHUNK_SHAPE(c1 - c0);
    for (ptrdiff_t v = 0; v < vectors; v++) V_STORE(total + v * VW, V_ZERO());
    channel_sums_chunk(x, pixels, C, c0, c1, pairsEnd, total);
    ptrdiff_t c = 0;
    for (; c < tailStart; c += VW) V_STORE(output + c0 + c, V_MUL(V_LOAD(total + c), V_SET1(scale)));
    if (c < width) V_STOREM(output + c0 + c, tail, V_MUL(V_LOAD(total + c), V_SET1(scale)));
}

/* The means' block sums of some rows of one image, all C channels, added into `total` (the caller's, kept
   across calls): called on consecutive runs of an image's rows, each a whole number of 64-pixel blocks but
   the last, then scaled, it gives the bits of effnet_channel_means over the image. */
void FN(effnet_channel_sums_accumulate)(const float *x, ptrdiff_t pixels, ptrdiff_t C, float *total) {
    const ptrdiff_t pairsEnd = C / 16 * 16;
    for (ptrdiff_t k = 0; k < C; k += CHANNEL_CHUNK)
        channel_sums_chunk(x, pixels, C, k, min_index(C, k + CHANNEL_CHUNK), pairsEnd, total + k);
}

/* The column walk for a narrow slice of each row: one vector of channels down all the pixels, its sums
   in registers (the first version's walk). When a task takes fewer than 4 vectors out of longer rows,
   both walks touch the same cache lines, and the row walk only adds its per-row set-up and its sums in
   memory: B0 at batch 1, whose SE passes split 112x112x32 into 16-channel tasks and 56x56x96 into
   32-channel ones, took 0.08-0.12 ms more over its 16 SE layers with it. Whole rows, however short, keep
   the row walk (16 images of 112x112x32, dot products: 2.4 against 4.4 ms). Same sums either way. */
#define CHANNEL_ROW_WALK_MIN_CHANNELS (4 * VW)
AI int channel_walk_by_columns(ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1) {
    return c1 - c0 < CHANNEL_ROW_WALK_MIN_CHANNELS && c1 - c0 < C;
}

/* The means' column walk for one vector of channels from c (`pairs` as in channel_means_chunk). */
AI void channel_means_group(int pairs, int full, VM m, const float *x, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c,
                            float scale, float *output) {
    VF total = V_ZERO();
    ptrdiff_t p = 0;
    while (p < pixels) {
        const ptrdiff_t end = min_index(pixels, p + 64);
        VF a0 = V_ZERO(), a1 = V_ZERO();
        if (pairs) {
            for (; p + 2 <= end; p += 2) {
                a0 = V_ADD(a0, LD(x + p * C + c));
                a1 = V_ADD(a1, LD(x + (p + 1) * C + c));
            }
            if (p < end) { a0 = V_ADD(a0, LD(x + p * C + c)); p += 1; }
        } else {
            for (; p < end; p++) a0 = V_ADD(a0, LD(x + p * C + c));
        }
        total = V_ADD(total, V_ADD(a0, a1));
    }
    ST(output + c, V_MUL(total, V_SET1(scale)));
}

void FN(effnet_channel_means)(const float *x, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1, float scale,
                              float *output) {
    if (channel_walk_by_columns(C, c0, c1)) {
        for (ptrdiff_t g = c0; g < c1; g += 16) {
            const ptrdiff_t gEnd = min_index(c1, g + 16);
            for (ptrdiff_t c = g; c < gEnd; c += VW) {
                const ptrdiff_t w = min_index(VW, gEnd - c);
                if (gEnd - g == 16 && w == VW) channel_means_group(1, 1, V_MASK(1), x, pixels, C, c, scale, output);
                else if (w == VW) channel_means_group(0, 1, V_MASK(1), x, pixels, C, c, scale, output);
                else channel_means_group(0, 0, V_MASK(w), x, pixels, C, c, scale, output);
            }
        }
        return;
    }
    const ptrdiff_t pairsEnd = c0 + (c1 - c0) / 16 * 16;
    for (ptrdiff_t k = c0; k < c1; k += CHANNEL_CHUNK)
        channel_means_chunk(x, pixels, C, k, min_index(c1, k + CHANNEL_CHUNK), pairsEnd, scale, output);
}

/* acc[c] += a[c] * b[c] (multiply, then add: the Swift loop's two roundings) for the chunk's vectors. */
AI void accumulate_products(float *acc, const float *a, const float *b, ptrdiff_t width, VM tail,
                            ptrdiff_t tailStart) {
    ptrdiff_t c = 0;
    for (; c < tailStart; c += VW) V_STORE(acc + c, V_ADD(V_LOAD(acc + c), V_MUL(V_LOAD(a + c), V_LOAD(b + c))));
    if (c < width)
        V_STORE(acc + c, V_ADD(V_LOAD(acc + c), V_MUL(V_LOADM(a + c, tail), V_LOADM(b + c, tail))));
}

AI void channel_dots_chunk(const float *a, const float *b, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                           float *output) {
    float block[CHANNEL_CHUNK] __attribute__((aligned(64)));
    float total[CHANNEL_CHUNK] __attribute__((aligned(64)));
    CHUNK_SHAPE(c1 - c0);
    for (ptrdiff_t v = 0; v < vectors; v++) V_STORE(total + v * VW, V_ZERO());
    for (ptrdiff_t p0 = 0; p0 < pixels; p0 += 64) {
        const ptrdiff_t end = min_index(pixels, p0 + 64);
        for (ptrdiff_t v = 0; v < vectors; v++) V_STORE(block + v * VW, V_ZERO());
        for (ptrdiff_t p = p0; p < end; p++)
            accumulate_products(block, a + p * C + c0, b + p * C + c0, width, tail, tailStart);
        for (ptrdiff_t v = 0; v < vectors; v++)
            V_STORE(total + v * VW, V_ADD(V_LOAD(total + v * VW), V_LOAD(block + v * VW)));
    }
    ptrdiff_t c = 0;
    for (; c < tailStart; c += VW) V_STORE(output + c0 + c, V_LOAD(total + c));
    if (c < width) V_STOREM(output + c0 + c, tail, V_LOAD(total + c));
}

/* The dot products' column walk for narrow ranges (see CHANNEL_ROW_WALK_MIN_CHANNELS): one vector of
   channels down all the pixels, the Swift loop's sums in registers. */
AI void channel_dots_column(int full, VM m, const float *a, const float *b, ptrdiff_t pixels, ptrdiff_t C,
                            ptrdiff_t c, float *output) {
    VF total = V_ZERO();
    for (ptrdiff_t p0 = 0; p0 < pixels; p0 += 64) {
        const ptrdiff_t end = min_index(pixels, p0 + 64);
        VF acc = V_ZERO();
        for (ptrdiff_t p = p0; p < end; p++) acc = V_ADD(acc, V_MUL(LD(a + p * C + c), LD(b + p * C + c)));
        total = V_ADD(total, acc);
    }
    ST(output + c, total);
}

void FN(effnet_channel_dots)(const float *a, const float *b, ptrdiff_t pixels, ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1,
                             float *output) {
    if (channel_walk_by_columns(C, c0, c1)) {
        for (ptrdiff_t c = c0; c < c1; c += VW) {
            const ptrdiff_t w = min_index(VW, c1 - c);
            if (w == VW) channel_dots_column(1, V_MASK(1), a, b, pixels, C, c, output);
            else channel_dots_column(0, V_MASK(w), a, b, pixels, C, c, output);
        }
        return;
    }
    for (ptrdiff_t k = c0; k < c1; k += CHANNEL_CHUNK)
        channel_dots_chunk(a, b, pixels, C, k, min_index(c1, k + CHANNEL_CHUNK), output);
}

/* out[p][c] = x[p][c]*s[c] (+ add[c]) for c in c0..c1: multiply, then add, as in the Swift loop. */
AI void scale_channels_rows(int hasAdd, const float *x, const float *s, const float *add, ptrdiff_t pixels,
                            ptrdiff_t C, ptrdiff_t c0, ptrdiff_t c1, float *out) {
    const ptrdiff_t tailStart = c0 + (c1 - c0) / VW * VW;
    const VM tail = V_MASK((c1 - c0) % VW == 0 ? 1 : (c1 - c0) % VW);
    for (ptrdiff_t p = 0; p < pixels; p++) {
        const float *xr = x + p * C;
        float *yr = out + p * C;
        ptrdiff_t c = c0;
        for (; c < tailStart; c += VW) {
            VF y = V_MUL(V_LOAD(xr + c), V_LOAD(s + c));
            if (hasAdd) y = V_ADD(y, V_LOAD(add + c));
            V_STORE(yr + c, y);
        }
        if (c < c1) {
            VF y = V_MUL(V_LOADM(xr + c, tail), V_LOADM(s + c, tail));
            if (hasAdd) y = V_ADD(y, V_LOADM(add + c, tail));
            V_STOREM(yr + c, tail, y);
        }
    }
}

void FN(effnet_scale_channels)(const float *x, const float *s, const float *add, ptrdiff_t pixels, ptrdiff_t C,
                               ptrdiff_t c0, ptrdiff_t c1, float *out) {
    if (add) scale_channels_rows(1, x, s, add, pixels, C, c0, c1, out);
    else scale_channels_rows(0, x, s, 0, pixels, C, c0, c1, out);
}

#undef CHANNEL_CHUNK
#undef CHUNK_SHAPE
#undef CHANNEL_ROW_WALK_MIN_CHANNELS
