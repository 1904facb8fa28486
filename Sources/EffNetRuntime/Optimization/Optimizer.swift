// The optimizer interface shared by SGD, RMSProp and AdamW.

/// Updates parameters in place from gradients at the same offsets.
///
/// Optimizers keep their per-parameter state (momentum buffers, moment estimates) keyed by the
/// slot's parameter name, created the first time a slot is stepped. Steps allocate nothing once
/// every slot has state.
public protocol Optimizer: AnyObject {
    /// Short identifier stored in checkpoints: "sgd", "rmsprop", "adamw".
    var kind: String { get }
    /// Number of `step` calls made (restored by `loadState`).
    var stepCount: Int { get }
    /// The optimizer's fixed settings as strings, stored in checkpoint metadata for reference.
    var hyperparameters: [String: String] { get }

    /// One update of the given groups: `parameters` change in place using `gradients` (same
    /// offsets). `learningRate` is the base learning rate of this step; each group scales it by
    /// its `learningRateScale`.
    func step(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        groups: [ParameterGroup], learningRate: Double)

    /// State tensors (1-D, one per parameter and kind of state) named
    /// `optimizer.<state>.<parameter name>`, e.g. `optimizer.momentum.features.0.0.weight`.
    func stateTensors() -> [(name: String, tensor: HostTensor)]

    /// Replaces all state with the `optimizer.*` tensors found in `tensors` (other names are
    /// ignored) and sets `stepCount`. Throws ``OptimizerStateError`` on a malformed entry.
    func loadState(_ tensors: [String: HostTensor], stepCount: Int) throws
}

// MARK: - Vector loop helpers for the update kernels

/// Loads `lanes` (1...16) floats at `p`; the rest of the lanes are zero.
@inline(__always) func loadLanes(_ p: UnsafePointer<Float>, _ lanes: Int) -> FVec {
    lanes == 16 ? loadVec(p) : loadPartialVec(p, lanes)
}

@inline(__always) func loadLanes(_ p: UnsafeMutablePointer<Float>, _ lanes: Int) -> FVec {
    lanes == 16 ? loadVec(p) : loadPartialVec(UnsafePointer(p), lanes)
}

/// Stores the low `lanes` (1...16) lanes of `v` at `p`.
@inline(__always) func storeLanes(_ v: FVec, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 16 { storeVec(v, p) } else { storePartialVec(v, p, lanes) }
}

/// Calls `body(index, lanes)` over `0..<count` in 16-float chunks (the last one may be shorter).
@inline(__always) func forEachChunk(_ count: Int, _ body: (Int, Int) -> Void) {
    var i = 0
    while i &+ 16 <= count {
        body(i, 16)
        i &+= 16
    }
    if i < count { body(i, count &- i) }
}
