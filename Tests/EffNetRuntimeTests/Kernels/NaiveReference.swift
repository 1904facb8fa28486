import EffNetRuntime
import Foundation
import XCTest

/// Slow, obviously-correct reference implementations (Double accumulation, PyTorch layouts)
/// that the kernels are tested against, plus test helpers.
enum NaiveReference {
    static func activate(_ x: Double, _ activation: Activation) -> Double {
        switch activation {
        case .identity: return x
        case .silu: return x / (1 + Foundation.exp(-x))
        case .relu6: return min(max(x, 0), 6)
        }
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }

    /// output[p][co] = act(Σ input[p][ci]·w[co][ci] + b[co]) + residual[p][co]
    static func pointwiseConv(input: [Float], pixels: Int, inChannels: Int, weights: [Float], bias: [Float],
                              outChannels: Int, activation: Activation, residual: [Float]?) -> [Double] {
        var out = [Double](repeating: 0, count: pixels * outChannels)
        for p in 0..<pixels {
            for co in 0..<outChannels {
                var sum = Double(bias[co])
                for ci in 0..<inChannels {
                    sum += Double(input[p * inChannels + ci]) * Double(weights[co * inChannels + ci])
                }
                var v = activate(sum, activation)
                if let residual { v += Double(residual[p * outChannels + co]) }
                out[p * outChannels + co] = v
            }
        }
        return out
    }

    /// PyTorch 1×1 weights [out][in] transposed to [in][out] (what PreparedWeights stores for the GEMM).
    static func inputMajor(_ weights: [Float], outChannels: Int, inChannels: Int) -> [Float] {
        var out = [Float](repeating: 0, count: weights.count)
        for co in 0..<outChannels {
            for ci in 0..<inChannels { out[ci * outChannels + co] = weights[co * inChannels + ci] }
        }
        return out
    }

    /// NHWC depthwise conv with PyTorch weights [C][1][k][k].
    static func depthwiseConv(input: [Float], batch: Int, height: Int, width: Int, channels: Int,
                              kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
                              torchWeights: [Float], bias: [Float], activation: Activation) -> [Double] {
        var out = [Double](repeating: 0, count: batch * outHeight * outWidth * channels)
        for n in 0..<batch {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for c in 0..<channels {
                        var sum = Double(bias[c])
                        for ky in 0..<kernel {
                            for kx in 0..<kernel {
                                let iy = oy * stride - padTop + ky
                                let ix = ox * stride - padLeft + kx
                                guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                                let v = input[((n * height + iy) * width + ix) * channels + c]
                                sum += Double(v) * Double(torchWeights[(c * kernel + ky) * kernel + kx])
                            }
                        }
                        out[((n * outHeight + oy) * outWidth + ox) * channels + c] = activate(sum, activation)
                    }
                }
            }
        }
        return out
    }

    /// Dense conv, NCHW input, PyTorch weights [co][ci][k][k], NHWC output.
    static func conv2d(input: [Float], batch: Int, inChannels: Int, height: Int, width: Int,
                       kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
                       weights: [Float], bias: [Float], outChannels: Int, activation: Activation) -> [Double] {
        var out = [Double](repeating: 0, count: batch * outHeight * outWidth * outChannels)
        for n in 0..<batch {
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    for co in 0..<outChannels {
                        var sum = Double(bias[co])
                        for ci in 0..<inChannels {
                            for ky in 0..<kernel {
                                for kx in 0..<kernel {
                                    let iy = oy * stride - padTop + ky
                                    let ix = ox * stride - padLeft + kx
                                    guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                                    let v = input[((n * inChannels + ci) * height + iy) * width + ix]
                                    let w = weights[((co * inChannels + ci) * kernel + ky) * kernel + kx]
                                    sum += Double(v) * Double(w)
                                }
                            }
                        }
                        out[((n * outHeight + oy) * outWidth + ox) * outChannels + co] = activate(sum, activation)
                    }
                }
            }
        }
        return out
    }

    static func globalAveragePool(input: [Float], batch: Int, pixels: Int, channels: Int) -> [Double] {
        var out = [Double](repeating: 0, count: batch * channels)
        for n in 0..<batch {
            for c in 0..<channels {
                var sum = 0.0
                for p in 0..<pixels { sum += Double(input[(n * pixels + p) * channels + c]) }
                out[n * channels + c] = sum / Double(pixels)
            }
        }
        return out
    }

    /// torchvision SqueezeExcitation on NHWC x.
    static func squeezeExcite(x: [Float], batch: Int, pixels: Int, channels: Int, squeezeChannels: Int,
                              reduceWeights: [Float], reduceBias: [Float], activation: Activation,
                              expandWeights: [Float], expandBias: [Float]) -> [Double] {
        let means = globalAveragePool(input: x, batch: batch, pixels: pixels, channels: channels)
        var out = [Double](repeating: 0, count: x.count)
        for n in 0..<batch {
            var hidden = [Double](repeating: 0, count: squeezeChannels)
            for j in 0..<squeezeChannels {
                var sum = Double(reduceBias[j])
                for c in 0..<channels { sum += Double(reduceWeights[j * channels + c]) * means[n * channels + c] }
                hidden[j] = activate(sum, activation)
            }
            for c in 0..<channels {
                var sum = Double(expandBias[c])
                for j in 0..<squeezeChannels { sum += Double(expandWeights[c * squeezeChannels + j]) * hidden[j] }
                let s = sigmoid(sum)
                for p in 0..<pixels {
                    let i = (n * pixels + p) * channels + c
                    out[i] = Double(x[i]) * s
                }
            }
        }
        return out
    }

    static func linear(input: [Float], batch: Int, inFeatures: Int, weights: [Float], bias: [Float],
                       outFeatures: Int) -> [Double] {
        var out = [Double](repeating: 0, count: batch * outFeatures)
        for n in 0..<batch {
            for o in 0..<outFeatures {
                var sum = Double(bias[o])
                for i in 0..<inFeatures { sum += Double(input[n * inFeatures + i]) * Double(weights[o * inFeatures + i]) }
                out[n * outFeatures + o] = sum
            }
        }
        return out
    }
}

/// Deterministic SplitMix64 generator for test data.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [low, high).
    mutating func floats(_ count: Int, _ low: Float = -1, _ high: Float = 1) -> [Float] {
        (0..<count).map { _ in low + (high - low) * Float(next() >> 40) / Float(1 << 24) }
    }
}

/// The kernel pools every kernel test runs with.
let testPools: [WorkerPool] = [WorkerPool(threads: 1), WorkerPool(threads: 2)]

/// Asserts max|got − ref| ≤ tolerance · max(max|ref|, 1e-3) (float32 kernels vs Double references).
func assertClose(_ got: [Float], _ ref: [Double], relativeTolerance: Double = 1e-5, _ message: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, ref.count, "\(message): size", file: file, line: line)
    guard got.count == ref.count else { return }
    let scale = max(ref.map { abs($0) }.max() ?? 0, 1e-3)
    var worst = 0.0
    var worstIndex = 0
    for i in 0..<got.count {
        let diff = abs(Double(got[i]) - ref[i])
        if !(diff <= worst) { worst = diff; worstIndex = i }  // also catches NaN
    }
    XCTAssert(worst <= relativeTolerance * scale,
              "\(message): max error \(worst) at \(worstIndex) (got \(got[worstIndex]), want \(ref[worstIndex])), "
              + "allowed \(relativeTolerance * scale)", file: file, line: line)
}

let allActivations: [Activation] = [.identity, .silu, .relu6]

/// Scale so relu6's upper clamp and SiLU's negative tail are both exercised.
func activationInputs(_ rng: inout TestRandom, _ count: Int) -> [Float] {
    rng.floats(count, -8, 8)
}
