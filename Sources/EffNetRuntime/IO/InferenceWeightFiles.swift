import Foundation

/// Opens a weights file for inference, whichever of the two kinds it is: a `.safetensors` file of
/// named parameters (prepared at load time) or a prepared weights file from `effnet prepare-weights`
/// (mapped as it is; see ``PreparedWeightsFile``). The kind is told by the file's first bytes, not its
/// name.
public enum InferenceWeightFiles {
    /// `releaseAfterUse` and `keepResidentBytes` apply to prepared weights only: safetensors weights are
    /// converted into the model's own memory, which has no file to give pages back to.
    public static func open(_ url: URL, releaseAfterUse: Bool = false, keepResidentBytes: Int = 0) throws
        -> any WeightStore {
        if PreparedWeightsFile.isPreparedWeights(url) {
            return try PreparedWeightsFile(contentsOf: url, releaseAfterUse: releaseAfterUse,
                                           keepResidentBytes: keepResidentBytes)
        }
        return try SafeTensorsFile(contentsOf: url)
    }
}
