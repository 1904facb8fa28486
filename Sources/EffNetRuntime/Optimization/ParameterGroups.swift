// Parameters as the optimizers see them: named slices of one flat float32 buffer.
//
// The generated training code keeps every trainable parameter in ONE contiguous float buffer and
// the gradients in a second buffer with identical offsets. A `ParameterSlot` names one parameter
// tensor inside those buffers; a `ParameterGroup` is a set of slots sharing a learning-rate scale
// and a weight decay. Frozen parameters are simply left out of the groups.

/// What a parameter is; decides whether weight decay applies by default.
public enum ParameterKind: String, Sendable, CaseIterable {
    case convolutionWeight, linearWeight, batchNormWeight, batchNormBias, bias

    /// True for convolution and linear weights, the only kinds weight decay touches by default
    /// (batch-norm parameters and biases are not decayed unless a group asks with `decayAll`).
    public var decaysByDefault: Bool {
        switch self {
        case .convolutionWeight, .linearWeight: return true
        case .batchNormWeight, .batchNormBias, .bias: return false
        }
    }
}

/// One parameter tensor: `count` floats at `offset` in the parameter buffer (and at the same
/// offset in the gradient buffer). `name` is the canonical (torchvision `state_dict`) name; it
/// keys optimizer and EMA state in checkpoints.
public struct ParameterSlot: Sendable, Hashable {
    public let name: String
    public let offset: Int
    public let count: Int
    public let kind: ParameterKind

    public init(name: String, offset: Int, count: Int, kind: ParameterKind) {
        precondition(offset >= 0 && count >= 0, "ParameterSlot \(name): negative offset or count")
        self.name = name
        self.offset = offset
        self.count = count
        self.kind = kind
    }
}

/// Slots updated with the same learning-rate scale and weight decay.
public struct ParameterGroup: Sendable, Hashable {
    public var slots: [ParameterSlot]
    /// The group's learning rate is `learningRateScale` × the step's base learning rate.
    public var learningRateScale: Double
    /// Weight-decay coefficient. SGD and RMSProp add it as L2 to the gradient (`g + wd·p`);
    /// AdamW decouples it (`p *= 1 - lr·wd`).
    public var weightDecay: Double
    /// When false (the default) weight decay applies only to convolution and linear weights.
    public var decayAll: Bool

    public init(slots: [ParameterSlot], learningRateScale: Double = 1, weightDecay: Double = 0, decayAll: Bool = false) {
        self.slots = slots
        self.learningRateScale = learningRateScale
        self.weightDecay = weightDecay
        self.decayAll = decayAll
    }

    /// The weight decay this group applies to `slot` (zero for BN/bias slots unless `decayAll`).
    @inline(__always)
    public func weightDecay(for slot: ParameterSlot) -> Double {
        (decayAll || slot.kind.decaysByDefault) ? weightDecay : 0
    }

    /// Checks that the groups' slots have unique names, do not overlap, and lie inside a buffer
    /// of `bufferCount` floats. Call once when setting up training (the optimizers do not check
    /// on every step).
    public static func validate(_ groups: [ParameterGroup], bufferCount: Int) throws {
        var names = Set<String>()
        var ranges: [(Int, Int, String)] = []
        for group in groups {
            guard group.learningRateScale.isFinite, group.weightDecay.isFinite else {
                throw ParameterGroupError("a group has a non-finite learning-rate scale or weight decay")
            }
            for slot in group.slots {
                guard names.insert(slot.name).inserted else {
                    throw ParameterGroupError("parameter \(slot.name) appears in more than one slot")
                }
                guard slot.offset + slot.count <= bufferCount else {
                    throw ParameterGroupError(
                        "parameter \(slot.name) (offset \(slot.offset), count \(slot.count)) ends past the"
                            + " \(bufferCount)-float parameter buffer")
                }
                ranges.append((slot.offset, slot.offset + slot.count, slot.name))
            }
        }
        ranges.sort { $0.0 < $1.0 }
        for i in ranges.indices.dropFirst() where ranges[i].0 < ranges[i - 1].1 {
            throw ParameterGroupError("parameters \(ranges[i - 1].2) and \(ranges[i].2) overlap in the buffer")
        }
    }
}

/// A malformed set of parameter groups.
public struct ParameterGroupError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
