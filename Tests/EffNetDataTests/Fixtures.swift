import EffNetData
import EffNetRuntime
import Foundation
import XCTest

/// Paths and loaders for Tests/Fixtures/data (made by Tools/make_data_fixtures.py).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let data = root.appendingPathComponent("data")

    static func url(_ relative: String) -> URL { data.appendingPathComponent(relative) }
    static func image(_ name: String) -> URL { data.appendingPathComponent("images").appendingPathComponent(name) }
    static func photo(_ name: String) -> URL { root.appendingPathComponent("photos").appendingPathComponent("\(name).jpg") }

    static func json(_ relative: String) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(contentsOf: url(relative)))
        return try XCTUnwrap(value as? [String: Any], "\(relative) is not a JSON object")
    }

    /// A '|u1' HWC npy as an image, or a stack [N, H, W, 3] as images.
    static func images(_ relative: String) throws -> [RGBImage] {
        let (shape, values) = try NPY.readInt64(url(relative))
        let bytes = values.map { UInt8($0) }
        if shape.count == 3 {
            XCTAssertEqual(shape[2], 3)
            return [RGBImage(width: shape[1], height: shape[0], pixels: bytes)]
        }
        XCTAssertEqual(shape.count, 4)
        let n = shape[1] * shape[2] * 3
        return (0..<shape[0]).map { RGBImage(width: shape[2], height: shape[1], pixels: Array(bytes[($0 * n)..<(($0 + 1) * n)])) }
    }

    static func rgbImage(_ relative: String) throws -> RGBImage { try images(relative)[0] }
}

/// Largest per-channel difference and number of differing channel values.
func difference(_ a: RGBImage, _ b: RGBImage) -> (max: Int, count: Int) {
    guard a.width == b.width, a.height == b.height else { return (Int.max, Int.max) }
    var m = 0, n = 0
    for i in 0..<a.pixels.count {
        let d = abs(Int(a.pixels[i]) - Int(b.pixels[i]))
        if d > 0 { n += 1; m = max(m, d) }
    }
    return (m, n)
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// FNV-1a 64 of the bytes, as hex (the manifest's hash of PIL's decodes).
func fnv1a64(_ bytes: [UInt8]) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    let s = String(h, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
