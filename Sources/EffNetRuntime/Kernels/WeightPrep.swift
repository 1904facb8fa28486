/// Load-time weight preparation: BatchNorm folding and re-layout for the kernels.
public enum WeightPrep {
    /// Folds eval-mode BatchNorm into the preceding bias-free convolution:
    /// scale = gamma / sqrt(var + eps) (in Double); foldedWeights[co][…] = weights[co][…]·scale[co];
    /// foldedBias[co] = beta[co] − mean[co]·scale[co]. `weights` has outChannels rows of
    /// `weightsPerChannel` floats. In-place use (foldedWeights == weights) is allowed.
    public static func foldBatchNorm(
        weights: UnsafePointer<Float>, outChannels: Int, weightsPerChannel: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>,
        variance: UnsafePointer<Float>, eps: Double,
        foldedWeights: UnsafeMutablePointer<Float>, foldedBias: UnsafeMutablePointer<Float>
    ) {
        for co in 0..<outChannels {
            let scale = Double(gamma[co]) / (Double(variance[co]) + eps).squareRoot()
            let row = co * weightsPerChannel
            for i in 0..<weightsPerChannel {
                foldedWeights[row + i] = Float(Double(weights[row + i]) * scale)
            }
            foldedBias[co] = Float(Double(beta[co]) - Double(mean[co]) * scale)
        }
    }

    /// PyTorch depthwise weights [channels][1][k][k] → kernel layout [k][k][channels].
    public static func depthwiseWeights(_ torchLayout: UnsafePointer<Float>, channels: Int, kernel: Int,
                                        into: UnsafeMutablePointer<Float>) {
        let taps = kernel * kernel
        for c in 0..<channels {
            for t in 0..<taps {
                into[t * channels + c] = torchLayout[c * taps + t]
            }
        }
    }

    /// Dense weights [outChannels][inChannels] (PyTorch's [out][in][k][k] with in·k·k as `inChannels`)
    /// → [inChannels][outChannels], the layout the GEMM kernels read. Training re-lays every 1x1
    /// convolution's weights each step (B0: 3.5 M floats), so the copy goes in 16 x 16 blocks: both the
    /// rows read and the rows written stay in cache instead of one of them striding through memory.
    public static func inputMajorWeights(_ outputMajor: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
                                         into: UnsafeMutablePointer<Float>) {
        let block = 16
        var co0 = 0
        while co0 < outChannels {
            let co1 = min(outChannels, co0 &+ block)
            var ci0 = 0
            while ci0 < inChannels {
                let ci1 = min(inChannels, ci0 &+ block)
                for co in co0..<co1 {
                    for ci in ci0..<ci1 {
                        into[ci &* outChannels &+ co] = outputMajor[co &* inChannels &+ ci]
                    }
                }
                ci0 = ci1
            }
            co0 = co1
        }
    }
}
