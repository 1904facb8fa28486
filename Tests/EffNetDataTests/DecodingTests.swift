import EffNetData
import Foundation
import XCTest

final class DecodingTests: XCTestCase {
    /// Every decodable fixture against PIL's decode (exif_transpose + convert("RGB")).
    func testDecodesLikePIL() throws {
        let manifest = try Fixtures.json("manifest.json")
        let images = try XCTUnwrap(manifest["images"] as? [String: [String: Any]])
        var report: [String] = []
        var checked = 0
        for (name, entry) in images.sorted(by: { $0.key < $1.key }) where entry["decodable"] as? Bool == true {
            let ref = try Fixtures.rgbImage(try XCTUnwrap(entry["ref"] as? String))
            let ours = try ImageDecoder.decode(contentsOf: Fixtures.image(name))
            XCTAssertEqual(ours.width, ref.width, name)
            XCTAssertEqual(ours.height, ref.height, name)
            let d = difference(ours, ref)
            report.append("\(name) max \(d.max) (\(d.count) values differ)")
            // libpng scales 16-bit samples with rounding, PIL keeps the high byte: at most 1 apart.
            let tolerance = name.contains("16") ? 1 : 0
            XCTAssertLessThanOrEqual(d.max, tolerance, "\(name): max difference \(d.max) vs PIL")
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 20)
        print("decode vs PIL:\n  " + report.joined(separator: "\n  "))
    }

    /// The full-size sample photos decode bit-exactly like PIL (FNV-1a of the pixels).
    func testPhotosBitExact() throws {
        let photos = try XCTUnwrap(try Fixtures.json("manifest.json")["photos"] as? [String: [String: Any]])
        XCTAssertEqual(photos.count, 4)
        for (name, entry) in photos {
            let image = try ImageDecoder.decode(contentsOf: Fixtures.photo(name))
            let shape = try XCTUnwrap(entry["shape"] as? [Int])
            XCTAssertEqual([image.height, image.width, 3], shape, name)
            XCTAssertEqual(fnv1a64(image.pixels), entry["fnv1a64"] as? String, "\(name).jpg decodes differently from PIL")
        }
    }

    func testBrokenInputsThrowDescriptiveErrors() throws {
        func failure(_ name: String) -> ImageDecodingError? {
            do {
                _ = try ImageDecoder.decode(contentsOf: Fixtures.image(name))
                XCTFail("\(name) decoded without error")
                return nil
            } catch let e as ImageDecodingError {
                XCTAssertEqual(e.file, name)
                XCTAssertTrue(e.description.hasPrefix(name + ": "), e.description)
                print("  \(e.description)")
                return e
            } catch {
                XCTFail("\(name): unexpected error type \(error)")
                return nil
            }
        }
        XCTAssertEqual(failure("empty.jpg")?.reason, .empty)
        if case .unsupportedFormat(let head)? = failure("text.png")?.reason {
            XCTAssertTrue(head.hasPrefix("54 68 69 73"), head)  // "This"
        } else { XCTFail("text.png should be an unsupported format") }
        if case .truncated(.jpeg, _)? = failure("truncated.jpg")?.reason {} else { XCTFail("truncated.jpg should be truncated") }
        switch failure("truncated.png")?.reason {
        case .truncated(.png, _)?, .corrupt(.png, _)?: break
        default: XCTFail("truncated.png should fail as PNG")
        }
        if case .corrupt(.jpeg, _)? = failure("garbage.jpg")?.reason {} else { XCTFail("garbage.jpg should be corrupt") }

        let missing = Fixtures.image("does-not-exist.png")
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: missing)) { error in
            XCTAssertEqual((error as? ImageDecodingError)?.file, "does-not-exist.png")
        }
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: Fixtures.data.appendingPathComponent("images"))) { error in
            XCTAssertEqual((error as? ImageDecodingError)?.reason, .unreadable("it is a directory"))
        }
        // In-memory garbage of every length below a header never crashes.
        let jpeg = try [UInt8](Data(contentsOf: Fixtures.image("photo.jpg")))
        let png = try [UInt8](Data(contentsOf: Fixtures.image("rgb.png")))
        for bytes in [jpeg, png] {
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
                _ = try? ImageDecoder.decode(Array(bytes[0..<cut]), name: "cut")
            }
            var flipped = bytes
            for i in stride(from: 20, to: flipped.count, by: 7) { flipped[i] ^= 0x5A }
            _ = try? ImageDecoder.decode(flipped, name: "flipped")
        }
    }

    /// A JPEG cut before its frame header (SOF) has no size: TurboJPEG reports 0x0 without an error,
    /// which must read as truncated, not as an odd image size.
    func testJPEGCutBeforeTheFrameHeaderIsTruncated() throws {
        let bytes = try [UInt8](Data(contentsOf: Fixtures.image("photo.jpg")))
        let sof = try XCTUnwrap((2..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        XCTAssertThrowsError(try ImageDecoder.decode(Array(bytes[0..<sof]), name: "cut.jpg")) { error in
            guard case .truncated(.jpeg, _)? = (error as? ImageDecodingError)?.reason else {
                return XCTFail("expected truncated JPEG, got \(error)")
            }
        }
    }

    /// libjpeg warnings other than a premature end (here: junk bytes before a marker) are
    /// tolerated, as PIL tolerates them.
    func testHarmlessJPEGWarningIsTolerated() throws {
        var bytes = try [UInt8](Data(contentsOf: Fixtures.image("photo.jpg")))
        let dqt = try XCTUnwrap((2..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDB })
        bytes.insert(contentsOf: [0x12, 0x34, 0x56], at: dqt)
        let image = try ImageDecoder.decode(bytes, name: "junk.jpg")
        XCTAssertEqual(image, try Fixtures.rgbImage("refs/photo_jpg.npy"))
    }

    func testFormatIsSniffedFromContent() throws {
        let bytes = try [UInt8](Data(contentsOf: Fixtures.image("png_named.jpg")))
        XCTAssertEqual(bytes.withUnsafeBytes { ImageDecoder.format(of: $0) }, .png)
        let jpeg = try [UInt8](Data(contentsOf: Fixtures.image("photo.jpg")))
        XCTAssertEqual(jpeg.withUnsafeBytes { ImageDecoder.format(of: $0) }, .jpeg)
        XCTAssertEqual(try ImageDecoder.decode(bytes).width, 64)
    }

    func testEXIFOrientation() throws {
        for n in 1...8 {
            let bytes = try [UInt8](Data(contentsOf: Fixtures.image("exif\(n).jpg")))
            let upright = try ImageDecoder.decode(bytes)
            let stored = try ImageDecoder.decode(bytes, options: DecodeOptions(applyEXIFOrientation: false))
            XCTAssertEqual(stored.width, 24)
            XCTAssertEqual(upright.width, n >= 5 ? 16 : 24, "orientation \(n)")
            XCTAssertEqual(EXIFOrientation(rawValue: n)!.apply(to: stored), upright)
        }
        let be = try ImageDecoder.decode(contentsOf: Fixtures.image("exif6_motorola.jpg"))
        XCTAssertEqual(be.width, 16)
        // Hand-made TIFF blocks: both byte orders, LONG type, garbage.
        let ii: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(ii.withUnsafeBytes { EXIFOrientation(tiff: $0) }, .left)
        let mmLong: [UInt8] = [0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 4, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0]
        XCTAssertEqual(mmLong.withUnsafeBytes { EXIFOrientation(tiff: $0) }, .down)
        let bad: [UInt8] = [0x49, 0x49, 42, 0, 0xFF, 0xFF, 0, 0]
        XCTAssertNil(bad.withUnsafeBytes { EXIFOrientation(tiff: $0) })
        let nine: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertNil(nine.withUnsafeBytes { EXIFOrientation(tiff: $0) })
    }
}
