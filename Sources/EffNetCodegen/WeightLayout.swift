import EffNetSpec

/// Where each layer's prepared inference weights live in the single weight blob, and the
/// preparation steps (BatchNorm folding, copies) that fill it at load time.
struct WeightLayout {
    /// Offsets of one layer's tensors in the blob, in floats.
    struct Slots {
        var weights = 0
        var bias = 0
        /// Squeeze-excitation has two weight/bias pairs.
        var expandWeights = 0
        var expandBias = 0
    }

    /// Each tensor starts on a 64-byte boundary so SIMD loads of a row are aligned.
    static let alignment = 16

    private(set) var slots: [String: Slots] = [:]
    /// Where each layer's tensors end (the next layer's start), in floats: the blob follows the plan's
    /// layer order, which is the order `forward` reads it in (WeightPrefetchPlan).
    private(set) var ends: [String: Int] = [:]
    private(set) var steps: [String] = []
    private(set) var totalFloats = 0

    init(plan: ModelPlan) {
        let shapes = Dictionary(uniqueKeysWithValues: plan.parameters.map { ($0.name, $0.shape) })
        for layer in plan.layers {
            switch layer.operation {
            case .stemConvolution, .pointwiseConvolution, .depthwiseConvolution:
                let weightName = layer.parameters[0]
                let shape = shapes[weightName]!
                let bn = String(layer.parameters[1].dropLast(".weight".count))
                var slot = Slots()
                slot.weights = allocate(shape.reduce(1, *))
                slot.bias = allocate(shape[0])
                slots[layer.name] = slot
                // The layout each kernel reads: the depthwise kernel [k][k][channels]; the GEMMs of the
                // 1x1 convolutions and of the stem's im2col tiles input-major [in·k·k][out].
                let layout = layer.operation == .depthwiseConvolution ? "depthwise" : "inputMajor"
                steps.append(".foldConvolution(weight: \(literal(weightName)), shape: \(shape), batchNorm: \(literal(bn)), "
                             + "eps: \(plan.batchNorm.eps), layout: .\(layout), "
                             + "weightOffset: \(slot.weights), biasOffset: \(slot.bias))")
            case .squeezeExcitation, .linear:
                var offsets: [Int] = []
                for name in layer.parameters {
                    let shape = shapes[name]!
                    let offset = allocate(shape.reduce(1, *))
                    offsets.append(offset)
                    steps.append(".copy(name: \(literal(name)), shape: \(shape), offset: \(offset))")
                }
                var slot = Slots()
                slot.weights = offsets[0]
                slot.bias = offsets[1]
                if offsets.count == 4 {
                    slot.expandWeights = offsets[2]
                    slot.expandBias = offsets[3]
                }
                slots[layer.name] = slot
            case .globalAveragePool:
                break
            }
            ends[layer.name] = totalFloats
        }
    }

    private mutating func allocate(_ floats: Int) -> Int {
        let offset = totalFloats
        totalFloats += (floats + Self.alignment - 1) / Self.alignment * Self.alignment
        return offset
    }
}

/// A Swift string literal for a plain identifier-like string.
func literal(_ text: String) -> String {
    "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}
