// Squeeze-excitation's two small matrix-vector products, from the channel means to the per-channel
// scales, instantiated per instruction set by KernelTemplate.h (no include guard on purpose).
//
// hidden = act(Wr . means + br), scales = sigmoid(We . hidden + be), with Wr [S][C] and We [C][S] as
// PyTorch stores them. They are small (B0's 7x7 layers: 1152 x 48 each) but were Swift dot products
// compiled for SSE2, one per output with a horizontal sum, the expansion's written lane by lane into a
// vector. Now they are matvec_bias (MatVecTemplate.h), four rows sharing each load of the vector they
// multiply; B0's 1152 x 48 pair takes about 8 us, which is the time to stream its 442 KB of weights from L2.

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
    matvec_bias(S, C, reduceWeights, means, reduceBias, hidden);
    WITH_ACTIVATION(act, se_activate_all(A, 0, hidden, S))
    matvec_bias(C, S, expandWeights, hidden, expandBias, scales);
    se_activate_all(EFFNET_ACT_IDENTITY, 1, scales, C);
}
