import COpenBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One-time OpenBLAS setup done by the first `WorkerPool`.
///
/// 1. Single-threaded BLAS: our pool splits GEMMs itself (OpenBLAS's threading is poor on skinny shapes).
/// 2. Kernel selection: Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognize recent Xeons
///    (e.g. family 6 model 207) and falls back to its generic "Prescott" SSE3 kernels, ~3.5x slower
///    for sgemm than its AVX-512 ones on the same CPU. When that happened, the user did not choose a
///    core with `OPENBLAS_CORETYPE`, and /proc/cpuinfo shows AVX-512 (or AVX2+FMA), we re-run
///    OpenBLAS's own kernel selection with `OPENBLAS_CORETYPE=SkylakeX` (or `Haswell`) before any
///    BLAS call. Set `EFFNET_KEEP_OPENBLAS_CORE=1` to leave OpenBLAS's choice alone.
enum BLASConfiguration {
    static let configured: Bool = {
        openblas_set_num_threads(1)
        upgradeGenericKernelsIfNeeded()
        return true
    }()

    static func ensureConfigured() { _ = configured }

    /// OpenBLAS's name for the kernels in use (e.g. "SkylakeX", "Prescott").
    static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    private static func upgradeGenericKernelsIfNeeded() {
        #if os(Linux) && arch(x86_64)
        let env = ProcessInfo.processInfo.environment
        if env["OPENBLAS_CORETYPE"] != nil || env["EFFNET_KEEP_OPENBLAS_CORE"] == "1" { return }
        guard coreName.lowercased() == "prescott" else { return }
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let target: String
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].allSatisfy(flags.contains) {
            target = "SkylakeX"
        } else if ["avx2", "fma"].allSatisfy(flags.contains) {
            target = "Haswell"
        } else {
            return
        }
        guard let handle = dlopen(nil, RTLD_NOW),
              let quitSymbol = dlsym(handle, "gotoblas_dynamic_quit"),
              let initSymbol = dlsym(handle, "gotoblas_dynamic_init") else { return }
        typealias Fn = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", target, 1)
        unsafeBitCast(quitSymbol, to: Fn.self)()
        unsafeBitCast(initSymbol, to: Fn.self)()
        unsetenv("OPENBLAS_CORETYPE")
        #endif
    }
}
