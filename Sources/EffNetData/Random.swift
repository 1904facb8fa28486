/// The seedable random number generator of the data pipeline: SplitMix64 (Steele, Lea and
/// Flood 2014), the same mixer EffNetRuntime uses for synthetic weights.
///
/// Every random transform takes the generator `inout`, so a pipeline run is a pure function of
/// (seed, input). Loaders derive one independent stream per sample with
/// ``SplitMix64/init(seed:stream:)`` so results do not depend on worker scheduling.
/// Draws follow torchvision's algorithms but not torch's generator, so the random choices are
/// not the ones torch would make for the same seed.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The generator state (advance-then-mix). Public so a loader can checkpoint it.
    public var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// An independent stream for item `stream` (e.g. a sample index) of the run seeded `seed`.
    public init(seed: UInt64, stream: UInt64) {
        state = SplitMix64.mix(seed ^ SplitMix64.mix(stream &+ 0x632B_E59B_D9B4_E019))
    }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finaliser.
    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits (like `torch.rand` but double precision).
    @inlinable
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [low, high) (torch's `uniform_(low, high)`).
    @inlinable
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * nextUnit()
    }

    /// Uniform integer in 0..<bound (torch's `randint(bound)`), unbiased.
    @inlinable
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0, "SplitMix64.int(below:): bound must be positive")
        return Int(next(upperBound: UInt64(bound)))
    }

    /// True with probability `p` (torchvision's `torch.rand(1) < p`).
    @inlinable
    public mutating func bernoulli(_ p: Double) -> Bool {
        nextUnit() < p
    }
}
