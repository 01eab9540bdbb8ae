/// A fixed-size log-linear histogram of durations in nanoseconds (HdrHistogram-like, no
/// allocation): values below 64 ns fall in exact-width buckets, above that each power of two is
/// split into 32 linear sub-buckets, so a recorded value is known to within 1/32 ≈ 3 %.
/// Covers 0 ns … ~2⁴¹ ns (36 min); larger values land in the last bucket.
public struct LatencyHistogram: Sendable, BitwiseCopyable {
    public static let bucketCount = 1216
    static let subBuckets = 32
    static let subBucketShift = 5

    private var counts: InlineArray<1216, UInt64>
    public private(set) var total: UInt64
    public private(set) var max: UInt64
    public private(set) var min: UInt64
    private var sum: Double

    public init() {
        counts = InlineArray(repeating: 0)
        total = 0
        max = 0
        min = .max
        sum = 0
    }

    /// Bucket of value v: below 2·subBuckets it is v itself; else with e = ⌊log₂ v⌋ the bucket is
    /// (e − shift) · subBuckets + (v >> (e − shift)), i.e. the top `shift + 1` bits of v.
    @inline(__always)
    static func bucket(_ v: UInt64) -> Int {
        if v < UInt64(2 * subBuckets) { return Int(v) }
        let e = 63 - v.leadingZeroBitCount
        let shift = e - subBucketShift
        let index = shift * subBuckets + Int(v >> UInt64(shift))
        return Swift.min(index, bucketCount - 1)
    }

    /// Smallest value that falls in bucket `b` (inverse of `bucket`).
    static func lowerBound(_ b: Int) -> UInt64 {
        if b < 2 * subBuckets { return UInt64(b) }
        let shift = b / subBuckets - 1
        let mantissa = UInt64(b - shift * subBuckets)
        return mantissa << UInt64(shift)
    }

    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func record(_ nanoseconds: UInt64) {
        counts[Self.bucket(nanoseconds)] &+= 1
        total &+= 1
        if nanoseconds > max { max = nanoseconds }
        if nanoseconds < min { min = nanoseconds }
        sum += Double(nanoseconds)
    }

    public mutating func reset() { self = LatencyHistogram() }

    /// Adds every sample of `other` (the histogram of the union of the two sample sets).
    public mutating func merge(_ other: LatencyHistogram) {
        for b in 0 ..< Self.bucketCount { counts[b] &+= other.counts[b] }
        total &+= other.total
        if other.total > 0 {
            max = Swift.max(max, other.max)
            min = Swift.min(min, other.min)
        }
        sum += other.sum
    }

    public var mean: Double { total == 0 ? 0 : sum / Double(total) }

    /// Samples recorded at or above `nanoseconds`, to bucket resolution (the bucket holding the
    /// value counts whole). Differences of two readings count a time window's samples.
    public func count(atLeast nanoseconds: UInt64) -> UInt64 {
        var n: UInt64 = 0
        for b in Self.bucket(nanoseconds) ..< Self.bucketCount { n &+= counts[b] }
        return n
    }

    /// The value at quantile `q` ∈ [0, 1]: the midpoint of the bucket holding the ⌈q·N⌉-th
    /// smallest sample, clamped to the observed min and max (so p100 is the exact maximum).
    public func value(atQuantile q: Double) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((q * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for b in 0 ..< Self.bucketCount {
            seen &+= counts[b]
            if seen >= rank {
                let lo = Self.lowerBound(b)
                let hi = b + 1 < Self.bucketCount ? Self.lowerBound(b + 1) : lo
                let mid = hi > lo ? lo + (hi - lo - 1) / 2 : lo
                return Swift.min(Swift.max(mid, min), max)
            }
        }
        return max
    }
}
