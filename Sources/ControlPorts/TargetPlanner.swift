import ControlProtocol

/// The MPC planner as the control socket sees it (`target.set`, `target.clear`, `status.mpc`,
/// `timing.mpc`, telemetry). Implemented by the daemon's planner; the server encodes what it
/// returns, so the planner never speaks the wire format.
public protocol TargetPlanner: AnyObject, Sendable {
    /// Sets a target: a position (m, base frame) with an optional orientation (w, x, y, z), joint
    /// positions (rad), or a closed end-effector path traversed once per period, again and again.
    /// `duration` (s) spreads the approach (not with a path). The server has checked the params
    /// against the robot's joint count, limits and control rate.
    /// - Throws: an error whose description names the problem (outside the reach, the limits).
    func setTarget(_ request: TargetSetParams) throws
    func clearTarget()
    /// The planner's state; `loopTime` is the loop's current time, for the plan's age.
    func status(loopTime: Double) -> PlannerStatus
    /// The learned model's largest ensemble disagreement along the newest plan (0 with the
    /// rigid-body model), for every telemetry sample: read without locks.
    var planDisagreement: Double { get }
    /// The model version the planner uses.
    var modelVersion: Int { get }
}
