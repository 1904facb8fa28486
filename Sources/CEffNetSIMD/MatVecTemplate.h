// A matrix-vector product with bias, W row-major as PyTorch stores Linear weights, instantiated per
// instruction set by KernelTemplate.h (no include guard on purpose): squeeze-excitation's two products
// (SqueezeExciteTemplate.h) and the classifier at batch 1 (Linear.swift).
//
// Four rows at a time share each load of x and keep four weight streams in flight. The classifier's rows
// at batch 1 come from memory (or, prefetched, from L3): single-thread harness, 500 x 1,280 (a worker's
// half of B0's classifier), 38.8-45.6 us with the weights evicted against 67-73 us in OpenBLAS 0.3.21's
// sgemv, 20.9-22.6 against 23.9-24.6 us from L3.

/* y[i] = sum_k W[i][k] * x[k] + bias[i] for i < rows (W row-major, row stride cols). */
AI void matvec_bias(ptrdiff_t rows, ptrdiff_t cols, const float *W, const float *x, const float *bias, float *y) {
    const ptrdiff_t whole = cols / VW * VW;
    const int hasTail = whole < cols;
    const VM m = V_MASK(hasTail ? cols - whole : 1);
    ptrdiff_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const float *w0 = W + i * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
        VF a0 = V_ZERO(), a1 = V_ZERO(), a2 = V_ZERO(), a3 = V_ZERO();
        for (ptrdiff_t k = 0; k < whole; k += VW) {
            const VF xv = V_LOAD(x + k);
            a0 = V_FMADD(V_LOAD(w0 + k), xv, a0);
            a1 = V_FMADD(V_LOAD(w1 + k), xv, a1);
            a2 = V_FMADD(V_LOAD(w2 + k), xv, a2);
            a3 = V_FMADD(V_LOAD(w3 + k), xv, a3);
        }
        if (hasTail) {
            const VF xv = V_LOADM(x + whole, m);
            a0 = V_FMADD(V_LOADM(w0 + whole, m), xv, a0);
            a1 = V_FMADD(V_LOADM(w1 + whole, m), xv, a1);
            a2 = V_FMADD(V_LOADM(w2 + whole, m), xv, a2);
            a3 = V_FMADD(V_LOADM(w3 + whole, m), xv, a3);
        }
        y[i] = V_REDUCE_ADD(a0) + bias[i];
        y[i + 1] = V_REDUCE_ADD(a1) + bias[i + 1];
        y[i + 2] = V_REDUCE_ADD(a2) + bias[i + 2];
        y[i + 3] = V_REDUCE_ADD(a3) + bias[i + 3];
    }
    for (; i < rows; i++) {
        const float *w0 = W + i * cols;
        VF a0 = V_ZERO();
        for (ptrdiff_t k = 0; k < whole; k += VW) a0 = V_FMADD(V_LOAD(w0 + k), V_LOAD(x + k), a0);
        if (hasTail) a0 = V_FMADD(V_LOADM(w0 + whole, m), V_LOADM(x + whole, m), a0);
        y[i] = V_REDUCE_ADD(a0) + bias[i];
    }
}

void FN(effnet_matvec_bias)(ptrdiff_t rows, ptrdiff_t cols, const float *W, const float *x, const float *bias,
                            float *y) {
    matvec_bias(rows, cols, W, x, bias, y);
}
