// The kernels of KernelTemplate.h for AVX2 with FMA.
#if defined(__x86_64__)
#define EFFNET_TARGET_FEATURES "avx2,fma"
#define EFFNET_VECTOR_HEADER "VectorAVX2.h"
#include "Instantiate.h"
#endif
