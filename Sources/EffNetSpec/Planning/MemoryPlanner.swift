/// Static activation memory plan: every intermediate tensor gets an offset in one arena, and
/// tensors whose lifetimes do not overlap share memory.
///
/// Lifetimes are layer intervals [first write, last read]. Placement is the greedy strategy of
/// TFLite's arena planner: largest tensors first, each at the lowest offset that does not collide
/// with an already placed tensor alive at the same time. Sizes are per image; the runtime scales
/// offsets by the batch size, which keeps every placement valid.
public enum MemoryPlanner {
    /// Offsets are aligned to 16 floats (64 bytes, a cache line) per image.
    public static let alignment = 16

    public static func place(tensors: [PlannedTensor], layers: [PlannedLayer], externalTensors: Set<Int>)
        -> ([PlannedTensor], MemoryPlan) {
        var first = [Int](repeating: Int.max, count: tensors.count)
        var last = [Int](repeating: -1, count: tensors.count)
        for (index, layer) in layers.enumerated() {
            for id in [layer.input, layer.output] + (layer.residual.map { [$0] } ?? []) {
                first[id] = min(first[id], index)
                last[id] = max(last[id], index)
            }
        }
        func size(_ id: Int) -> Int { (tensors[id].shape.elements + alignment - 1) / alignment * alignment }

        let order = tensors.indices
            .filter { !externalTensors.contains($0) && last[$0] >= 0 }
            .sorted { size($0) != size($1) ? size($0) > size($1) : first[$0] < first[$1] }
        var placed = tensors
        var assigned: [(offset: Int, size: Int, first: Int, last: Int)] = []
        var arena = 0
        for id in order {
            let overlapping = assigned
                .filter { $0.first <= last[id] && first[id] <= $0.last }
                .sorted { $0.offset < $1.offset }
            var offset = 0
            for other in overlapping {
                if offset + size(id) <= other.offset { break }
                offset = max(offset, other.offset + other.size)
            }
            placed[id].arenaOffset = offset
            assigned.append((offset, size(id), first[id], last[id]))
            arena = max(arena, offset + size(id))
        }
        let unshared = order.reduce(0) { $0 + size($1) }
        let seWorkspace = layers
            .filter { $0.operation == .squeezeExcitation }
            .map { 2 * $0.inputShape.channels + ($0.squeezeChannels ?? 0) }
            .max() ?? 0
        return (placed, MemoryPlan(arenaFloatsPerImage: arena, unsharedFloatsPerImage: unshared,
                                   squeezeExciteWorkspacePerImage: seWorkspace))
    }
}
