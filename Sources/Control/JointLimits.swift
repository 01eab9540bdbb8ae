import RigidBody

/// The bounds the command limiter enforces, per joint, in SI units: positions (rad or m),
/// velocities (rad/s or m/s), efforts (N·m or N), and the effort slew rate (N·m/s).
public struct JointLimits: Sendable, Equatable {
    public var lower: [Double]
    public var upper: [Double]
    public var velocity: [Double]
    public var effort: [Double]
    /// Largest change of a commanded effort per second.
    public var slewRate: Double

    public init(lower: [Double], upper: [Double], velocity: [Double], effort: [Double], slewRate: Double) {
        precondition(lower.count == upper.count && upper.count == velocity.count && velocity.count == effort.count, "one limit per joint")
        self.lower = lower
        self.upper = upper
        self.velocity = velocity
        self.effort = effort
        self.slewRate = slewRate
    }

    /// The robot description's limits, velocity and effort scaled by factors in (0, 1].
    public init(model: RobotModel, velocityScale: Double = 1, effortScale: Double = 1, slewRate: Double = 1000) {
        self.init(
            lower: model.joints.map(\.lowerLimit), upper: model.joints.map(\.upperLimit),
            velocity: model.joints.map { $0.velocityLimit * velocityScale },
            effort: model.joints.map { $0.effortLimit * effortScale }, slewRate: slewRate
        )
    }

    public var dof: Int { lower.count }
}
