@testable import EffNetRuntime
import XCTest

/// The C channel-means kernel (ChannelPassesTemplate.h) of every instruction set this CPU supports must give
/// the Swift loop's bits exactly (same adds, same order), over channel counts with and without partial
/// 16-channel groups, sub-ranges that start mid-map, more channels than one 512-channel chunk of the row
/// walk, and pixel counts around its 64-pixel blocks and even/odd pairs. Values are far apart in magnitude so a changed order would show.
final class ChannelMeansKernelTests: XCTestCase {
    func testMatchesSwiftLoopBitForBit() {
        let paths = SIMDPath.supported.compactMap { path in CSIMDKernels(path).map { (path.rawValue, $0) } }
        var rng = TestRandom(seed: 500)
        for channels in [1, 5, 16, 17, 40, 100, 530] {
            for pixels in [1, 2, 63, 64, 65, 130, 12 * 12] {
                let x = rng.floats(pixels * channels, -2, 2).enumerated().map { i, v in i % 3 == 0 ? v * 1e4 : v }
                for (c0, c1) in [(0, channels), (channels / 3, channels), (0, max(1, channels / 2))] where c0 < c1 {
                    var expected = [Float](repeating: .nan, count: channels)
                    Kernels.channelMeansSwift(x, pixels: pixels, channels: channels, c0: c0, c1: c1,
                                              scale: 1 / Float(pixels), output: &expected)
                    for (name, simd) in paths {
                        var got = [Float](repeating: .nan, count: channels)
                        simd.channelMeans(x, pixels: pixels, channels: channels, c0..<c1, scale: 1 / Float(pixels),
                                          output: &got)
                        XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern),
                                       "\(name) means of \(pixels) pixels x \(channels) channels, \(c0)..<\(c1)")
                    }
                }
            }
        }
    }
}
