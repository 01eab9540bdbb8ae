import ControlProtocol

/// The teleop source as the control socket sees it (`teleop.stream`, `status.teleop`),
/// implemented next to the control loop (RobotDaemon). Calls run on the server's event loop:
/// they check, solve inverse kinematics (a few warm-started iterations) and post, never waiting
/// for the control thread.
public protocol TeleopControl: AnyObject, Sendable {
    /// Checks a streamed target against the robot (joint count, limits, reach), turns a pose
    /// into joint positions and posts them for the tick; a newer post overwrites an older one.
    /// - Returns: the posted joint target and its sequence number (`mode` left empty for the
    ///   server to fill), with the inverse kinematics' residual errors for a pose.
    /// - Throws: *invalid params* naming the value at fault; the target is not posted.
    func stream(_ params: TeleopStreamParams) throws(RPCError) -> TeleopStreamResult
    /// Counts an input the server refused before `stream` (malformed params), in `status.teleop`.
    func countRefused()
    /// The source and its stream (`takeover_from` left nil for the server to fill).
    func status() -> TeleopStatus
    /// Whether this source watches for an operator taking the arm (a leader arm moved by hand).
    var watchesTakeover: Bool { get }
    /// Called every 20 ms on the event loop: `autonomous` says whether the loop is in `policy` or
    /// `mpc`. True once the operator took the arm (the server then switches to `teleop`, as
    /// `teleop.takeover` does); the source re-arms when the loop is autonomous again.
    func operatorTookOver(autonomous: Bool) -> Bool
}

extension TeleopControl {
    public var watchesTakeover: Bool { false }
    public func operatorTookOver(autonomous: Bool) -> Bool { false }
}
