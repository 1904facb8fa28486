import CEffNetSIMD

extension Kernels {
    /// Largest batch whose forward calls prefetch later layers' weights (WeightPrefetchPlan). At batch 1
    /// each layer's weights are read once, cold from memory; from batch 2 on (two images per worker and
    /// more: whole images per task) a weight serves several images and the calls are long enough for the
    /// hardware prefetchers.
    public static let weightPrefetchMaxBatch = 1

    /// Spreads `floats` of weights from `start` over the workers' caches while the next job computes
    /// (`WorkerPool.prefetchAhead`): the generated forward calls it just before a 1x1 convolution, for
    /// the weights of a squeeze-excitation or the classifier after it (the generator's WeightPrefetchPlan).
    /// A hint: no result depends on it, and on the portable `.swift` path nothing drains it.
    @inline(__always)
    public static func prefetchWeightsAhead(_ start: UnsafePointer<Float>, floats: Int, batch: Int, pool: WorkerPool) {
        guard batch <= weightPrefetchMaxBatch, CSIMDKernels.active != nil else { return }
        pool.prefetchAhead(UnsafeRawPointer(start), bytes: floats &* MemoryLayout<Float>.stride)
    }
}
