import LinearAlgebra
import RealModule

/// A closed end-effector path traversed at constant timing: waypoints P₀ … P_{N−1} (m, base
/// frame), each segment taking period/N seconds, joined by a periodic Catmull–Rom spline — C¹,
/// through every waypoint, back to P₀ after `period` seconds and then again.
///
///   p(u) = ½ (2P₁ + (P₂ − P₀)u + (2P₀ − 5P₁ + 4P₂ − P₃)u² + (3P₁ − P₀ − 3P₂ + P₃)u³),  u ∈ [0, 1)
///
/// on the segment from P₁ to P₂ (indices mod N).
public struct ReferencePath: Sendable, Equatable {
    public let waypoints: [Vector3]
    /// Seconds per lap.
    public let period: Double

    /// - Precondition: at least 3 waypoints and a positive, finite period.
    public init(waypoints: [Vector3], period: Double) {
        precondition(waypoints.count >= 3 && period > 0 && period.isFinite, "a closed path needs 3 waypoints and a positive period")
        self.waypoints = waypoints
        self.period = period
    }

    /// A circle of `radius` about `center` in the plane spanned by the unit vectors `a` and `b`,
    /// starting at center + radius·a, sampled with `samples` waypoints.
    public static func circle(center: Vector3, radius: Double, a: Vector3, b: Vector3, period: Double, samples: Int = 32) -> ReferencePath {
        let points = (0 ..< samples).map { i -> Vector3 in
            let phi = 2 * Double.pi * Double(i) / Double(samples)
            return center + (radius * Double.cos(phi)) * a + (radius * Double.sin(phi)) * b
        }
        return ReferencePath(waypoints: points, period: period)
    }

    /// The position at `time` seconds after the start of the first lap.
    /// - Note: Real-time safe: no allocation.
    public func position(at time: Double) -> Vector3 {
        let n = waypoints.count
        var s = (time / period).truncatingRemainder(dividingBy: 1)
        if s < 0 { s += 1 }
        let x = s * Double(n)
        let i = min(Int(x), n - 1)
        let u = x - Double(i)
        let p0 = waypoints[(i + n - 1) % n], p1 = waypoints[i], p2 = waypoints[(i + 1) % n], p3 = waypoints[(i + 2) % n]
        let u2 = u * u, u3 = u2 * u
        let c0 = 2.0 * p1
        let c1 = u * (p2 - p0)
        let c2 = u2 * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3)
        let c3 = u3 * (3.0 * p1 - p0 - 3.0 * p2 + p3)
        return 0.5 * (c0 + c1 + c2 + c3)
    }
}
