/// Box bounds on a planner's controls: lower ≤ u ≤ upper per control (nil = unbounded on that
/// side). Shared by the planners so that a bound means the same everywhere.
public struct ControlBounds: Sendable, Equatable {
    public var lower: [Double]?
    public var upper: [Double]?

    public init(lower: [Double]? = nil, upper: [Double]? = nil) {
        self.lower = lower
        self.upper = upper
    }

    /// −limits ≤ u ≤ limits, e.g. the joints' effort limits.
    public static func symmetric(_ limits: [Double]) -> ControlBounds {
        ControlBounds(lower: limits.map { -$0 }, upper: limits)
    }

    @inline(__always) public func lower(_ i: Int) -> Double { lower?[i] ?? -.infinity }
    @inline(__always) public func upper(_ i: Int) -> Double { upper?[i] ?? .infinity }

    /// `v` clamped into control `i`'s bounds.
    @inline(__always) public func clamp(_ v: Double, _ i: Int) -> Double { min(max(v, lower(i)), upper(i)) }
}
