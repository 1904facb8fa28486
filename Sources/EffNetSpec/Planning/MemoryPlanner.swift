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

    /// `fusion`: a fused expansion's input is still read while its depthwise layer writes, so it lives
    /// until that layer, and on to the block's last layer so that the block may run image by image (one
    /// worker writes image n's projection while another still reads image m's input: MBConvPerImage). Its
    /// output gets no place in the arena (nil offset): the fused kernel keeps it in its workers' bands, and
    /// where a call runs as two kernels instead, the kernel puts it in its workspace
    /// (`Kernels.expandDepthwiseWorkspaceFloats`), sized for that batch. Reserving it here would make the
    /// block's largest tensor set the arena's size (B7: 17.3 million of its 24.5 million floats per image).
    public static func place(tensors: [PlannedTensor], layers: [PlannedLayer], externalTensors: Set<Int>,
                             fusion: ExpandDepthwiseFusion = ExpandDepthwiseFusion(blocks: []))
        -> ([PlannedTensor], MemoryPlan) {
        var first = [Int](repeating: Int.max, count: tensors.count)
        var last = [Int](repeating: -1, count: tensors.count)
        for (index, layer) in layers.enumerated() {
            for id in [layer.input, layer.output] + (layer.residual.map { [$0] } ?? []) {
                first[id] = min(first[id], index)
                last[id] = max(last[id], index)
            }
            for expand in [fusion.expansion[layer.name], fusion.expansionEndingAt[layer.name]].compactMap({ $0 }) {
                last[expand.input] = max(last[expand.input], index)
            }
        }
        func size(_ id: Int) -> Int { aligned(tensors[id].shape.elements) }
        let inBands = Set(fusion.depthwise.values.map(\.input))
        let live = tensors.indices.filter { !externalTensors.contains($0) && !inBands.contains($0) && last[$0] >= 0 }
        let packed = pack(sizes: live.map(size), first: live.map { first[$0] }, last: live.map { last[$0] })
        var placed = tensors
        for (index, id) in live.enumerated() { placed[id].arenaOffset = packed.offsets[index] }
        let arena = packed.total
        let unshared = live.reduce(0) { $0 + size($1) }
        let seWorkspace = layers
            .filter { $0.operation == .squeezeExcitation }
            .map { 2 * $0.inputShape.channels + ($0.squeezeChannels ?? 0) }
            .max() ?? 0
        return (placed, MemoryPlan(arenaFloatsPerImage: arena, unsharedFloatsPerImage: unshared,
                                   squeezeExciteWorkspacePerImage: seWorkspace))
    }

    static func aligned(_ floats: Int) -> Int { (floats + alignment - 1) / alignment * alignment }

    /// Packs buffers with lifetimes [first, last] (inclusive step indices) into one arena: largest
    /// first, each at the lowest offset clear of every placed buffer alive at the same time.
    /// Sizes are rounded up to the alignment.
    public static func pack(sizes: [Int], first: [Int], last: [Int]) -> (offsets: [Int], total: Int) {
        let sizes = sizes.map(aligned)
        let order = sizes.indices.sorted { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : first[$0] < first[$1] }
        var offsets = [Int](repeating: 0, count: sizes.count)
        var placed: [Int] = []
        var total = 0
        for id in order {
            let overlapping = placed
                .filter { first[$0] <= last[id] && first[id] <= last[$0] }
                .sorted { offsets[$0] < offsets[$1] }
            var offset = 0
            for other in overlapping {
                if offset + sizes[id] <= offsets[other] { break }
                offset = max(offset, offsets[other] + sizes[other])
            }
            offsets[id] = offset
            placed.append(id)
            total = max(total, offset + sizes[id])
        }
        return (offsets, total)
    }
}
