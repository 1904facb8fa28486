import EffNetRuntime
import Foundation
import XCTest

/// Paths of the committed fixtures made by Tools/make_fixtures.py and Tools/make_lite0.py.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let folder = root.appendingPathComponent("Tests/Fixtures")
    static let lite0Weights = root.appendingPathComponent("Weights/EfficientNetLite0.safetensors")

    static func npy(_ path: String) throws -> HostTensor {
        try NPY.readFloat32(folder.appendingPathComponent(path))
    }
}

/// max|ours - ref| <= tolerance * max|ref| — the parity criterion of the project (fp32 against a
/// float64 torchvision reference).
/// `absoluteFloor`: where max|ref| is no larger, max|diff| may reach it instead (gradients whose true value
/// is zero, as in GradientParityTests).
func assertClose(_ ours: HostTensor, _ reference: HostTensor, relative tolerance: Double = 1e-4,
                 absoluteFloor: Double = 0, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(ours.shape, reference.shape, label, file: file, line: line)
    guard ours.shape == reference.shape else { return }
    var maxDiff = 0.0, maxRef = 0.0
    for (a, b) in zip(ours.values, reference.values) {
        maxDiff = max(maxDiff, abs(Double(a) - Double(b)))
        maxRef = max(maxRef, abs(Double(b)))
    }
    XCTAssertGreaterThan(maxRef, 0, "\(label): reference is all zeros", file: file, line: line)
    XCTAssertLessThanOrEqual(maxDiff, maxRef > absoluteFloor ? tolerance * maxRef : absoluteFloor,
                             "\(label): max|diff| \(maxDiff) > \(tolerance) * max|ref| \(maxRef) (ratio \(maxDiff / maxRef))",
                             file: file, line: line)
}
