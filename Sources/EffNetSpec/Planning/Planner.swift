/// Turns a scaled model into the concrete layer list, with torchvision's module names, exact
/// shapes, parameter table, MAC count and the static memory plan.
public enum Planner {
    public static func plan(_ spec: ModelSpec) -> ModelPlan {
        plan(ScaledModel(spec))
    }

    public static func plan(_ scaled: ScaledModel) -> ModelPlan {
        var builder = PlanBuilder(scaled)
        builder.build()
        return builder.finish()
    }

    /// Output size and padding of a convolution along one axis.
    public static func convolutionGeometry(size: Int, kernel: Int, stride: Int, mode: PaddingMode)
        -> (output: Int, before: Int, after: Int) {
        switch mode {
        case .symmetric:
            let pad = (kernel - 1) / 2
            return ((size + 2 * pad - kernel) / stride + 1, pad, pad)
        case .tfSame:
            let output = (size + stride - 1) / stride
            let total = max((output - 1) * stride + kernel - size, 0)
            return (output, total / 2, total - total / 2)
        }
    }
}

private struct PlanBuilder {
    let scaled: ScaledModel
    var spec: ModelSpec { scaled.spec }
    var blocks: [PlannedBlock] = []
    var tensors: [PlannedTensor] = []
    var parameters: [ParameterInfo] = []

    init(_ scaled: ScaledModel) { self.scaled = scaled }

    mutating func newTensor(_ name: String, _ shape: FeatureShape) -> Int {
        tensors.append(PlannedTensor(id: tensors.count, name: name, shape: shape, arenaOffset: nil))
        return tensors.count - 1
    }

    mutating func addParameter(_ name: String, _ shape: [Int], trainable: Bool = true) -> String {
        parameters.append(ParameterInfo(name: name, shape: shape, trainable: trainable))
        return name
    }

    /// Conv weight then its BatchNorm (weight, bias, running_mean, running_var), torchvision order.
    mutating func convParameters(_ module: String, out: Int, inPerGroup: Int, kernel: Int) -> [String] {
        [addParameter("\(module).0.weight", [out, inPerGroup, kernel, kernel]),
         addParameter("\(module).1.weight", [out]),
         addParameter("\(module).1.bias", [out]),
         addParameter("\(module).1.running_mean", [out], trainable: false),
         addParameter("\(module).1.running_var", [out], trainable: false)]
    }

    /// A convolution followed by BatchNorm (and an activation unless `activation` is nil).
    mutating func convolution(_ module: String, role: String, operation: LayerOperation, input: Int,
                              outChannels: Int, kernel: Int, stride: Int, activation: ActivationKind?,
                              residual: Int? = nil) -> PlannedLayer {
        let inShape = tensors[input].shape
        let rows = Planner.convolutionGeometry(size: inShape.height, kernel: kernel, stride: stride, mode: spec.padding)
        let cols = Planner.convolutionGeometry(size: inShape.width, kernel: kernel, stride: stride, mode: spec.padding)
        let outShape = FeatureShape(height: rows.output, width: cols.output, channels: outChannels)
        let depthwise = operation == .depthwiseConvolution
        let inPerGroup = depthwise ? 1 : inShape.channels
        let output = newTensor(module, outShape)
        let names = convParameters(module, out: outChannels, inPerGroup: inPerGroup, kernel: kernel)
        return PlannedLayer(
            name: module, operation: operation, role: role, input: input, output: output, residual: residual,
            inputShape: inShape, outputShape: outShape, kernel: kernel, stride: stride,
            padding: Padding(top: rows.before, left: cols.before, bottom: rows.after, right: cols.after),
            activation: activation, squeezeChannels: nil, parameters: names,
            parameterCount: outChannels * inPerGroup * kernel * kernel + 2 * outChannels,
            macs: outShape.pixels * outChannels * inPerGroup * kernel * kernel)
    }

    mutating func build() {
        let act = spec.activation
        let input = newTensor("input", FeatureShape(height: spec.resolution, width: spec.resolution,
                                                     channels: spec.inputChannels))
        let stem = convolution("features.0", role: "stem", operation: .stemConvolution, input: input,
                               outChannels: scaled.stemChannels, kernel: spec.stem.kernel,
                               stride: spec.stem.stride, activation: act)
        blocks.append(PlannedBlock(
            name: "features.0",
            summary: "stem: conv \(spec.stem.kernel)x\(spec.stem.kernel) stride \(spec.stem.stride), "
                + "\(spec.inputChannels) -> \(scaled.stemChannels) channels",
            stochasticDepth: nil, layers: [stem]))

        var current = stem.output
        let totalBlocks = scaled.stages.reduce(0) { $0 + $1.repeats }
        var blockIndex = 0
        for (stageIndex, stage) in scaled.stages.enumerated() {
            for repeatIndex in 0..<stage.repeats {
                let name = "features.\(stageIndex + 1).\(repeatIndex)"
                let inChannels = repeatIndex == 0 ? stage.inChannels : stage.outChannels
                let stride = repeatIndex == 0 ? stage.stride : 1
                let dropProbability = spec.stochasticDepth * Double(blockIndex) / Double(totalBlocks)
                blocks.append(mbconv(name, input: current, inChannels: inChannels, stage: stage, stride: stride,
                                     stochasticDepth: dropProbability))
                current = blocks.last!.layers.last!.output
                blockIndex += 1
            }
        }

        let headName = "features.\(scaled.stages.count + 1)"
        let head = convolution(headName, role: "head", operation: .pointwiseConvolution, input: current,
                               outChannels: scaled.headChannels, kernel: 1, stride: 1, activation: act)
        let headShape = head.outputShape
        let pooled = newTensor("avgpool", .vector(scaled.headChannels))
        let pool = PlannedLayer(
            name: "avgpool", operation: .globalAveragePool, role: "pool", input: head.output, output: pooled,
            residual: nil, inputShape: headShape, outputShape: .vector(scaled.headChannels), kernel: 1, stride: 1,
            padding: Padding(top: 0, left: 0, bottom: 0, right: 0), activation: nil, squeezeChannels: nil,
            parameters: [], parameterCount: 0, macs: 0)
        let logits = newTensor("logits", .vector(spec.classes))
        let classifier = PlannedLayer(
            name: "classifier.1", operation: .linear, role: "classifier", input: pooled, output: logits,
            residual: nil, inputShape: .vector(scaled.headChannels), outputShape: .vector(spec.classes),
            kernel: 1, stride: 1, padding: Padding(top: 0, left: 0, bottom: 0, right: 0), activation: nil,
            squeezeChannels: nil,
            parameters: [addParameter("classifier.1.weight", [spec.classes, scaled.headChannels]),
                         addParameter("classifier.1.bias", [spec.classes])],
            parameterCount: spec.classes * (scaled.headChannels + 1), macs: spec.classes * scaled.headChannels)
        blocks.append(PlannedBlock(
            name: headName,
            summary: "head: conv 1x1 \(tensors[current].shape.channels) -> \(scaled.headChannels)",
            stochasticDepth: nil, layers: [head]))
        // The classifier is its own block so that fine-tuning can freeze everything before it.
        blocks.append(PlannedBlock(
            name: "classifier",
            summary: "global average pool, dropout \(spec.dropout), linear \(scaled.headChannels) -> \(spec.classes) classes",
            stochasticDepth: nil, layers: [pool, classifier]))
    }

    /// torchvision `MBConv`: [expand 1x1] -> depthwise kxk -> [squeeze-excitation] -> project 1x1 (+ identity).
    mutating func mbconv(_ name: String, input: Int, inChannels: Int, stage: ScaledStage, stride: Int,
                         stochasticDepth: Double) -> PlannedBlock {
        let act = spec.activation
        let expanded = ScalingRules.roundChannels(Double(inChannels) * stage.expand)
        var layers: [PlannedLayer] = []
        var index = 0
        var current = input
        if expanded != inChannels {
            layers.append(convolution("\(name).block.\(index)", role: "expand", operation: .pointwiseConvolution,
                                      input: current, outChannels: expanded, kernel: 1, stride: 1, activation: act))
            current = layers.last!.output
            index += 1
        }
        layers.append(convolution("\(name).block.\(index)", role: "depthwise", operation: .depthwiseConvolution,
                                  input: current, outChannels: expanded, kernel: stage.kernel, stride: stride,
                                  activation: act))
        current = layers.last!.output
        index += 1
        var seText = ""
        if let ratio = stage.seRatio {
            let squeeze = max(1, Int(Double(inChannels) * ratio))
            let module = "\(name).block.\(index)"
            let names = [addParameter("\(module).fc1.weight", [squeeze, expanded, 1, 1]),
                         addParameter("\(module).fc1.bias", [squeeze]),
                         addParameter("\(module).fc2.weight", [expanded, squeeze, 1, 1]),
                         addParameter("\(module).fc2.bias", [expanded])]
            let shape = tensors[current].shape
            layers.append(PlannedLayer(
                name: module, operation: .squeezeExcitation, role: "squeeze-excitation", input: current,
                output: current, residual: nil, inputShape: shape, outputShape: shape, kernel: 1, stride: 1,
                padding: Padding(top: 0, left: 0, bottom: 0, right: 0), activation: act, squeezeChannels: squeeze,
                parameters: names, parameterCount: 2 * expanded * squeeze + squeeze + expanded,
                macs: 2 * expanded * squeeze))
            index += 1
            seText = ", SE \(expanded) -> \(squeeze) -> \(expanded)"
        }
        let shortcut = stride == 1 && inChannels == stage.outChannels
        layers.append(convolution("\(name).block.\(index)", role: "project", operation: .pointwiseConvolution,
                                  input: current, outChannels: stage.outChannels, kernel: 1, stride: 1,
                                  activation: nil, residual: shortcut ? input : nil))
        let inShape = tensors[input].shape
        let outShape = layers.last!.outputShape
        let expandText = stage.expand == stage.expand.rounded() ? "\(Int(stage.expand))" : "\(stage.expand)"
        return PlannedBlock(
            name: name,
            summary: "MBConv\(expandText) k\(stage.kernel) s\(stride): \(inShape) -> \(outShape)\(seText)"
                + (shortcut ? ", identity shortcut" : ""),
            stochasticDepth: shortcut ? stochasticDepth : nil,
            layers: layers)
    }

    func finish() -> ModelPlan {
        let layers = blocks.flatMap(\.layers)
        let (placed, memory) = MemoryPlanner.place(tensors: tensors, layers: layers,
                                                   externalTensors: [0, tensors.count - 1],
                                                   fusion: ExpandDepthwiseFusion(blocks: blocks))
        return ModelPlan(
            model: spec.name, source: spec.file, baseChain: spec.baseChain,
            resolution: spec.resolution, inputChannels: spec.inputChannels, classes: spec.classes,
            dropout: spec.dropout, activation: spec.activation, padding: spec.padding,
            batchNorm: BatchNormInfo(eps: spec.batchNorm.eps, momentum: spec.batchNorm.momentum),
            stochasticDepth: spec.stochasticDepth, width: scaled.width, depth: scaled.depth,
            stem: StemInfo(kernel: spec.stem.kernel, stride: spec.stem.stride, channels: scaled.stemChannels),
            stages: scaled.stages, head: HeadInfo(channels: scaled.headChannels),
            preprocess: PreprocessInfo(resize: spec.preprocess.resize, crop: spec.preprocess.crop,
                                       normalization: spec.preprocess.normalization),
            parameters: parameters,
            parameterCount: parameters.filter(\.trainable).reduce(0) { $0 + $1.elements },
            macs: layers.reduce(0) { $0 + $1.macs },
            blocks: blocks, tensors: placed, memory: memory)
    }
}
