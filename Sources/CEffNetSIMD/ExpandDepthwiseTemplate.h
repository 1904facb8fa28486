// An MBConv block's expansion (1x1 GEMM + bias + activation) fused with its depthwise convolution,
// instantiated per instruction set by KernelTemplate.h after GemmTemplate.h and DepthwiseTemplate.h (no
// include guard on purpose).
//
// Unfused, the expanded tensor (6x the block's input channels: 112x112x96 floats = 4.8 MB per image in
// B0's second stage) is written to memory by the GEMM and read back by the depthwise pass; on this
// hardware that traffic, not arithmetic, sets the time of both layers. Here one task walks a range of
// output rows of one image in sub-bands: it expands just the input rows the sub-band's taps need into a
// small buffer that stays in L2, then runs the ordinary depthwise row kernel over the buffer. Rows that
// the next sub-band needs again (the K - S rows of overlap) are moved to the buffer's front instead of
// being recomputed, so the only repeated expansion is at the edges of a task's range.

#include <string.h>

/* Output rows oy0..<oy1 of image n, expanded channels c0..<c1. `band` holds bandRows x W x Ce floats;
   bandRows must be at least (subRows - 1)*S + K for subRows >= 1 output rows per sub-band. With
   `rowSums`, each output row's channel sums go to rowSums[row][c0..<c1] (row = n*outHeight + oy) right
   after the row is written.
   A channel range is a task of its own at small batch: two workers take the whole image for half the
   channels each, where ranges of rows would expand the K - S rows at every range edge twice (29-57 % of
   B0's 28x28 and 14x14 rows, 63 % of B3's 19x19 ones in 5x5 layers). Every channel's expansion,
   depthwise output and row sum is computed alike whatever the range, so the bits do not depend on the
   split. */
AI void expand_depthwise_range(int expandAct, int dwAct, int K, int S, const float *input, ptrdiff_t H, ptrdiff_t W,
                               ptrdiff_t Cin, ptrdiff_t Ce, const float *expandWeights, const float *expandBias,
                               ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outHeight, ptrdiff_t outWidth,
                               const float *dwWeights, const float *dwBias, float *output, ptrdiff_t n, ptrdiff_t oy0,
                               ptrdiff_t oy1, ptrdiff_t c0, ptrdiff_t c1, float *band, ptrdiff_t bandRows,
                               float *rowSums) {
    const ptrdiff_t rowFloats = W * Ce;
    const ptrdiff_t width = c1 - c0;
    const ptrdiff_t subRows = (bandRows - K) / S + 1;
    /* Input rows [have0, have1) of image n are in the band, row have0 first. */
    ptrdiff_t have0 = 0, have1 = 0;
    for (ptrdiff_t a = oy0; a < oy1; a += subRows) {
        const ptrdiff_t b = min_index(oy1, a + subRows);
        ptrdiff_t need0 = a * S - padTop, need1 = (b - 1) * S - padTop + K;
        if (need0 < 0) need0 = 0;
        if (need1 > H) need1 = H;
        if (need1 <= need0) { /* every tap of these rows is padding: the depthwise kernel reads nothing */
            need0 = need1 = 0;
        }
        /* Keep the overlap with what the band holds, at its front; expand the rest after it. */
        ptrdiff_t kept = 0;
        if (need0 >= have0 && need0 < have1) {
            kept = min_index(have1, need1) - need0;
            if (need0 > have0) {
                const float *from = band + (need0 - have0) * rowFloats;
                if (width == Ce) {
                    memmove(band, from, (size_t)(kept * rowFloats) * sizeof(float));
                } else { /* only this range's channels of each pixel (the others belong to another task) */
                    for (ptrdiff_t p = 0; p < kept * W; p++)
                        memmove(band + p * Ce + c0, from + p * Ce + c0, (size_t)width * sizeof(float));
                }
            }
        }
        if (need0 + kept < need1) {
            const ptrdiff_t first = need0 + kept;
            FN(effnet_gemm_bias_activation)(expandAct, (need1 - first) * W, width, Cin,
                                            input + ((n * H + first) * W) * Cin, Cin, expandWeights + c0, Ce,
                                            expandBias + c0, 0, band + kept * rowFloats + c0, Ce);
        }
        have0 = need0;
        have1 = need1;
        for (ptrdiff_t oy = a; oy < b; oy++) {
            const ptrdiff_t row = n * outHeight + oy;
            dw_row(dwAct, K, S, band, n * H + have0, H, W, Ce, padTop, padLeft, outHeight, outWidth, dwWeights, dwBias,
                   output, row, c0, c1);
            if (rowSums) row_channel_sums(output + row * outWidth * Ce, outWidth, Ce, c0, c1, rowSums + row * Ce);
        }
    }
}

#define EXPAND_DW_GEOMETRY(K, S)                                                                               \
    WITH_ACTIVATION(dwAct, expand_depthwise_range(expandAct, A, K, S, input, H, W, Cin, Ce, expandWeights,      \
                                                  expandBias, padTop, padLeft, outHeight, outWidth, dwWeights,   \
                                                  dwBias, output, n, oy0, oy1, c0, c1, band, bandRows, rowSums))

int FN(effnet_expand_depthwise_rows)(int expandAct, int dwAct, const float *input, ptrdiff_t H, ptrdiff_t W,
                                     ptrdiff_t Cin, ptrdiff_t Ce, const float *expandWeights, const float *expandBias,
                                     ptrdiff_t kernel, ptrdiff_t stride, ptrdiff_t padTop, ptrdiff_t padLeft,
                                     ptrdiff_t outHeight, ptrdiff_t outWidth, const float *dwWeights,
                                     const float *dwBias, float *output, ptrdiff_t n, ptrdiff_t oy0, ptrdiff_t oy1,
                                     ptrdiff_t c0, ptrdiff_t c1, float *band, ptrdiff_t bandRows, float *rowSums) {
    if (bandRows < kernel || c0 < 0 || c1 > Ce || c0 >= c1) return 0;
    if (kernel == 3 && stride == 1) { EXPAND_DW_GEOMETRY(3, 1) }
    else if (kernel == 3 && stride == 2) { EXPAND_DW_GEOMETRY(3, 2) }
    else if (kernel == 5 && stride == 1) { EXPAND_DW_GEOMETRY(5, 1) }
    else if (kernel == 5 && stride == 2) { EXPAND_DW_GEOMETRY(5, 2) }
    else return 0;
    return 1;
}

#undef EXPAND_DW_GEOMETRY
