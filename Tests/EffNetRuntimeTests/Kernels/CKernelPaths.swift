@testable import EffNetRuntime

/// (path name, kernels) for every C instruction set this CPU runs (`SIMDPath.supported`); empty on other
/// architectures. The C kernel tests run each of them, whichever one `CSIMDKernels.active` picked.
var cKernelPaths: [(String, CSIMDKernels)] {
    SIMDPath.supported.compactMap { path in CSIMDKernels(path).map { (path.rawValue, $0) } }
}
