import Foundation
import XCTest

@testable import EffNetRuntime

final class AtomicWriteTests: XCTestCase {
    private func contents(of directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    func testWritersLeaveOnlyTheDestinationBehind() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            try SafeTensors.write(["a": HostTensor(shape: [1], values: [1])], to: directory.appendingPathComponent("w.safetensors"))
            try NPY.write(HostTensor(shape: [2], values: [1, 2]), to: directory.appendingPathComponent("x.npy"))
            try NPY.write(int64: [3], shape: [1], to: directory.appendingPathComponent("y.npy"))
            XCTAssertEqual(try contents(of: directory), ["w.safetensors", "x.npy", "y.npy"])
        }
    }

    func testOverwriteReplacesTheWholeFile() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            try NPY.write(HostTensor(shape: [1000], repeating: 1), to: url)
            try NPY.write(HostTensor(shape: [1], values: [5]), to: url)
            XCTAssertEqual(try NPY.readFloat32(url), HostTensor(shape: [1], values: [5]))
            XCTAssertEqual(try Data(contentsOf: url).count, 128 + 4)
            XCTAssertEqual(try contents(of: directory), ["x.npy"])
        }
    }

    func testFailedWriteKeepsTheOldFileAndRemovesTheTemporary() throws {
        struct Interrupted: Error {}
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try SafeTensors.write(["a": HostTensor(shape: [1], values: [1])], to: url)
            let before = try Data(contentsOf: url)
            XCTAssertThrowsError(try AtomicFile.write(to: url) { writer in
                try writer.write([UInt8](repeating: 0xAB, count: 3 << 20))  // more than the buffer: hits the disk
                throw Interrupted()
            }) { XCTAssertTrue($0 is Interrupted) }
            XCTAssertEqual(try Data(contentsOf: url), before)
            XCTAssertEqual(try contents(of: directory), ["w.safetensors"])
        }
    }

    /// A writer killed with SIGKILL cannot clean up; its temporary file is found and removed on the
    /// next run, and nothing else is touched (the destination, other files' temporaries).
    func testStaleTemporariesOfAKilledWriterAreRemoved() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("last.safetensors")
            try SafeTensors.write(["a": HostTensor(shape: [1], values: [1])], to: url)
            for name in [".last.safetensors.tmp-1234", ".last.safetensors.tmp-5678", ".best.safetensors.tmp-1", "notes.txt"] {
                _ = FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: Data([1, 2, 3]))
            }
            XCTAssertEqual(AtomicFile.removeStaleTemporaries(of: url), 2)
            XCTAssertEqual(try contents(of: directory), [".best.safetensors.tmp-1", "last.safetensors", "notes.txt"])
            XCTAssertEqual(try SafeTensorsFile(contentsOf: url).names, ["a"])
        }
    }

    func testWriteIntoMissingDirectoryFailsWithClearError() {
        let url = URL(fileURLWithPath: "/nonexistent-effnet-dir/w.safetensors")
        let error = IOTestSupport.error { try SafeTensors.write(["a": HostTensor(shape: [1], values: [1])], to: url) }
        guard case .writeFailed(url.path, let reason)? = error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertTrue(reason.contains("/nonexistent-effnet-dir"), reason)
    }

    func testLargeWritesRoundTrip() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("big.safetensors")
            let big = HostTensor(shape: [3, 1 << 19], values: (0..<(3 << 19)).map { Float($0 % 1000) })
            try SafeTensors.write(["big": big, "small": HostTensor(shape: [1], values: [9])], to: url)
            let file = try SafeTensorsFile(contentsOf: url)
            XCTAssertEqual(try file.tensor("big"), big)
            XCTAssertEqual(try file.tensor("small").values, [9])
        }
    }
}
