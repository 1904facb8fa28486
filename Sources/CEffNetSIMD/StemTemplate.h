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
                gemm_all(act, 1, 0, 0, 1, count, Cout, K, image + iy0 * W + ix0, s, imageOffsets, w, Cout, bias, 0,
                         out + ox0 * Cout, Cout);
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
            gemm_all(act, 1, 0, 0, 1, count, Cout, K, scratch, s, runOffsets, w, Cout, bias, 0, out + ox0 * Cout, Cout);
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
