// Channel means over the pixels of an NHWC map (global average pooling, squeeze-excitation's squeeze),
// instantiated per instruction set by KernelTemplate.h (no include guard on purpose).
//
// The same sums in the same order as the Swift loop (Pooling.swift `channelMeans`), lane for lane: blocks
// of 64 pixels, within a block even and odd pixels into two accumulators, each block's pair added into
// the total, the total times `scale`. Float adds in the same order give the same bits; only the vector
// width differs (16 or 8 lanes here against Swift's SSE2 4-lane pieces of a 16-lane vector), which made
// the Swift loop the largest non-kernel cost of B0 at batch 1 (4 % of the time in a sampling profile).

/* One vector of channels from c. `pairs`: the Swift loop's 16-channel group was whole, so it alternated
   two accumulators (a partial group used one); decided per 16 channels, not per vector, so that AVX2's
   8-lane vectors sum exactly like the Swift code too. */
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
    for (ptrdiff_t g = c0; g < c1; g += 16) {
        const ptrdiff_t gEnd = min_index(c1, g + 16);
        for (ptrdiff_t c = g; c < gEnd; c += VW) {
            const ptrdiff_t w = min_index(VW, gEnd - c);
            if (gEnd - g == 16 && w == VW) channel_means_group(1, 1, V_MASK(1), x, pixels, C, c, scale, output);
            else if (w == VW) channel_means_group(0, 1, V_MASK(1), x, pixels, C, c, scale, output);
            else channel_means_group(0, 0, V_MASK(w), x, pixels, C, c, scale, output);
        }
    }
}
