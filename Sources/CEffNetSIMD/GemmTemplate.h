// The 1x1-convolution GEMM with its epilogue in registers, written once against the V_* vocabulary and
// instantiated per instruction set by KernelTemplate.h (no include guard on purpose).
//
// C[m][n] = act(sum_k A[m][k] * B[k][n] + bias[n]) (+ residual[m][n], after the activation).
// A is the NHWC activation (pixels x inChannels, row stride lda), B the weights input-major (inChannels x
// outChannels, row stride ldb) as PreparedWeights lays them out, so a row of B is a run of output channels
// and the kernel needs no packing at all: OpenBLAS packs both operands on every call, which dominated the
// skinny early layers (K = 16..40 against 3,136..12,544 pixels).
//
// Register tile: GEMM_MR rows x 3 vectors (AVX-512: 8 x 48 = 24 accumulators + 3 B vectors + the
// broadcast; AVX2: 4 x 24). Each k step loads three B vectors and issues 3*GEMM_MR FMAs against A values
// broadcast straight from memory, one pointer per row: 8 rows keep every pointer in a register (14 rows
// x 2 vectors spilled three of them per k step). The sums leave the registers only once, through bias,
// activation and residual, so the output is written once and never re-read.

/* SwiftPM compiles C at -O2, where clang leaves loops of 14 unrolled only partly and the accumulators
   go to memory (measured: 2-3x slower than -O3). The row loops must unroll completely. */
#if defined(__clang__)
#define GEMM_UNROLL _Pragma("clang loop unroll(full)")
#define GEMM_NO_UNROLL _Pragma("clang loop unroll(disable)")
#else
#define GEMM_UNROLL _Pragma("GCC unroll 32")
#define GEMM_NO_UNROLL _Pragma("GCC unroll 1")
#endif

/* The panel's rows of B are ldb floats apart: with many output channels (ldb = 1,280 floats for the head,
   5 KB) every k step lands on another 4 KB page, where the hardware prefetchers do not follow, so a panel
   that is not already in L1 arrives one cache miss at a time (from L3 at batch 1, where every layer's
   weights are cold). Each k step therefore prefetches the panel's row GEMM_PREFETCH_ROWS steps ahead
   (past the last row the hint reads nothing and never faults). Measured in a single-thread harness on
   B0's tile shapes, against the same kernel without it: 0.72-0.93x the time with the weights in L3,
   0.88-0.99x with them in L1/L2 (K = 192..1,152); 1.00x for the short-K expansions (K = 16, 24), whose
   panel is in L1 after the first strip. 12 and 16 rows ahead measured alike, 4 and 8 less well. */
#define GEMM_PREFETCH_ROWS 16

/* The next panel (gemm_all_prefetching_panels, every forward GEMM but the K-blocked one). At batch 1 a
   layer's weights come cold from memory, and a strip reaches only GEMM_PREFETCH_ROWS rows ahead, too
   short for memory's latency, so each panel's first strip waits on its rows. The panel's later strips
   run from L2 with the memory idle: they now fetch the next panel's rows into L2, spread evenly over
   their k steps (a lone strip fetches them all). Only the layer's first panel stays cold. Single-thread
   harness, the weights evicted and the activations warm (B0's batch-1 shapes per worker, K x N):
   49 x 576 x 192 68 -> 61 us, 49 x 640 x 320 120 -> 106 us, 49 x 160 x 1,152 105 -> 95 us, in cache
   unchanged. In the network (huge pages on): B0's head 0.136 -> 0.125 ms, B3 at batch 1 15.0 -> 14.8 ms
   (medians of alternating runs); batch 16 and training unchanged. A hint only: the same bits. */

/* The strip's SiLU epilogue, in two passes: the sums plus bias go to the output, then SiLU runs over the
   strip two rows at a time, now from L1, with its steps interleaved across the two rows' vectors
   (v_activate_group). In registers that interleaving does not pay: with the 24 accumulators still live the
   group's temporaries spill. The second pass is a loop, not unrolled: the fully unrolled form measured
   slower (code size). Same operations per value as the one-pass form, so the same bits. Single-thread
   harness on B0's expansions (session 10): 0.84-0.91x the time for K = 16 and 24, 0.94-0.96x for K = 112;
   the whole matches the identity GEMM followed by a separate SiLU pass over its output. AVX2 keeps the
   one-pass form (SILU_GROUP_WIDTH 1 in VectorAVX2.h), and so does a SiLU with a residual (not in
   EfficientNet): the first pass would overwrite a residual stored in the output itself before the second
   read it. */
AI void gemm_strip_silu_epilogue(int nv, int full, int hasBias, VF acc[3][GEMM_MR], const VF biasv[3],
                                 ptrdiff_t mr, VM tail, float *c, ptrdiff_t ldc) {
    const VM m = tail;
    GEMM_UNROLL
    for (int r = 0; r < GEMM_MR; r++) {
        if (r >= mr) break;
        float *out = c + r * ldc;
        GEMM_UNROLL
        for (int v = 0; v < 3; v++) {
            if (v >= nv) break;
            const int masked = v == nv - 1 && !full;
            const VF y = hasBias ? V_ADD(acc[v][r], biasv[v]) : acc[v][r];
            if (masked) V_STOREM(out + v * VW, m, y);
            else V_STORE(out + v * VW, y);
        }
    }
    /* Keeps the compiler from forwarding the stored sums to the loads below, which would bring back the
       one-pass form with all its registers live. */
    __asm__ volatile("" ::: "memory");
    GEMM_NO_UNROLL
    for (int pair = 0; pair < GEMM_MR / 2; pair++) {
        const ptrdiff_t r = 2 * pair;
        if (r >= mr) break;
        VF y[6];
        GEMM_UNROLL
        for (int h = 0; h < 2; h++) {
            /* A strip with an odd row count re-reads its last row for the missing one, and does not store it. */
            const float *row = c + (r + h < mr ? r + h : r) * ldc;
            GEMM_UNROLL
            for (int v = 0; v < 3; v++) {
                if (v >= nv) break;
                y[h * nv + v] = (v == nv - 1 && !full) ? V_LOADM(row + v * VW, m) : V_LOAD(row + v * VW);
            }
        }
        v_activate_group(y, 2 * nv, EFFNET_ACT_SILU);
        GEMM_UNROLL
        for (int h = 0; h < 2; h++) {
            if (r + h >= mr) break;
            float *out = c + (r + h) * ldc;
            GEMM_UNROLL
            for (int v = 0; v < 3; v++) {
                if (v >= nv) break;
                if (v == nv - 1 && !full) V_STOREM(out + v * VW, m, y[h * nv + v]);
                else V_STORE(out + v * VW, y[h * nv + v]);
            }
        }
    }
}

/* One strip: rows m0..m0+mr (mr <= GEMM_MR) x the columns of one panel of nv <= 3 vectors, the last one
   masked by `tail` when `full` is 0. Rows past mr re-read the strip's last row (harmless work, no
   out-of-bounds reads) and are not stored. `act`, `nv`, `full`, `hasBias`, `hasResidual`, `accumulate`
   and `finish` (gemm_blocked) are literals at every call site, so each combination compiles to straight code.
   A[m][k] is a[m*lda + k], or a[m*lda + koff[k]] when `koff` is not null: the stem (StemTemplate.h)
   reads its k x k x Cin receptive fields straight from the image that way, with lda = the stride, instead
   of copying them into im2col rows. The GEMM passes a literal null, which folds away. */
AI void gemm_strip(int act, int nv, int full, int hasBias, int hasResidual, int accumulate, int finish, ptrdiff_t K,
                   const float *a, ptrdiff_t lda, const ptrdiff_t *koff, ptrdiff_t mr, const float *b, ptrdiff_t ldb,
                   VM tail, float *c, ptrdiff_t ldc, const float *bias, const float *residual, const char *sideA,
                   const char *sideB, const float *nextB, int nextNV, ptrdiff_t nextRow0, ptrdiff_t nextRows) {
    VF acc[3][GEMM_MR];
    /* The next panel's rows nextRow0..<nextRow0+nextRows go to L2 spread evenly over the k steps (a
       Bresenham count: one row whenever the count passes K; nextRows <= K). */
    ptrdiff_t nextCount = 0;
    const float *nextRow = nextB ? nextB + nextRow0 * ldb : 0;
    const float *row[GEMM_MR];
    const VM m = tail; /* for LD/ST of the panel's last vector */
    GEMM_UNROLL
    for (int r = 0; r < GEMM_MR; r++) {
        /* A later K block carries on from the partial sums an earlier one stored (rows past mr: zero). */
        const float *partial = c + (r < mr ? r : 0) * ldc;
        GEMM_UNROLL
        for (int v = 0; v < 3; v++)
            acc[v][r] = accumulate && v < nv && r < mr
                            ? ((v == nv - 1 && !full) ? V_LOADM(partial + v * VW, m) : V_LOAD(partial + v * VW))
                            : V_ZERO();
        row[r] = a + (r < mr ? r : mr - 1) * lda;
    }
    for (ptrdiff_t k = 0; k < K; k++) {
        const float *bk = b + k * ldb;
        const ptrdiff_t ka = koff ? koff[k] : k;
        /* A side stream: one cache line per k step, the first K/2 of sideA, then of sideB. The rows that
           follow (gemm_prefetching_rows), or the thread's weight prefetch window (the forward GEMM: see
           gemm_panel); null, a literal, everywhere else. */
        if (sideA) {
            const ptrdiff_t half = K >> 1;
            __builtin_prefetch(k < half ? sideA + k * 64 : sideB + (k - half) * 64, 0, 2);
        }
        GEMM_UNROLL
        for (int v = 0; v < 3; v++) {
            if (v >= nv) break;
            __builtin_prefetch(bk + GEMM_PREFETCH_ROWS * ldb + v * VW, 0, 3);
        }
        if (nextB) {
            nextCount += nextRows;
            if (nextCount >= K) {
                nextCount -= K;
                __builtin_prefetch(nextRow, 0, 2);
                if (nextNV > 1) __builtin_prefetch(nextRow + VW, 0, 2);
                if (nextNV > 2) __builtin_prefetch(nextRow + 2 * VW, 0, 2);
                nextRow += ldb;
            }
        }
        VF bv[3];
        GEMM_UNROLL
        for (int v = 0; v < 3; v++) {
            if (v >= nv) break;
            bv[v] = (v == nv - 1 && !full) ? V_LOADM(bk + v * VW, m) : V_LOAD(bk + v * VW);
        }
        GEMM_UNROLL
        for (int r = 0; r < GEMM_MR; r++) {
            const VF av = V_SET1(row[r][ka]);
            GEMM_UNROLL
            for (int v = 0; v < 3; v++) {
                if (v >= nv) break;
                acc[v][r] = V_FMADD(av, bv[v], acc[v][r]);
            }
        }
    }
    if (!finish) { /* a partial sum over this K block: stored as it is, for the next block to carry on */
        GEMM_UNROLL
        for (int r = 0; r < GEMM_MR; r++) {
            if (r >= mr) break;
            GEMM_UNROLL
            for (int v = 0; v < 3; v++) {
                if (v >= nv) break;
                if (v == nv - 1 && !full) V_STOREM(c + r * ldc + v * VW, m, acc[v][r]);
                else V_STORE(c + r * ldc + v * VW, acc[v][r]);
            }
        }
        return;
    }
    VF biasv[3] = {V_ZERO(), V_ZERO(), V_ZERO()};
    if (hasBias) {
        GEMM_UNROLL
        for (int v = 0; v < 3; v++) {
            if (v >= nv) break;
            biasv[v] = (v == nv - 1 && !full) ? V_LOADM(bias + v * VW, m) : V_LOAD(bias + v * VW);
        }
    }
    if (act == EFFNET_ACT_SILU && SILU_GROUP_WIDTH > 1 && !hasResidual) {
        gemm_strip_silu_epilogue(nv, full, hasBias, acc, biasv, mr, tail, c, ldc);
        return;
    }
    GEMM_UNROLL
    for (int r = 0; r < GEMM_MR; r++) {
        if (r >= mr) break;
        float *out = c + r * ldc;
        const float *res = hasResidual ? residual + r * ldc : 0;
        GEMM_UNROLL
        for (int v = 0; v < 3; v++) {
            if (v >= nv) break;
            const int masked = v == nv - 1 && !full;
            VF y = acc[v][r];
            if (hasBias) y = V_ADD(y, biasv[v]);
            y = v_activate(y, act);
            if (hasResidual) y = V_ADD(y, masked ? V_LOADM(res + v * VW, m) : V_LOAD(res + v * VW));
            if (masked) V_STOREM(out + v * VW, m, y);
            else V_STORE(out + v * VW, y);
        }
    }
}

/* Every strip of one panel, top to bottom: the panel's K x (nv*VW) slice of B stays in L1/L2 while A
   streams past it.
   The weight gradient (WeightGradientTemplate.h) reads A gathered with lda = 1: its 8 rows are 8 adjacent
   floats, one base pointer and constant offsets, but only when the strip is whole. With the row count a
   variable (rows past mr re-read the last row), clang keeps 8 row pointers, plus koff and its index; SwiftPM
   compiles C with -fno-omit-frame-pointer, which takes a register more, and the pointers then spill and are
   reloaded in the k loop. Whole strips therefore get a literal row count. Single-thread harness, B0's
   pixel-split weight gradients at batch 16 (warm caches, SwiftPM's flags): 0.77-0.96x the time, the
   112x112 layers least. Same operations in the same order: the same bits. */
AI void gemm_panel(int act, int nv, int full, int hasBias, int hasResidual, int accumulate, int finish, ptrdiff_t M,
                   ptrdiff_t K, const float *A, ptrdiff_t lda, const ptrdiff_t *koff, const float *b, ptrdiff_t ldb,
                   VM tail, float *c, ptrdiff_t ldc, const float *bias, const float *residual, const char *sideA,
                   const char *sideB, const float *nextB, int nextNV, EffNetPrefetchWindow *window) {
    const ptrdiff_t strips = (M + GEMM_MR - 1) / GEMM_MR;
    for (ptrdiff_t m0 = 0, s = 0; m0 < M; m0 += GEMM_MR, s++) {
        const ptrdiff_t mr = M - m0 < GEMM_MR ? M - m0 : GEMM_MR;
        if (koff && __builtin_constant_p(lda) && lda == 1 && mr == GEMM_MR) {
            gemm_strip(act, nv, full, hasBias, hasResidual, accumulate, finish, K, A + m0, 1, koff, GEMM_MR, b, ldb,
                       tail, c + m0 * ldc, ldc, bias, hasResidual ? residual + m0 * ldc : 0, 0, 0, 0, 0, 0, 0);
            continue;
        }
        /* The side stream's rows are K floats long, as A's (gemm_prefetching_rows). */
        const ptrdiff_t side = m0 * K * (ptrdiff_t)sizeof(float);
        /* Without one, the strip's side stream is the next K lines of the thread's weight prefetch window
           (gemm_all_prefetching_panels): the two halves of the stream are contiguous. */
        const char *windowLines = 0;
        if (!sideA && window && window->next < window->end) {
            windowLines = window->next;
            window->next += K * 64;
        }
        /* The next panel's rows: all in a lone strip's k steps, else shared by every strip but the first
           (which is still waiting on this panel's own rows). */
        ptrdiff_t nextRow0 = 0, nextRows = 0;
        if (nextB) {
            if (strips == 1) nextRows = K;
            else if (s > 0) {
                nextRow0 = (s - 1) * K / (strips - 1);
                nextRows = s * K / (strips - 1) - nextRow0;
            }
        }
        /* Two calls, so that without a window the strip keeps its literal null side stream (a run-time
           null costs a test per k step: B0 at batch 16, 1.02x the time). */
        if (windowLines)
            gemm_strip(act, nv, full, hasBias, hasResidual, accumulate, finish, K, A + m0 * lda, lda, koff, mr, b,
                       ldb, tail, c + m0 * ldc, ldc, bias, hasResidual ? residual + m0 * ldc : 0, windowLines,
                       windowLines + (K >> 1) * 64, nextRows ? nextB : 0, nextNV, nextRow0, nextRows);
        else
            gemm_strip(act, nv, full, hasBias, hasResidual, accumulate, finish, K, A + m0 * lda, lda, koff, mr, b,
                       ldb, tail, c + m0 * ldc, ldc, bias, hasResidual ? residual + m0 * ldc : 0,
                       sideA ? sideA + side : 0, sideB ? sideB + side : 0, nextRows ? nextB : 0, nextNV, nextRow0,
                       nextRows);
    }
}

/* Panels of `panelVectors` vectors (a literal: 3, 48 columns on AVX-512, where 96, 144, 240, 480, 672, 1152
   output channels divide evenly; 2 for gemm_all_two_vector_panels), then the remainder as one panel of 1 to
   `panelVectors` vectors, its last one masked unless whole.
   `accumulate` / `finish`: see gemm_blocked. `sideA` / `sideB`: the first panel's side stream
   (gemm_prefetching_rows); literal nulls from gemm_all. */
AI void gemm_all_side(int act, int hasBias, int hasResidual, int accumulate, int finish, ptrdiff_t M, ptrdiff_t N,
                      ptrdiff_t K, const float *x, ptrdiff_t lda, const ptrdiff_t *koff, const float *w, ptrdiff_t ldb,
                      const float *bias, const float *residual, float *y, ptrdiff_t ldc, const char *sideA,
                      const char *sideB, int prefetchNext, int panelVectors, int drainWindow) {
    const VM unused = V_MASK(1);
    EffNetPrefetchWindow *window = drainWindow ? &effnet_weight_prefetch_window : 0;
    ptrdiff_t n0 = 0;
    const ptrdiff_t panel = panelVectors * VW;
    for (; n0 + panel <= N; n0 += panel) {
        const ptrdiff_t after = N - (n0 + panel);
        const float *nextB = prefetchNext && after > 0 ? w + n0 + panel : 0;
        const int nextNV = after >= panel ? panelVectors : (int)((after + VW - 1) / VW);
        gemm_panel(act, panelVectors, 1, hasBias, hasResidual, accumulate, finish, M, K, x, lda, koff, w + n0, ldb,
                   unused, y + n0, ldc, hasBias ? bias + n0 : 0, hasResidual ? residual + n0 : 0, n0 == 0 ? sideA : 0,
                   n0 == 0 ? sideB : 0, nextB, nextNV, window);
    }
    const ptrdiff_t left = N - n0;
    if (left == 0) return;
    const float *bp = hasBias ? bias + n0 : 0;
    const float *rp = hasResidual ? residual + n0 : 0;
    const char *pa = n0 == 0 ? sideA : 0, *pb = n0 == 0 ? sideB : 0;
    const int vectors = (int)((left + VW - 1) / VW);
    const int whole = left % VW == 0;
    const VM tail = whole ? unused : V_MASK(left % VW);
#define GEMM_TAIL_PANEL(NV)                                                                                    \
    do {                                                                                                       \
        if (whole)                                                                                             \
            gemm_panel(act, NV, 1, hasBias, hasResidual, accumulate, finish, M, K, x, lda, koff, w + n0, ldb, tail, \
                       y + n0, ldc, bp, rp, pa, pb, 0, 0, window);                                             \
        else                                                                                                   \
            gemm_panel(act, NV, 0, hasBias, hasResidual, accumulate, finish, M, K, x, lda, koff, w + n0, ldb, tail, \
                       y + n0, ldc, bp, rp, pa, pb, 0, 0, window);                                             \
    } while (0)
    if (vectors == 1) GEMM_TAIL_PANEL(1);
    else if (vectors == 2 || panelVectors == 2) GEMM_TAIL_PANEL(2);
    else GEMM_TAIL_PANEL(3);
#undef GEMM_TAIL_PANEL
}

AI void gemm_all(int act, int hasBias, int hasResidual, int accumulate, int finish, ptrdiff_t M, ptrdiff_t N,
                 ptrdiff_t K, const float *x, ptrdiff_t lda, const ptrdiff_t *koff, const float *w, ptrdiff_t ldb,
                 const float *bias, const float *residual, float *y, ptrdiff_t ldc) {
    gemm_all_side(act, hasBias, hasResidual, accumulate, finish, M, N, K, x, lda, koff, w, ldb, bias, residual, y, ldc,
                  0, 0, 0, 3, 0);
}

/* gemm_all in panels of at most two vectors, for the stem's gathered form (A[m][k] = a[m*lda + koff[k]],
   lda the stride). With three-vector panels clang's k loop for that form kept too many values live and
   spilled accumulators to the stack, worst with a masked tail: single-thread harness, B3's stem (150x150
   outputs, 40 channels: two whole vectors and 8 lanes) 530-545 -> 417-420 us; 48 channels 428-434 -> 414
   us; B0's 32 channels (one two-vector panel either way) unchanged. In the network at batch 1 B3's stem
   moved less (0.415-0.420 -> 0.404-0.410 ms on two workers). The weight gradient, gathered too
   but with lda = 1, measured no better this way (N = 40: 878-993 against 1,094-1,146 us) and keeps
   three. Each output's sum runs as before: the same bits. */
AI void gemm_all_two_vector_panels(int act, int hasBias, int hasResidual, int accumulate, int finish,
                                   ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x, ptrdiff_t lda,
                                   const ptrdiff_t *koff, const float *w, ptrdiff_t ldb, const float *bias,
                                   const float *residual, float *y, ptrdiff_t ldc) {
    gemm_all_side(act, hasBias, hasResidual, accumulate, finish, M, N, K, x, lda, koff, w, ldb, bias, residual, y, ldc,
                  0, 0, 0, 2, 0);
}

/* gemm_all, prefetching each panel's successor into L2 while the panel's later strips run from cache, and
   draining the calling thread's weight prefetch window (effnet_weight_prefetch_set: later layers' weights
   at batch 1) one cache line per k step. Without a window (larger batches) each strip runs the code it ran
   before the window existed (gemm_panel). */
AI void gemm_all_prefetching_panels(int act, int hasBias, int hasResidual, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                    const float *x, ptrdiff_t lda, const float *w, ptrdiff_t ldb, const float *bias,
                                    const float *residual, float *y, ptrdiff_t ldc) {
    gemm_all_side(act, hasBias, hasResidual, 0, 1, M, N, K, x, lda, 0, w, ldb, bias, residual, y, ldc, 0, 0, 1, 3, 1);
}

/* Deep GEMMs (K > GEMM_BLOCKED_MIN_DEPTH with more than GEMM_BLOCKED_MIN_ROWS rows per call: the 1,392- to
   3,840-channel projections of B3-B7 on 10x10 and 19x19 maps, 100-361 rows per task). Unblocked, every
   8-row strip streams a whole K x 48 panel of the weights (737 KB at K = 3,840) and the task's rows are
   streamed again for every panel, from L3 once they outgrow L2. Here K goes in blocks of GEMM_BLOCK_DEPTH,
   outermost, so each block of the weights is fetched from memory once, and the rows in chunks of
   GEMM_BLOCK_ROWS within it: a chunk's rows x block (128 KB) stay in L2 and a panel's block x 48 weights
   (48 KB) near L1 while the chunk's strips pass over it. Each block but the last stores the strips'
   partial sums and the next loads them back (`accumulate`); the last adds bias, activation and residual
   (`finish`). The sums run over k in the same order, and storing a float and loading it back is exact,
   so the result has the bits of the unblocked kernel, however the rows are split into tasks.
   These tiles went to OpenBLAS's packed sgemm before (session 11). Single-thread harness, caches flushed
   before each call: 361 x 320 x 3,840 at 136-145 GFLOP/s (best of 15) blocked, 69-77 unblocked, 133-141
   in OpenBLAS 0.3.21 (SkylakeX kernels); K 1,152-2,304 unblocked and blocked alike, 1.1-1.3x OpenBLAS.
   In B7 at batch 1 (weights from memory) the 19x19 projections took about the time OpenBLAS took (0.95-1.03x
   against the unchanged 38x38 ones); with the row chunks outermost, which streams the weights once per
   chunk, 1.26-1.37x. Row and depth blocks of 64 or 128 measured worse than 128 x 256, 256 or 512 no better. */
#define GEMM_BLOCKED_MIN_DEPTH 1024
#define GEMM_BLOCKED_MIN_ROWS 64
#define GEMM_BLOCK_ROWS 128
#define GEMM_BLOCK_DEPTH 256
AI void gemm_blocked(int act, int hasBias, int hasResidual, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x,
                     ptrdiff_t lda, const float *w, ptrdiff_t ldb, const float *bias, const float *residual, float *y,
                     ptrdiff_t ldc) {
    for (ptrdiff_t k0 = 0; k0 < K; k0 += GEMM_BLOCK_DEPTH) {
        const ptrdiff_t kc = K - k0 < GEMM_BLOCK_DEPTH ? K - k0 : GEMM_BLOCK_DEPTH;
        const float *wk = w + k0 * ldb;
        for (ptrdiff_t m0 = 0; m0 < M; m0 += GEMM_BLOCK_ROWS) {
            const ptrdiff_t mc = M - m0 < GEMM_BLOCK_ROWS ? M - m0 : GEMM_BLOCK_ROWS;
            const float *xk = x + m0 * lda + k0;
            float *ym = y + m0 * ldc;
            const float *rm = hasResidual ? residual + m0 * ldc : 0;
            if (k0 + kc == K)
                gemm_all(act, hasBias, hasResidual, k0 > 0, 1, mc, N, kc, xk, lda, 0, wk, ldb, bias, rm, ym, ldc);
            else if (k0 == 0)
                gemm_all(EFFNET_ACT_IDENTITY, 0, 0, 0, 0, mc, N, kc, xk, lda, 0, wk, ldb, 0, 0, ym, ldc);
            else
                gemm_all(EFFNET_ACT_IDENTITY, 0, 0, 1, 0, mc, N, kc, xk, lda, 0, wk, ldb, 0, 0, ym, ldc);
        }
    }
}

/* The whole GEMM: K-blocked when deep (gemm_blocked), otherwise panel by panel in one pass over K. */
AI void gemm_any(int act, int hasBias, int hasResidual, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x,
                 ptrdiff_t lda, const float *w, ptrdiff_t ldb, const float *bias, const float *residual, float *y,
                 ptrdiff_t ldc) {
    /* The partial sums go to y, so a residual stored in y itself (an in-place shortcut) keeps one pass. */
    const uintptr_t r0 = (uintptr_t)residual, y0 = (uintptr_t)y, y1 = (uintptr_t)(y + (M - 1) * ldc + N);
    const int residualInY = hasResidual && r0 + (uintptr_t)N * sizeof(float) > y0 && r0 < y1;
    if (K > GEMM_BLOCKED_MIN_DEPTH && M > GEMM_BLOCKED_MIN_ROWS && !residualInY)
        gemm_blocked(act, hasBias, hasResidual, M, N, K, x, lda, w, ldb, bias, residual, y, ldc);
    else
        gemm_all_prefetching_panels(act, hasBias, hasResidual, M, N, K, x, lda, w, ldb, bias, residual, y, ldc);
}

void FN(effnet_gemm_bias_activation)(int act, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x, ptrdiff_t lda,
                                     const float *w, ptrdiff_t ldb, const float *bias, const float *residual,
                                     float *y, ptrdiff_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (bias && residual) {
        WITH_ACTIVATION(act, gemm_any(A, 1, 1, M, N, K, x, lda, w, ldb, bias, residual, y, ldc))
    } else if (bias) {
        WITH_ACTIVATION(act, gemm_any(A, 1, 0, M, N, K, x, lda, w, ldb, bias, 0, y, ldc))
    } else if (residual) {
        WITH_ACTIVATION(act, gemm_any(A, 0, 1, M, N, K, x, lda, w, ldb, 0, residual, y, ldc))
    } else {
        WITH_ACTIVATION(act, gemm_any(A, 0, 0, M, N, K, x, lda, w, ldb, 0, 0, y, ldc))
    }
}

/* y = x·w (no bias, no activation) over M rows, as gemm_all, while prefetching (into L2) the M rows of
   K floats that follow at nextA and at nextB: the 1x1 convolution backward's dX for one band of pixels
   (TrainingKernels.weightGradientOverPixelParts), whose next band's BatchNorm pass reads those rows of dY
   and z from memory. Alone that pass streamed at one core's memory speed while the GEMMs before it
   computed with the memory idle. One line per k step of the first panel (8 rows x K floats x 2 maps = K
   lines per strip) spreads the requests over the band's GEMM. Same arithmetic as gemm_all: the same bits. */
AI void gemm_prefetching_rows(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x, ptrdiff_t lda, const float *w,
                              ptrdiff_t ldb, float *y, ptrdiff_t ldc, const char *nextA, const char *nextB) {
    gemm_all_side(EFFNET_ACT_IDENTITY, 0, 0, 0, 1, M, N, K, x, lda, 0, w, ldb, 0, 0, y, ldc, nextA, nextB, 0, 3, 0);
}

void FN(effnet_gemm_prefetching_rows)(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *x, ptrdiff_t lda,
                                      const float *w, ptrdiff_t ldb, float *y, ptrdiff_t ldc, const float *nextA,
                                      const float *nextB) {
    if (M <= 0 || N <= 0) return;
    gemm_prefetching_rows(M, N, K, x, lda, w, ldb, y, ldc, (const char *)nextA, (const char *)nextB);
}

#undef GEMM_UNROLL
#undef GEMM_NO_UNROLL
#undef GEMM_PREFETCH_ROWS
#undef GEMM_BLOCKED_MIN_DEPTH
#undef GEMM_BLOCKED_MIN_ROWS
#undef GEMM_BLOCK_ROWS
#undef GEMM_BLOCK_DEPTH
