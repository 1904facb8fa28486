import EffNetSpec

/// The training step of a plan as a list of kernel calls over named buffers, before any memory
/// is assigned: the train-mode forward (saving what the backward needs), the loss, and the
/// backward as the forward's layers in reverse.
///
/// Building the step as data first lets the memory planner see every buffer's lifetime (first
/// and last call that touches it) and pack saved activations and gradients into one arena, the
/// same way the inference plan is packed; rendering to Swift is a separate, mechanical pass.
struct TrainingProgram {
    /// A kernel argument.
    enum Arg {
        /// A batch-scaled buffer of the training arena (floats per image known).
        case tensor(Int)
        /// Batch-independent scratch at a fixed offset (BN batch statistics, re-laid weights).
        case fixed(Int)
        /// A parameter (or running statistic) in the parameter buffer, by name.
        case parameter(String)
        /// The gradient of a parameter, by name.
        case gradient(String)
        /// A batch-scaled buffer, or nil when `condition` is false at run time.
        case optionalTensor(Int, condition: String)
        /// Swift source as is (literals, `s.n`, `pool`, the input pointer...).
        case code(String)
        /// A squeeze-excitation's scaling x·s for the projection that takes it (`SqueezeExciteScaling`): its
        /// input and saved scale buffers.
        case squeezeExcite(input: Int, scale: Int, imagePixels: Int)
    }

    struct Call {
        /// The torchvision module (or block) the call works for: its name in the profile.
        var module: String
        var comment: String
        var function: String
        var arguments: [(label: String, value: Arg)]
        /// A guard around the call, e.g. `options.stochasticDepth`.
        var condition: String?
        var isTry = false
        /// Multiply-accumulates per image, where the call is a convolution or matrix product
        /// (for GFLOP/s in `effnet bench --train --profile`); nil for BatchNorm, copies, pooling.
        var macsPerImage: Int? = nil
        /// Recomputes a forward activation in the backward pass: runs only with
        /// `options.recomputeActivations`, and only the recomputing memory plan counts it.
        var recomputes = false
    }

    /// A generated function: the forward or backward part of one block.
    struct Function {
        var name: String
        var block: String
        var summary: String
        var calls: [Call]
    }

    struct Buffer {
        var name: String
        var floatsPerImage: Int
        /// A recomputed activation: in the standard memory plan (no recomputation) it is the forward
        /// buffer it recomputes, kept alive until the backward pass reads it; in the recomputing plan
        /// a buffer of its own, alive only from its recomputation to its last reader.
        var standardAlias: Int? = nil
    }

    var buffers: [Buffer] = []
    var forward: [Function] = []
    var backward: [Function] = []
    var fixedFloats = 0
    /// Largest squeeze-excitation (channels, squeeze channels), for the workspace size.
    var largestSqueezeExcite: (channels: Int, squeeze: Int)?
    /// The distinct (inChannels, outChannels) of the 1x1 convolutions whose weight gradients are computed,
    /// in order of first use, for the workspace size (`TrainingKernels.pointwiseConvBackwardWorkspaceFloats`).
    var pointwiseWeightGradients: [(inChannels: Int, outChannels: Int)] = []
    /// Further workspace sizes, as Swift expressions at batch `n` (one per distinct shape).
    var workspaceTerms: [String] = []
    /// The widest layer whose conv call takes its BatchNorm's batch statistics, for the workspace size
    /// (`TrainingKernels.batchStatisticsWorkspaceFloats`); 0 when there is none.
    var largestBatchStatisticsChannels = 0

    mutating func buffer(_ name: String, _ floatsPerImage: Int, standardAlias: Int? = nil) -> Int {
        buffers.append(Buffer(name: name, floatsPerImage: floatsPerImage, standardAlias: standardAlias))
        return buffers.count - 1
    }

    mutating func fixedScratch(_ floats: Int) -> Int {
        let offset = fixedFloats
        fixedFloats += (floats + 15) / 16 * 16
        return offset
    }

    /// Every call in execution order (forward functions, then backward functions).
    var callsInOrder: [Call] { (forward + backward).flatMap(\.calls) }
}

extension TrainingProgram.Call {
    /// Whether the call writes `tensor` as its `output`.
    func writes(tensor: Int) -> Bool {
        arguments.contains { argument in
            if argument.label == "output", case .tensor(let written) = argument.value { return written == tensor }
            return false
        }
    }

    /// The group `effnet bench --train --profile` sums this call's time into, by kernel.
    var profileKind: String {
        if recomputes { return "recomputation" }
        switch function {
        case "Kernels.stemConv": return "stem forward"
        case "WeightPrep.inputMajorWeights", "Kernels.pointwiseConv": return "conv 1x1 forward"
        case "TrainingKernels.pointwiseConvBatchStatistics": return "conv 1x1 forward (+ BN statistics)"
        case "WeightPrep.depthwiseWeights", "Kernels.depthwiseConv": return "depthwise forward"
        case "TrainingKernels.batchNormApplyDepthwiseConv": return "depthwise forward (+ BN apply)"
        case "TrainingKernels.batchNormForwardTraining", "TrainingKernels.batchNormApply",
             "TrainingKernels.batchNormStatistics", "TrainingSupport.batchNormForwardEval": return "BN+act forward"
        case "TrainingKernels.batchNormApplySqueezeExciteMeans": return "BN+act forward (+ SE means)"
        case "TrainingKernels.squeezeExciteForwardTraining": return "squeeze-excitation forward"
        case "TrainingKernels.stochasticDepthMask", "TrainingKernels.residualAdd": return "shortcut forward"
        case "Kernels.globalAveragePool", "TrainingKernels.dropoutForward", "Kernels.linear",
             "CrossEntropy.forwardBackward", "s.logits.update": return "pool+classifier+loss"
        case "TrainingKernels.batchNormActivationBackward", "TrainingKernels.batchNormBackwardSums": return "BN+act backward"
        case "TrainingKernels.batchNormPointwiseConvBackward": return "conv 1x1 backward (+ BN dZ)"
        case "TrainingKernels.stemConvBackwardWeights": return "stem backward"
        case "TrainingKernels.zero", "TrainingKernels.depthwiseConvBackward", "TrainingSupport.accumulateDepthwiseGradient":
            return "depthwise backward"
        case "TrainingKernels.batchNormDepthwiseConvBackward": return "depthwise backward (+ BN dZ)"
        case "TrainingKernels.squeezeExciteBackward": return "squeeze-excitation backward"
        case "TrainingKernels.squeezeExciteBatchNormBackward": return "squeeze-excitation + BN+act backward"
        case "TrainingKernels.residualAddBackward", "TrainingKernels.accumulate": return "shortcut backward"
        case "TrainingKernels.linearBackward", "TrainingKernels.dropoutBackward", "TrainingKernels.globalAveragePoolBackward":
            return "pool+classifier backward"
        default: return function  // a new kernel shows under its own name until it is grouped here
        }
    }
}

/// Builds the training program of a plan.
struct TrainingProgramBuilder {
    let plan: ModelPlan
    var program = TrainingProgram()
    /// The buffer holding each plan tensor's value in training (block outputs, activations).
    var valueOf: [Int: Int] = [:]
    /// The buffer holding the gradient with respect to each plan tensor.
    var gradientOf: [Int: Int] = [:]
    let zeroBias: Int
    /// Every 1x1 convolution's weights, input-major, just before its forward GEMM (one buffer, sized for
    /// the largest: each copy is used by the call right after it and never again; the backward reads
    /// PyTorch's layout, which is already input-major for the input gradient).
    let pointwiseWeights: Int
    /// ΣdY/M and ΣdY·xhat/M per channel of the BatchNorm after a 1x1 convolution, from its backward's first
    /// pass to the conv backward that runs the second (one buffer, sized for the widest).
    let batchNormReductions: Int

    init(plan: ModelPlan) {
        self.plan = plan
        let widest = plan.layers.map(\.outputShape.channels).max() ?? 1
        zeroBias = program.fixedScratch(widest)
        let largestPointwise = plan.layers.filter { $0.operation == .pointwiseConvolution }
            .map { $0.inputShape.channels * $0.outputShape.channels }.max() ?? 0
        pointwiseWeights = program.fixedScratch(largestPointwise)
        batchNormReductions = program.fixedScratch(2 * widest)
    }

    static func build(_ plan: ModelPlan) -> TrainingProgram {
        var builder = TrainingProgramBuilder(plan: plan)
        builder.buildForward()
        builder.buildBackward()
        return builder.program
    }

    func name(_ layer: PlannedLayer) -> String { layer.name }
    func act(_ kind: ActivationKind?) -> String { kind.map { ".\($0.rawValue)" } ?? ".identity" }
    func shape(_ s: FeatureShape) -> String { "[n, \(s.height), \(s.width), \(s.channels)]" }
    func bn(_ layer: PlannedLayer) -> String { String(layer.parameters[1].dropLast(".weight".count)) }

    /// Per-layer training state kept between forward and backward.
    struct ConvState {
        var preActivation: Int  // z: conv output before BatchNorm (saved)
        var input: Int          // the buffer the conv read
        var statistics: Int     // fixed offset of saved mean, then invStd
        var depthwiseWeights: Int?  // fixed offset of [k][k][C] weights, and of their gradient after them
    }

    var convStates: [String: ConvState] = [:]

    /// How the backward pass can rebuild a forward activation instead of keeping it.
    enum Recipe {
        /// act(BN(z)) of `layer` (block `block`), from its saved conv output and statistics.
        case batchNorm(layer: PlannedLayer, preActivation: Int, statistics: Int, block: Int)
        /// input · scale of a squeeze-excitation, from its recomputable input and saved scale; `neededWhen`:
        /// the run-time condition under which its reader still reads it (nil: always).
        case squeezeExcite(layer: PlannedLayer, input: Int, scale: Int, neededWhen: String?)
    }

    /// Recipes by forward buffer: the BN+activation outputs and the squeeze-excitation outputs.
    var recipes: [Int: Recipe] = [:]
    /// The recomputed copy of each forward buffer the backward pass has asked for so far.
    var recomputedCopy: [Int: Int] = [:]
    var seStates: [String: (input: Int, pooled: Int, hidden: Int, scale: Int)] = [:]
    /// Projections that may take the squeeze-excitation before them as x·s (`SqueezeExciteScaling`), by name:
    /// the SE's input and saved scale buffers.
    var scaledProjections: [String: (input: Int, scale: Int)] = [:]
    var blockShortcut: [String: (shortcut: Int, keep: Int?, branch: Int)] = [:]
    /// Buffers of the classifier block: pooled features, dropout mask and output, logits.
    var classifier: (pooled: Int, mask: Int, dropped: Int, logits: Int)?

    // MARK: forward

    /// Index of the block being built: blocks before `s.options.frozenBlocks` run frozen.
    var blockIndex = 0
    var frozen: String { "s.options.frozenBlocks > \(blockIndex)" }
    var trained: String { "s.options.frozenBlocks <= \(blockIndex)" }

    mutating func buildForward() {
        for (index, block) in plan.blocks.enumerated() {
            blockIndex = index
            var calls: [TrainingProgram.Call] = []
            for layer in block.layers { forward(layer, block: block, into: &calls) }
            program.forward.append(.init(name: functionName(block) + "_forward", block: block.name, summary: block.summary, calls: calls))
        }
    }

    func functionName(_ block: PlannedBlock) -> String { block.name.replacingOccurrences(of: ".", with: "_") }

    /// The kernel arguments that place a convolution's window: size, stride, top/left padding
    /// (bottom/right follow from the output size), output size.
    func convolutionGeometry(_ l: PlannedLayer) -> [(String, TrainingProgram.Arg)] {
        [("kernel", .code("\(l.kernel)")), ("stride", .code("\(l.stride)")),
         ("padTop", .code("\(l.padding.top)")), ("padLeft", .code("\(l.padding.left)")),
         ("outHeight", .code("\(l.outputShape.height)")), ("outWidth", .code("\(l.outputShape.width)"))]
    }

    mutating func convolutionForward(_ l: PlannedLayer, input: Int, into calls: inout [TrainingProgram.Call]) -> Int {
        let z = program.buffer("\(l.name) conv output", l.outputShape.elements)
        let statistics = program.fixedScratch(2 * l.outputShape.channels)
        /// Whether the trained conv call also takes its BatchNorm's batch statistics (then only the apply follows).
        var statisticsTaken = false
        var state = ConvState(preActivation: z, input: input, statistics: statistics, depthwiseWeights: nil)
        let weight = l.parameters[0]
        let geometry = convolutionGeometry(l)
        switch l.operation {
        case .stemConvolution:
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) stem conv \(l.kernel)x\(l.kernel)/\(l.stride), [n, \(l.inputShape.channels), "
                    + "\(l.inputShape.height), \(l.inputShape.width)] (NCHW) -> \(shape(l.outputShape))",
                function: "Kernels.stemConv",
                arguments: [("input", .code("s.x")), ("batch", .code("s.n")), ("inChannels", .code("\(l.inputShape.channels)")),
                            ("height", .code("\(l.inputShape.height)")), ("width", .code("\(l.inputShape.width)"))]
                    + geometry
                    + [("weights", .parameter(weight)), ("bias", .fixed(zeroBias)),
                       ("outChannels", .code("\(l.outputShape.channels)")), ("activation", .code(".identity")),
                       ("output", .tensor(z)), ("workspace", .code("s.ws")), ("pool", .code("pool"))],
                macsPerImage: l.macs))
            // The statistics alone, so that the apply is a call of its own, which the depthwise layer after
            // the stem (EfficientNet's first block) takes into its call as it does an expansion's.
            calls.append(batchNormStatisticsCall(l, preActivation: z, statistics: statistics,
                                                 comment: "\(l.name) BatchNorm's batch statistics on \(shape(l.outputShape))",
                                                 condition: trained))
            statisticsTaken = true
        case .pointwiseConvolution:
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) \(l.role) conv 1x1 weights to the GEMM layout [\(l.inputShape.channels)][\(l.outputShape.channels)]",
                function: "WeightPrep.inputMajorWeights",
                arguments: [("", .parameter(weight)), ("outChannels", .code("\(l.outputShape.channels)")),
                            ("inChannels", .code("\(l.inputShape.channels)")), ("into", .fixed(pointwiseWeights))]))
            let gemm: [(label: String, value: TrainingProgram.Arg)] = [
                ("input", .tensor(input)), ("pixels", .code("\(l.inputShape.pixels) &* s.n")),
                ("inChannels", .code("\(l.inputShape.channels)")), ("inputMajorWeights", .fixed(pointwiseWeights)),
                ("bias", .fixed(zeroBias)), ("outChannels", .code("\(l.outputShape.channels)"))]
            // Trained, the GEMM and its BatchNorm's batch statistics run band by band in one call (the
            // statistics read z while it is still in cache); frozen, the BatchNorm needs no statistics.
            // After a squeeze-excitation the bands may scale x by s themselves (`scaledProjections`).
            var squeezeExcite: [(label: String, value: TrainingProgram.Arg)] = []
            if let se = scaledProjections[l.name] {
                squeezeExcite = [("squeezeExcite", .squeezeExcite(input: se.input, scale: se.scale,
                                                                   imagePixels: l.inputShape.pixels))]
                addSqueezeExciteProjectionWorkspace(l)
            }
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) \(l.role) conv 1x1 and its BatchNorm's batch statistics, \(shape(l.inputShape)) -> "
                    + "\(shape(l.outputShape))" + (squeezeExcite.isEmpty ? "" : ", scaling its input by the SE's s where it "
                        + "runs banded"),
                function: "TrainingKernels.pointwiseConvBatchStatistics",
                arguments: gemm + [("output", .tensor(z))] + batchStatisticsArguments(l, statistics: statistics)
                    + squeezeExcite + [("workspace", .code("s.ws")), ("pool", .code("pool"))],
                condition: trained,
                macsPerImage: l.macs))
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) frozen: \(l.role) conv 1x1, \(shape(l.inputShape)) -> \(shape(l.outputShape))",
                function: "Kernels.pointwiseConv",
                arguments: gemm + [("activation", .code(".identity")), ("residual", .code("nil")), ("output", .tensor(z)),
                                   ("pool", .code("pool"))],
                condition: frozen,
                macsPerImage: l.macs))
            program.largestBatchStatisticsChannels = max(program.largestBatchStatisticsChannels, l.outputShape.channels)
            statisticsTaken = true
        case .depthwiseConvolution:
            let c = l.outputShape.channels, taps = l.kernel * l.kernel
            let relaid = program.fixedScratch(2 * taps * c)
            state.depthwiseWeights = relaid
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) depthwise weights to the kernel layout [\(l.kernel)][\(l.kernel)][\(c)]",
                function: "WeightPrep.depthwiseWeights",
                arguments: [("", .parameter(weight)), ("channels", .code("\(c)")), ("kernel", .code("\(l.kernel)")),
                            ("into", .fixed(relaid))]))
            let window: [(label: String, value: TrainingProgram.Arg)] = [
                ("batch", .code("s.n")), ("height", .code("\(l.inputShape.height)")),
                ("width", .code("\(l.inputShape.width)")), ("channels", .code("\(c)"))]
                + geometry + [("weights", .fixed(relaid)), ("bias", .fixed(zeroBias))]
            let conv = "depthwise \(l.kernel)x\(l.kernel)/\(l.stride), \(shape(l.inputShape)) -> \(shape(l.outputShape))"
            // Trained, the BatchNorm apply of the layer before (an expansion, or the stem; the call that writes
            // this input) moves into this call, which applies it row by row just ahead of the depthwise rows
            // that read it, and takes this layer's own batch statistics as its rows are written.
            // The stem's apply is in the block before (the stem's own), trained when that block is.
            let writesInput = { (call: TrainingProgram.Call) in
                call.function == "TrainingKernels.batchNormApply" && call.writes(tensor: input)
            }
            var applyWritingInput: TrainingProgram.Call?
            if case .batchNorm? = recipes[input] {
                if let at = calls.lastIndex(where: { writesInput($0) && $0.condition == trained }) {
                    applyWritingInput = calls.remove(at: at)
                } else if let before = program.forward.indices.last,
                          let at = program.forward[before].calls.lastIndex(where: {
                              writesInput($0) && $0.condition == "s.options.frozenBlocks <= \(blockIndex - 1)"
                          }) {
                    applyWritingInput = program.forward[before].calls.remove(at: at)
                }
            }
            // Fused where the apply runs (its layer trained); the plain depthwise call otherwise. An apply from
            // the block before runs only while this block is trained too (frozen blocks come first), but this
            // block may be trained while that one is frozen: then the plain call runs and this layer's
            // statistics are taken on their own.
            let fused = applyWritingInput?.condition
            if let fused, case .batchNorm(let expansion, let expanded, let statistics, _)? = recipes[input] {
                calls.append(.init(
                    module: l.name,
                    comment: "\(expansion.name) BatchNorm + \(expansion.activation?.rawValue ?? "identity") (statistics taken "
                        + "before) and \(l.name) \(conv), row by row, with the depthwise BatchNorm's batch statistics",
                    function: "TrainingKernels.batchNormApplyDepthwiseConv",
                    arguments: [("input", .tensor(expanded))]
                        + batchNormApplyArguments(expansion, preActivation: expanded, statistics: statistics, output: input)
                            .filter { ["gamma", "beta", "savedMean", "savedInvStd", "activation", "output"].contains($0.label) }
                        + window + [("depthwiseOutput", .tensor(z))]
                        // This layer's statistics: saved... and running... become depthwiseSaved..., depthwiseRunning...
                        + batchStatisticsArguments(l, statistics: state.statistics).map { argument in
                            let own = argument.label.hasPrefix("saved") || argument.label.hasPrefix("running")
                            return (own ? "depthwise" + argument.label.prefix(1).uppercased() + argument.label.dropFirst()
                                        : argument.label, argument.value)
                        }
                        + [("workspace", .code("s.ws")), ("pool", .code("pool"))],
                    condition: fused,
                    macsPerImage: l.macs))
                statisticsTaken = true
                program.largestBatchStatisticsChannels = max(program.largestBatchStatisticsChannels, c)
            }
            let unfused = fused.map { $0 == trained ? frozen : "!(\($0))" }
            // Alternatives that run only while some block is frozen say "frozen:" first.
            let frozenBefore = recipes[input].flatMap { recipe -> String? in
                guard case .batchNorm(let layer, _, _, _) = recipe else { return nil }
                return "frozen: \(layer.name) (this layer trained): "
            } ?? "frozen: "
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) " + (fused == nil ? "" : fused == trained ? "frozen: " : frozenBefore) + conv,
                function: "Kernels.depthwiseConv",
                arguments: [("input", .tensor(input))] + window
                    + [("activation", .code(".identity")), ("output", .tensor(z)), ("pool", .code("pool"))],
                condition: unfused,
                macsPerImage: l.macs))
            if let fused, fused != trained {
                calls.append(batchNormStatisticsCall(
                    l, preActivation: z, statistics: state.statistics,
                    comment: "\(l.name) \(frozenBefore)BatchNorm's batch statistics on \(shape(l.outputShape))",
                    condition: "\(trained) && !(\(fused))"))
            }
        default:
            preconditionFailure("not a convolution: \(l.name)")
        }
        convStates[l.name] = state
        let out = program.buffer("\(l.name) output", l.outputShape.elements)
        if l.activation != nil {
            // Outputs without an activation (the projections) are block outputs or shortcut
            // branches; they stay saved. Those with one are the large expanded tensors.
            recipes[out] = .batchNorm(layer: l, preActivation: z, statistics: statistics, block: blockIndex)
        }
        let bnName = bn(l)
        let c = l.outputShape.channels
        let activation = l.activation?.rawValue ?? "identity"
        if statisticsTaken {
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) BatchNorm (the batch statistics taken \(l.operation == .stemConvolution ? "just before" : "with the conv")) "
                    + "+ \(activation) on \(shape(l.outputShape))",
                function: "TrainingKernels.batchNormApply",
                arguments: batchNormApplyArguments(l, preActivation: z, statistics: statistics, output: out),
                condition: trained))
        } else {
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) BatchNorm (batch statistics) + \(activation) on \(shape(l.outputShape))",
                function: "TrainingKernels.batchNormForwardTraining",
                arguments: batchNormInputArguments(l, preActivation: z)
                    + [("eps", .code("\(plan.batchNorm.eps)")),
                       ("momentum", .code("s.options.batchNormMomentum ?? \(plan.batchNorm.momentum)")),
                       ("activation", .code(act(l.activation))), ("output", .tensor(out)),
                       ("savedMean", .fixed(statistics)), ("savedInvStd", .fixed(statistics + c)),
                       ("runningMean", .parameter("\(bnName).running_mean")),
                       ("runningVar", .parameter("\(bnName).running_var")), ("pool", .code("pool"))],
                condition: trained))
        }
        calls.append(.init(
            module: l.name,
            comment: "\(l.name) frozen: BatchNorm in eval mode (running statistics) + \(l.activation?.rawValue ?? "identity") "
                + "on \(shape(l.outputShape))",
            function: "TrainingSupport.batchNormForwardEval",
            arguments: batchNormEvalArguments(l, preActivation: z, statistics: statistics, output: out),
            condition: frozen))
        return out
    }

    /// The workspace of a projection that may scale its squeeze-excitation's x by s
    /// (`TrainingKernels.squeezeExciteProjectionWorkspaceFloats`), once per shape.
    mutating func addSqueezeExciteProjectionWorkspace(_ l: PlannedLayer) {
        let term = "TrainingKernels.squeezeExciteProjectionWorkspaceFloats(inChannels: \(l.inputShape.channels), "
            + "outChannels: \(l.outputShape.channels), threads: pool.threadCount)"
        if !program.workspaceTerms.contains(term) { program.workspaceTerms.append(term) }
    }

    /// What every train-mode BatchNorm call of a layer starts with: its conv output, shape, gamma and beta.
    func batchNormInputArguments(_ l: PlannedLayer, preActivation z: Int) -> [(label: String, value: TrainingProgram.Arg)] {
        let bnName = bn(l)
        return [("input", .tensor(z)), ("pixels", .code("\(l.outputShape.pixels) &* s.n")),
                ("channels", .code("\(l.outputShape.channels)")),
                ("gamma", .parameter("\(bnName).weight")), ("beta", .parameter("\(bnName).bias"))]
    }

    /// The arguments of `batchNormApply` with a layer's saved statistics: the forward after a 1x1 conv
    /// that took them, and the recomputation of any train-mode BatchNorm's output.
    func batchNormApplyArguments(_ l: PlannedLayer, preActivation z: Int, statistics: Int, output: Int)
        -> [(label: String, value: TrainingProgram.Arg)] {
        batchNormInputArguments(l, preActivation: z)
            + [("savedMean", .fixed(statistics)), ("savedInvStd", .fixed(statistics + l.outputShape.channels)),
               ("activation", .code(act(l.activation))), ("output", .tensor(output)), ("pool", .code("pool"))]
    }

    /// A train-mode BatchNorm's batch statistics in a call of their own (`TrainingKernels.batchNormStatistics`).
    func batchNormStatisticsCall(_ l: PlannedLayer, preActivation z: Int, statistics: Int, comment: String,
                                 condition: String) -> TrainingProgram.Call {
        .init(module: l.name, comment: comment, function: "TrainingKernels.batchNormStatistics",
              arguments: [("input", .tensor(z)), ("pixels", .code("\(l.outputShape.pixels) &* s.n")),
                          ("channels", .code("\(l.outputShape.channels)"))]
                  + batchStatisticsArguments(l, statistics: statistics) + [("pool", .code("pool"))],
              condition: condition)
    }

    /// Where a train-mode BatchNorm's batch statistics go: eps and momentum, the saved mean and invStd (the
    /// layer's statistics scratch), the running statistics.
    func batchStatisticsArguments(_ l: PlannedLayer, statistics: Int) -> [(label: String, value: TrainingProgram.Arg)] {
        let bnName = bn(l)
        return [("eps", .code("\(plan.batchNorm.eps)")),
                ("momentum", .code("s.options.batchNormMomentum ?? \(plan.batchNorm.momentum)")),
                ("savedMean", .fixed(statistics)), ("savedInvStd", .fixed(statistics + l.outputShape.channels)),
                ("runningMean", .parameter("\(bnName).running_mean")),
                ("runningVar", .parameter("\(bnName).running_var"))]
    }

    /// The arguments of a frozen layer's eval-mode BatchNorm + activation (running statistics; the
    /// scale and shift go to the layer's statistics scratch): the forward call and its recomputation.
    func batchNormEvalArguments(_ l: PlannedLayer, preActivation z: Int, statistics: Int, output: Int)
        -> [(label: String, value: TrainingProgram.Arg)] {
        let bnName = bn(l)
        return [("input", .tensor(z)), ("pixels", .code("\(l.outputShape.pixels) &* s.n")),
                ("channels", .code("\(l.outputShape.channels)")),
                ("gamma", .parameter("\(bnName).weight")), ("beta", .parameter("\(bnName).bias")),
                ("runningMean", .parameter("\(bnName).running_mean")),
                ("runningVar", .parameter("\(bnName).running_var")), ("eps", .code("\(plan.batchNorm.eps)")),
                ("activation", .code(act(l.activation))), ("output", .tensor(output)),
                ("scratch", .fixed(statistics)), ("pool", .code("pool"))]
    }

    mutating func forward(_ l: PlannedLayer, block: PlannedBlock, into calls: inout [TrainingProgram.Call]) {
        switch l.operation {
        case .stemConvolution:
            valueOf[l.output] = convolutionForward(l, input: -1, into: &calls)
        case .depthwiseConvolution:
            valueOf[l.output] = convolutionForward(l, input: valueOf[l.input]!, into: &calls)
        case .pointwiseConvolution:
            let out = convolutionForward(l, input: valueOf[l.input]!, into: &calls)
            guard let residual = l.residual else {
                valueOf[l.output] = out
                return
            }
            let sum = program.buffer("\(block.name) output", l.outputShape.elements)
            let probability = block.stochasticDepth ?? 0
            var keep: Int?
            if probability > 0 {
                let k = program.buffer("\(block.name) drop-path keep", 1)
                keep = k
                calls.append(.init(
                    module: block.name,
                    comment: "\(block.name) stochastic depth: keep each image's branch with probability \(1 - probability)",
                    function: "TrainingKernels.stochasticDepthMask",
                    arguments: [("batch", .code("s.n")), ("probability", .code("\(probability)")), ("into", .tensor(k)),
                                ("random", .code("&random"))],
                    condition: "s.options.stochasticDepth && \(trained)"))
            }
            calls.append(.init(
                module: block.name,
                comment: "\(block.name) identity shortcut" + (keep != nil ? " with stochastic depth" : ""),
                function: "TrainingKernels.residualAdd",
                arguments: [("shortcut", .tensor(valueOf[residual]!)), ("branch", .tensor(out)),
                            ("keep", keep.map { .optionalTensor($0, condition: "s.options.stochasticDepth && \(trained)") } ?? .code("nil")), ("batch", .code("s.n")),
                            ("perImage", .code("\(l.outputShape.elements)")), ("output", .tensor(sum)),
                            ("pool", .code("pool"))]))
            blockShortcut[block.name] = (valueOf[residual]!, keep, out)
            valueOf[l.output] = sum
        case .squeezeExcitation:
            let c = l.inputShape.channels, s = l.squeezeChannels ?? 1
            let input = valueOf[l.input]!
            let out = program.buffer("\(l.name) output", l.inputShape.elements)
            let pooled = program.buffer("\(l.name) pooled", c)
            let hidden = program.buffer("\(l.name) hidden", s)
            let scale = program.buffer("\(l.name) scale", c)
            seStates[l.name] = (input, pooled, hidden, scale)
            // The projection after the SE scales x by s band by band where it runs banded forward and
            // backward (`TrainingKernels.projectionScalesSqueezeExcite`, asked at run time); then, trained,
            // the SE writes no output.
            var writesOutput: [(label: String, value: TrainingProgram.Arg)] = []
            var neededWhen: String?
            if let at = block.layers.firstIndex(where: { $0.name == l.name }), at + 1 < block.layers.count,
               case let projection = block.layers[at + 1], projection.operation == .pointwiseConvolution,
               projection.input == l.output {
                let scales = "TrainingKernels.projectionScalesSqueezeExcite(pixels: \(projection.inputShape.pixels) &* s.n, "
                    + "inChannels: \(c), outChannels: \(projection.outputShape.channels), threads: pool.threadCount)"
                scaledProjections[projection.name] = (input, scale)
                writesOutput = [("writesOutput", .code("\(frozen) || !\(scales)"))]
                neededWhen = "!\(scales)"
            }
            recipes[out] = .squeezeExcite(layer: l, input: input, scale: scale, neededWhen: neededWhen)
            if (program.largestSqueezeExcite?.channels ?? 0) < c || (program.largestSqueezeExcite?.squeeze ?? 0) < s {
                program.largestSqueezeExcite = (max(c, program.largestSqueezeExcite?.channels ?? 0),
                                                max(s, program.largestSqueezeExcite?.squeeze ?? 0))
            }
            // Trained, the BatchNorm apply that writes the SE's input also takes its means, image by image
            // (`batchNormApplySqueezeExciteMeans`); frozen, the eval-mode BatchNorm writes it and the SE takes
            // them itself.
            var meansTaken: [(label: String, value: TrainingProgram.Arg)] = []
            if let at = calls.lastIndex(where: {
                $0.function == "TrainingKernels.batchNormApply" && $0.writes(tensor: input)
            }) {
                calls[at].function = "TrainingKernels.batchNormApplySqueezeExciteMeans"
                calls[at].comment += ", and \(l.name)'s channel means as its rows are written"
                let poolArgument = calls[at].arguments.removeLast()
                calls[at].arguments += [("batch", .code("s.n")), ("means", .tensor(pooled)), poolArgument]
                meansTaken = [("meansTaken", .code(calls[at].condition ?? "true"))]
            }
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) squeeze-excitation \(c) -> \(s) -> \(c) on \(shape(l.inputShape))"
                    + (meansTaken.isEmpty ? "" : " (means taken with the BatchNorm apply when trained)"),
                function: "TrainingKernels.squeezeExciteForwardTraining",
                arguments: [("input", .tensor(input)), ("output", .tensor(out)), ("batch", .code("s.n")),
                            ("pixels", .code("\(l.inputShape.pixels)")), ("channels", .code("\(c)")),
                            ("squeezeChannels", .code("\(s)")),
                            ("reduceWeights", .parameter(l.parameters[0])), ("reduceBias", .parameter(l.parameters[1])),
                            ("activation", .code(act(l.activation))),
                            ("expandWeights", .parameter(l.parameters[2])), ("expandBias", .parameter(l.parameters[3])),
                            ("savedPooled", .tensor(pooled)), ("savedHidden", .tensor(hidden)),
                            ("savedScale", .tensor(scale))] + meansTaken + writesOutput + [("pool", .code("pool"))],
                macsPerImage: l.macs))
            valueOf[l.output] = out
        case .globalAveragePool:
            let pooled = program.buffer("avgpool output", l.outputShape.channels)
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) global average pool, \(shape(l.inputShape)) -> [n, \(l.outputShape.channels)]",
                function: "Kernels.globalAveragePool",
                arguments: [("input", .tensor(valueOf[l.input]!)), ("batch", .code("s.n")),
                            ("pixels", .code("\(l.inputShape.pixels)")), ("channels", .code("\(l.inputShape.channels)")),
                            ("output", .tensor(pooled)), ("pool", .code("pool"))]))
            valueOf[l.output] = pooled
            classifier = (pooled, -1, -1, -1)
        case .linear:
            let features = l.inputShape.channels, classes = l.outputShape.channels
            let mask = program.buffer("dropout mask", features)
            let dropped = program.buffer("dropout output", features)
            let logits = program.buffer("logits", classes)
            calls.append(.init(
                module: "classifier.0",
                comment: "dropout p=\(plan.dropout) (when options.dropout) on [n, \(features)]",
                function: "TrainingKernels.dropoutForward",
                arguments: [("input", .tensor(valueOf[l.input]!)), ("output", .tensor(dropped)),
                            ("count", .code("\(features) &* s.n")),
                            ("probability", .code("s.options.dropout ? \(plan.dropout) : 0")),
                            ("mask", .tensor(mask)), ("random", .code("&random"))]))
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) linear, [n, \(features)] -> [n, \(classes)]",
                function: "Kernels.linear",
                arguments: [("input", .tensor(dropped)), ("batch", .code("s.n")), ("inFeatures", .code("\(features)")),
                            ("weights", .parameter(l.parameters[0])), ("bias", .parameter(l.parameters[1])),
                            ("outFeatures", .code("\(classes)")), ("output", .tensor(logits)), ("pool", .code("pool"))],
                macsPerImage: l.macs))
            let gradLogits = program.buffer("logits gradient", classes)
            calls.append(.init(
                module: "loss",
                comment: "mean cross-entropy (label smoothing options.labelSmoothing) and its gradient",
                function: "CrossEntropy.forwardBackward",
                arguments: [("logits", .tensor(logits)), ("labels", .code("s.labels")), ("classes", .code("\(classes)")),
                            ("labelSmoothing", .code("s.options.labelSmoothing")), ("gradLogits", .tensor(gradLogits))],
                condition: nil, isTry: true))
            calls.append(.init(
                module: "logits",
                comment: "hand the logits to the caller",
                function: "s.logits.update",
                arguments: [("from", .tensor(logits)), ("count", .code("\(classes) &* s.n"))]))
            valueOf[l.output] = logits
            gradientOf[l.output] = gradLogits
            classifier = (classifier!.pooled, mask, dropped, logits)
        }
    }

    // MARK: backward

    mutating func buildBackward() {
        for (index, block) in plan.blocks.enumerated().reversed() {
            blockIndex = index
            var calls: [TrainingProgram.Call] = []
            for layer in block.layers.reversed() { backward(layer, block: block, into: &calls) }
            program.backward.append(.init(name: functionName(block) + "_backward", block: block.name, summary: block.summary, calls: calls))
        }
    }

    /// The gradient buffer of a plan tensor, created on first use.
    mutating func gradient(_ tensor: Int, _ name: String) -> Int {
        if let g = gradientOf[tensor] { return g }
        let g = program.buffer("gradient of \(name)", program.buffers[valueOf[tensor]!].floatsPerImage)
        gradientOf[tensor] = g
        return g
    }

    /// Backward of conv + BN + activation given the gradient of the layer's output (in `gradOut`,
    /// overwritten in place by the BN backward), writing the gradient of its input to `gradIn`.
    mutating func convolutionBackward(_ l: PlannedLayer, gradOut: Int, gradIn: Int?, into calls: inout [TrainingProgram.Call]) {
        let state = convStates[l.name]!
        let bnName = bn(l)
        let c = l.outputShape.channels
        let activation = l.activation?.rawValue ?? "identity"
        let batchNorm: [(label: String, value: TrainingProgram.Arg)] = [
            ("gamma", .parameter("\(bnName).weight")), ("beta", .parameter("\(bnName).bias")),
            ("savedMean", .fixed(state.statistics)), ("savedInvStd", .fixed(state.statistics + c)),
            ("activation", .code(act(l.activation)))]
        let gradients: [(label: String, value: TrainingProgram.Arg)] = [
            ("gradGamma", .gradient("\(bnName).weight")), ("gradBeta", .gradient("\(bnName).bias"))]
        let map: [(label: String, value: TrainingProgram.Arg)] = [
            ("input", .tensor(state.preActivation)), ("pixels", .code("\(l.outputShape.pixels) &* s.n")),
            ("channels", .code("\(c)"))]
        let afterSqueezeExcite = pendingSqueezeExcite.map { $0.producer == l.name } ?? false
        if l.operation != .stemConvolution && !afterSqueezeExcite {
            // The second pass (dZ) runs inside the conv backward, band by band where it can.
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) backward through \(activation) and BatchNorm, first pass (sums; dY in place) on "
                    + "\(shape(l.outputShape))",
                function: "TrainingKernels.batchNormBackwardSums",
                arguments: [("gradOutput", .tensor(gradOut))] + map + batchNorm + gradients
                    + [("reductions", .fixed(batchNormReductions)), ("pool", .code("pool"))]))
        } else if afterSqueezeExcite, let se = pendingSqueezeExcite {
            let seLayer = se.layer, channels = seLayer.inputShape.channels
            calls.append(.init(
                module: seLayer.name,
                comment: "\(seLayer.name) squeeze-excitation \(channels) -> \(seLayer.squeezeChannels ?? 1) -> \(channels) "
                    + "backward and \(l.name)'s backward through \(activation) and BatchNorm, first pass (sums; dY in "
                    + "place), which takes the SE's input gradient as it reads it, on \(shape(l.outputShape))",
                function: "TrainingKernels.squeezeExciteBatchNormBackward",
                arguments: se.arguments + [("preActivation", .tensor(state.preActivation))] + batchNorm + gradients
                    + [("reductions", .fixed(batchNormReductions)), ("workspace", .code("s.ws")), ("pool", .code("pool"))],
                macsPerImage: 2 * seLayer.macs))
            pendingSqueezeExcite = nil
        } else {
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) backward through \(activation) and BatchNorm (in place) on \(shape(l.outputShape))",
                function: "TrainingKernels.batchNormActivationBackward",
                arguments: [("gradOutput", .tensor(gradOut))] + map + batchNorm + [("gradInput", .tensor(gradOut))]
                    + gradients + [("pool", .code("pool"))]))
        }
        let weight = l.parameters[0]
        let geometry = convolutionGeometry(l)
        switch l.operation {
        case .stemConvolution:
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) stem weight gradient (the image needs none)",
                function: "TrainingKernels.stemConvBackwardWeights",
                arguments: [("gradOutput", .tensor(gradOut)), ("input", .code("s.x")), ("batch", .code("s.n")),
                            ("inChannels", .code("\(l.inputShape.channels)")), ("height", .code("\(l.inputShape.height)")),
                            ("width", .code("\(l.inputShape.width)"))] + geometry
                    + [("outChannels", .code("\(c)")), ("gradWeights", .gradient(weight)),
                       ("workspace", .code("s.ws")), ("pool", .code("pool"))],
                macsPerImage: l.macs))
        case .pointwiseConvolution:
            let input = recomputed(state.input, into: &calls)
            var squeezeExcite: [(label: String, value: TrainingProgram.Arg)] = []
            if let se = scaledProjections[l.name] {
                squeezeExcite = [("squeezeExcite", .squeezeExcite(input: recomputed(se.input, into: &calls),
                                                                   scale: se.scale, imagePixels: l.inputShape.pixels))]
            }
            let inChannels = l.inputShape.channels
            if !program.pointwiseWeightGradients.contains(where: { $0 == (inChannels, c) }) {
                program.pointwiseWeightGradients.append((inChannels, c))
            }
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) BatchNorm's second pass and the conv 1x1 backward: input and weight gradients, "
                    + "\(shape(l.inputShape)) <- \(shape(l.outputShape))"
                    + (squeezeExcite.isEmpty ? "" : ", scaling its input by the SE's s where it runs banded"),
                function: "TrainingKernels.batchNormPointwiseConvBackward",
                arguments: [("gradOutput", .tensor(gradOut)), ("preActivation", .tensor(state.preActivation))] + batchNorm
                    + [("reductions", .fixed(batchNormReductions)),
                       ("input", .tensor(input))] + squeezeExcite + [("weights", .parameter(weight)),
                       ("pixels", .code("\(l.inputShape.pixels) &* s.n")), ("inChannels", .code("\(l.inputShape.channels)")),
                       ("outChannels", .code("\(c)")), ("gradInput", gradIn.map { .tensor($0) } ?? .code("nil")),
                       ("gradWeights", .gradient(weight)), ("workspace", .code("s.ws")), ("pool", .code("pool"))],
                macsPerImage: gradIn == nil ? l.macs : 2 * l.macs))
        case .depthwiseConvolution:
            let relaid = state.depthwiseWeights!, taps = l.kernel * l.kernel
            let input = recomputed(state.input, into: &calls)
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) depthwise gradient buffer (kernel layout) starts at zero",
                function: "TrainingKernels.zero",
                arguments: [("", .fixed(relaid + taps * c)), ("count", .code("\(taps * c)"))]))
            guard let gradIn else { preconditionFailure("\(l.name): a depthwise layer's input always needs its gradient") }
            // After an SE, pass 1 stored dY whatever the activation, so pass 2 applies none.
            let passTwo = batchNorm.map { $0.label == "activation" && afterSqueezeExcite ? ($0.label, .code(".identity")) : $0 }
            let shapeArguments: [(label: String, value: TrainingProgram.Arg)] = [
                ("batch", .code("s.n")), ("height", .code("\(l.inputShape.height)")),
                ("width", .code("\(l.inputShape.width)")), ("channels", .code("\(c)"))] + geometry
            let workspaceTerm = "TrainingKernels.batchNormDepthwiseBackwardWorkspaceFloats(batch: n, "
                + "height: \(l.inputShape.height), width: \(l.inputShape.width), channels: \(c), kernel: \(l.kernel), "
                + "stride: \(l.stride), padTop: \(l.padding.top), padLeft: \(l.padding.left), "
                + "outHeight: \(l.outputShape.height), outWidth: \(l.outputShape.width), threads: pool.threadCount)"
            if !program.workspaceTerms.contains(workspaceTerm) { program.workspaceTerms.append(workspaceTerm) }
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) BatchNorm's second pass and the depthwise \(l.kernel)x\(l.kernel)/\(l.stride) backward: "
                    + "input and weight gradients, \(shape(l.inputShape)) <- \(shape(l.outputShape))",
                function: "TrainingKernels.batchNormDepthwiseConvBackward",
                arguments: [("gradOutput", .tensor(gradOut)), ("preActivation", .tensor(state.preActivation))] + passTwo
                    + [("reductions", .fixed(batchNormReductions)), ("input", .tensor(input))] + shapeArguments
                    + [("weights", .fixed(relaid)), ("gradInput", .tensor(gradIn)),
                       ("gradWeights", .fixed(relaid + taps * c)), ("workspace", .code("s.ws")), ("pool", .code("pool"))],
                macsPerImage: 2 * l.macs))
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) weight gradient back to PyTorch's [C][1][k][k]",
                function: "TrainingSupport.accumulateDepthwiseGradient",
                arguments: [("", .fixed(relaid + taps * c)), ("channels", .code("\(c)")), ("kernel", .code("\(l.kernel)")),
                            ("into", .gradient(weight))]))
        default:
            preconditionFailure("not a convolution: \(l.name)")
        }
    }

    mutating func backward(_ l: PlannedLayer, block: PlannedBlock, into calls: inout [TrainingProgram.Call]) {
        switch l.operation {
        case .linear:
            let cls = classifier!
            let features = l.inputShape.channels, classes = l.outputShape.channels
            let gradDropped = program.buffer("gradient of dropout output", features)
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) linear backward",
                function: "TrainingKernels.linearBackward",
                arguments: [("gradOutput", .tensor(gradientOf[l.output]!)), ("input", .tensor(cls.dropped)),
                            ("weights", .parameter(l.parameters[0])), ("batch", .code("s.n")),
                            ("inFeatures", .code("\(features)")), ("outFeatures", .code("\(classes)")),
                            ("gradInput", .tensor(gradDropped)), ("gradWeights", .gradient(l.parameters[0])),
                            ("gradBias", .gradient(l.parameters[1])), ("pool", .code("pool"))],
                macsPerImage: 2 * l.macs))
            calls.append(.init(
                module: "classifier.0",
                comment: "dropout backward",
                function: "TrainingKernels.dropoutBackward",
                arguments: [("gradOutput", .tensor(gradDropped)), ("mask", .tensor(cls.mask)),
                            ("count", .code("\(features) &* s.n")), ("gradInput", .tensor(gradient(l.input, "avgpool")))]))
        case .globalAveragePool:
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) backward: spread each channel's gradient over the \(l.inputShape.pixels) pixels",
                function: "TrainingKernels.globalAveragePoolBackward",
                arguments: [("gradOutput", .tensor(gradientOf[l.output]!)), ("batch", .code("s.n")),
                            ("pixels", .code("\(l.inputShape.pixels)")), ("channels", .code("\(l.inputShape.channels)")),
                            ("gradInput", .tensor(gradient(l.input, "head output"))), ("pool", .code("pool"))]))
        case .squeezeExcitation:
            let state = seStates[l.name]!
            let c = l.inputShape.channels, s = l.squeezeChannels ?? 1
            let gradOutput = gradientOf[l.output]!
            let input = recomputed(state.input, into: &calls)
            let squeezeExcite: [(label: String, value: TrainingProgram.Arg)] = [
                ("batch", .code("s.n")), ("pixels", .code("\(l.inputShape.pixels)")),
                ("channels", .code("\(c)")), ("squeezeChannels", .code("\(s)")),
                ("reduceWeights", .parameter(l.parameters[0]))]
            let saved: [(label: String, value: TrainingProgram.Arg)] = [
                ("expandWeights", .parameter(l.parameters[2])),
                ("savedPooled", .tensor(state.pooled)), ("savedHidden", .tensor(state.hidden)),
                ("savedScale", .tensor(state.scale))]
            let gradients: [(label: String, value: TrainingProgram.Arg)] = [
                ("gradReduceWeights", .gradient(l.parameters[0])), ("gradReduceBias", .gradient(l.parameters[1])),
                ("gradExpandWeights", .gradient(l.parameters[2])), ("gradExpandBias", .gradient(l.parameters[3]))]
            if let producer = plan.layers.first(where: { $0.output == l.input }), convStates[producer.name] != nil,
               producer.operation == .depthwiseConvolution {
                // The producer's BatchNorm backward takes the SE's input gradient as it reads it
                // (`squeezeExciteBatchNormBackward`, emitted with that layer), in place on this buffer.
                pendingSqueezeExcite = (producer: producer.name, layer: l, arguments:
                    [("gradOutput", .tensor(gradOutput)), ("seInput", .tensor(input))] + squeezeExcite
                        + [("seActivation", .code(act(l.activation)))] + saved + gradients)
                gradientOf[l.input] = gradOutput
                break
            }
            // SE reads and writes one plan tensor; in training its input and output are separate
            // buffers, so the gradient with respect to its input is a new buffer, and from here on
            // (the layer before it) the plan tensor's gradient means that one.
            let gradInput = program.buffer("gradient of \(l.name) input", l.inputShape.elements)
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) squeeze-excitation \(c) -> \(s) -> \(c) backward on \(shape(l.inputShape))",
                function: "TrainingKernels.squeezeExciteBackward",
                arguments: [("gradOutput", .tensor(gradOutput)), ("input", .tensor(input))] + squeezeExcite
                    + [("activation", .code(act(l.activation)))] + saved + [("gradInput", .tensor(gradInput))]
                    + gradients + [("workspace", .code("s.ws")), ("pool", .code("pool"))],
                macsPerImage: 2 * l.macs))
            gradientOf[l.input] = gradInput
        case .stemConvolution:
            convolutionBackward(l, gradOut: gradientOf[l.output]!, gradIn: nil, into: &calls)
        case .depthwiseConvolution, .pointwiseConvolution:
            var gradOut = gradientOf[l.output]!
            if l.residual != nil, let shortcut = blockShortcut[block.name] {
                // out = shortcut + keep * branch: the branch gets keep * gradOut; the shortcut's
                // gradient (gradOut itself) is added after the block's first layer writes its own.
                let gradBranch = program.buffer("gradient of \(block.name) branch", l.outputShape.elements)
                calls.append(.init(
                    module: block.name,
                    comment: "\(block.name) shortcut backward: the branch's gradient",
                    function: "TrainingKernels.residualAddBackward",
                    arguments: [("gradOutput", .tensor(gradOut)),
                                ("keep", shortcut.keep.map { .optionalTensor($0, condition: "s.options.stochasticDepth && \(trained)") } ?? .code("nil")),
                                ("batch", .code("s.n")), ("perImage", .code("\(l.outputShape.elements)")),
                                ("gradBranch", .tensor(gradBranch)), ("pool", .code("pool"))]))
                pendingShortcutGradient = (block.name, gradOut)
                gradOut = gradBranch
            }
            let isFirstOfBlock = block.layers.first?.name == l.name
            let gradIn = gradient(l.input, "\(l.name) input")
            convolutionBackward(l, gradOut: gradOut, gradIn: gradIn, into: &calls)
            if isFirstOfBlock, let pending = pendingShortcutGradient, pending.block == block.name {
                calls.append(.init(
                    module: block.name,
                    comment: "\(block.name) shortcut gradient joins the branch's",
                    function: "TrainingKernels.accumulate",
                    arguments: [("", .tensor(gradIn)), ("", .tensor(pending.gradient)),
                                ("count", .code("\(l.inputShape.elements) &* s.n")), ("pool", .code("pool"))]))
                pendingShortcutGradient = nil
            }
        }
    }

    /// A block's output gradient, to be added to its input's gradient once the block's first
    /// layer has written it (the identity shortcut).
    var pendingShortcutGradient: (block: String, gradient: Int)?

    /// A squeeze-excitation whose backward runs in one call with the BatchNorm backward of the depthwise
    /// layer that produced its input (`producer`): its arguments, up to the BatchNorm's.
    var pendingSqueezeExcite: (producer: String, layer: PlannedLayer,
                               arguments: [(label: String, value: TrainingProgram.Arg)])?

    // MARK: recomputation

    /// The buffer a backward call reads for the forward value `buffer`. For a value with a recipe
    /// that is its recomputed copy: the recomputing calls are appended here (before the reader),
    /// conditioned on `s.options.recomputeActivations`; without it the copy is `buffer` itself
    /// (`standardAlias`), so the standard plan and its numbers are what they were.
    mutating func recomputed(_ buffer: Int, into calls: inout [TrainingProgram.Call]) -> Int {
        if let copy = recomputedCopy[buffer] { return copy }
        guard let recipe = recipes[buffer] else { return buffer }
        let original = program.buffers[buffer]
        let copy = program.buffer(original.name + " (recomputed)", original.floatsPerImage, standardAlias: buffer)
        let when = "s.options.recomputeActivations"
        switch recipe {
        case .batchNorm(let l, let z, let statistics, let block):
            // The forward's own kernels on the forward's saved inputs: bit-identical values. A
            // frozen layer ran BatchNorm in eval mode, so its recomputation does too.
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) recompute BatchNorm + \(l.activation?.rawValue ?? "identity") from the saved conv output",
                function: "TrainingKernels.batchNormApply",
                arguments: batchNormApplyArguments(l, preActivation: z, statistics: statistics, output: copy),
                condition: "\(when) && s.options.frozenBlocks <= \(block)", recomputes: true))
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) frozen: recompute eval-mode BatchNorm + \(l.activation?.rawValue ?? "identity")",
                function: "TrainingSupport.batchNormForwardEval",
                arguments: batchNormEvalArguments(l, preActivation: z, statistics: statistics, output: copy),
                condition: "\(when) && s.options.frozenBlocks > \(block)", recomputes: true))
        case .squeezeExcite(let l, let input, let scale, let neededWhen):
            let recomputedInput = recomputed(input, into: &calls)
            calls.append(.init(
                module: l.name,
                comment: "\(l.name) recompute the squeeze-excitation output from its input and saved scale",
                function: "TrainingKernels.squeezeExciteScale",
                arguments: [("input", .tensor(recomputedInput)), ("savedScale", .tensor(scale)), ("batch", .code("s.n")),
                            ("pixels", .code("\(l.inputShape.pixels)")), ("channels", .code("\(l.inputShape.channels)")),
                            ("output", .tensor(copy)), ("pool", .code("pool"))],
                condition: neededWhen.map { "\(when) && \($0)" } ?? when, recomputes: true))
        }
        recomputedCopy[buffer] = copy
        return copy
    }
}
