import Synchronization

/// Task indices 0..<count handed out from both ends: the calling thread takes the front one
/// (0, 1, ...), workers take the back one (count - 1, count - 2, ...), until they meet.
///
/// Scheduling stays dynamic (a worker that starts late leaves its share to the others), but a row
/// split gives the calling thread the first rows and the workers the last ones in every layer alike,
/// so a layer mostly reads rows that the same core wrote in the layer before, from its own L2, instead
/// of half of them from the other core's (with one shared counter the two interleave).
struct TwoEndedTasks: ~Copyable {
    /// front | back << 32: the unclaimed indices are front..<back.
    private let unclaimed = Atomic<Int>(0)

    init(count: Int = 0) { reset(count: count) }

    /// Makes 0..<count unclaimed. Not concurrent with `claim`.
    func reset(count: Int) {
        precondition(count >= 0 && count < 1 << 31, "TwoEndedTasks: count out of range: \(count)")
        unclaimed.store(count << 32, ordering: .sequentiallyConsistent)
    }

    /// The front (or back) unclaimed index, or nil when every index is claimed.
    @inline(__always) func claim(fromFront: Bool) -> Int? {
        var packed = unclaimed.load(ordering: .relaxed)
        while true {
            let front = packed & 0xFFFF_FFFF, back = packed >> 32
            if front >= back { return nil }
            let next = fromFront ? packed &+ 1 : packed &- (1 << 32)
            let (exchanged, original) = unclaimed.compareExchange(expected: packed, desired: next, ordering: .relaxed)
            if exchanged { return fromFront ? front : back &- 1 }
            packed = original
        }
    }
}
