// Compiles KernelTemplate.h for one instruction set: the including file defines EFFNET_TARGET_FEATURES
// (the target attribute given to every function here) and EFFNET_VECTOR_HEADER (its V_* vocabulary).
// Only called after effnet_simd_best_isa() has seen those features, so the rest of the package keeps
// the baseline target.
#include <immintrin.h>

#define EFFNET_PRAGMA(text) _Pragma(#text)
#if defined(__clang__)
#define EFFNET_TARGET_PUSH(features) EFFNET_PRAGMA(clang attribute push(__attribute__((target(features))), apply_to = function))
#define EFFNET_TARGET_POP EFFNET_PRAGMA(clang attribute pop)
#else
#define EFFNET_TARGET_PUSH(features) EFFNET_PRAGMA(GCC push_options) EFFNET_PRAGMA(GCC target(features))
#define EFFNET_TARGET_POP EFFNET_PRAGMA(GCC pop_options)
#endif

EFFNET_TARGET_PUSH(EFFNET_TARGET_FEATURES)
#include EFFNET_VECTOR_HEADER
#include "KernelTemplate.h"
EFFNET_TARGET_POP
