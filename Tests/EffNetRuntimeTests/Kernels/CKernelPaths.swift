import CEffNetSIMD
@testable import EffNetRuntime

/// (path name, kernels) for every C instruction set this CPU runs (`SIMDPath.supported`); empty on other
/// architectures. The C kernel tests run each of them, whichever one `CSIMDKernels.active` picked.
///
/// AVX-512 comes twice, once per way of computing SiLU's and sigmoid's quotients
/// (`effnet_avx512_quotient`: the CPU picks one for the whole process, so without this the other would
/// go untested on any given machine). The iterator switches the mode as it hands out each entry, so a
/// loop body runs under its entry's mode, and puts the process's choice back when the loop ends.
var cKernelPaths: CKernelPathList { CKernelPathList() }

struct CKernelPathList: Sequence {
    /// A path's name and kernels, and the AVX-512 quotient mode its loop body runs under (nil: unchanged).
    typealias Entry = (name: String, kernels: CSIMDKernels, quotient: Int32?)

    private let entries: [Entry]

    init() {
        var entries: [Entry] = []
        for path in SIMDPath.supported {
            guard let kernels = CSIMDKernels(path) else { continue }
            if path == .avx512 {
                entries.append(("avx512 reciprocal", kernels, EFFNET_QUOTIENT_RECIPROCAL))
                entries.append(("avx512 divide", kernels, EFFNET_QUOTIENT_DIVIDE))
            } else {
                entries.append((path.rawValue, kernels, nil))
            }
        }
        self.entries = entries
    }

    func makeIterator() -> Iterator { Iterator(entries) }

    final class Iterator: IteratorProtocol {
        private let entries: [Entry]
        private let processQuotient = effnet_avx512_quotient()
        private var index = 0

        init(_ entries: [Entry]) { self.entries = entries }

        deinit { effnet_set_avx512_quotient(processQuotient) }

        func next() -> (String, CSIMDKernels)? {
            guard index < entries.count else {
                effnet_set_avx512_quotient(processQuotient)
                return nil
            }
            let entry = entries[index]
            index += 1
            effnet_set_avx512_quotient(entry.quotient ?? processQuotient)
            return (entry.name, entry.kernels)
        }
    }
}
