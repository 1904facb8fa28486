// The 1x1 convolution's weight gradient as a GEMM over the long pixel axis, on the register tile of
// GemmTemplate.h; instantiated per instruction set by KernelTemplate.h (no include guard on purpose).
//
// C[m][n] (+)= sum_k a[k*lda + m] * b[k*ldb + n]: both operands are NHWC maps [pixels][channels], so the
// product runs over their rows (k = pixel, tens of thousands) and the output is small (channels x
// channels). gemm_strip reads A[m][k] = a[m + koff[k]] with koff[k] = k*lda (its gathered form, as the
// stem uses it), the B rows are the other map's rows.
//
// The pixels are cut into blocks of WG_BLOCK: per block, every panel of B (WG_BLOCK x 48 floats, 12 KB)
// stays in L1 while the 8-row strips of A pass over it, and the block's sums are added into C. Single
// thread over half of B0's batch-16 pixels, this took 0.69-0.88x the time of OpenBLAS's sgemm on the same
// share (sgemm packs both operands on every call). With the split over pixels that it serves
// (TrainingKernels.weightGradientSplitsPixels), the early layers' weight gradients took 0.35-0.65x the
// time per worker of sgemm split over the outputs, the 14x14 layers' 0.70-0.85x. The 7x7 layers (784
// pixels) split the outputs instead (TrainingKernels.gemmTransposedAccumulate), each worker running this
// kernel on its slice: as fast as OpenBLAS's AVX-512 sgemm, 1.3x its AVX2 one.

/* TrainingKernels.weightGradientBandPixels (Swift) cuts a part into bands of whole blocks, so that calls band by
   band add the same block sums in the same order as one call: change both together. */
#define WG_BLOCK 64

void FN(effnet_weight_gradient_gemm)(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t lda,
                                     const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (ptrdiff_t m = 0; m < M; m++)
                for (ptrdiff_t n = 0; n < N; n++) c[m * ldc + n] = 0;
        return;
    }
    ptrdiff_t koff[WG_BLOCK];
    for (ptrdiff_t k = 0; k < WG_BLOCK; k++) koff[k] = k * lda;
    for (ptrdiff_t k0 = 0; k0 < K; k0 += WG_BLOCK) {
        const ptrdiff_t kk = min_index(WG_BLOCK, K - k0);
        /* A's rows are its columns here: consecutive m are adjacent floats (row stride 1). */
        if (k0 == 0 && !accumulate)
            gemm_all(EFFNET_ACT_IDENTITY, 0, 0, 0, 1, M, N, kk, a, 1, koff, b, ldb, 0, 0, c, ldc);
        else
            gemm_all(EFFNET_ACT_IDENTITY, 0, 1, 0, 1, M, N, kk, a + k0 * lda, 1, koff, b + k0 * ldb, ldb, 0, c, c, ldc);
    }
}

#undef WG_BLOCK
