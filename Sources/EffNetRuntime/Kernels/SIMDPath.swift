import CEffNetSIMD
import Foundation

/// Which implementation of the elementwise hot loops runs (the pointwise-conv epilogue, in-place and
/// depthwise activations, train-mode BatchNorm apply/statistics/backward, activation backward) and the
/// depthwise convolution forward rows.
///
/// Swift compiles for the x86-64 baseline (SSE2: no FMA, no AVX), and the manifest cannot raise the
/// target without unsafe flags, so those loops also exist in C (CEffNetSIMD) built per function for
/// AVX2+FMA and AVX-512. One path is chosen per process, at first use: `EFFNET_SIMD=swift|avx2|avx512`
/// forces one (for tests and benchmarks); by default the best the CPU supports. `.swift`, the portable
/// Swift SIMD code, is the only path on other architectures.
public enum SIMDPath: String, Sendable, CaseIterable, Comparable {
    case swift, avx2, avx512

    /// The path every kernel uses in this process.
    public static let active: SIMDPath = choose(requested: ProcessInfo.processInfo.environment["EFFNET_SIMD"],
                                                best: best) { message in
        FileHandle.standardError.write(Data("effnet: \(message)\n".utf8))
    }

    /// The active path as benchmarks report it: on AVX-512 with how SiLU's and sigmoid's quotients are
    /// computed (`effnet_avx512_quotient`, chosen per CPU), e.g. "avx512 (divide)".
    public static var activeDescription: String {
        guard active == .avx512 else { return active.rawValue }
        return effnet_avx512_quotient() == EFFNET_QUOTIENT_DIVIDE ? "avx512 (divide)" : "avx512 (reciprocal)"
    }

    /// The best path this CPU supports.
    public static let best: SIMDPath = SIMDPath(isa: effnet_simd_best_isa()) ?? .swift

    /// Every path this CPU can run (for tests).
    public static var supported: [SIMDPath] { allCases.filter { $0 <= best } }

    /// `requested` (the EFFNET_SIMD value) if set, valid and supported; otherwise `best`, with a note
    /// for a value that was not usable.
    static func choose(requested: String?, best: SIMDPath, note: (String) -> Void) -> SIMDPath {
        guard let requested, !requested.isEmpty else { return best }
        guard let path = SIMDPath(rawValue: requested.lowercased()) else {
            note("EFFNET_SIMD=\(requested) is not one of swift, avx2, avx512; using \(best.rawValue)")
            return best
        }
        if path > best {
            note("EFFNET_SIMD=\(requested) is not supported by this CPU; using \(best.rawValue)")
            return best
        }
        return path
    }

    init?(isa: Int32) {
        switch isa {
        case EFFNET_ISA_AVX512: self = .avx512
        case EFFNET_ISA_AVX2: self = .avx2
        default: return nil
        }
    }

    public static func < (a: SIMDPath, b: SIMDPath) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
