@testable import EffNetRuntime
import XCTest

/// `effnet bench` divides achieved MAC/s by `MachinePeak`: it must give a positive, finite rate on
/// every C path (the pool's workers all run the FMA loop) and nil on the portable path, which has no
/// FMA kernel. Nothing here is timed against a threshold.
final class MachinePeakTests: XCTestCase {
    func testPeakIsPositiveOnTheCPathsAndAbsentOnThePortableOne() {
        let peak = MachinePeak.gigaflopsPerSecond(pool: WorkerPool(threads: 2), seconds: 0.01)
        if CSIMDKernels.active == nil {
            XCTAssertNil(peak)
        } else {
            let value = try? XCTUnwrap(peak)
            XCTAssertTrue(value.map { $0.isFinite && $0 > 0 } ?? false, "peak \(String(describing: peak))")
        }
    }
}
