// The kernels of KernelTemplate.h for AVX-512 (F, DQ, BW, VL) with FMA.
#if defined(__x86_64__)
#define EFFNET_TARGET_FEATURES "avx512f,avx512dq,avx512bw,avx512vl,fma"
#define EFFNET_VECTOR_HEADER "VectorAVX512.h"
#include "Instantiate.h"
#endif
