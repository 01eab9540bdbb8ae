import ControlPorts
import ControlProtocol
import Platform
import ServoDriver
import Synchronization

/// `status.teleop` for a leader arm (`teleop.source: leader`): the leader drives `teleop`, so
/// `teleop.stream` is refused; `inputs.received` counts the leader's samples the tick used, the
/// latency runs from a sample's bus read to the first tick that commanded it.
///
/// Takeover: in `policy` or `mpc` the leader's pose when the loop became autonomous is its rest;
/// a joint moved more than `takeoverThreshold` from it means a person took the leader, and the
/// server switches to `teleop` (the follower then slews to the leader's pose under the step limit).
final class LeaderTeleopService: TeleopControl, @unchecked Sendable {
    let source: LeaderArmSource
    let takeoverThreshold: Double
    /// The leader's rest pose while the loop is autonomous (nil outside, or before a sample).
    private let rest = Mutex<[Double]?>(nil)

    init(source: LeaderArmSource, takeoverThreshold: Double) {
        self.source = source
        self.takeoverThreshold = takeoverThreshold
    }

    var watchesTakeover: Bool { takeoverThreshold > 0 }

    func operatorTookOver(autonomous: Bool) -> Bool {
        guard autonomous else {
            rest.withLock { $0 = nil }
            return false
        }
        guard let pose = source.peekGoals() else { return false }
        return rest.withLock { rest in
            guard let anchor = rest else {
                rest = pose
                return false
            }
            guard zip(pose, anchor).contains(where: { abs($0.0 - $0.1) > takeoverThreshold }) else { return false }
            rest = nil
            return true
        }
    }

    func stream(_ params: TeleopStreamParams) throws(RPCError) -> TeleopStreamResult {
        throw .invalidParams("teleop.source is leader: the leader arm (\(source.name)) drives teleop; teleop.stream needs teleop.source: stream")
    }

    func countRefused() {}

    func status() -> TeleopStatus {
        let stats = source.statistics.read()
        let now = MonotonicClock.now()
        let age = stats.newestSequence == 0 ? nil : Double(now > stats.newestPostedAt ? now - stats.newestPostedAt : 0) * 1e-9
        return TeleopStatus(source: "leader", acting: stats.acting, inputAgeS: age, latencyP50Ms: stats.latencyMilliseconds(atQuantile: 0.5), latencyP99Ms: stats.latencyMilliseconds(atQuantile: 0.99),
                            received: Int(clamping: stats.newestSequence), refused: Int(clamping: stats.refused))
    }
}
