import CEffNetSIMD
import Foundation

/// The machine's single-precision peak, measured rather than looked up: every worker of a pool runs
/// independent FMA chains (CEffNetSIMD's PeakTemplate.h) at once, so turbo and shared-core effects of
/// this machine are in the figure. `effnet bench` reports achieved MAC/s as a share of it.
public enum MachinePeak {
    /// FLOP/s (2 per FMA lane) of `pool`'s workers together, in GFLOP/s: the best of short rounds
    /// (~3 ms each) over `seconds`. The rounds run that long because a worker that has been idle a
    /// while can take tens of milliseconds to be scheduled again on this kind of virtual machine (seen
    /// here: the first ~60 ms of jobs ran on the calling thread alone); the best round is the one where
    /// every worker took part. nil on the portable `.swift` path, which has no FMA kernel to measure with.
    public static func gigaflopsPerSecond(pool: WorkerPool, seconds: Double = 0.25) -> Double? {
        guard let simd = CSIMDKernels.active else { return nil }
        let lanes = simd.isa == EFFNET_ISA_AVX512 ? 16 : 8
        let iterations = 250_000
        let flopsPerWorker = Double(iterations) * 12 * Double(lanes) * 2
        var best = 0.0
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount)
        defer { sink.deallocate() }
        let begin = DispatchTime.now().uptimeNanoseconds
        var rounds = 0
        while rounds < 5 || Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9 < seconds {
            let start = DispatchTime.now().uptimeNanoseconds
            pool.parallelFor(pool.threadCount) { worker in
                sink[worker] = effnet_fma_chains(simd.isa, iterations, 0.999_999, 1e-7)
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, flopsPerWorker * Double(pool.threadCount) / elapsed / 1e9)
            rounds += 1
        }
        return best
    }
}
