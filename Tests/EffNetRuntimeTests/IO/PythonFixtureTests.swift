import Foundation
import XCTest

@testable import EffNetRuntime

/// Shared helpers for the tensor-file tests.
enum IOTestSupport {
    /// Tests/Fixtures/io, found from this source file's location.
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // IO
        .deletingLastPathComponent()  // EffNetRuntimeTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures/io")

    /// A fresh empty directory, removed after `body` returns.
    static func withTemporaryDirectory(_ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("effnet-io-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory)
    }

    /// The ``TensorFileError`` `body` throws; fails the test if it throws nothing or something else.
    static func error<T>(
        _ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line
    ) -> TensorFileError? {
        do {
            _ = try body()
            XCTFail("expected a TensorFileError, but nothing was thrown", file: file, line: line)
        } catch let error as TensorFileError {
            return error
        } catch {
            XCTFail("expected a TensorFileError, got \(error)", file: file, line: line)
        }
        return nil
    }
}

/// Files written by NumPy and by the Python `safetensors` package (Tests/Fixtures/io/make_io_fixtures.py).
final class PythonFixtureTests: XCTestCase {
    private func fixture(_ name: String) -> URL { IOTestSupport.fixtures.appendingPathComponent(name) }

    func testSafeTensorsWrittenByPythonOpensWithNamesShapesAndMetadata() throws {
        let file = try SafeTensorsFile(contentsOf: fixture("python_mixed.safetensors"))
        XCTAssertEqual(file.names, ["bf16", "f16", "f32", "f64", "features.0.0.weight", "i32", "i64"])
        XCTAssertEqual(file.metadata, ["format": "pt", "source": "effnet io fixture"])
        XCTAssertEqual(file.shape(of: "f32"), [2, 3])
        XCTAssertEqual(file.shape(of: "features.0.0.weight"), [4, 3, 1, 1])
        XCTAssertEqual(file.dtype(of: "bf16"), "BF16")
        XCTAssertNil(file.shape(of: "absent"))
    }

    func testSafeTensorsFromPythonConvertsEveryFloatDTypeExactly() throws {
        let file = try SafeTensorsFile(contentsOf: fixture("python_mixed.safetensors"))
        XCTAssertEqual(try file.tensor("f32"), HostTensor(shape: [2, 3], values: [-1, -0.5, 0, 0.5, 1, 1.5]))
        XCTAssertEqual(try file.tensor("f64").values, [Float(0.1), -2.5, 3])
        XCTAssertEqual(try file.tensor("f16").values, [1, -0.5, 65504, 0x1p-24])
        XCTAssertEqual(try file.tensor("bf16", expectedShape: [2, 2]).values, [1, -2, 3.140625, 0.0078125])
        XCTAssertEqual(try file.tensor("features.0.0.weight", shape: [4, 3, 1, 1]).values, [Float](repeating: 0, count: 12))
    }

    func testSafeTensorsFromPythonReadsIntegerTensorsOnlyThroughInt64Tensor() throws {
        let file = try SafeTensorsFile(contentsOf: fixture("python_mixed.safetensors"))
        let i64 = try file.int64Tensor("i64")
        XCTAssertEqual(i64.shape, [3])
        XCTAssertEqual(i64.values, [-1, 0, 1 << 40])
        XCTAssertEqual(try file.int64Tensor("i32").values, [7, -8])
        guard case .unsupportedDType(_, "i64", "I64", _)? = IOTestSupport.error({ try file.tensor("i64") }) else {
            return XCTFail("reading an I64 tensor as float must fail")
        }
        guard case .unsupportedDType(_, "f32", "F32", _)? = IOTestSupport.error({ try file.int64Tensor("f32") }) else {
            return XCTFail("reading an F32 tensor as integers must fail")
        }
    }

    func testNPYFloat32WrittenByNumPyReads() throws {
        let tensor = try NPY.readFloat32(fixture("python_f32.npy"))
        XCTAssertEqual(tensor, HostTensor(shape: [2, 3], values: [-0.5, -0.25, 0, 0.25, 0.5, 0.75]))
    }

    func testNPYFloat64WrittenByNumPyIsRoundedToFloat32() throws {
        let tensor = try NPY.readFloat32(fixture("python_f64.npy"))
        XCTAssertEqual(tensor.shape, [2, 2])
        XCTAssertEqual(tensor.values, [Float(0.1), Float(-0.2), 3.5, Float(1e-3)])
    }

    func testNPYZeroDimensionalArrayReadsAsScalar() throws {
        XCTAssertEqual(try NPY.readFloat32(fixture("python_scalar.npy")), HostTensor(shape: [], values: [2.5]))
    }

    func testNPYIntegerLabelsWrittenByNumPyRead() throws {
        let labels = try NPY.readInt64(fixture("python_i64.npy"))
        XCTAssertEqual(labels.shape, [5])
        XCTAssertEqual(labels.values, [3, 1, 4, 1, 5])
        let i32 = try NPY.readInt64(fixture("python_i32.npy"))
        XCTAssertEqual(i32.shape, [2, 2])
        XCTAssertEqual(i32.values, [1, -2, 3, -4])
    }

    func testNPYFortranOrderArrayIsRejectedWithAdvice() throws {
        let error = IOTestSupport.error { try NPY.readFloat32(fixture("python_fortran.npy")) }
        guard case .fortranOrderNPY(let file, [2, 3])? = error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertTrue(file.hasSuffix("python_fortran.npy"))
        XCTAssertTrue(error!.description.contains("np.ascontiguousarray"), error!.description)
    }

    func testNPYUnsupportedDTypeIsRejectedNamingTheDType() throws {
        let error = IOTestSupport.error { try NPY.readFloat32(fixture("python_complex.npy")) }
        guard case .unsupportedNPYDType(_, "<c8", _)? = error else { return XCTFail("got \(String(describing: error))") }
        XCTAssertTrue(error!.description.contains("'<c8'"), error!.description)
        XCTAssertTrue(error!.description.contains("'<f4'"), error!.description)
        // Integers are not floats and floats are not integers.
        XCTAssertNotNil(IOTestSupport.error { try NPY.readFloat32(fixture("python_i64.npy")) })
        XCTAssertNotNil(IOTestSupport.error { try NPY.readInt64(fixture("python_f32.npy")) })
    }

    func testNPYWriterPreambleMatchesNumPyByteForByte() throws {
        let numpyFile = try Data(contentsOf: fixture("python_f32.npy"))
        let ours = NPY.preamble(descr: "<f4", shape: [2, 3])
        XCTAssertEqual(Array(numpyFile.prefix(ours.count)), ours)
    }
}
