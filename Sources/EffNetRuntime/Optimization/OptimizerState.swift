// Per-parameter optimizer state, keyed by parameter name, and its (de)serialisation.

/// A malformed or mismatched optimizer / EMA state (checkpoint contents).
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One kind of per-parameter state ("momentum", "exp_avg", ...): a float buffer per parameter
/// name, allocated the first time the parameter is stepped (or when loaded from a checkpoint).
final class SlotStateBuffers {
    /// The state's name in checkpoint tensor names: `optimizer.<label>.<parameter>`.
    let label: String
    /// The value a fresh buffer starts with (0 for momentum, 1 for TF RMSProp's mean square).
    let initialValue: Float
    private var buffers: [String: UnsafeMutableBufferPointer<Float>] = [:]

    init(label: String, initialValue: Float = 0) {
        self.label = label
        self.initialValue = initialValue
    }

    deinit { removeAll() }

    /// The name prefix of this state's tensors.
    var prefix: String { "optimizer.\(label)." }

    /// The buffer for `slot`, created (filled with `initialValue`) if missing; `fresh` tells
    /// whether it was just created. Traps if an existing buffer has a different size (a
    /// checkpoint whose state does not fit the model: ``OptimizerCheckpoint`` checks this first).
    @inline(__always)
    func buffer(for slot: ParameterSlot) -> (pointer: UnsafeMutablePointer<Float>, fresh: Bool) {
        if let existing = buffers[slot.name] {
            precondition(
                existing.count == slot.count,
                "optimizer state \(label) for \(slot.name) holds \(existing.count) values, the parameter has \(slot.count)")
            return (existing.baseAddress!, false)
        }
        let created = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(slot.count, 1))
        created.initialize(repeating: initialValue)
        buffers[slot.name] = UnsafeMutableBufferPointer(rebasing: created[0..<slot.count])
        return (created.baseAddress!, true)
    }

    /// Whether `name` has state.
    func contains(_ name: String) -> Bool { buffers[name] != nil }

    /// The state as 1-D tensors named `optimizer.<label>.<parameter>`, sorted by name.
    func tensors() -> [(name: String, tensor: HostTensor)] {
        buffers.keys.sorted().map { name in
            let buffer = buffers[name]!
            return (prefix + name, HostTensor(shape: [buffer.count], values: Array(buffer)))
        }
    }

    /// Replaces all buffers with the tensors named `optimizer.<label>.*` in `tensors`; on error
    /// nothing changes.
    func load(_ tensors: [String: HostTensor]) throws {
        replace(with: try parse(tensors))
    }

    /// The tensors named `optimizer.<label>.*` in `tensors`, by parameter name (validated).
    func parse(_ tensors: [String: HostTensor]) throws -> [String: [Float]] {
        var loaded: [String: [Float]] = [:]
        for (name, tensor) in tensors where name.hasPrefix(prefix) {
            let parameter = String(name.dropFirst(prefix.count))
            guard !parameter.isEmpty else { throw OptimizerStateError("state tensor \(name) names no parameter") }
            guard tensor.values.allSatisfy({ $0.isFinite }) else {
                throw OptimizerStateError("state tensor \(name) holds non-finite values")
            }
            loaded[parameter] = tensor.values
        }
        return loaded
    }

    /// Replaces all buffers with `state` (parameter name -> values).
    func replace(with state: [String: [Float]]) {
        removeAll()
        for (parameter, values) in state {
            let created = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(values.count, 1))
            created.initialize(repeating: 0)
            _ = UnsafeMutableBufferPointer(rebasing: created[0..<values.count]).initialize(from: values)
            buffers[parameter] = UnsafeMutableBufferPointer(rebasing: created[0..<values.count])
        }
    }

    /// Parameter names with state, and their sizes.
    var sizes: [String: Int] { buffers.mapValues(\.count) }

    private func removeAll() {
        for buffer in buffers.values { buffer.baseAddress?.deallocate() }
        buffers.removeAll()
    }
}

/// Per-parameter integer step counters (AdamW's bias correction counts steps per parameter, as
/// PyTorch does, so a parameter unfrozen later starts its own count at 1). Saved as 1-element
/// float tensors `optimizer.step.<parameter>` (exact up to 2^24 steps).
struct SlotStepCounters {
    var steps: [String: Int] = [:]
    static let prefix = "optimizer.step."

    func tensors() -> [(name: String, tensor: HostTensor)] {
        steps.keys.sorted().map { (Self.prefix + $0, HostTensor(shape: [1], values: [Float(steps[$0]!)])) }
    }

    mutating func load(_ tensors: [String: HostTensor]) throws {
        var loaded: [String: Int] = [:]
        for (name, tensor) in tensors where name.hasPrefix(Self.prefix) {
            guard tensor.values.count == 1, let value = tensor.values.first, value >= 0, value <= 16_777_216,
                value == value.rounded()
            else {
                throw OptimizerStateError("step counter \(name) must be one whole number in 0...2^24, got \(tensor.values)")
            }
            loaded[String(name.dropFirst(Self.prefix.count))] = Int(value)
        }
        steps = loaded
    }
}
