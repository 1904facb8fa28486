#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Allocation of the model's long-lived large buffers (prepared weights, activation arena, training
/// parameters and gradients) on 2 MiB boundaries, with Linux asked to back them with transparent huge
/// pages (`MADV_HUGEPAGE`: in THP's common `madvise` mode nothing gets huge pages unless it asks).
///
/// Why: at batch 1 every layer's weights come cold from memory (they do not survive in the L3 between
/// images), and with 4 KiB pages B0's 21 MB of weights are over 5,000 pages, more than the second-level
/// TLB holds, so a first touch of a page also waits for a page walk. The GEMM reads a panel of weights
/// one row per k step, `ldb` floats apart, and crosses a page every few steps. Measured on the Zen 5
/// host (session 19, alternating runs of `effnet bench`): B0 batch 1 median 3.69 against 4.10 ms, B3
/// batch 1 15.5 against 16.7 ms, B0 batch 16 43.8 against 45.5 ms, B0 training at batch 16 206-208
/// against 221-229 ms per step. Peak RSS grows by the rounding to whole huge pages (B0 inference 106 ->
/// 115 MB, training 991 -> 1,010 MB).
///
/// Where the kernel refuses (THP off, no huge page free) the buffer is an ordinary one with the
/// alignment.
enum LargeBuffer {
    static let hugePageBytes = 2 << 20

    /// Buffers smaller than this get no huge-page advice: rounding them up would waste memory.
    static let minimumHugeBytes = 1 << 20

    /// At least `floats` floats, uninitialized, 64-byte aligned (2 MiB aligned when large). Free with
    /// `deallocate`.
    static func allocate(floats: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(floats, 1) * MemoryLayout<Float>.stride
        let huge = bytes >= minimumHugeBytes
        let rounded = huge ? (bytes + hugePageBytes - 1) / hugePageBytes * hugePageBytes : bytes
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, huge ? hugePageBytes : 64, rounded) == 0, let raw else {
            fatalError("LargeBuffer: out of memory allocating \(rounded) bytes")
        }
        #if os(Linux)
        if huge { _ = madvise(raw, rounded, Int32(MADV_HUGEPAGE)) }
        #endif
        return raw.bindMemory(to: Float.self, capacity: rounded / MemoryLayout<Float>.stride)
    }

    /// Frees a buffer from `allocate`.
    static func deallocate(_ pointer: UnsafeMutablePointer<Float>) {
        free(pointer)
    }
}
