import Foundation
import XCTest

@testable import EffNetRuntime

final class SafeTensorsTests: XCTestCase {
    /// A safetensors file assembled by hand: header length field, header text, data bytes.
    private func writeRaw(
        _ url: URL, header: String, data: [UInt8], headerLength: UInt64? = nil
    ) throws {
        let headerBytes = Array(header.utf8)
        var bytes = withUnsafeBytes(of: (headerLength ?? UInt64(headerBytes.count)).littleEndian) { Array($0) }
        bytes += headerBytes + data
        try Data(bytes).write(to: url)
    }

    private let sample: [(name: String, tensor: HostTensor)] = [
        ("features.0.0.weight", HostTensor(shape: [2, 1, 3, 3], values: (0..<18).map { Float($0) * 0.25 - 2 })),
        ("classifier.1.bias", HostTensor(shape: [3], values: [1, -1, .pi])),
        ("scalar", HostTensor(shape: [], values: [42])),
        ("empty", HostTensor(shape: [0, 4], values: [])),
    ]

    func testRoundTripPreservesNamesShapesValuesAndMetadata() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try SafeTensors.write(sample, metadata: ["variant": "EfficientNetB0", "note": "quote \" and \\"], to: url)
            let file = try SafeTensorsFile(contentsOf: url)
            XCTAssertEqual(file.names, sample.map(\.name).sorted())
            XCTAssertEqual(file.metadata, ["variant": "EfficientNetB0", "note": "quote \" and \\"])
            for (name, tensor) in sample {
                XCTAssertEqual(try file.tensor(name), tensor)
                XCTAssertEqual(file.dtype(of: name), "F32")
            }
        }
    }

    func testRoundTripPreservesSpecialFloatValuesBitForBit() throws {
        let values: [Float] = [.infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try SafeTensors.write(["x": HostTensor(shape: [5], values: values + [])], to: url)
            let read = try SafeTensorsFile(contentsOf: url).tensor("x").values
            XCTAssertEqual(read.map(\.bitPattern), values.map(\.bitPattern))
        }
    }

    func testWrittenHeaderHasSortedKeysAndIsPaddedToEightBytes() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try SafeTensors.write(
                [("b", HostTensor(shape: [1], values: [2])), ("a", HostTensor(shape: [1], values: [1]))],
                metadata: ["k": "v"], to: url)
            let bytes = try Data(contentsOf: url)
            let length = Int(bytes.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
            XCTAssertEqual(length % 8, 0)
            XCTAssertEqual(bytes.count, 8 + length + 8)
            let header = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
                .trimmingCharacters(in: .whitespaces)
            XCTAssertEqual(
                header,
                #"{"__metadata__":{"k":"v"},"a":{"data_offsets":[0,4],"dtype":"F32","shape":[1]},"#
                    + #""b":{"data_offsets":[4,8],"dtype":"F32","shape":[1]}}"#)
        }
    }

    func testWriterRejectsDuplicateNamesAndInconsistentTensors() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            let t = HostTensor(shape: [1], values: [1])
            guard case .invalidTensor(_, "a", _)? = IOTestSupport.error({ try SafeTensors.write([("a", t), ("a", t)], to: url) })
            else { return XCTFail("duplicate names must be refused") }
            var broken = t
            broken.values = [1, 2]
            guard case .invalidTensor(_, "b", _)? = IOTestSupport.error({ try SafeTensors.write([("b", broken)], to: url) })
            else { return XCTFail("a shape that does not match the values must be refused") }
            XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        }
    }

    func testMissingTensorNamesFileAndSuggestsCloseNames() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("weights.safetensors")
            try SafeTensors.write(sample, to: url)
            let file = try SafeTensorsFile(contentsOf: url)
            let error = IOTestSupport.error { try file.tensor("features.0.0.weigth") }
            guard case .missingTensor(_, "features.0.0.weigth", let suggestions)? = error else {
                return XCTFail("got \(String(describing: error))")
            }
            XCTAssertEqual(suggestions, ["features.0.0.weight"])
            XCTAssertTrue(error!.description.contains("weights.safetensors"), error!.description)
            XCTAssertTrue(error!.description.contains(#"did you mean "features.0.0.weight"?"#), error!.description)
            guard case .missingTensor(_, _, [])? = IOTestSupport.error({ try file.tensor("zzzzzzzzzzzzzzzzzzzz") }) else {
                return XCTFail("an unrelated name gets no suggestions")
            }
        }
    }

    func testShapeMismatchNamesTensorExpectedAndFoundShapes() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("weights.safetensors")
            try SafeTensors.write(
                [("features.1.0.block.0.0.weight", HostTensor(shape: [32, 1, 3, 3], repeating: 0))], to: url)
            let file = try SafeTensorsFile(contentsOf: url)
            let error = IOTestSupport.error { try file.tensor("features.1.0.block.0.0.weight", expectedShape: [16, 1, 3, 3]) }
            XCTAssertEqual(
                error,
                .shapeMismatch(
                    file: url.path, name: "features.1.0.block.0.0.weight", expected: [16, 1, 3, 3], found: [32, 1, 3, 3]))
            XCTAssertEqual(
                error?.description,
                "\(url.path): tensor \"features.1.0.block.0.0.weight\" has shape [32, 1, 3, 3], expected [16, 1, 3, 3]")
        }
    }

    func testZeroByteFileIsReportedAsEmpty() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("empty.safetensors")
            try Data().write(to: url)
            let error = IOTestSupport.error { try SafeTensorsFile(contentsOf: url) }
            XCTAssertEqual(error, .truncated(file: url.path, expectedBytes: 8, actualBytes: 0,
                                             detail: "a safetensors file starts with an 8-byte header length"))
            XCTAssertTrue(error!.description.contains("file is empty"), error!.description)
        }
    }

    func testTruncatedFileReportsExpectedAndActualSizes() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try SafeTensors.write(sample, to: url)
            let full = try Data(contentsOf: url)
            try full.prefix(full.count - 5).write(to: url)
            let error = IOTestSupport.error { try SafeTensorsFile(contentsOf: url) }
            guard case .truncated(_, let expected, let actual, _)? = error else {
                return XCTFail("got \(String(describing: error))")
            }
            XCTAssertEqual(expected, full.count)
            XCTAssertEqual(actual, full.count - 5)
            XCTAssertTrue(error!.description.contains("expected at least \(full.count) bytes, found \(full.count - 5)"))
        }
    }

    func testHeaderLengthLargerThanFileIsReportedAsTruncation() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try writeRaw(url, header: "{}", data: [], headerLength: 5000)
            guard case .truncated(_, 5008, 10, _)? = IOTestSupport.error({ try SafeTensorsFile(contentsOf: url) }) else {
                return XCTFail("a header running past the end of the file is a truncation")
            }
            try writeRaw(url, header: "{}", data: [], headerLength: UInt64.max)
            guard case .corruptHeader? = IOTestSupport.error({ try SafeTensorsFile(contentsOf: url) }) else {
                return XCTFail("an absurd header length means this is not a safetensors file")
            }
        }
    }

    func testInvalidJSONHeaderIsReportedAsCorrupt() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            for header in [#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]"#, "not json", "[1, 2]"] {
                try writeRaw(url, header: header, data: [0, 0, 0, 0])
                let error = IOTestSupport.error { try SafeTensorsFile(contentsOf: url) }
                guard case .corruptHeader(let file, _)? = error else { return XCTFail("\(header): got \(String(describing: error))") }
                XCTAssertEqual(file, url.path)
            }
        }
    }

    func testMalformedEntriesAreReportedAsCorrupt() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            let headers = [
                #"{"a": {"shape": [1], "data_offsets": [0, 4]}}"#,  // no dtype
                #"{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#,  // negative dimension
                #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4]}}"#,  // one offset
                #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}"#,  // reversed
                #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}"#,  // 8 bytes needed, 4 given
                #"{"__metadata__": {"k": 1}}"#,  // metadata value not a string
            ]
            for header in headers {
                try writeRaw(url, header: header, data: [0, 0, 0, 0, 0, 0, 0, 0])
                let error = IOTestSupport.error { try SafeTensorsFile(contentsOf: url) }
                guard case .corruptHeader? = error else { return XCTFail("\(header): got \(String(describing: error))") }
            }
        }
    }

    func testOffsetsBeyondTheDataBufferAreRejected() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try writeRaw(url, header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}"#, data: [UInt8](repeating: 0, count: 12))
            let error = IOTestSupport.error { try SafeTensorsFile(contentsOf: url) }
            guard case .truncated(_, _, _, let detail)? = error else { return XCTFail("got \(String(describing: error))") }
            XCTAssertTrue(detail.contains("\"a\" occupies bytes [8, 16)"), detail)
            XCTAssertTrue(detail.contains("holds only 12 bytes"), detail)
        }
    }

    func testOverlappingTensorsAreRejected() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            let header = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#
            try writeRaw(url, header: header, data: [UInt8](repeating: 0, count: 8))
            let error = IOTestSupport.error { try SafeTensorsFile(contentsOf: url) }
            guard case .corruptHeader(_, let reason)? = error, reason.contains("overlap") else {
                return XCTFail("got \(String(describing: error))")
            }
        }
    }

    func testUnknownDTypeIsRejectedWhenOpening() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try writeRaw(url, header: #"{"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}"#, data: [UInt8](repeating: 0, count: 8))
            let error = IOTestSupport.error { try SafeTensorsFile(contentsOf: url) }
            guard case .unsupportedDType(_, "a", "C64", let supported)? = error else {
                return XCTFail("got \(String(describing: error))")
            }
            XCTAssertTrue(supported.contains("F32"))
            XCTAssertTrue(error!.description.contains("dtype C64"), error!.description)
        }
    }

    func testKnownButUnconvertibleDTypeIsRejectedWhenRead() throws {
        try IOTestSupport.withTemporaryDirectory { directory in
            let url = directory.appendingPathComponent("w.safetensors")
            try writeRaw(url, header: #"{"a": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}"#, data: [0, 0])
            let file = try SafeTensorsFile(contentsOf: url)
            XCTAssertEqual(file.shape(of: "a"), [2])
            guard case .unsupportedDType(_, "a", "F8_E4M3", _)? = IOTestSupport.error({ try file.tensor("a") }) else {
                return XCTFail("FP8 is not converted")
            }
        }
    }

    func testMissingFileIsReportedByName() {
        let url = URL(fileURLWithPath: "/nonexistent/effnet/weights.safetensors")
        XCTAssertEqual(IOTestSupport.error { try SafeTensorsFile(contentsOf: url) }, .fileNotFound(file: url.path))
    }
}
