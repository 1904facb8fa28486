import COpenBLAS

extension TrainingKernels {
    /// Output pixels per im2col tile in the stem's weight gradient.
    static let stemBackwardTilePixels = 1024

    /// Workspace for `stemConvBackwardWeights`: per worker one im2col tile and one partial weight gradient.
    /// Pass `threads` ≥ the pool's threadCount.
    public static func stemConvBackwardWorkspaceFloats(inChannels: Int, kernel: Int, outChannels: Int,
                                                       threads: Int) -> Int {
        let depth = inChannels * kernel * kernel
        return max(1, threads) * (stemBackwardTilePixels * depth + outChannels * depth)
    }

    /// Stem (dense kxk, NCHW input, NHWC output) weight gradient only (the image needs no gradient):
    /// gradWeights [outC][inC][k][k] += sum over output pixels of dZ ⊗ patch.
    ///
    /// Each worker takes every threadCount-th tile of output pixels, builds its im2col tile (columns
    /// ordered (ci, ky, kx), as in `Kernels.stemConv`) and accumulates dZ_tileᵀ·tile into its own
    /// partial gradient with sgemm; the partials are then added into gradWeights.
    public static func stemConvBackwardWeights(
        gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int, inChannels: Int,
        height: Int, width: Int, kernel: Int, stride: Int, padTop: Int, padLeft: Int,
        outHeight: Int, outWidth: Int, outChannels: Int,
        gradWeights: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let k = kernel
        let depth = inChannels &* k &* k
        let tileP = stemBackwardTilePixels
        let imagePixels = outHeight &* outWidth
        let totalPixels = batch &* imagePixels
        let tiles = (totalPixels + tileP - 1) / tileP
        if tiles == 0 { return }
        let workers = min(pool.threadCount, tiles)
        let perWorker = tileP &* depth &+ outChannels &* depth
        pool.parallelFor(workers) { w in
            let col = workspace + w &* perWorker
            let partial = col + tileP &* depth
            var tile = w
            var first = true
            while tile < tiles {
                let p0 = tile &* tileP
                let count = min(tileP, totalPixels &- p0)
                stemIm2col(input, inChannels, height, width, k, stride, padTop, padLeft, outHeight, outWidth,
                           p0, count, col)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                            Int32(outChannels), Int32(depth), Int32(count), 1,
                            gradOutput + p0 &* outChannels, Int32(outChannels), col, Int32(depth),
                            first ? 0 : 1, partial, Int32(depth))
                first = false
                tile &+= workers
            }
        }
        let size = outChannels &* depth
        for w in 0..<workers {
            let partial = UnsafePointer(workspace + w &* perWorker + tileP &* depth)
            var i = 0
            while i &+ 16 <= size { storeVec(loadVec(gradWeights + i) + loadVec(partial + i), gradWeights + i); i &+= 16 }
            while i < size { gradWeights[i] += partial[i]; i &+= 1 }
        }
    }

    /// im2col rows for output pixels p0..<p0+count (row r = pixel p0 + r, columns (ci, ky, kx)).
    @inline(__always) static func stemIm2col(
        _ input: UnsafePointer<Float>, _ inChannels: Int, _ height: Int, _ width: Int, _ k: Int, _ stride: Int,
        _ padTop: Int, _ padLeft: Int, _ outHeight: Int, _ outWidth: Int, _ p0: Int, _ count: Int,
        _ col: UnsafeMutablePointer<Float>
    ) {
        let depth = inChannels &* k &* k
        let imagePixels = outHeight &* outWidth
        var n = p0 / imagePixels
        let rem = p0 &- n &* imagePixels
        var oy = rem / outWidth
        var ox = rem &- oy &* outWidth
        for r in 0..<count {
            let dst = col + r &* depth
            let iy0 = oy &* stride &- padTop
            let ix0 = ox &* stride &- padLeft
            let image = input + n &* inChannels &* height &* width
            let inside = iy0 >= 0 && ix0 >= 0 && iy0 &+ k <= height && ix0 &+ k <= width
            var j = 0
            for ci in 0..<inChannels {
                let plane = image + ci &* height &* width
                for ky in 0..<k {
                    let iy = iy0 &+ ky
                    if inside {
                        let src = plane + (iy &* width &+ ix0)
                        for kx in 0..<k { dst[j &+ kx] = src[kx] }
                    } else if iy < 0 || iy >= height {
                        for kx in 0..<k { dst[j &+ kx] = 0 }
                    } else {
                        let src = plane + iy &* width
                        for kx in 0..<k {
                            let ix = ix0 &+ kx
                            dst[j &+ kx] = (ix >= 0 && ix < width) ? src[ix] : 0
                        }
                    }
                    j &+= k
                }
            }
            ox &+= 1
            if ox == outWidth {
                ox = 0; oy &+= 1
                if oy == outHeight { oy = 0; n &+= 1 }
            }
        }
    }
}
