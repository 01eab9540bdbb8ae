import RealModule

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", 2014): the
/// one seeded generator of robotd (network initialisation, training noise, MPPI samples, sensor
/// noise, test data). Allocation-free, the same sequence on every platform for a seed.
///
///   state ← state + 0x9E3779B97F4A7C15
///   z ← (state ⊕ (state ≫ 30)) · 0xBF58476D1CE4E5B9
///   z ← (z ⊕ (z ≫ 27)) · 0x94D049BB133111EB
///   next = z ⊕ (z ≫ 31)
///
/// A `RandomNumberGenerator`, so `Double.random(in:using:)` and `shuffle(using:)` draw from it.
/// - Note: Real-time safe: no allocation, no locks.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 53 bits over 2⁵³.
    public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Uniform in (0, 1): safe for log.
    public mutating func nextOpenUnit() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    /// A standard normal draw (Box–Muller on two open-interval uniforms, the cosine branch).
    public mutating func nextGaussian() -> Double {
        let u1 = nextOpenUnit(), u2 = nextOpenUnit()
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }
}
