import ArgumentParser
import EffNetRuntime
import Foundation

/// `--release-weights-after-use` and `--keep-resident-mib`, for the commands that run inference on a
/// weights file.
struct WeightReleaseOption: ParsableArguments {
    @Flag(name: .customLong("release-weights-after-use"),
          help: ArgumentHelp("With prepared weights (effnet prepare-weights): hand each block's weight pages back once used.",
                             discussion: "The process then keeps one block's weights resident instead of all of them; they "
                                 + "come back from the page cache on the next run, at the cost of page faults."))
    var releaseWeightsAfterUse = false

    @Option(name: .customLong("keep-resident-mib"),
            help: ArgumentHelp("With --release-weights-after-use: MiB of weights (the first, in forward order) never released.",
                               discussion: "Every released byte is mapped in again on each run; keeping part of the weights "
                                   + "resident trades memory for those page faults."))
    var keepResidentMiB: Int = 0

    func validate() throws {
        guard keepResidentMiB >= 0 else { throw ValidationError("--keep-resident-mib must be >= 0") }
        if keepResidentMiB > 0 && !releaseWeightsAfterUse {
            throw ValidationError("--keep-resident-mib applies only with --release-weights-after-use")
        }
    }

    /// The weights at `path` (safetensors or prepared); with the flag, only prepared weights are accepted,
    /// since weights converted at load time have no file to give their pages back to.
    func open(_ path: String) throws -> any WeightStore {
        let store = try InferenceWeightFiles.open(URL(fileURLWithPath: path), releaseAfterUse: releaseWeightsAfterUse,
                                                  keepResidentBytes: min(keepResidentMiB, 1 << 30) << 20)
        if releaseWeightsAfterUse && !(store is PreparedWeightsFile) {
            throw ValidationError("--release-weights-after-use needs weights from effnet prepare-weights;"
                                  + " \(path) is not such a file")
        }
        return store
    }
}
