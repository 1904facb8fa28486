import EffNetRuntime
import Foundation
import XCTest

/// Slow, obviously-correct Double references for the training kernels (forward passes used by the
/// finite-difference checks, and naive backward passes), plus the finite-difference helper.
/// Shared helpers (TestRandom, testPools, assertClose, allActivations) come from Kernels/NaiveReference.swift.
enum TrainingReference {
    static func act(_ x: Double, _ a: Activation) -> Double {
        switch a {
        case .identity: return x
        case .silu: return x / (1 + exp(-x))
        case .relu6: return min(max(x, 0), 6)
        }
    }

    /// d act / dx (relu6: 1 strictly inside (0, 6), as PyTorch's hardtanh_backward).
    static func actDerivative(_ x: Double, _ a: Activation) -> Double {
        switch a {
        case .identity: return 1
        case .silu:
            let s = 1 / (1 + exp(-x))
            return s * (1 + x * (1 - s))
        case .relu6: return (x > 0 && x < 6) ? 1 : 0
        }
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    static func doubles(_ x: [Float]) -> [Double] { x.map(Double.init) }

    // MARK: BatchNorm

    /// Train-mode BN + activation: (output, batch mean, biased variance).
    static func batchNormTrain(_ z: [Double], pixels: Int, channels: Int, gamma: [Double], beta: [Double], eps: Double,
                               activation: Activation) -> (out: [Double], mean: [Double], variance: [Double]) {
        var mean = [Double](repeating: 0, count: channels)
        var variance = mean
        for c in 0..<channels {
            var s = 0.0
            for p in 0..<pixels { s += z[p * channels + c] }
            mean[c] = s / Double(pixels)
            var q = 0.0
            for p in 0..<pixels { let d = z[p * channels + c] - mean[c]; q += d * d }
            variance[c] = q / Double(pixels)
        }
        var out = z
        for p in 0..<pixels {
            for c in 0..<channels {
                let y = gamma[c] * (z[p * channels + c] - mean[c]) / (variance[c] + eps).squareRoot() + beta[c]
                out[p * channels + c] = act(y, activation)
            }
        }
        return (out, mean, variance)
    }

    /// Naive backward of act(BN_train(z)): (gradInput, gradGamma, gradBeta).
    static func batchNormTrainBackward(_ dOut: [Double], _ z: [Double], pixels: Int, channels: Int, gamma: [Double],
                                       beta: [Double], eps: Double, activation: Activation)
        -> (input: [Double], gamma: [Double], beta: [Double]) {
        let (_, mean, variance) = batchNormTrain(z, pixels: pixels, channels: channels, gamma: gamma, beta: beta,
                                                 eps: eps, activation: .identity)
        var gIn = z, gGamma = [Double](repeating: 0, count: channels), gBeta = gGamma
        let m = Double(pixels)
        for c in 0..<channels {
            let invStd = 1 / (variance[c] + eps).squareRoot()
            var dy = [Double](repeating: 0, count: pixels), xhat = dy
            for p in 0..<pixels {
                xhat[p] = (z[p * channels + c] - mean[c]) * invStd
                dy[p] = dOut[p * channels + c] * actDerivative(gamma[c] * xhat[p] + beta[c], activation)
                gBeta[c] += dy[p]
                gGamma[c] += dy[p] * xhat[p]
            }
            for p in 0..<pixels {
                gIn[p * channels + c] = gamma[c] * invStd / m * (m * dy[p] - gBeta[c] - xhat[p] * gGamma[c])
            }
        }
        return (gIn, gGamma, gBeta)
    }

    /// Eval-mode BN + activation forward.
    static func batchNormEval(_ z: [Double], pixels: Int, channels: Int, gamma: [Double], beta: [Double],
                              mean: [Double], variance: [Double], eps: Double, activation: Activation) -> [Double] {
        var out = z
        for p in 0..<pixels {
            for c in 0..<channels {
                let y = gamma[c] * (z[p * channels + c] - mean[c]) / (variance[c] + eps).squareRoot() + beta[c]
                out[p * channels + c] = act(y, activation)
            }
        }
        return out
    }

    // MARK: Convolutions

    /// out[p][co] = Σ x[p][ci]·w[co][ci].
    static func pointwise(_ x: [Double], _ w: [Double], pixels: Int, inChannels: Int, outChannels: Int) -> [Double] {
        var out = [Double](repeating: 0, count: pixels * outChannels)
        for p in 0..<pixels {
            for co in 0..<outChannels {
                var s = 0.0
                for ci in 0..<inChannels { s += x[p * inChannels + ci] * w[co * inChannels + ci] }
                out[p * outChannels + co] = s
            }
        }
        return out
    }

    /// Geometry of a depthwise / stem test case.
    struct ConvGeometry {
        var batch, height, width, channels, kernel, stride, padTop, padLeft, outHeight, outWidth: Int
        var inputCount: Int { batch * height * width * channels }
        var outputCount: Int { batch * outHeight * outWidth * channels }
    }

    /// Calls body(n, oy, ox, ky, kx, iy, ix) for every in-range tap.
    static func forEachTap(_ g: ConvGeometry, _ body: (Int, Int, Int, Int, Int, Int, Int) -> Void) {
        for n in 0..<g.batch {
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    for ky in 0..<g.kernel {
                        for kx in 0..<g.kernel {
                            let iy = oy * g.stride - g.padTop + ky
                            let ix = ox * g.stride - g.padLeft + kx
                            if iy >= 0, iy < g.height, ix >= 0, ix < g.width { body(n, oy, ox, ky, kx, iy, ix) }
                        }
                    }
                }
            }
        }
    }

    /// NHWC depthwise conv, weights in the kernel layout [k][k][C], no bias.
    static func depthwise(_ x: [Double], _ w: [Double], _ g: ConvGeometry) -> [Double] {
        var out = [Double](repeating: 0, count: g.outputCount)
        let C = g.channels
        forEachTap(g) { n, oy, ox, ky, kx, iy, ix in
            let o = ((n * g.outHeight + oy) * g.outWidth + ox) * C
            let i = ((n * g.height + iy) * g.width + ix) * C
            let t = (ky * g.kernel + kx) * C
            for c in 0..<C { out[o + c] += x[i + c] * w[t + c] }
        }
        return out
    }

    /// Naive depthwise backward (scatter form): (gradInput, gradWeights).
    static func depthwiseBackward(_ dZ: [Double], _ x: [Double], _ w: [Double], _ g: ConvGeometry)
        -> (input: [Double], weights: [Double]) {
        var gIn = [Double](repeating: 0, count: g.inputCount)
        var gW = [Double](repeating: 0, count: w.count)
        let C = g.channels
        forEachTap(g) { n, oy, ox, ky, kx, iy, ix in
            let o = ((n * g.outHeight + oy) * g.outWidth + ox) * C
            let i = ((n * g.height + iy) * g.width + ix) * C
            let t = (ky * g.kernel + kx) * C
            for c in 0..<C {
                gIn[i + c] += dZ[o + c] * w[t + c]
                gW[t + c] += dZ[o + c] * x[i + c]
            }
        }
        return (gIn, gW)
    }

    /// Dense stem conv: NCHW input with `inChannels`, NHWC output with g.channels = outChannels,
    /// weights [outC][inC][k][k], no bias.
    static func stem(_ x: [Double], _ w: [Double], inChannels: Int, _ g: ConvGeometry) -> [Double] {
        var out = [Double](repeating: 0, count: g.outputCount)
        let k = g.kernel
        stemTaps(inChannels, g) { n, oy, ox, ci, ky, kx, xi in
            let o = ((n * g.outHeight + oy) * g.outWidth + ox) * g.channels
            for co in 0..<g.channels { out[o + co] += x[xi] * w[((co * inChannels + ci) * k + ky) * k + kx] }
        }
        return out
    }

    static func stemBackwardWeights(_ dZ: [Double], _ x: [Double], inChannels: Int, _ g: ConvGeometry) -> [Double] {
        let k = g.kernel
        var gW = [Double](repeating: 0, count: g.channels * inChannels * k * k)
        stemTaps(inChannels, g) { n, oy, ox, ci, ky, kx, xi in
            let o = ((n * g.outHeight + oy) * g.outWidth + ox) * g.channels
            for co in 0..<g.channels { gW[((co * inChannels + ci) * k + ky) * k + kx] += dZ[o + co] * x[xi] }
        }
        return gW
    }

    /// body(n, oy, ox, ci, ky, kx, NCHW input index) for every in-range tap.
    static func stemTaps(_ inChannels: Int, _ g: ConvGeometry, _ body: (Int, Int, Int, Int, Int, Int, Int) -> Void) {
        for n in 0..<g.batch {
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    for ci in 0..<inChannels {
                        for ky in 0..<g.kernel {
                            for kx in 0..<g.kernel {
                                let iy = oy * g.stride - g.padTop + ky
                                let ix = ox * g.stride - g.padLeft + kx
                                guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                                body(n, oy, ox, ci, ky, kx, ((n * inChannels + ci) * g.height + iy) * g.width + ix)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Squeeze-excitation

    struct SEParameters {
        var reduceWeights, reduceBias, expandWeights, expandBias: [Double]
    }

    /// (output, pooled, hidden pre-activation, scale).
    static func squeezeExcite(_ x: [Double], batch: Int, pixels: Int, channels C: Int, squeeze S: Int,
                              _ q: SEParameters, activation: Activation)
        -> (out: [Double], pooled: [Double], hidden: [Double], scale: [Double]) {
        var pooled = [Double](repeating: 0, count: batch * C)
        var hidden = [Double](repeating: 0, count: batch * S)
        var scale = pooled
        var out = x
        for n in 0..<batch {
            for c in 0..<C {
                var s = 0.0
                for p in 0..<pixels { s += x[(n * pixels + p) * C + c] }
                pooled[n * C + c] = s / Double(pixels)
            }
            for j in 0..<S {
                var h = q.reduceBias[j]
                for c in 0..<C { h += q.reduceWeights[j * C + c] * pooled[n * C + c] }
                hidden[n * S + j] = h
            }
            for c in 0..<C {
                var e = q.expandBias[c]
                for j in 0..<S { e += q.expandWeights[c * S + j] * act(hidden[n * S + j], activation) }
                scale[n * C + c] = sigmoid(e)
            }
            for p in 0..<pixels {
                for c in 0..<C { out[(n * pixels + p) * C + c] *= scale[n * C + c] }
            }
        }
        return (out, pooled, hidden, scale)
    }

    // MARK: Finite differences

    /// Checks `analytic` (the kernel's gradient of L = Σ r·out wrt `base`) against central differences of
    /// `loss` at up to `samples` indices (all of them when the tensor is small).
    static func checkFiniteDifferences(_ analytic: [Float], base: [Double], samples: Int = 40, step: Double = 1e-5,
                                       tolerance: Double = 1e-3, seed: UInt64 = 99, _ message: String,
                                       file: StaticString = #filePath, line: UInt = #line,
                                       loss: ([Double]) -> Double) {
        XCTAssertEqual(analytic.count, base.count, "\(message): size", file: file, line: line)
        guard analytic.count == base.count, !base.isEmpty else { return }
        var indices = Array(0..<base.count)
        if base.count > samples {
            var rng = TestRandom(seed: seed)
            indices = (0..<samples).map { _ in Int(rng.next() % UInt64(base.count)) }
        }
        let scale = max(analytic.map { abs(Double($0)) }.max() ?? 0, 1e-4)
        var worst = 0.0, worstIndex = 0, worstFD = 0.0
        var x = base
        for i in indices {
            let h = step * max(1, abs(base[i]))
            x[i] = base[i] + h
            let up = loss(x)
            x[i] = base[i] - h
            let down = loss(x)
            x[i] = base[i]
            let fd = (up - down) / (2 * h)
            let diff = abs(fd - Double(analytic[i]))
            if !(diff <= worst) { worst = diff; worstIndex = i; worstFD = fd }
        }
        XCTAssert(worst <= tolerance * scale,
                  "\(message): finite-difference mismatch \(worst) at \(worstIndex) (kernel \(analytic[worstIndex]), "
                  + "numeric \(worstFD)), allowed \(tolerance * scale)", file: file, line: line)
    }

    /// Σ r·out.
    static func dot(_ r: [Double], _ out: [Double]) -> Double {
        var s = 0.0
        for i in 0..<r.count { s += r[i] * out[i] }
        return s
    }
}
