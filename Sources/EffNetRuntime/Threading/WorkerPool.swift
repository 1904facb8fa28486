import Foundation
import CEffNetSIMD
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of persistent worker threads for the kernels' data-parallel loops.
///
/// The calling thread takes part as worker 0, so `WorkerPool(threads: 2)` starts one extra
/// thread. Idle workers spin for a short while (a new job is picked up in well under a
/// microsecond, which matters with ~80 kernel calls per image) and then sleep on a condition
/// variable. OpenBLAS is switched to one thread: kernels split their GEMMs across this pool,
/// each worker calling single-threaded sgemm on its slice (see BLASConfiguration).
///
/// `parallelFor` does not allocate. A call made while the pool is already running a job
/// (from inside a body, or concurrently from another thread) runs serially on its caller.
public final class WorkerPool: @unchecked Sendable {
    public let threadCount: Int

    /// min(2, active processors); `EFFNET_THREADS=n` overrides.
    public static let shared = WorkerPool(threads: WorkerPool.defaultThreadCount())

    static func defaultThreadCount() -> Int {
        if let text = ProcessInfo.processInfo.environment["EFFNET_THREADS"],
           let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= 1 {
            return n
        }
        return max(1, min(2, ProcessInfo.processInfo.activeProcessorCount))
    }

    private let state: PoolState

    public init(threads: Int) {
        precondition(threads >= 1, "WorkerPool needs at least one thread")
        threadCount = threads
        BLASConfiguration.ensureConfigured()  // single-threaded OpenBLAS with the right kernels
        state = PoolState(workers: threads - 1)
        for worker in 1..<threads {
            let state = self.state
            let thread = Thread { state.workerLoop(index: worker) }
            thread.name = "effnet-worker"
            thread.start()
        }
    }

    deinit {
        state.stop()
    }

    /// Brings `bytes` from `start` into the threads' L2 caches while the next jobs' forward GEMMs run:
    /// thread t takes part t of `threadCount` contiguous parts and prefetches one cache line per k step
    /// of its GEMM strips (`effnet_weight_prefetch_set`). The calling thread's part is set now, each
    /// worker's when it joins its next job. A new range replaces what is left of the last one.
    /// Call it from the thread that submits the jobs, between them.
    public func prefetchAhead(_ start: UnsafeRawPointer, bytes: Int) {
        let part = (bytes / threadCount + 63) & ~63
        PoolState.setPrefetchPart(index: 0, start: Int(bitPattern: start), partBytes: part, totalBytes: bytes)
        if threadCount > 1 { state.setPrefetch(start: start, partBytes: part, totalBytes: bytes) }
    }

    /// Runs `body(i)` for every i in 0..<count, spread over the workers; returns when all are done.
    /// The calling thread claims indices from the front, the workers from the back (`TwoEndedTasks`:
    /// dynamic, and a row split keeps its rows on the same core from one layer to the next).
    /// Jobs run with denormals flushed to zero (on the workers and, for the job's duration, on the
    /// calling thread): see Sources/CEffNetSIMD/FloatMode.c.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        let savedFloatMode = effnet_flush_denormals_begin()
        defer { effnet_flush_denormals_end(savedFloatMode) }
        if count == 1 || threadCount == 1 || !state.tryAcquire() {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            state.run(count: count, body: escapable)
        }
        state.release()
    }
}

/// The part of the pool the worker threads hold on to (so the pool itself can be deinitialized).
private final class PoolState: @unchecked Sendable {
    /// Bumped once per job; workers compare it with the last one they saw.
    let generation = Atomic<Int>(0)
    /// True while the current job accepts helpers. The submitter closes it once every index is
    /// claimed, so it never waits for a worker that has not woken up (or was descheduled).
    let open = Atomic<Bool>(false)
    /// Workers currently inside a job (between joining and leaving).
    let inFlight = Atomic<Int>(0)
    /// The current job's unclaimed indices: the submitter takes them from the front, workers from the back.
    let tasks = TwoEndedTasks()
    /// Workers blocked (or about to block) on the condition variable.
    let sleepers = Atomic<Int>(0)
    let busy = Atomic<Bool>(false)
    let shutdown = Atomic<Bool>(false)

    // The current job. Written by the submitting thread before `open` is set, read by workers
    // only after they have joined (`inFlight` += 1) and seen `open`; cleared only after the
    // submitter has closed the job and seen `inFlight` == 0 (all sequentially consistent).
    var body: ((Int) -> Void)? = nil

    /// The range of the last `prefetchAhead`, for the workers to take their parts from when they next
    /// join a job; `prefetchSerial` counts the ranges, so each is taken once. Written by the submitting
    /// thread between jobs, read by a worker only inside one (after it has seen `open`).
    let prefetchSerial = Atomic<Int>(0)
    let prefetchStart = Atomic<Int>(0)
    let prefetchPartBytes = Atomic<Int>(0)
    let prefetchTotalBytes = Atomic<Int>(0)

    let workers: Int
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let cond: UnsafeMutablePointer<pthread_cond_t>

    /// How long an idle worker spins before it goes to sleep.
    static let spinNanoseconds: UInt64 = 200_000

    init(workers: Int) {
        self.workers = workers
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    @inline(__always) func tryAcquire() -> Bool {
        busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    @inline(__always) func release() {
        busy.store(false, ordering: .releasing)
    }

    func run(count: Int, body: @escaping (Int) -> Void) {
        self.body = body
        tasks.reset(count: count)
        open.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(cond)
            pthread_mutex_unlock(mutex)
        }
        drain(fromFront: true, body: body)
        // Every index is claimed; stop new helpers from joining, wait for those still working.
        open.store(false, ordering: .sequentiallyConsistent)
        var spins = 0
        while inFlight.load(ordering: .sequentiallyConsistent) != 0 {
            spins &+= 1
            if spins > 10_000 { sched_yield() }
        }
        self.body = nil
    }

    /// Runs unclaimed indices until none is left: the front one each time for the caller, the back one
    /// for workers.
    @inline(__always) func drain(fromFront: Bool, body: (Int) -> Void) {
        while let i = tasks.claim(fromFront: fromFront) { body(i) }
    }

    func setPrefetch(start: UnsafeRawPointer, partBytes: Int, totalBytes: Int) {
        prefetchStart.store(Int(bitPattern: start), ordering: .relaxed)
        prefetchPartBytes.store(partBytes, ordering: .relaxed)
        prefetchTotalBytes.store(totalBytes, ordering: .relaxed)
        prefetchSerial.add(1, ordering: .sequentiallyConsistent)
    }

    /// Worker `index`'s part of the newest prefetch range, if it has not taken it yet.
    @inline(__always) func takePrefetch(index: Int, seen: inout Int) {
        let serial = prefetchSerial.load(ordering: .sequentiallyConsistent)
        guard serial != seen else { return }
        seen = serial
        PoolState.setPrefetchPart(index: index, start: prefetchStart.load(ordering: .relaxed),
                                  partBytes: prefetchPartBytes.load(ordering: .relaxed),
                                  totalBytes: prefetchTotalBytes.load(ordering: .relaxed))
    }

    /// Sets the calling thread's window to part `index` (from 0, the submitting thread's) of a prefetch
    /// range of `totalBytes` at address `start`, in parts of `partBytes`.
    @inline(__always) static func setPrefetchPart(index: Int, start: Int, partBytes: Int, totalBytes: Int) {
        let offset = min(index &* partBytes, totalBytes)
        effnet_weight_prefetch_set(UnsafeRawPointer(bitPattern: start &+ offset), min(partBytes, totalBytes &- offset))
    }

    func stop() {
        shutdown.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    func workerLoop(index: Int) {
        _ = effnet_flush_denormals_begin()  // this thread only ever runs kernels
        var seen = 0
        var prefetchSeen = 0
        while true {
            var generationNow = generation.load(ordering: .acquiring)
            var spins = 0
            var spinStart: UInt64 = 0
            while generationNow == seen {
                spins &+= 1
                if spins & 1023 != 0 {
                    generationNow = generation.load(ordering: .acquiring)
                    continue
                }
                let clock = DispatchTime.now().uptimeNanoseconds
                if spinStart == 0 { spinStart = clock }
                if clock &- spinStart < PoolState.spinNanoseconds {
                    generationNow = generation.load(ordering: .acquiring)
                    continue
                }
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen {
                    pthread_cond_wait(cond, mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
                spins = 0
                spinStart = 0
                generationNow = generation.load(ordering: .acquiring)
            }
            seen = generationNow
            if shutdown.load(ordering: .sequentiallyConsistent) { return }
            inFlight.add(1, ordering: .sequentiallyConsistent)
            if open.load(ordering: .sequentiallyConsistent), let body {
                takePrefetch(index: index, seen: &prefetchSeen)
                drain(fromFront: false, body: body)
            }
            inFlight.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}
