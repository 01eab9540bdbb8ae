import ControlPorts
import ControlProtocol
import ControlRuntime
import NIOCore

/// `teleop.stream`, `teleop.takeover`, `teleop.handback`: the operator's targets and the
/// operator taking the arm from `policy` or `mpc` and handing it back. All move the arm:
/// operators only. Ticks in `teleop` are recorded as interventions (the loop flags them).
extension ControlService {
    func registerTeleopMethods() {
        register(ControlMethod.teleopStream, role: .operator, sync: { (s, p, _) throws(RPCError) in try s.teleopStream(p) })
        register(ControlMethod.teleopTakeover, role: .operator) { (s, p, _) throws(RPCError) in try s.teleopTakeover(p) }
        register(ControlMethod.teleopHandback, role: .operator) { (s, p, _) throws(RPCError) in try s.teleopHandback(p) }
        if access.teleop?.watchesTakeover == true { watchForTakeover() }
    }

    /// Every 20 ms: the source says whether the operator took the arm (a leader moved by hand in
    /// `policy` or `mpc`); if so, the same switch as `teleop.takeover`, remembering the mode.
    private func watchForTakeover() {
        eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(20)) { [self] in
            defer { watchForTakeover() }
            guard let teleop = access.teleop, !takeoverInFlight else { return }
            let from = access.telemetry().mode
            guard teleop.operatorTookOver(autonomous: from == .policy || from == .mpc) else { return }
            takeoverInFlight = true
            takeOver(from: from).assumeIsolated().whenComplete { _ in self.takeoverInFlight = false }
        }
    }

    /// The switch to `teleop` of a takeover from `from`, remembered for `teleop.handback`. The
    /// origin is set before the loop acknowledges (its telemetry shows `teleop` a tick before the
    /// acknowledgement reaches this event loop, and a `status` or `teleop.handback` in between
    /// must already see it) and forgotten if the loop refuses.
    private func takeOver(from: Mode) -> EventLoopFuture<Mode> {
        takeoverFrom = from
        return commandMode { LoopCommand(id: $0, kind: .setMode, mode: .teleop) }.assumeIsolated().flatMapErrorThrowing { error in
            if self.takeoverFrom == from { self.takeoverFrom = nil }
            throw error
        }.nonisolated()
    }

    /// Posts a target in any mode (the arm follows it only in `teleop`, so a client may start
    /// streaming before it takes over); the result names the mode.
    func teleopStream(_ p: Params) throws(RPCError) -> JSONValue {
        guard let teleop = access.teleop else { throw .wrongMode("this daemon offers no teleop mode", mode: currentMode) }
        let params: TeleopStreamParams
        do {
            params = try TeleopStreamParams(p)
        } catch {
            teleop.countRefused()
            throw error
        }
        var result = try teleop.stream(params)
        result.mode = currentMode
        return result.json
    }

    /// From `policy` or `mpc` to `teleop`; `teleop.handback` returns to the mode it left.
    func teleopTakeover(_ p: Params) throws(RPCError) -> EventLoopFuture<JSONValue> {
        try p.allowOnly([])
        guard access.teleop != nil, info.modes.contains(.teleop) else { throw .wrongMode("this daemon offers no teleop mode", mode: currentMode) }
        let from = access.telemetry().mode
        guard from == .policy || from == .mpc else {
            let hint = from == .teleop ? "the arm is already in teleop" : "in \(from) enter teleop with mode.set {\"mode\": \"teleop\"}"
            throw .wrongMode("teleop.takeover takes the arm from policy or mpc; \(hint)", mode: "\(from)")
        }
        try checkTorqueAllowed("teleop.takeover")
        return takeOver(from: from).assumeIsolated().map { mode in TeleopSwitchResult(mode: "\(mode)", from: "\(from)").json }.nonisolated()
    }

    /// From `teleop` back to the mode `teleop.takeover` left (`mpc` needs a valid plan again).
    func teleopHandback(_ p: Params) throws(RPCError) -> EventLoopFuture<JSONValue> {
        try p.allowOnly([])
        let mode = access.telemetry().mode
        guard let back = takeoverFrom, mode == .teleop else {
            takeoverFrom = nil
            let why = mode == .teleop ? "teleop was entered with mode.set, or a mode.set came after the takeover"
                : "the arm is in \(mode), not in teleop"
            throw .wrongMode("no takeover to hand back (\(why)); teleop.handback returns to the mode teleop.takeover left", mode: "\(mode)")
        }
        try checkTorqueAllowed("teleop.handback")
        return commandMode { LoopCommand(id: $0, kind: .setMode, mode: back) }.assumeIsolated().map { after in
            self.takeoverFrom = nil
            return TeleopSwitchResult(mode: "\(after)", from: "\(mode)").json
        }.nonisolated()
    }

    /// `status.teleop`, with the pending takeover.
    func teleopStatus() -> TeleopStatus? {
        guard var s = access.teleop?.status() else { return nil }
        s.takeoverFrom = takeoverFrom.map(\.description)
        return s
    }
}
