// The stem convolution (k x k, stride s, NCHW image in, NHWC out) as the pointwise GEMM reading its
// operand straight from the image, instantiated per instruction set by KernelTemplate.h (no include guard
// on purpose).
//
// Output pixel (oy, ox) is row m of a GEMM with K = Cin*k*k: A[m][(ci, ky, kx)] =
// image[ci][oy*s - padTop + ky][ox*s - padLeft + kx]. Along one output row, consecutive pixels start s
// floats apart, so a run of pixels is GEMM rows with lda = s and a column-offset table koff[(ci, ky, kx)] =
// ci*H*W + ky*W + kx (gemm_strip's gathered form). No im2col rows are written: building them was scalar
// and cost more than the GEMM (B0: 0.65 ms per image at 33 GFLOP/s for 10.8 M multiply-adds).
//
// A run whose receptive fields cross the image border is first copied, zero-padded, into a small
// [Cin][k][runWidth] scratch on the stack and read from there with a second offset table. Same sums
// in the same order as im2col + gemm_all: bit-identical to the kernel it replaces.

/* Output pixels per run: each run's receptive fields (k rows x ((run-1)*s + k) columns per channel) are
   a few KB, and a run is whole 8-row strips. */
#define STEM_RUN 64
/* Scratch floats for a padded run (Cin*k*((STEM_RUN-1)*s + k)), and the largest K the offset tables
   hold; larger stems return 0 and take the Swift im2col path. 3 channels at k <= 7, s <= 4 fit. */
#define STEM_SCRATCH_FLOATS 6144
#define STEM_MAX_K 256

AI void stem_rows(int act, const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W, ptrdiff_t k, ptrdiff_t s,
                  ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, const float *w,
                  const float *bias, ptrdiff_t Cout, float *output, ptrdiff_t row0, ptrdiff_t row1,
                  const ptrdiff_t *imageOffsets, const ptrdiff_t *runOffsets, ptrdiff_t runWidth, float *scratch) {
    const ptrdiff_t K = Cin * k * k;
    for (ptrdiff_t row = row0; row < row1; row++) {
        const ptrdiff_t n = row / outH, oy = row - n * outH;
        const float *image = input + n * Cin * H * W;
        const ptrdiff_t iy0 = oy * s - padTop;
        const int rowsInside = iy0 >= 0 && iy0 + k <= H;
        float *out = output + row * outW * Cout;
        for (ptrdiff_t ox0 = 0; ox0 < outW; ox0 += STEM_RUN) {
            const ptrdiff_t count = outW - ox0 < STEM_RUN ? outW - ox0 : STEM_RUN;
            const ptrdiff_t ix0 = ox0 * s - padLeft;
            const ptrdiff_t span = (count - 1) * s + k; /* input columns the run reads */
            if (rowsInside && ix0 >= 0 && ix0 + span <= W) {
                gemm_all_two_vector_panels(act, 1, 0, 0, 1, count, Cout, K, image + iy0 * W + ix0, s, imageOffsets, w,
                                           Cout, bias, 0, out + ox0 * Cout, Cout);
                continue;
            }
            /* Columns x of the run with 0 <= ix0 + x < W are copied, the rest zeroed: one memcpy per row
               (a per-element bounds check here cost about as much as the run's GEMM). */
            const ptrdiff_t inside0 = ix0 < 0 ? -ix0 : 0;
            const ptrdiff_t inside1 = W - ix0 < span ? W - ix0 : span;
            for (ptrdiff_t ci = 0; ci < Cin; ci++) {
                for (ptrdiff_t ky = 0; ky < k; ky++) {
                    float *dst = scratch + (ci * k + ky) * runWidth;
                    const ptrdiff_t iy = iy0 + ky;
                    if (iy < 0 || iy >= H || inside1 <= inside0) {
                        memset(dst, 0, (size_t)span * sizeof(float));
                        continue;
                    }
                    const float *src = image + ci * H * W + iy * W + (ix0 + inside0); /* column max(ix0, 0) */
                    memset(dst, 0, (size_t)inside0 * sizeof(float));
                    memcpy(dst + inside0, src, (size_t)(inside1 - inside0) * sizeof(float));
                    memset(dst + inside1, 0, (size_t)(span - inside1) * sizeof(float));
                }
            }
            gemm_all_two_vector_panels(act, 1, 0, 0, 1, count, Cout, K, scratch, s, runOffsets, w, Cout, bias, 0,
                                       out + ox0 * Cout, Cout);
        }
    }
}

int FN(effnet_stem_rows)(int act, const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W, ptrdiff_t k,
                         ptrdiff_t s, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW,
                         const float *w, const float *bias, ptrdiff_t Cout, float *output, ptrdiff_t row0,
                         ptrdiff_t row1) {
    const ptrdiff_t K = Cin * k * k;
    const ptrdiff_t runWidth = (STEM_RUN - 1) * s + k;
    if (K > STEM_MAX_K || Cin * k * runWidth > STEM_SCRATCH_FLOATS || Cout <= 0) return 0;
    ptrdiff_t imageOffsets[STEM_MAX_K], runOffsets[STEM_MAX_K];
    float scratch[STEM_SCRATCH_FLOATS];
    ptrdiff_t j = 0;
    for (ptrdiff_t ci = 0; ci < Cin; ci++)
        for (ptrdiff_t ky = 0; ky < k; ky++)
            for (ptrdiff_t kx = 0; kx < k; kx++, j++) {
                imageOffsets[j] = ci * H * W + ky * W + kx;
                runOffsets[j] = (ci * k + ky) * runWidth + kx;
            }
    WITH_ACTIVATION(act, stem_rows(A, input, Cin, H, W, k, s, padTop, padLeft, outH, outW, w, bias, Cout, output,
                                   row0, row1, imageOffsets, runOffsets, runWidth, scratch))
    return 1;
}

#undef STEM_RUN
#undef STEM_SCRATCH_FLOATS
#undef STEM_MAX_K

/* im2col rows for output pixels p0..<p0+count (row r = pixel p0 + r, columns (ci, ky, kx)), zero outside
   the image: the stem's weight gradient (TrainingKernels.stemConvBackwardWeights) multiplies them with dZ.
   The copy reads the image from memory (by then the whole network's backward has passed through the
   caches), and scattered over Cin*k rows at a time it ran latency-bound: B0 at batch 16, 1.6-2.0 ms per
   worker against 0.3 ms with the image in cache. So while copying one output row, it prefetches the image
   rows that output row `ahead` pixels further on reads (the worker's next tile), two cache lines per
   pixel, so they are in L2 when their turn comes. The values are a copy: the same as Kernels.stemIm2col. */
AI void stem_im2col(const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W, ptrdiff_t k, ptrdiff_t s,
                    ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW, ptrdiff_t p0,
                    ptrdiff_t count, ptrdiff_t ahead, ptrdiff_t total, float *col) {
    const ptrdiff_t depth = Cin * k * k, imagePixels = outH * outW;
    const ptrdiff_t linesPerRow = (W * (ptrdiff_t)sizeof(float) + 63) / 64;
    ptrdiff_t n = p0 / imagePixels;
    ptrdiff_t oy = (p0 - n * imagePixels) / outW, ox = p0 - n * imagePixels - oy * outW;
    /* The prefetch walk over the image rows of the output row `ahead` pixels on: plane, kernel row, line. */
    const float *aheadImage = 0;
    ptrdiff_t aheadIy0 = 0, aheadPlane = Cin, aheadKy = 0, aheadLine = 0;
    for (ptrdiff_t r = 0; r < count; r++) {
        if (ahead > 0 && (r == 0 || ox == 0)) {
            const ptrdiff_t q = p0 + r + ahead;
            aheadPlane = Cin;  /* nothing to prefetch */
            if (q < total) {
                const ptrdiff_t qn = q / imagePixels, qy = (q - qn * imagePixels) / outW;
                aheadImage = input + qn * Cin * H * W;
                aheadIy0 = qy * s - padTop;
                aheadPlane = aheadKy = aheadLine = 0;
            }
        }
        for (int j = 0; j < 2 && aheadPlane < Cin; j++) {
            const ptrdiff_t iy = aheadIy0 + aheadKy;
            if (iy >= 0 && iy < H)
                __builtin_prefetch((const char *)(aheadImage + (aheadPlane * H + iy) * W) + aheadLine * 64, 0, 2);
            if (++aheadLine == linesPerRow) {
                aheadLine = 0;
                if (++aheadKy == k) { aheadKy = 0; aheadPlane++; }
            }
        }
        float *dst = col + r * depth;
        const ptrdiff_t iy0 = oy * s - padTop, ix0 = ox * s - padLeft;
        const float *image = input + n * Cin * H * W;
        const int inside = iy0 >= 0 && ix0 >= 0 && iy0 + k <= H && ix0 + k <= W;
        ptrdiff_t j = 0;
        for (ptrdiff_t ci = 0; ci < Cin; ci++) {
            const float *plane = image + ci * H * W;
            for (ptrdiff_t ky = 0; ky < k; ky++, j += k) {
                const ptrdiff_t iy = iy0 + ky;
                if (inside) {
                    const float *src = plane + iy * W + ix0;
                    for (ptrdiff_t kx = 0; kx < k; kx++) dst[j + kx] = src[kx];
                } else if (iy < 0 || iy >= H) {
                    for (ptrdiff_t kx = 0; kx < k; kx++) dst[j + kx] = 0;
                } else {
                    const float *src = plane + iy * W;
                    for (ptrdiff_t kx = 0; kx < k; kx++) {
                        const ptrdiff_t ix = ix0 + kx;
                        dst[j + kx] = (ix >= 0 && ix < W) ? src[ix] : 0;
                    }
                }
            }
        }
        if (++ox == outW) {
            ox = 0;
            if (++oy == outH) { oy = 0; n++; }
        }
    }
}

void FN(effnet_stem_im2col)(const float *input, ptrdiff_t Cin, ptrdiff_t H, ptrdiff_t W, ptrdiff_t k,
                            ptrdiff_t s, ptrdiff_t padTop, ptrdiff_t padLeft, ptrdiff_t outH, ptrdiff_t outW,
                            ptrdiff_t p0, ptrdiff_t count, ptrdiff_t ahead, ptrdiff_t total, float *col) {
    /* The RGB 3x3 stem (every EfficientNet) with literal sizes: the 27 copies per pixel unroll. */
    if (Cin == 3 && k == 3)
        stem_im2col(input, 3, H, W, 3, s, padTop, padLeft, outH, outW, p0, count, ahead, total, col);
    else
        stem_im2col(input, Cin, H, W, k, s, padTop, padLeft, outH, outW, p0, count, ahead, total, col);
}
