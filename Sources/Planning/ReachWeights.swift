/// The weights of the reaching task's cost terms (`mpc.weights` in the daemon configuration,
/// decoded straight into this type; configs/README.md lists the keys). Cost is dimensionless;
/// running weights are per second of the horizon (a running node costs dt·w·a(r)), terminal
/// weights apply once at the horizon's end. Which terms a target uses, and with which of these
/// weights, is `ReachTask`'s business.
public struct ReachWeights: Sendable, Equatable {
    /// `running_frame`: ½w‖p − p*‖² per second towards a pose target (1/(m²·s)).
    public var runningFrame = 1.0
    /// `running_state`: ½w‖x − (q_now, 0)‖² per second, damping of the motion (1/(rad²·s) on
    /// q, s/rad² on v); for joint targets, the velocity part of the joint tracking.
    public var runningState = 1e-3
    /// `running_control`: ½w‖τ‖² per second (1/(N²·m²·s)); must be positive (it keeps Q_uu
    /// positive definite).
    public var runningControl = 1e-5
    /// `terminal_frame`: ½W‖p − p*‖² at the end of the horizon (1/m²).
    public var terminalFrame = 1e3
    /// `running_orientation`: ½w‖r_o‖² per second, r_o the orientation error (1/(rad²·s)); only
    /// for targets with an orientation.
    public var runningOrientation = 0.1
    /// `terminal_orientation`: ½W‖r_o‖² at the end (1/rad²).
    public var terminalOrientation = 100.0
    /// `terminal_velocity`: ½W‖v‖² at the end, arrive at rest (s²/rad²); not for paths.
    public var terminalVelocity = 1.0
    /// `running_joint`: joint targets, ½w‖q − q*‖² per second (1/(rad²·s)).
    public var runningJoint = 1.0
    /// `path_frame`: path targets, ½w‖p − p*(t)‖² per second along the moving reference
    /// (1/(m²·s)).
    public var pathFrame = 300.0
    /// `terminal_joint`: joint targets, ½W‖q − q*‖² at the end (1/rad²).
    public var terminalJoint = 1e3
    /// `joint_limit_barrier`: ½w·d² where d is how far a joint is inside the last
    /// `ReachTask.limitMargin` before a position limit, per second on running nodes and once at
    /// the end (1/(rad²·s), 1/rad²).
    public var jointLimitBarrier = 100.0

    /// The daemon's defaults (configs/README.md).
    public init() {}
}
