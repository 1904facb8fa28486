import EffNetSpec

/// Which weights each forward call prefetches for a later one (`Kernels.prefetchWeightsAhead`).
///
/// At batch 1 every layer's weights come cold from memory. The GEMMs hide that themselves (each panel
/// prefetches the next: GemmTemplate.h), but two kinds of layer have nothing to hide it behind: the
/// squeeze-excitations (two small matrix-vector products) and the classifier (a matrix-vector product
/// over 5 MB in B0). Their weights are therefore brought in by the GEMM-bearing calls before them (the
/// 1x1 convolutions: alone, with their fused depthwise, or with their SE's scales folded in), which have
/// memory bandwidth to spare while they compute. A call drains its window at one cache line per k step of
/// its 8-row strips (`kSteps`), so a window larger than that is split over the calls before it, the later
/// part to the later call. Measured (B0, batch 1): prefetching every following weight, the 1x1
/// convolutions' own included, made the expansions slower and the projections no faster.
struct WeightPrefetchPlan {
    struct Window: Equatable {
        /// Offset in the weight blob and length, in floats.
        var start: Int
        var floats: Int
    }

    /// Keyed by the name of the layer whose call prefetches.
    private(set) var windows: [String: Window] = [:]

    /// Floats per cache line, and the GEMM's strip height and panel width (AVX-512: 3 vectors of 16).
    static let lineFloats = 16
    static let stripRows = 8
    static let panelColumns = 48

    /// Cache lines a call can prefetch at batch 1: one per k step of its strips.
    static func kSteps(pixels: Int, inChannels: Int, outChannels: Int) -> Int {
        (pixels + stripRows - 1) / stripRows * ((outChannels + panelColumns - 1) / panelColumns) * inChannels
    }

    init(plan: ModelPlan, layout: WeightLayout) {
        // The GEMM-bearing calls seen so far, with the lines each can still take.
        var calls: [(name: String, capacity: Int)] = []
        var start = 0  // where the current layer's weights begin (the previous layer's end)
        for layer in plan.layers {
            defer { start = layout.ends[layer.name] ?? start }
            switch layer.operation {
            case .pointwiseConvolution:
                let capacity = Self.kSteps(pixels: layer.inputShape.pixels, inChannels: layer.inputShape.channels,
                                           outChannels: layer.outputShape.channels)
                calls.append((layer.name, capacity))
            case .squeezeExcitation, .linear:
                guard let end = layout.ends[layer.name] else { continue }
                // Latest part first, to the latest call with room; a call takes one window at most.
                var stop = end
                while stop > start, let call = calls.popLast(), windows[call.name] == nil {
                    let floats = min(stop - start, call.capacity * Self.lineFloats)
                    windows[call.name] = Window(start: stop - floats, floats: floats)
                    stop -= floats
                }
            default:
                continue
            }
        }
    }
}
