/// The one buffer that holds every intermediate activation (and kernel workspace) of a forward
/// pass, laid out by the planner. It grows when a larger batch arrives and is otherwise reused:
/// no allocation happens per layer or per call.
public final class ActivationArena: @unchecked Sendable {
    private var storage: UnsafeMutablePointer<Float>?
    public private(set) var capacity = 0

    public init() {}

    deinit { storage.map { LargeBuffer.deallocate($0, floats: capacity) } }

    /// A buffer of at least `floats` floats; contents are unspecified.
    public func reserve(floats: Int) -> UnsafeMutablePointer<Float> {
        if floats > capacity || storage == nil {
            storage.map { LargeBuffer.deallocate($0, floats: capacity) }
            capacity = max(floats, 1)
            storage = LargeBuffer.allocate(floats: capacity)
        }
        return storage!
    }
}
