import Foundation
import XCTest

@testable import EffNetRuntime

final class NPYTests: XCTestCase {
    /// An `.npy` file assembled by hand from a header dict and data bytes (format version 1.0
    /// unless `version` says otherwise).
    private func writeRaw(_ url: URL, header: String, data: [UInt8], version: UInt8 = 1) throws {
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        let dict = Array(header.utf8)
        if version == 1 {
            bytes += [UInt8(dict.count & 0xFF), UInt8(dict.count >> 8)]
        } else {
            bytes += withUnsafeBytes(of: UInt32(dict.count).littleEndian) { Array($0) }
        }
        try Data(bytes + dict + data).write(to: url)
    }

    private func floatBytes(_ values: [Float], bigEndian: Bool = false) -> [UInt8] {
        values.flatMap { value -> [UInt8] in
            let bits = bigEndian ? value.bitPattern.bigEndian : value.bitPattern.littleEndian
            return withUnsafeBytes(of: bits) { Array($0) }
        }
    }

    func testFloat32RoundTripPreservesShapeAndValues() throws {
        let tensors = [
            HostTensor(shape: [2, 3, 1, 2], values: (0..<12).map { Float($0) / 3 - 1 }),
            HostTensor(shape: [5], values: [1, -2, .infinity, -0.0, .leastNonzeroMagnitude]),
            HostTensor(shape: [], values: [7]),
            HostTensor(shape: [0, 3], values: []),
        ]
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            for tensor in tensors {
                try NPY.write(tensor, to: url)
                let read = try NPY.readFloat32(url)
                XCTAssertEqual(read.shape, tensor.shape)
                XCTAssertEqual(read.values.map(\.bitPattern), tensor.values.map(\.bitPattern))
            }
        }
    }

    func testInt64RoundTripPreservesShapeAndValues() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("labels.npy")
            let values: [Int64] = [0, 999, -1, .max, .min, 42]
            try NPY.write(int64: values, shape: [2, 3], to: url)
            let read = try NPY.readInt64(url)
            XCTAssertEqual(read.shape, [2, 3])
            XCTAssertEqual(read.values, values)
        }
    }

    func testWrittenDataStartsOnA64ByteBoundary() throws {
        for shape in [[], [1], [3, 224, 224], [16, 3, 600, 600]] {
            XCTAssertEqual(NPY.preamble(descr: "<f4", shape: shape).count % 64, 0, "shape \(shape)")
        }
    }

    func testWriterRejectsValueCountThatDoesNotMatchShape() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("labels.npy")
            guard case .invalidTensor? = IOTestSupport.error({ try NPY.write(int64: [1, 2, 3], shape: [2], to: url) }) else {
                return XCTFail("3 values cannot have shape [2]")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        }
    }

    func testVersion2HeaderAndBigEndianFloatsAreRead() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            try writeRaw(url, header: "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n",
                         data: floatBytes([1.5, -3], bigEndian: true), version: 2)
            XCTAssertEqual(try NPY.readFloat32(url), HostTensor(shape: [2], values: [1.5, -3]))
        }
    }

    func testTruncatedDataReportsExpectedAndActualSizes() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            try NPY.write(HostTensor(shape: [4, 4], repeating: 1), to: url)
            let full = try Data(contentsOf: url)
            XCTAssertEqual(full.count, 128 + 64)
            try full.prefix(full.count - 1).write(to: url)
            let error = IOTestSupport.error { try NPY.readFloat32(url) }
            guard case .truncated(_, 192, 191, let detail)? = error else { return XCTFail("got \(String(describing: error))") }
            XCTAssertTrue(detail.contains("[4, 4]") && detail.contains("64 data bytes"), detail)
        }
    }

    func testZeroByteFileIsReportedAsEmpty() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            try Data().write(to: url)
            let error = IOTestSupport.error { try NPY.readFloat32(url) }
            guard case .truncated(_, 10, 0, _)? = error else { return XCTFail("got \(String(describing: error))") }
            XCTAssertTrue(error!.description.contains("file is empty"), error!.description)
        }
    }

    func testHeaderLengthBeyondFileIsReportedAsTruncation() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            try Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0x00] + Array("{'descr'".utf8)).write(to: url)
            guard case .truncated(_, 265, 18, _)? = IOTestSupport.error({ try NPY.readFloat32(url) }) else {
                return XCTFail("a header running past the end of the file is a truncation")
            }
        }
    }

    func testFileWithoutMagicIsRejected() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            try Data("PK\u{3}\u{4} this is a zip archive, maybe an .npz".utf8).write(to: url)
            let error = IOTestSupport.error { try NPY.readFloat32(url) }
            guard case .corruptNPY(_, let reason)? = error, reason.contains("NUMPY magic") else {
                return XCTFail("got \(String(describing: error))")
            }
        }
    }

    func testMalformedHeadersAreRejected() throws {
        let headers = [
            "not a dict\n",
            "{'descr': '<f4', 'fortran_order': False}\n",  // no shape
            "{'fortran_order': False, 'shape': (1,)}\n",  // no descr
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}\n",  // negative dimension
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}\n",  // fortran_order not a bool
        ]
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            for header in headers {
                try writeRaw(url, header: header, data: floatBytes([1]))
                let error = IOTestSupport.error { try NPY.readFloat32(url) }
                guard case .corruptNPY? = error else { return XCTFail("\(header): got \(String(describing: error))") }
            }
        }
    }

    func testUnsupportedVersionIsRejected() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            try writeRaw(url, header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", data: floatBytes([1]), version: 9)
            guard case .corruptNPY(_, let reason)? = IOTestSupport.error({ try NPY.readFloat32(url) }),
                reason.contains("version 9.0")
            else { return XCTFail("version 9 does not exist") }
        }
    }

    func testStructuredDTypeIsRejectedAsUnsupported() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            try writeRaw(url, header: "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }\n", data: [UInt8](repeating: 0, count: 8))
            guard case .unsupportedNPYDType(_, "structured dtype", _)? = IOTestSupport.error({ try NPY.readFloat32(url) }) else {
                return XCTFail("record arrays are not tensors")
            }
        }
    }

    func testFortranOrderIsHarmlessForVectors() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("x.npy")
            try writeRaw(url, header: "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", data: floatBytes([1, 2]))
            XCTAssertEqual(try NPY.readFloat32(url).values, [1, 2])
        }
    }

    func testPythonLiteralParserHandlesNumPyHeaderSyntax() {
        XCTAssertEqual(
            PythonLiteral.parse("{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4), }  \n"),
            .dictionary(["descr": .string("<f4"), "fortran_order": .boolean(false),
                         "shape": .tuple([.integer(3), .integer(4)])]))
        XCTAssertEqual(PythonLiteral.parse("()"), .tuple([]))
        XCTAssertEqual(PythonLiteral.parse("(5,)"), .tuple([.integer(5)]))
        XCTAssertNil(PythonLiteral.parse("{'a': 1} trailing"))
        XCTAssertNil(PythonLiteral.parse("{'a': 1"))
    }
}
