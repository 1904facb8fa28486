// Exponential moving average of parameters, evaluated instead of the raw weights.

/// Shadow copies of a set of slots, updated after each optimizer step:
///
///     d = warmup ? min(decay, (1+n)/(10+n)) : decay      (n = number of updates including this one)
///     shadow = shadow + (1-d)·(param - shadow)            (= d·shadow + (1-d)·param)
///
/// This is `tf.train.ExponentialMovingAverage(decay, num_updates=global_step)` as the EfficientNet
/// reference applies it after each train step (global_step already incremented, so the first
/// update uses n = 1). Shadows start as a copy of the parameters when the average is created.
///
/// The slots may describe any float buffer: one average over the trainable parameters, a second
/// over the batch-norm running statistics if those live in another buffer.
///
/// State: `ema.<parameter>` tensors plus the update count (checkpoint metadata).
public final class ExponentialMovingAverage {
    public let decay: Double
    public let warmup: Bool
    public let slots: [ParameterSlot]
    public private(set) var updateCount = 0
    /// Shadow values, slot after slot (`shadowOffsets[i]` is slot i's start).
    private let shadow: UnsafeMutableBufferPointer<Float>
    private let shadowOffsets: [Int]

    /// Starts the average at the current values of `slots` in `parameters`.
    public init(slots: [ParameterSlot], parameters: UnsafePointer<Float>, decay: Double = 0.9999, warmup: Bool = false) {
        precondition(decay >= 0 && decay <= 1, "ExponentialMovingAverage: decay must be in [0, 1]")
        precondition(Set(slots.map(\.name)).count == slots.count, "ExponentialMovingAverage: duplicate slot names")
        self.decay = decay
        self.warmup = warmup
        self.slots = slots
        var offsets: [Int] = []
        var total = 0
        for slot in slots {
            offsets.append(total)
            total += slot.count
        }
        shadowOffsets = offsets
        shadow = .allocate(capacity: max(total, 1))
        shadow.initialize(repeating: 0)
        for (slot, start) in zip(slots, offsets) {
            (shadow.baseAddress! + start).update(from: parameters + slot.offset, count: slot.count)
        }
    }

    deinit { shadow.deallocate() }

    /// The decay the next update will use.
    public var nextDecay: Double {
        let n = Double(updateCount + 1)
        return warmup ? min(decay, (1 + n) / (10 + n)) : decay
    }

    /// Moves every shadow towards the current parameter values.
    public func update(parameters: UnsafePointer<Float>) {
        let rate = FVec(repeating: Float(1 - nextDecay))
        updateCount += 1
        for (slot, start) in zip(slots, shadowOffsets) where slot.count > 0 {
            let p = parameters + slot.offset
            let s = shadow.baseAddress! + start
            forEachChunk(slot.count) { i, lanes in
                let sv = loadLanes(s + i, lanes)
                storeLanes(sv + rate * (loadLanes(p + i, lanes) - sv), s + i, lanes)
            }
        }
    }

    /// Writes the shadows into `buffer` at the slots' offsets (e.g. a copy of the parameter
    /// buffer used for evaluation). Other values in `buffer` are left alone.
    public func copyShadow(into buffer: UnsafeMutablePointer<Float>) {
        for (slot, start) in zip(slots, shadowOffsets) {
            (buffer + slot.offset).update(from: shadow.baseAddress! + start, count: slot.count)
        }
    }

    /// The shadow of one slot.
    public func shadowValues(of name: String) -> [Float]? {
        guard let index = slots.firstIndex(where: { $0.name == name }) else { return nil }
        let start = shadowOffsets[index]
        return Array(UnsafeBufferPointer(rebasing: shadow[start..<(start + slots[index].count)]))
    }

    /// Name prefix of the shadow tensors.
    public static let prefix = "ema."

    /// One 1-D tensor `ema.<parameter>` per slot.
    public func stateTensors() -> [(name: String, tensor: HostTensor)] {
        zip(slots, shadowOffsets).map { slot, start in
            (Self.prefix + slot.name,
             HostTensor(shape: [slot.count], values: Array(UnsafeBufferPointer(rebasing: shadow[start..<(start + slot.count)]))))
        }
    }

    /// Restores every slot's shadow from `ema.<parameter>` in `tensors` and the update count.
    /// Throws (changing nothing) if a slot's shadow is missing, has the wrong size or is not finite.
    public func loadState(_ tensors: [String: HostTensor], updateCount: Int) throws {
        guard updateCount >= 0 else { throw OptimizerStateError("negative EMA update count \(updateCount)") }
        var found: [[Float]] = []
        for slot in slots {
            guard let tensor = tensors[Self.prefix + slot.name] else {
                throw OptimizerStateError("the checkpoint has no EMA shadow \(Self.prefix + slot.name)")
            }
            guard tensor.values.count == slot.count else {
                throw OptimizerStateError(
                    "EMA shadow \(Self.prefix + slot.name) holds \(tensor.values.count) values, the parameter has \(slot.count)")
            }
            guard tensor.values.allSatisfy({ $0.isFinite }) else {
                throw OptimizerStateError("EMA shadow \(Self.prefix + slot.name) holds non-finite values")
            }
            found.append(tensor.values)
        }
        for (values, start) in zip(found, shadowOffsets) {
            _ = UnsafeMutableBufferPointer(rebasing: shadow[start..<(start + values.count)]).update(fromContentsOf: values)
        }
        self.updateCount = updateCount
    }
}
