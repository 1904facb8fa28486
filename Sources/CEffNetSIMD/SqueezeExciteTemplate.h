// Squeeze-excitation's two small matrix-vector products, from the channel means to the per-channel
// scales, instantiated per instruction set by KernelTemplate.h (no include guard on purpose).
//
// hidden = act(Wr . means + br), scales = sigmoid(We . hidden + be), with Wr [S][C] and We [C][S] as
// PyTorch stores them. They are small (B0's 7x7 layers: 1152 x 48 each) but were Swift dot products
// compiled for SSE2, one per output with a horizontal sum, the expansion's written lane by lane into a
// vector. Here four rows share each load of the vector they multiply; B0's 1152 x 48 pair takes about
// 8 us, which is the time to stream its 442 KB of weights from L2.

/* y[i] = sum_k W[i][k] * x[k] + bias[i] for i < rows (W row-major, row stride cols). */
AI void se_matvec(ptrdiff_t rows, ptrdiff_t cols, const float *W, const float *x, const float *bias, float *y) {
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

/* v[i] = act(v[i]) for i < count, or sigmoid when `sigmoid` is set (a literal at both call sites). */
AI void se_activate_all(int act, int sigmoid, float *v, ptrdiff_t count) {
    ptrdiff_t i = 0;
    for (; i + VW <= count; i += VW) {
        const VF x = V_LOAD(v + i);
        V_STORE(v + i, sigmoid ? v_sigmoid(x) : v_activate(x, act));
    }
    if (i < count) {
        const VM m = V_MASK(count - i);
        const VF x = V_LOADM(v + i, m);
        V_STOREM(v + i, m, sigmoid ? v_sigmoid(x) : v_activate(x, act));
    }
}

void FN(effnet_squeeze_excite_scales)(int act, ptrdiff_t C, ptrdiff_t S, const float *means,
                                      const float *reduceWeights, const float *reduceBias,
                                      const float *expandWeights, const float *expandBias, float *hidden,
                                      float *scales) {
    se_matvec(S, C, reduceWeights, means, reduceBias, hidden);
    WITH_ACTIVATION(act, se_activate_all(A, 0, hidden, S))
    se_matvec(C, S, expandWeights, hidden, expandBias, scales);
    se_activate_all(EFFNET_ACT_IDENTITY, 1, scales, C);
}
