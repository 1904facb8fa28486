// The calling thread's weight prefetch window (WeightPrefetch.c), drained by the forward GEMM's strips
// (GemmTemplate.h: gemm_all_prefetching_panels). Private to the kernels; the public entry points are in
// CEffNetSIMD.h.
#ifndef EFFNET_WEIGHT_PREFETCH_H
#define EFFNET_WEIGHT_PREFETCH_H

/* Bytes [next, end) still to be brought into L2; empty when next >= end. */
typedef struct {
    const char *next;
    const char *end;
} EffNetPrefetchWindow;

extern _Thread_local EffNetPrefetchWindow effnet_weight_prefetch_window;

#endif
