@testable import EffNetRuntime
import XCTest

/// The C im2col of the stem's weight gradient (StemTemplate.h, with its prefetch of the next tile's image
/// rows) writes exactly the rows of the Swift `Kernels.stemIm2col`, on every C path this CPU runs: the RGB
/// 3x3 stem (literal sizes) with symmetric and TF SAME padding, another channel count and kernel (the
/// general path), pixel ranges that start mid-row and cross images, and prefetch distances that reach past
/// the last pixel or are off.
final class StemIm2colKernelTests: XCTestCase {
    private struct Stem {
        var inChannels, height, width, kernel, stride, padTop, padLeft, outHeight, outWidth: Int
    }

    func testCIm2colWritesTheRowsOfTheSwiftOneWhateverItPrefetches() {
        let stems = [
            Stem(inChannels: 3, height: 17, width: 15, kernel: 3, stride: 2, padTop: 1, padLeft: 1,
                 outHeight: 9, outWidth: 8),
            Stem(inChannels: 3, height: 16, width: 14, kernel: 3, stride: 2, padTop: 0, padLeft: 0,
                 outHeight: 8, outWidth: 7),
            Stem(inChannels: 2, height: 11, width: 12, kernel: 5, stride: 1, padTop: 2, padLeft: 2,
                 outHeight: 11, outWidth: 12),
        ]
        var rng = TestRandom(seed: 1700)
        let batch = 3
        for (name, simd) in cKernelPaths {
            for stem in stems {
                let input = rng.floats(batch * stem.inChannels * stem.height * stem.width, -2, 2)
                let depth = stem.inChannels * stem.kernel * stem.kernel
                let total = batch * stem.outHeight * stem.outWidth
                for (p0, count) in [(0, total), (5, 37), (stem.outWidth * stem.outHeight - 3, 11), (total - 4, 4)] {
                    var want = [Float](repeating: .nan, count: count * depth + 7)
                    input.withUnsafeBufferPointer { x in
                        Kernels.stemIm2col(x.baseAddress!, stem.inChannels, stem.height, stem.width, stem.kernel,
                                           stem.stride, stem.padTop, stem.padLeft, stem.outHeight, stem.outWidth,
                                           p0, count, &want)
                    }
                    for ahead in [0, 1, 40, total] {
                        var got = [Float](repeating: .nan, count: count * depth + 7)
                        simd.stemIm2col(input: input, inChannels: stem.inChannels, height: stem.height,
                                        width: stem.width, kernel: stem.kernel, stride: stem.stride,
                                        padTop: stem.padTop, padLeft: stem.padLeft, outHeight: stem.outHeight,
                                        outWidth: stem.outWidth, pixels: p0..<(p0 + count), ahead: ahead,
                                        total: total, col: &got)
                        XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern),
                                       "\(name) Cin \(stem.inChannels) k\(stem.kernel) s\(stem.stride) pad "
                                       + "\(stem.padTop) pixels \(p0)..<\(p0 + count) ahead \(ahead)")
                    }
                }
            }
        }
    }
}
