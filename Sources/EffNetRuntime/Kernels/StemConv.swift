import COpenBLAS

extension Kernels {
    /// Output pixels per im2col tile (per worker).
    static let stemTilePixels = 256

    /// Workspace for `stemConv`: one im2col tile per worker. Pass `threads` ≥ the pool's threadCount.
    public static func stemConvWorkspaceFloats(inChannels: Int, kernel: Int, threads: Int) -> Int {
        max(1, threads) * stemTilePixels * inChannels * kernel * kernel
    }

    /// Dense k×k convolution reading the user's NCHW input and writing NHWC:
    /// input [batch][inChannels][height][width] → output [batch][outHeight][outWidth][outChannels].
    /// `weights` PyTorch layout [outChannels][inChannels][kernel][kernel] (training's parameters), `bias`
    /// [outChannels]. Tiled im2col (tiles of `stemTilePixels` output pixels, columns ordered (ci, ky, kx)
    /// to match the weight rows) + single-threaded sgemm per tile + fused bias/activation. `workspace` must
    /// hold `stemConvWorkspaceFloats(inChannels:kernel:threads: pool.threadCount)` floats.
    public static func stemConv(
        input: UnsafePointer<Float>, batch: Int, inChannels: Int, height: Int, width: Int,
        kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int, activation: Activation,
        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let depth = inChannels &* kernel &* kernel
        stemConvTiles(input, batch, inChannels, height, width, kernel, stride, padTop, padLeft, outHeight, outWidth,
                      workspace, pool) { col, count, p0 in
            let out = output + p0 &* outChannels
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                        Int32(count), Int32(outChannels), Int32(depth), 1,
                        col, Int32(depth), weights, Int32(depth),
                        0, out, Int32(outChannels))
            biasActivationEpilogue(activation, out: out, ldo: outChannels, rows: count, cols: outChannels, bias: bias,
                                   residual: nil)
        }
    }

    /// The inference stem: as `stemConv(weights:)` with the (BN-folded) weights stored input-major,
    /// [inChannels·kernel·kernel][outChannels] (`WeightPreparation.Layout.inputMajor`), so each im2col
    /// tile goes through the pointwise GEMM with its epilogue in registers.
    public static func stemConv(
        input: UnsafePointer<Float>, batch: Int, inChannels: Int, height: Int, width: Int,
        kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
        inputMajorWeights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
        activation: Activation, output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>,
        pool: WorkerPool
    ) {
        let depth = inChannels &* kernel &* kernel
        stemConvTiles(input, batch, inChannels, height, width, kernel, stride, padTop, padLeft, outHeight, outWidth,
                      workspace, pool) { col, count, p0 in
            pointwiseGemmTile(activation, rows: count, cols: outChannels, inChannels: depth, input: col,
                              weights: inputMajorWeights, ldw: outChannels, bias: bias, residual: nil,
                              output: output + p0 &* outChannels, ldo: outChannels)
        }
    }

    /// Shares the output pixels out in tiles of `stemTilePixels`, builds each tile's im2col rows in the
    /// worker's slice of `workspace` and hands them to `gemm(col, count, p0)` (tile of `count` output
    /// pixels starting at pixel p0).
    @inline(__always) static func stemConvTiles(
        _ input: UnsafePointer<Float>, _ batch: Int, _ inChannels: Int, _ height: Int, _ width: Int,
        _ kernel: Int, _ stride: Int, _ padTop: Int, _ padLeft: Int, _ outHeight: Int, _ outWidth: Int,
        _ workspace: UnsafeMutablePointer<Float>, _ pool: WorkerPool,
        gemm: (UnsafePointer<Float>, Int, Int) -> Void
    ) {
        let k = kernel
        let depth = inChannels &* k &* k  // im2col row length
        let tileP = stemTilePixels
        let imagePixels = outHeight &* outWidth
        let totalPixels = batch &* imagePixels
        let tiles = (totalPixels + tileP - 1) / tileP
        let workers = min(pool.threadCount, tiles)
        pool.parallelFor(workers) { w in
            let col = workspace + w &* tileP &* depth
            var tile = w
            while tile < tiles {
                let p0 = tile &* tileP
                let count = min(tileP, totalPixels &- p0)
                stemIm2col(input, inChannels, height, width, k, stride, padTop, padLeft, outHeight, outWidth,
                           p0, count, col)
                gemm(col, count, p0)
                tile &+= workers
            }
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
