import CEffNetSIMD
@testable import EffNetRuntime
import Foundation
import Synchronization
import XCTest

final class WorkerPoolTests: XCTestCase {
    private func visitCounts(pool: WorkerPool, count: Int) -> [Int] {
        let visits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
        visits.initialize(repeating: 0, count: max(count, 1))
        defer { visits.deallocate() }
        pool.parallelFor(count) { i in visits[i] += 1 }
        return Array(UnsafeBufferPointer(start: visits, count: count))
    }

    func testParallelForVisitsEveryIndexExactlyOnce() {
        for threads in [1, 2, 3] {
            let pool = WorkerPool(threads: threads)
            XCTAssertEqual(pool.threadCount, threads)
            for count in [0, 1, 2, 3, 17, 1000] {
                XCTAssertEqual(visitCounts(pool: pool, count: count), [Int](repeating: 1, count: count),
                               "threads \(threads), count \(count)")
            }
        }
    }

    /// Kernels issue ~80 small jobs per image; every one must complete before parallelFor returns.
    func testManyTinyParallelForCallsAllCompleteBeforeReturning() {
        let pool = WorkerPool(threads: 2)
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        defer { slots.deallocate() }
        for call in 0..<20_000 {
            let count = call % 4 + 1
            slots.initialize(repeating: -1, count: 4)
            pool.parallelFor(count) { i in slots[i] = call }
            for i in 0..<count where slots[i] != call {
                XCTFail("call \(call): index \(i) not done when parallelFor returned")
                return
            }
        }
    }

    /// Index 0 waits for index 1 to start, which only a second thread can do: proves the
    /// workers really take part (the submitter never waits for workers that are not needed).
    func testWorkersRunIndicesConcurrentlyWithTheCaller() {
        let pool = WorkerPool(threads: 2)
        let started = Atomic<Int>(0)
        let sawPartner = Atomic<Int>(0)
        for _ in 0..<20 {
            started.store(0, ordering: .sequentiallyConsistent)
            pool.parallelFor(2) { _ in
                started.add(1, ordering: .sequentiallyConsistent)
                let deadline = Date().addingTimeInterval(10)
                while started.load(ordering: .sequentiallyConsistent) < 2 && Date() < deadline {}
                if started.load(ordering: .sequentiallyConsistent) == 2 { sawPartner.add(1, ordering: .relaxed) }
            }
        }
        XCTAssertEqual(sawPartner.load(ordering: .relaxed), 40)
    }

    /// Jobs after the workers have gone to sleep must wake them (no lost wake-up).
    func testWorkersWakeUpAfterSleeping() {
        let pool = WorkerPool(threads: 2)
        for _ in 0..<5 {
            usleep(3_000)
            XCTAssertEqual(visitCounts(pool: pool, count: 64), [Int](repeating: 1, count: 64))
        }
    }

    func testNestedParallelForRunsSeriallyAndCompletes() {
        let pool = WorkerPool(threads: 2)
        let cells = UnsafeMutablePointer<Int>.allocate(capacity: 8 * 8)
        cells.initialize(repeating: 0, count: 64)
        defer { cells.deallocate() }
        pool.parallelFor(8) { outer in
            pool.parallelFor(8) { inner in cells[outer * 8 + inner] += 1 }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: cells, count: 64)), [Int](repeating: 1, count: 64))
    }

    /// A second thread submitting while a job is running falls back to running its own loop serially.
    func testConcurrentSubmittersBothGetAllIndicesDone() {
        let pool = WorkerPool(threads: 2)
        let total = 2_000
        let a = UnsafeMutablePointer<Int>.allocate(capacity: total)
        let b = UnsafeMutablePointer<Int>.allocate(capacity: total)
        a.initialize(repeating: 0, count: total)
        b.initialize(repeating: 0, count: total)
        defer { a.deallocate(); b.deallocate() }
        let ap = Int(bitPattern: a), bp = Int(bitPattern: b)
        DispatchQueue.concurrentPerform(iterations: 2) { submitter in
            let target = UnsafeMutablePointer<Int>(bitPattern: submitter == 0 ? ap : bp)!
            for round in 0..<200 {
                pool.parallelFor(10) { i in target[round * 10 + i] += 1 }
            }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: a, count: total)), [Int](repeating: 1, count: total))
        XCTAssertEqual(Array(UnsafeBufferPointer(start: b, count: total)), [Int](repeating: 1, count: total))
    }

    func testCreatingAndDroppingPoolsDoesNotHang() {
        for _ in 0..<20 {
            let pool = WorkerPool(threads: 2)
            XCTAssertEqual(visitCounts(pool: pool, count: 5), [1, 1, 1, 1, 1])
        }
    }

    func testSharedPoolHasBetweenOneAndTwoThreadsByDefault() {
        let n = WorkerPool.shared.threadCount
        if ProcessInfo.processInfo.environment["EFFNET_THREADS"] == nil {
            XCTAssert((1...2).contains(n))
        } else {
            XCTAssertGreaterThanOrEqual(n, 1)
        }
    }

    /// Kernels run with denormals flushed to zero (deep nets can produce them in bulk, and x86 is
    /// 10-100x slower on them), on every worker and on the caller for the job only: the caller's
    /// own floating-point mode is back afterwards.
    func testJobsFlushDenormalsToZeroAndTheCallersModeIsRestored() {
        let tiny: [Float] = [1e-38, 0.25]  // the product, 2.5e-39, is a denormal
        #if arch(x86_64)
        for pool in [WorkerPool(threads: 1), WorkerPool(threads: 2)] {
            let results = UnsafeMutablePointer<Float>.allocate(capacity: 8)
            defer { results.deallocate() }
            pool.parallelFor(8) { i in results[i] = opaqueProduct(tiny[0], tiny[1]) }
            for i in 0..<8 { XCTAssertEqual(results[i], 0, "index \(i) with \(pool.threadCount) threads") }
            // The denormal expected, built at run time (a literal this small draws an underflow warning).
            let denormal = Float(Double(tiny[0]) * Double(tiny[1]))
            XCTAssertTrue(denormal.isSubnormal)
            XCTAssertEqual(opaqueProduct(tiny[0], tiny[1]), denormal, accuracy: .leastNonzeroMagnitude,
                           "caller's mode restored")
        }
        #endif
    }

    /// `prefetchAhead` gives each thread its own contiguous part of the range (WeightPrefetch.c): the
    /// calling thread the first at once, the worker the second when it joins its next job, once per range.
    func testPrefetchAheadGivesEachThreadItsPartOfTheRange() throws {
        let pool = WorkerPool(threads: 2)
        let range = [UInt8](repeating: 0, count: 1000)
        let main = pthread_self()
        let workerPending = Atomic<Int>(-1)
        range.withUnsafeBytes { bytes in
            pool.prefetchAhead(bytes.baseAddress!, bytes: bytes.count)
            // Parts are whole cache lines: 512 bytes, then the 488 left.
            XCTAssertEqual(effnet_weight_prefetch_pending(), 512)
            // The worker may be slow to wake; hold each job until it has joined (or 2 s have passed).
            for _ in 0..<200 where workerPending.load(ordering: .relaxed) < 0 {
                pool.parallelFor(2) { _ in
                    if pthread_equal(pthread_self(), main) == 0 {
                        workerPending.store(Int(effnet_weight_prefetch_pending()), ordering: .relaxed)
                        effnet_weight_prefetch_set(nil, 0)  // as if drained
                    } else {
                        usleep(10_000)
                    }
                }
            }
            XCTAssertEqual(effnet_weight_prefetch_pending(), 512, "a job does not reset the caller's part")
        }
        XCTAssertEqual(workerPending.load(ordering: .relaxed), 488)
        // A worker takes each range once: what it drained stays drained in later jobs.
        let again = Atomic<Int>(-1)
        effnet_weight_prefetch_set(nil, 0)
        for _ in 0..<200 where again.load(ordering: .relaxed) < 0 {
            pool.parallelFor(2) { _ in
                if pthread_equal(pthread_self(), main) == 0 {
                    again.store(Int(effnet_weight_prefetch_pending()), ordering: .relaxed)
                } else {
                    usleep(10_000)
                }
            }
        }
        XCTAssertEqual(again.load(ordering: .relaxed), 0, "the worker took the same range again")
    }

}

/// A multiplication the optimizer cannot fold at compile time.
@inline(never) func opaqueProduct(_ a: Float, _ b: Float) -> Float { a * b }
