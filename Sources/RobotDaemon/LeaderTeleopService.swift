import ControlPorts
import ControlProtocol
import Platform
import ServoDriver

/// `status.teleop` for a leader arm (`teleop.source: leader`): the leader drives `teleop`, so
/// `teleop.stream` is refused; `inputs.received` counts the leader's samples the tick used, the
/// latency runs from a sample's bus read to the first tick that commanded it.
final class LeaderTeleopService: TeleopControl, @unchecked Sendable {
    let source: LeaderArmSource

    init(source: LeaderArmSource) { self.source = source }

    func stream(_ params: TeleopStreamParams) throws(RPCError) -> TeleopStreamResult {
        throw .invalidParams("teleop.source is leader: the leader arm (\(source.name)) drives teleop; teleop.stream needs teleop.source: stream")
    }

    func countRefused() {}

    func status() -> TeleopStatus {
        let stats = source.statistics.read()
        let now = MonotonicClock.now()
        let age = stats.newestSequence == 0 ? nil : Double(now > stats.newestPostedAt ? now - stats.newestPostedAt : 0) * 1e-9
        func ms(_ q: Double) -> Double { stats.latency.total == 0 ? 0 : Double(stats.latency.value(atQuantile: q)) * 1e-6 }
        return TeleopStatus(source: "leader", acting: stats.acting, inputAgeS: age, latencyP50Ms: ms(0.5), latencyP99Ms: ms(0.99),
                            received: Int(clamping: stats.newestSequence), refused: Int(clamping: stats.refused))
    }
}
