import COpenBLAS

extension TrainingKernels {
    /// Global average pool backward: gradInput[n,p,c] = gradOutput[n,c]/pixels (overwrite). pixels = H*W.
    public static func globalAveragePoolBackward(gradOutput: UnsafePointer<Float>, batch: Int, pixels: Int,
                                                 channels: Int, gradInput: UnsafeMutablePointer<Float>,
                                                 pool: WorkerPool) {
        let (chunk, tasksPerImage) = elementwiseSplit(pixels, batch, pool)
        let scale = 1 / Float(pixels)
        pool.parallelFor(batch &* tasksPerImage) { t in
            let n = t / tasksPerImage
            let p0 = (t &- n &* tasksPerImage) &* chunk
            let p1 = min(pixels, p0 &+ chunk)
            let g = gradOutput + n &* channels
            let image = gradInput + n &* pixels &* channels
            var c = 0
            while c < channels {
                let w = min(16, channels &- c)
                let v = channelLoad(g + c, w) * FVec(repeating: scale)
                if w == 16 {
                    for p in p0..<p1 { storeVec(v, image + (p &* channels &+ c)) }
                } else {
                    for p in p0..<p1 { storePartialVec(v, image + (p &* channels &+ c), w) }
                }
                c &+= 16
            }
        }
    }

    /// Linear backward (PyTorch layout W [out][in]): gradInput = dY·W (overwrite; nil skip),
    /// gradWeights += dYᵀ·X, gradBias += sum_n dY.
    public static func linearBackward(gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                      weights: UnsafePointer<Float>, batch: Int, inFeatures: Int, outFeatures: Int,
                                      gradInput: UnsafeMutablePointer<Float>?, gradWeights: UnsafeMutablePointer<Float>,
                                      gradBias: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        if batch <= 0 { return }
        let parts = outFeatures * inFeatures * batch >= 1 << 15 ? pool.threadCount : 1
        // gradInput: split the input features (columns of dX and of W).
        if let gradInput {
            let chunk = alignedChunk(inFeatures, parts: parts, align: 16)
            let tasks = (inFeatures + chunk - 1) / chunk
            pool.parallelFor(tasks) { t in
                let i0 = t &* chunk
                let cols = min(chunk, inFeatures &- i0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                            Int32(batch), Int32(cols), Int32(outFeatures), 1,
                            gradOutput, Int32(outFeatures), weights + i0, Int32(inFeatures),
                            0, gradInput + i0, Int32(inFeatures))
            }
        }
        // gradWeights and gradBias: split the output features (rows of dW).
        let chunk = alignedChunk(outFeatures, parts: parts, align: 16)
        let tasks = (outFeatures + chunk - 1) / chunk
        pool.parallelFor(tasks) { t in
            let o0 = t &* chunk
            let rows = min(chunk, outFeatures &- o0)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                        Int32(rows), Int32(inFeatures), Int32(batch), 1,
                        gradOutput + o0, Int32(outFeatures), input, Int32(inFeatures),
                        1, gradWeights + o0 &* inFeatures, Int32(inFeatures))
            for o in o0..<(o0 &+ rows) {
                var sum: Float = 0
                for n in 0..<batch { sum += gradOutput[n &* outFeatures &+ o] }
                gradBias[o] += sum
            }
        }
    }
}
