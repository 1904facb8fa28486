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

    /// The bytes a buffer of `floats` floats occupies: whole huge pages when large.
    static func footprint(floats: Int) -> (bytes: Int, huge: Bool) {
        let bytes = max(floats, 1) * MemoryLayout<Float>.stride
        guard bytes >= minimumHugeBytes else { return (bytes, false) }
        return ((bytes + hugePageBytes - 1) / hugePageBytes * hugePageBytes, true)
    }

    /// At least `floats` floats, uninitialized (zero when large), 64-byte aligned, or 2 MiB aligned in a
    /// mapping of its own when large. Free with `deallocate(_:floats:)` and the same count.
    ///
    /// Large buffers are mapped directly rather than taken from the C heap: a heap block can share its
    /// mapping with other blocks, and the huge-page advice then applied only sometimes (seen in the test
    /// suite, where earlier tests had freed large blocks back to the heap).
    static func allocate(floats: Int) -> UnsafeMutablePointer<Float> {
        let (bytes, huge) = footprint(floats: floats)
        guard huge else {
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
                fatalError("LargeBuffer: out of memory allocating \(bytes) bytes")
            }
            return raw.bindMemory(to: Float.self, capacity: bytes / MemoryLayout<Float>.stride)
        }
        // Map a huge page more than needed, then unmap the ends around the 2 MiB-aligned middle.
        let length = bytes + hugePageBytes
        guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              base != MAP_FAILED else {
            fatalError("LargeBuffer: out of memory mapping \(length) bytes")
        }
        let start = UInt(bitPattern: base)
        let aligned = (start + UInt(hugePageBytes) - 1) / UInt(hugePageBytes) * UInt(hugePageBytes)
        let head = Int(aligned - start), tail = length - head - bytes
        if head > 0 { munmap(base, head) }
        let buffer = UnsafeMutableRawPointer(bitPattern: aligned)!
        if tail > 0 { munmap(buffer + bytes, tail) }
        #if os(Linux)
        _ = madvise(buffer, bytes, Int32(MADV_HUGEPAGE))
        #endif
        return buffer.bindMemory(to: Float.self, capacity: bytes / MemoryLayout<Float>.stride)
    }

    /// Frees a buffer from `allocate(floats:)`, given the same count.
    static func deallocate(_ pointer: UnsafeMutablePointer<Float>, floats: Int) {
        let (bytes, huge) = footprint(floats: floats)
        if huge {
            munmap(UnsafeMutableRawPointer(pointer), bytes)
        } else {
            free(pointer)
        }
    }
}
