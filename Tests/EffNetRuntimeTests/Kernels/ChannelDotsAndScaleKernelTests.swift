@testable import EffNetRuntime
import XCTest

/// The C kernels behind squeeze-excitation's training passes (ChannelPassesTemplate.h), for every
/// instruction set this CPU supports, against the portable Swift loops they replace: the channel dot
/// products (dL/ds) with the same bits, and the channel scaling (forward, and dOut·s + dm in the backward)
/// with the same bits, in place too. Channel counts with partial vectors and more than one 512-channel
/// chunk, sub-ranges that start mid-row, pixel counts around the 64-pixel blocks; nothing outside the
/// range is written.
final class ChannelDotsAndScaleKernelTests: XCTestCase {
    private let shapes: [(channels: Int, pixels: Int)] = [(1, 3), (5, 64), (16, 65), (17, 130), (40, 63), (100, 7),
                                                          (530, 66)]

    private func ranges(_ channels: Int) -> [(Int, Int)] {
        [(0, channels), (channels / 3, channels), (0, max(1, channels / 2))].filter { $0.0 < $0.1 }
    }

    func testChannelDotsMatchSwiftLoopBitForBit() {
        var rng = TestRandom(seed: 501)
        for (channels, pixels) in shapes {
            let a = rng.floats(pixels * channels, -2, 2).enumerated().map { i, v in i % 3 == 0 ? v * 1e4 : v }
            let b = rng.floats(pixels * channels, -3, 3)
            for (c0, c1) in ranges(channels) {
                var expected = [Float](repeating: .nan, count: channels)
                TrainingKernels.channelDotsSwift(a, b, pixels, channels, c0, c1, &expected)
                for (name, simd) in cKernelPaths {
                    var got = [Float](repeating: .nan, count: channels)
                    simd.channelDots(a, b, pixels: pixels, channels: channels, c0..<c1, output: &got)
                    XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern),
                                   "\(name) dots of \(pixels) pixels x \(channels) channels, \(c0)..<\(c1)")
                }
            }
        }
    }

    func testScaleChannelsMatchesSwiftLoopBitForBitAndInPlace() {
        var rng = TestRandom(seed: 502)
        for (channels, pixels) in shapes {
            let x = rng.floats(pixels * channels, -5, 5)
            let s = rng.floats(channels, 0, 1)
            let add = rng.floats(channels, -1, 1)
            for (c0, c1) in ranges(channels) {
                for withAdd in [false, true] {
                    var expected = [Float](repeating: .nan, count: pixels * channels)
                    add.withUnsafeBufferPointer { addp in
                        Kernels.scaleChannelsSwift(x, s, withAdd ? addp.baseAddress : nil, pixels, channels,
                                                           c0, c1, &expected)
                    }
                    for (name, simd) in cKernelPaths {
                        var got = [Float](repeating: .nan, count: pixels * channels)
                        var inPlace = x
                        add.withUnsafeBufferPointer { addp in
                            let addPointer = withAdd ? addp.baseAddress : nil
                            simd.scaleChannels(x, scales: s, add: addPointer, pixels: pixels, channels: channels,
                                               c0..<c1, output: &got)
                            inPlace.withUnsafeMutableBufferPointer { p in
                                simd.scaleChannels(p.baseAddress!, scales: s, add: addPointer, pixels: pixels,
                                                   channels: channels, c0..<c1, output: p.baseAddress!)
                            }
                        }
                        let what = "\(name) scale\(withAdd ? "+add" : "") of \(pixels) x \(channels), \(c0)..<\(c1)"
                        XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), what)
                        // In place: the range scaled, every other element left as it was.
                        for i in 0..<(pixels * channels) {
                            let inRange = (c0..<c1).contains(i % channels)
                            let want = inRange ? expected[i] : x[i]
                            if inPlace[i].bitPattern != want.bitPattern {
                                XCTFail("\(what), in place: element \(i) is \(inPlace[i]), expected \(want)")
                                break
                            }
                        }
                    }
                }
            }
        }
    }
}
