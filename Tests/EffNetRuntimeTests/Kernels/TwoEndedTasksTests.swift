@testable import EffNetRuntime
import Foundation
import XCTest

/// The task counter behind `WorkerPool.parallelFor`: every index handed out exactly once, the front
/// claimer's indices a prefix and the back claimers' a suffix (what keeps a layer's rows on the core
/// that wrote them in the layer before), also when the two ends race.
final class TwoEndedTasksTests: XCTestCase {
    func testClaimsFromTheFrontAndTheBackMeetWithoutOverlap() {
        let tasks = TwoEndedTasks(count: 5)
        XCTAssertEqual(tasks.claim(fromFront: true), 0)
        XCTAssertEqual(tasks.claim(fromFront: false), 4)
        XCTAssertEqual(tasks.claim(fromFront: false), 3)
        XCTAssertEqual(tasks.claim(fromFront: true), 1)
        XCTAssertEqual(tasks.claim(fromFront: true), 2)
        XCTAssertNil(tasks.claim(fromFront: true))
        XCTAssertNil(tasks.claim(fromFront: false))
        tasks.reset(count: 0)
        XCTAssertNil(tasks.claim(fromFront: false), "an empty range hands out nothing")
        tasks.reset(count: 2)
        XCTAssertEqual(tasks.claim(fromFront: false), 1, "reset makes the whole range unclaimed again")
    }

    /// Through the pool: the indices the calling thread ran are 0..<k and the worker's k..<count.
    func testPoolGivesTheCallerAPrefixAndTheWorkerASuffix() {
        let pool = WorkerPool(threads: 2)
        let count = 4096
        let ranOnCaller = UnsafeMutablePointer<Bool>.allocate(capacity: count)
        defer { ranOnCaller.deallocate() }
        var sawBoth = false
        for _ in 0..<50 {
            ranOnCaller.initialize(repeating: false, count: count)
            let caller = pthread_self()
            pool.parallelFor(count) { i in
                ranOnCaller[i] = pthread_equal(pthread_self(), caller) != 0
                if i % 64 == 0 { usleep(1) }  // long enough for the worker to join
            }
            let flags = Array(UnsafeBufferPointer(start: ranOnCaller, count: count))
            let k = flags.firstIndex(of: false) ?? count
            XCTAssertEqual(Array(flags[k...]), [Bool](repeating: false, count: count - k),
                           "the caller ran \(k) front indices, then one the worker should have had")
            sawBoth = sawBoth || (k > 0 && k < count)
        }
        XCTAssert(sawBoth, "in 50 jobs the worker never joined, so the split was not exercised")
    }
}
