import RobotInterface

/// The last gate before the driver: keeps every command inside the joint limits, whatever the
/// controller asked for.
///
/// - torque: τ clamped to ±τ_max, its change per tick to ±slew·dt, and any effort that pushes a
///   joint further past a position limit removed; above its velocity limit a joint is braked,
///   τ ≤ −D (|v| − v_max) sign(v) with D = τ_max / (0.1 v_max) (full effort 10 % over the limit),
///   whatever the controller asked and however fast the slew limit would have let τ change
///   (removing the push alone lets gravity and the other joints' motion carry it on);
/// - position: goal clamped into [lower, upper], and its step per tick to ±v_max·dt from the
///   previous goal (so a far goal becomes a speed-limited approach);
/// - velocity: clamped to ±v_max, and zeroed when it points out of the position range.
/// `reset(from:)` starts from the measured state so that entering a mode never jumps.
public struct CommandLimiter: Sendable {
    public let limits: JointLimits
    /// Fraction of the velocity limit over it at which braking reaches full effort.
    public static let brakingBand = 0.1
    private var previousEffort: [Double]
    private var previousGoal: [Double]

    public init(limits: JointLimits) {
        self.limits = limits
        previousEffort = Array(repeating: 0, count: limits.dof)
        previousGoal = Array(repeating: 0, count: limits.dof)
    }

    /// Restarts from the measured state: the previous goal is the measured position, the previous
    /// effort the measured effort.
    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func reset(from state: JointState) {
        for i in 0 ..< limits.dof {
            previousGoal[i] = state.position[i]
            previousEffort[i] = state.effort[i].isFinite ? state.effort[i] : 0
        }
    }

    /// Limits `command` in place for a tick of `dt` seconds at measured `state`.
    /// - Returns: how many joint values were changed.
    /// - Note: Real-time safe: no allocation, no locks.
    @discardableResult
    public mutating func limit(_ command: inout JointCommand, state: JointState, dt: Double) -> Int {
        var changed = 0
        for i in 0 ..< limits.dof {
            let original = command.values[i]
            var x = original
            let q = state.position[i], v = state.velocity[i]
            switch command.mode {
            case .torque:
                let step = limits.slewRate * dt
                x = min(max(x, previousEffort[i] - step), previousEffort[i] + step)
                x = min(max(x, -limits.effort[i]), limits.effort[i])
                if (q >= limits.upper[i] && x > 0) || (q <= limits.lower[i] && x < 0) { x = 0 }
                let excess = abs(v) - limits.velocity[i]
                if excess > 0 {
                    let brake = min(limits.effort[i], limits.effort[i] * excess / (Self.brakingBand * limits.velocity[i]))
                    x = v > 0 ? min(x, -brake) : max(x, brake)
                }
                previousEffort[i] = x
            case .position:
                x = min(max(x, limits.lower[i]), limits.upper[i])
                let step = limits.velocity[i] * dt
                x = min(max(x, previousGoal[i] - step), previousGoal[i] + step)
                previousGoal[i] = x
                let ff = command.feedforwardEffort[i]
                command.feedforwardEffort[i] = min(max(ff, -limits.effort[i]), limits.effort[i])
            case .velocity:
                x = min(max(x, -limits.velocity[i]), limits.velocity[i])
                if (q >= limits.upper[i] && x > 0) || (q <= limits.lower[i] && x < 0) { x = 0 }
            }
            if x != original { changed += 1 }
            command.values[i] = x
        }
        return changed
    }
}
