// Prefetching the next layers' weights while the current layer computes (batch 1; see
// `effnet_weight_prefetch_set` in CEffNetSIMD.h and WorkerPool.prefetchAhead). One window per thread,
// so the workers never share (or contend for) a cursor: each drains its own part of the range.
#include "CEffNetSIMD.h"
#include "WeightPrefetch.h"

_Thread_local EffNetPrefetchWindow effnet_weight_prefetch_window = {0, 0};

void effnet_weight_prefetch_set(const void *begin, size_t bytes) {
    effnet_weight_prefetch_window.next = (const char *)begin;
    effnet_weight_prefetch_window.end = (const char *)begin + bytes;
}

size_t effnet_weight_prefetch_pending(void) {
    const EffNetPrefetchWindow w = effnet_weight_prefetch_window;
    return w.next < w.end ? (size_t)(w.end - w.next) : 0;
}
