import Foundation
import XCTest
@testable import EffNetRuntime

/// LargeBuffer: the weights and the arena on 2 MiB boundaries, advised for transparent huge pages.
final class LargeBufferTests: XCTestCase {
    func testLargeBuffersAreHugePageAlignedAndWholeHugePagesLong() {
        let floats = 3 * (1 << 20) / 4 + 5  // a little over 3 MiB
        let buffer = LargeBuffer.allocate(floats: floats)
        defer { LargeBuffer.deallocate(buffer, floats: floats) }
        XCTAssertEqual(Int(bitPattern: buffer) % LargeBuffer.hugePageBytes, 0)
        let footprint = LargeBuffer.footprint(floats: floats)
        XCTAssertTrue(footprint.huge)
        XCTAssertEqual(footprint.bytes, 4 << 20)  // rounded up to two whole huge pages
        // Every float is writable and keeps its value, the last one included.
        for i in stride(from: 0, to: floats, by: 4093) { buffer[i] = Float(i) }
        buffer[floats - 1] = -1
        for i in stride(from: 0, to: floats, by: 4093) where i != floats - 1 { XCTAssertEqual(buffer[i], Float(i)) }
        XCTAssertEqual(buffer[floats - 1], -1)
    }

    func testSmallBuffersAreCacheLineAligned() {
        for floats in [0, 1, 17, 1000] {
            let buffer = LargeBuffer.allocate(floats: floats)
            XCTAssertEqual(Int(bitPattern: buffer) % 64, 0, "\(floats) floats")
            buffer[0] = 1
            XCTAssertEqual(buffer[0], 1)
            LargeBuffer.deallocate(buffer, floats: floats)
        }
    }

    /// The huge-page advice is what the batch-1 speed relies on: the mapping that holds a large buffer
    /// must be eligible for transparent huge pages (smaps' THPeligible), wherever THP is not switched off.
    func testLargeBuffersAreEligibleForTransparentHugePages() throws {
        #if os(Linux)
        guard let mode = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8),
              !mode.contains("[never]") else {
            throw XCTSkip("transparent huge pages are off on this machine")
        }
        // A large block freed back to the C heap first, as earlier tests in the suite do: when LargeBuffer
        // took its blocks from the heap, this test failed in 2 of about 12 full-suite runs (never alone).
        let heapBlock = UnsafeMutablePointer<Float>.allocate(capacity: 6 << 20)
        heapBlock.initialize(repeating: 0, count: 6 << 20)
        heapBlock.deallocate()
        let floats = 4 << 20  // 16 MiB
        let buffer = LargeBuffer.allocate(floats: floats)
        defer { LargeBuffer.deallocate(buffer, floats: floats) }
        buffer.initialize(repeating: 1, count: floats)
        let address = UInt(bitPattern: buffer)
        // procfs files report a size of 0, so read to the end rather than by the size.
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var inMapping = false
        var eligible: Bool?
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), fields.count >= 5 {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inMapping = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
            } else if inMapping, fields.first == "THPeligible:", fields.count >= 2 {
                eligible = fields[1] == "1"
            }
        }
        XCTAssertEqual(eligible, true, "the buffer's mapping is not eligible for huge pages")
        #else
        throw XCTSkip("transparent huge pages are a Linux feature")
        #endif
    }
}
