// The machine's floating-point peak, measured: independent FMA chains with nothing else in the loop
// (`effnet bench` reports achieved MAC/s as a share of it). Instantiated per instruction set by
// KernelTemplate.h (no include guard on purpose).

/* `iterations` rounds of 12 independent vector FMAs (FMA latency 4 cycles x 2 ports = 8 chains keep
   both pipes busy; 12 leave slack). Returns a value that depends on every chain, so none is removed;
   `scale` and `shift` come from the caller so the compiler cannot fold the loop (it did, with constants). */
float FN(effnet_fma_chains)(ptrdiff_t iterations, float scale_, float shift_) {
    VF acc[12];
    for (int j = 0; j < 12; j++) acc[j] = V_SET1(1.0f + 0.001f * (float)j);
    const VF scale = V_SET1(scale_), shift = V_SET1(shift_);
    for (ptrdiff_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 12; j++) acc[j] = V_FMADD(acc[j], scale, shift);
    }
    VF sum = acc[0];
    for (int j = 1; j < 12; j++) sum = V_ADD(sum, acc[j]);
    float lanes[VW];
    v_spill(sum, lanes);
    float total = 0;
    for (int i = 0; i < VW; i++) total += lanes[i];
    return total;
}
