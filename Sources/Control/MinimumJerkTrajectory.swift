/// A joint-space minimum-jerk move from rest to rest (Flash & Hogan):
///   q(t) = q₀ + (q₁ − q₀) s(τ),  τ = t / T,  s = 10τ³ − 15τ⁴ + 6τ⁵,
///   ṡ = (30τ² − 60τ³ + 30τ⁴) / T,  s̈ = (60τ − 180τ² + 120τ³) / T².
/// Velocity and acceleration are zero at both ends; the peak speed is 1.875 |q₁ − q₀| / T at τ = ½.
public struct MinimumJerkTrajectory: Sendable, Equatable {
    /// (dof) start and goal positions (rad or m).
    public private(set) var start: [Double]
    public private(set) var goal: [Double]
    /// Duration T (s).
    public private(set) var duration: Double

    /// Buffers for `dof` joints, initially a zero-length move at the origin.
    public init(dof: Int) {
        start = Array(repeating: 0, count: dof)
        goal = Array(repeating: 0, count: dof)
        duration = 0
    }

    /// The shortest duration for which no joint exceeds its speed bound:
    /// T = max_i 1.875 |Δq_i| / v_max,i, at least `minimum`.
    public static func duration(from start: [Double], to goal: [Double], maxVelocity: [Double], minimum: Double = 0.1) -> Double {
        var t = minimum
        for i in start.indices where maxVelocity[i] > 0 {
            t = max(t, 1.875 * abs(goal[i] - start[i]) / maxVelocity[i])
        }
        return t
    }

    /// Re-targets the move in place (no allocation when sizes match).
    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func set(start: [Double], goal: [Double], duration: Double) {
        precondition(start.count == self.start.count && goal.count == self.goal.count, "trajectory sized for \(self.start.count) joints")
        precondition(duration >= 0 && duration.isFinite, "duration must be finite and ≥ 0")
        for i in 0 ..< start.count {
            self.start[i] = start[i]
            self.goal[i] = goal[i]
        }
        self.duration = duration
    }

    /// Desired position, velocity and acceleration at time `t` (s) since the start; clamped to the
    /// goal (at rest) after `duration`.
    /// - Note: Real-time safe: no allocation, no locks.
    public func sample(at t: Double, position: inout [Double], velocity: inout [Double], acceleration: inout [Double]) {
        let n = start.count
        guard duration > 0, t < duration else {
            for i in 0 ..< n {
                position[i] = goal[i]
                velocity[i] = 0
                acceleration[i] = 0
            }
            return
        }
        let tau = max(0, t / duration)
        let t2 = tau * tau, t3 = t2 * tau
        let s = t3 * (10 - 15 * tau + 6 * t2)
        let ds = 30 * t2 * (1 - 2 * tau + t2) / duration
        let dds = (60 * tau - 180 * t2 + 120 * t3) / (duration * duration)
        for i in 0 ..< n {
            let d = goal[i] - start[i]
            position[i] = start[i] + d * s
            velocity[i] = d * ds
            acceleration[i] = d * dds
        }
    }

    /// Whether the move is over at time `t`.
    public func isFinished(at t: Double) -> Bool { t >= duration }
}
