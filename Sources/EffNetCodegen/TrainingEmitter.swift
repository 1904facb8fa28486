import EffNetSpec

/// Renders the training program of a plan as a `TrainableModel` class (`<Model>Training`): the
/// parameter layout, the memory plan of saved activations and gradients, and one forward and one
/// backward function per block, the backward functions called in reverse order.
enum TrainingEmitter {
    static func emit(_ plan: ModelPlan) -> String {
        let program = TrainingProgramBuilder.build(plan)
        let layout = ParameterLayout(plan: plan)
        let arena = ArenaLayout(program: program, recomputing: false)
        let recomputingArena = ArenaLayout(program: program, recomputing: true)
        var out = ""
        func line(_ text: String = "") { out += text.isEmpty ? "\n" : text + "\n" }
        let type = "\(plan.model)Training"

        line("/// \(plan.model) in training form: PyTorch-layout parameters, train-mode BatchNorm, dropout and")
        line("/// stochastic depth, mean cross-entropy and the generated backward pass.")
        line("/// Training arena: \(PlanReport.grouped(arena.floatsPerImage)) floats per image "
             + "(saved activations and gradients, packed by lifetime), \(PlanReport.grouped(recomputingArena.floatsPerImage)) "
             + "with `recomputeActivations`; parameters: \(PlanReport.grouped(layout.totalFloats)) floats.")
        line("public final class \(type): TrainableModel {")
        line("    public static let descriptor = \(plan.model).descriptor")
        line("    public static let trainingDescriptor = TrainingDescriptor(")
        line("        parameterSlots: trainableSlots, stateSlots: statisticsSlots, parameterFloats: \(layout.totalFloats),")
        line("        arenaFloatsPerImage: \(arena.floatsPerImage), recomputingArenaFloatsPerImage: \(recomputingArena.floatsPerImage),")
        line("        fixedFloats: \(program.fixedFloats),")
        line("        blockNames: [\(plan.blocks.map { literal($0.name) }.joined(separator: ", "))], parameterBlocks: parameterBlocks)")
        line()
        line("    private let buffers: TrainingBuffers")
        line("    private let pool: WorkerPool")
        line("    private var loss = 0.0")
        line("    public var random = CounterRandom(seed: 0)")
        line("    /// Times every kernel call of `trainStep` when set (`effnet bench --train --profile`).")
        line("    public var profiler: LayerProfiler? {")
        line("        didSet { profiler?.requireTable(Self.profiledLayers, of: \(literal(type))) }")
        line("    }")
        line("    public var parameters: UnsafeMutablePointer<Float> { buffers.parameters }")
        line("    public var gradients: UnsafeMutablePointer<Float> { buffers.gradients }")
        line()
        line("    public init(weights store: any WeightStore, pool: WorkerPool) throws {")
        line("        buffers = try TrainingBuffers(descriptor: Self.descriptor, training: Self.trainingDescriptor, store: store)")
        line("        self.pool = pool")
        line("    }")
        line()
        let stem = plan.layers[0]
        line("    /// Kernel scratch after the arena: stem im2col tiles (forward and backward), SE backward vectors,")
        line("    /// per-worker partial weight gradients of the 1x1 convolutions, BatchNorm sums taken during a conv,")
        line("    /// bands of a depthwise layer's BatchNorm input gradient.")
        line("    private func workspaceFloats(batch n: Int) -> Int {")
        let mutable = program.largestSqueezeExcite != nil || !program.pointwiseWeightGradients.isEmpty
            || program.largestBatchStatisticsChannels > 0 || !program.workspaceTerms.isEmpty
        line("        \(mutable ? "var" : "let") floats = max(Kernels.stemConvWorkspaceFloats(inChannels: \(stem.inputShape.channels), "
             + "kernel: \(stem.kernel), threads: pool.threadCount),")
        line("                         TrainingKernels.stemConvBackwardWorkspaceFloats(inChannels: \(stem.inputShape.channels), "
             + "kernel: \(stem.kernel), outChannels: \(stem.outputShape.channels), threads: pool.threadCount))")
        if let se = program.largestSqueezeExcite {
            line("        floats = max(floats, TrainingKernels.squeezeExciteBackwardWorkspaceFloats(batch: n, "
                 + "channels: \(se.channels), squeezeChannels: \(se.squeeze)))")
        }
        if program.largestBatchStatisticsChannels > 0 {
            line("        floats = max(floats, TrainingKernels.batchStatisticsWorkspaceFloats(channels: "
                 + "\(program.largestBatchStatisticsChannels), threads: pool.threadCount))")
        }
        for conv in program.pointwiseWeightGradients {
            line("        floats = max(floats, TrainingKernels.pointwiseConvBackwardWorkspaceFloats(inChannels: \(conv.inChannels), "
                 + "outChannels: \(conv.outChannels), threads: pool.threadCount))")
        }
        for term in program.workspaceTerms { line("        floats = max(floats, \(term))") }
        line("        return floats")
        line("    }")
        line()
        line("    public func trainStep(input x: UnsafePointer<Float>, labels: [Int], batch n: Int, options: TrainingOptions,")
        line("                          logits: UnsafeMutablePointer<Float>) throws -> Double {")
        line("        precondition(n >= 2 && labels.count == n, \"train-mode BatchNorm needs a batch of at least 2, one label each\")")
        line("        let arenaFloats = options.recomputeActivations ? \(recomputingArena.floatsPerImage) : \(arena.floatsPerImage)")
        line("        let t = buffers.arena.reserve(floats: arenaFloats &* n &+ workspaceFloats(batch: n))")
        line("        let s = TrainingStepContext(n: n, x: x, t: t,")
        line("                                    offsets: options.recomputeActivations ? Self.recomputingOffsets : Self.standardOffsets,")
        line("                                    p: buffers.parameters, g: buffers.gradients, f: buffers.fixed,")
        line("                                    ws: t + arenaFloats &* n, options: options, labels: labels, logits: logits,")
        line("                                    profiler: profiler)")
        line("        s.profiler?.beginRun(batch: n)")
        line("        if options.computeGradients {")
        line("            s.profiler?.start()")
        line("            TrainingKernels.zero(s.g, count: \(layout.totalFloats))")
        line("            s.profiler?.stop(0)")
        line("        }")
        for function in program.forward {
            line("        try \(function.name)(s)")
        }
        line("        guard options.computeGradients else { return loss }")
        // The backward stops before the frozen blocks (options.frozenBlocks).
        for (index, function) in program.backward.enumerated() {
            line("        if options.frozenBlocks <= \(plan.blocks.count - 1 - index) { \(function.name)(s) }")
        }
        line("        return loss")
        line("    }")

        // Profile index 0 is the gradient zeroing above; the program's calls follow in order.
        var callIndex = 1
        for (index, function) in (program.forward + program.backward).enumerated() {
            let isForward = index < program.forward.count
            line()
            line("    /// \(function.block) \(isForward ? "forward" : "backward"): \(function.summary)")
            line("    private func \(function.name)(_ s: TrainingStepContext)\(isForward ? " throws" : "") {")
            for call in function.calls {
                line("        // \(call.comment)")
                var text = call.isTry ? "loss = try \(call.function)(" : "\(call.function)("
                let args = call.arguments.map { argument -> String in
                    let value = render(argument.value, layout: layout)
                    return argument.label.isEmpty ? value : "\(argument.label): \(value)"
                }
                text += args.joined(separator: ", ") + ")"
                let indent = call.condition == nil ? "        " : "            "
                if let condition = call.condition { line("        if \(condition) {") }
                line(indent + "s.profiler?.start()")
                line(wrap(text, indent: indent))
                line(indent + "s.profiler?.stop(\(callIndex))")
                if call.condition != nil { line("        }") }
                callIndex += 1
            }
            line("    }")
        }
        line()
        line("    /// Every buffer of the training arena, `s.tensor(i)`: its offset in floats per image in the standard")
        line("    /// memory plan and in the one `options.recomputeActivations` selects (where recomputed activations")
        line("    /// get short-lived buffers of their own and the forward ones die early).")
        line("    static let arenaOffsets: [(standard: Int, recomputing: Int)] = [")
        for (id, buffer) in program.buffers.enumerated() {
            line("        (\(arena.offsets[id]), \(recomputingArena.offsets[id])),  // \(id): \(buffer.name), "
                 + "\(PlanReport.grouped(buffer.floatsPerImage)) floats per image")
        }
        line("    ]")
        line("    static let standardOffsets = arenaOffsets.map(\\.standard)")
        line("    static let recomputingOffsets = arenaOffsets.map(\\.recomputing)")
        line()
        line("    /// The kernel calls of `trainStep` in order (`s.profiler?.stop(i)` charges entry i), for `LayerProfiler`.")
        line("    public static let profiledLayers: [LayerProfiler.Layer] = [")
        line("        .init(\"gradients\", kind: \"zero gradients\", macsPerImage: nil, \"zero all \(layout.totalFloats) gradients\"),")
        for call in program.callsInOrder {
            line("        .init(\(literal(call.module)), kind: \(literal(call.profileKind)), "
                 + "macsPerImage: \(call.macsPerImage.map(String.init) ?? "nil"),")
            let summary = call.comment.hasPrefix(call.module + " ") ? String(call.comment.dropFirst(call.module.count + 1)) : call.comment
            line("              \(literal(summary))),")
        }
        line("    ]")
        line()
        line("    /// Trainable tensors in the parameter buffer (gradients at the same offsets).")
        line("    static let trainableSlots: [ParameterSlot] = [")
        for slot in layout.slots where slot.trainable {
            line("        ParameterSlot(name: \(literal(slot.name)), offset: \(slot.offset), count: \(slot.count), kind: .\(slot.kind)),")
        }
        line("    ]")
        line()
        let blockOf = Dictionary(plan.blocks.enumerated().flatMap { index, block in
            block.layers.flatMap(\.parameters).map { ($0, index) } }, uniquingKeysWith: { first, _ in first })
        line("    /// The block of each trainable slot (for freezing).")
        line("    static let parameterBlocks: [Int] = \(layout.slots.filter(\.trainable).map { blockOf[$0.name]! })")
        line()
        line("    /// BatchNorm running statistics in the parameter buffer.")
        line("    static let statisticsSlots: [ParameterSlot] = [")
        for slot in layout.slots where !slot.trainable {
            line("        ParameterSlot(name: \(literal(slot.name)), offset: \(slot.offset), count: \(slot.count), kind: .\(slot.kind)),")
        }
        line("    ]")
        line("}")
        return out
    }

    static func render(_ arg: TrainingProgram.Arg, layout: ParameterLayout) -> String {
        switch arg {
        case .tensor(let id):
            return "s.tensor(\(id))"
        case .optionalTensor(let id, let condition):
            return "\(condition) ? \(render(.tensor(id), layout: layout)) : nil"
        case .fixed(let offset):
            return offset == 0 ? "s.f" : "s.f + \(offset)"
        case .parameter(let name):
            let offset = layout.offsets[name]!
            return offset == 0 ? "s.p" : "s.p + \(offset)"
        case .gradient(let name):
            let offset = layout.offsets[name]!
            return offset == 0 ? "s.g" : "s.g + \(offset)"
        case .code(let text):
            return text
        case .squeezeExcite(let input, let scale, let imagePixels):
            return "SqueezeExciteScaling(input: \(render(.tensor(input), layout: layout)), "
                + "scale: \(render(.tensor(scale), layout: layout)), imagePixels: \(imagePixels))"
        }
    }

    /// Breaks a long call after commas so generated lines stay readable.
    static func wrap(_ text: String, indent: String, width: Int = 118) -> String {
        var lines: [String] = []
        var current = indent
        var first = true
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            let chunk = (first ? "" : ",") + piece
            if current.count + chunk.count > width && current.trimmingCharacters(in: .whitespaces).count > 0 {
                lines.append(current + ",")
                current = indent + "    " + piece.trimmingCharacters(in: .whitespaces)
            } else {
                current += chunk
            }
            first = false
        }
        lines.append(current)
        return lines.joined(separator: "\n")
    }
}

/// Where each parameter (torchvision layout) lives in the flat training parameter buffer.
struct ParameterLayout {
    struct Slot {
        var name: String
        var offset: Int
        var count: Int
        var kind: String
        var trainable: Bool
    }

    private(set) var slots: [Slot] = []
    private(set) var offsets: [String: Int] = [:]
    private(set) var totalFloats = 0

    init(plan: ModelPlan) {
        for p in plan.parameters {
            let count = p.shape.reduce(1, *)
            slots.append(Slot(name: p.name, offset: totalFloats, count: count, kind: Self.kind(p), trainable: p.trainable))
            offsets[p.name] = totalFloats
            totalFloats += (count + 15) / 16 * 16
        }
    }

    /// The optimizer's view of a tensor: decides weight decay by default.
    static func kind(_ p: ParameterInfo) -> String {
        if p.shape.count == 4 { return "convolutionWeight" }
        if p.shape.count == 2 { return "linearWeight" }
        if p.name.hasSuffix(".running_mean") || p.name.hasSuffix(".running_var") { return "batchNormBias" }
        let isLayerBias = p.name.contains(".fc1.") || p.name.contains(".fc2.") || p.name.hasPrefix("classifier.")
        if p.name.hasSuffix(".bias") { return isLayerBias ? "bias" : "batchNormBias" }
        return "batchNormWeight"
    }
}

/// Offsets (floats per image) of the training program's buffers, packed by lifetime.
///
/// Two plans come from one program. The standard plan skips the recomputing calls and treats each
/// recomputed copy as the forward buffer it copies (same offset, one lifetime stretching to the
/// backward reader). The recomputing plan counts every call: the forward buffers die after their
/// last forward reader and the copies live only from their recomputation to their reader.
struct ArenaLayout {
    private(set) var offsets: [Int] = []
    private(set) var floatsPerImage = 0

    init(program: TrainingProgram, recomputing: Bool) {
        let count = program.buffers.count
        func placed(_ id: Int) -> Int { recomputing ? id : (program.buffers[id].standardAlias ?? id) }
        var first = [Int](repeating: Int.max, count: count)
        var last = [Int](repeating: -1, count: count)
        for (index, call) in program.callsInOrder.enumerated() where recomputing || !call.recomputes {
            for argument in call.arguments {
                let ids: [Int]
                switch argument.value {
                case .tensor(let t), .optionalTensor(let t, _): ids = [placed(t)]
                case .squeezeExcite(let input, let scale, _): ids = [placed(input), placed(scale)]
                default: continue
                }
                for id in ids {
                    first[id] = min(first[id], index)
                    last[id] = max(last[id], index)
                }
            }
        }
        // A buffer never touched (cannot happen in a well-formed program) still gets a place.
        let own = (0..<count).filter { placed($0) == $0 }
        for id in own where last[id] < 0 { (first[id], last[id]) = (0, 0) }
        let packed = MemoryPlanner.pack(sizes: own.map { program.buffers[$0].floatsPerImage },
                                        first: own.map { first[$0] }, last: own.map { last[$0] })
        var offsetOf = [Int](repeating: 0, count: count)
        for (index, id) in own.enumerated() { offsetOf[id] = packed.offsets[index] }
        offsets = (0..<count).map { offsetOf[placed($0)] }
        floatsPerImage = packed.total
    }
}
