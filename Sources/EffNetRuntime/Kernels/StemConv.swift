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
    /// [outChannels]. On the C paths: the direct stem kernel on an input-major copy of the weights. On the
    /// portable path: tiled im2col (tiles of `stemTilePixels` output pixels, columns ordered (ci, ky, kx)
    /// to match the weight rows) + single-threaded sgemm per tile + fused bias/activation. `workspace` must
    /// hold `stemConvWorkspaceFloats(inChannels:kernel:threads: pool.threadCount)` floats.
    public static func stemConv(
        input: UnsafePointer<Float>, batch: Int, inChannels: Int, height: Int, width: Int,
        kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int, activation: Activation,
        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        let depth = inChannels &* kernel &* kernel
        // The direct C kernel wants the weights input-major: a transposed copy (depth x outChannels floats,
        // 864 for B0) costs far less than the im2col tiles it replaces, and the workspace is free until then.
        if let simd = CSIMDKernels.active, depth &* outChannels <= stemConvWorkspaceFloats(
               inChannels: inChannels, kernel: kernel, threads: pool.threadCount),
           simd.handlesStem(inChannels: inChannels, height: height, width: width, kernel: kernel, stride: stride,
                            outHeight: outHeight, outWidth: outWidth, outChannels: outChannels) {
            WeightPrep.inputMajorWeights(weights, outChannels: outChannels, inChannels: depth, into: workspace)
            stemRowsDirect(simd, activation, input, batch, inChannels, height, width, kernel, stride, padTop, padLeft,
                           outHeight, outWidth, UnsafePointer(workspace), bias, outChannels, output, pool)
            return
        }
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
    /// [inChannels·kernel·kernel][outChannels] (`WeightPreparation.Layout.inputMajor`). On the C paths the
    /// GEMM reads the receptive fields straight from the image (StemTemplate.h); the portable path builds
    /// im2col tiles and runs them through the pointwise GEMM tile.
    public static func stemConv(
        input: UnsafePointer<Float>, batch: Int, inChannels: Int, height: Int, width: Int,
        kernel: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int,
        inputMajorWeights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outChannels: Int,
        activation: Activation, output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>,
        pool: WorkerPool
    ) {
        if let simd = CSIMDKernels.active,
           simd.handlesStem(inChannels: inChannels, height: height, width: width, kernel: kernel, stride: stride,
                            outHeight: outHeight, outWidth: outWidth, outChannels: outChannels) {
            stemRowsDirect(simd, activation, input, batch, inChannels, height, width, kernel, stride, padTop, padLeft,
                           outHeight, outWidth, inputMajorWeights, bias, outChannels, output, pool)
            return
        }
        let depth = inChannels &* kernel &* kernel
        stemConvTiles(input, batch, inChannels, height, width, kernel, stride, padTop, padLeft, outHeight, outWidth,
                      workspace, pool) { col, count, p0 in
            pointwiseGemmTile(activation, rows: count, cols: outChannels, inChannels: depth, input: col,
                              weights: inputMajorWeights, ldw: outChannels, bias: bias, residual: nil,
                              output: output + p0 &* outChannels, ldo: outChannels)
        }
    }

    /// The C stem kernel over every output row, in tasks of a few rows (about eight per worker, taken
    /// dynamically). The caller has checked `handlesStem`.
    static func stemRowsDirect(
        _ simd: CSIMDKernels, _ activation: Activation, _ input: UnsafePointer<Float>, _ batch: Int,
        _ inChannels: Int, _ height: Int, _ width: Int, _ kernel: Int, _ stride: Int, _ padTop: Int, _ padLeft: Int,
        _ outHeight: Int, _ outWidth: Int, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
        _ outChannels: Int, _ output: UnsafeMutablePointer<Float>, _ pool: WorkerPool
    ) {
        let rows = batch &* outHeight
        let rowsPerTask = max(1, rows / (8 &* pool.threadCount))
        let tasks = (rows + rowsPerTask - 1) / rowsPerTask
        pool.parallelFor(tasks) { t in
            let r0 = t &* rowsPerTask
            let done = simd.stemRows(activation, input: input, inChannels: inChannels, height: height, width: width,
                                     kernel: kernel, stride: stride, padTop: padTop, padLeft: padLeft,
                                     outHeight: outHeight, outWidth: outWidth, weights: weights, bias: bias,
                                     outChannels: outChannels, output: output, rows: r0..<min(rows, r0 &+ rowsPerTask))
            precondition(done, "stemRows refused a geometry it accepted for an empty range")
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

    /// im2col rows for output pixels p0..<p0+count (row r = pixel p0 + r, columns (ci, ky, kx)). On the C
    /// paths the stem's weight gradient copies with `effnet_stem_im2col` instead (StemTemplate.h: the same
    /// rows, prefetching the image ahead).
    ///
    /// The RGB 3x3 stem (every EfficientNet) gets literal sizes, so the 27 copies per pixel unroll: with the
    /// sizes as variables the short loops' overhead made this copy most of the stem's weight gradient
    /// (B0 at batch 16: about 2.5 of 3.4 ms per worker, the GEMM the rest).
    @inline(__always) static func stemIm2col(
        _ input: UnsafePointer<Float>, _ inChannels: Int, _ height: Int, _ width: Int, _ k: Int, _ stride: Int,
        _ padTop: Int, _ padLeft: Int, _ outHeight: Int, _ outWidth: Int, _ p0: Int, _ count: Int,
        _ col: UnsafeMutablePointer<Float>
    ) {
        if inChannels == 3 && k == 3 {
            stemIm2colRows(input, 3, height, width, 3, stride, padTop, padLeft, outHeight, outWidth, p0, count, col)
        } else {
            stemIm2colRows(input, inChannels, height, width, k, stride, padTop, padLeft, outHeight, outWidth, p0,
                           count, col)
        }
    }

    @inline(__always) static func stemIm2colRows(
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
