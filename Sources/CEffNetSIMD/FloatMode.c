// Denormal floats (|x| < 1.2e-38) are 10-100x slower in x86 arithmetic, and deep networks with
// small weights can produce them in bulk: B7 at 600x600 with synthetic weights spent 14x longer in
// its projection GEMMs until the kernels ran with flush-to-zero (FTZ) and denormals-are-zero (DAZ).
// Results change only below 1.2e-38, far under every tolerance; oneDNN and ONNX Runtime offer the
// same mode. The worker pool switches it on around each parallel job and restores the caller's mode.
#include "CEffNetSIMD.h"

#if defined(__x86_64__)
#include <xmmintrin.h>

unsigned int effnet_flush_denormals_begin(void) {
    unsigned int saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
    return saved;
}

void effnet_flush_denormals_end(unsigned int saved) { _mm_setcsr(saved); }
#else
unsigned int effnet_flush_denormals_begin(void) { return 0; }
void effnet_flush_denormals_end(unsigned int saved) { (void)saved; }
#endif
