import ControlProtocol
import ControlRuntime
import NIOCore

/// `mode.set`, `move`, `target.set`, `target.clear`, `estop`, `reset`: what moves the arm. The
/// typed params check the shape; here go the robot's facts (joint count and limits, the
/// control rate, gravity) and what the daemon runs (planner, policy slot).
extension ControlService {
    func registerMotionMethods() {
        register(ControlMethod.modeSet, role: .operator) { (s, p, _) throws(RPCError) in try s.setMode(p) }
        register(ControlMethod.move, role: .operator) { (s, p, _) throws(RPCError) in try s.move(p) }
        register(ControlMethod.targetSet, role: .operator, sync: { (s, p, _) throws(RPCError) in try s.setTarget(p) })
        register(ControlMethod.targetClear, role: .operator, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            guard s.access.planner != nil || s.access.policies != nil else {
                throw .wrongMode("this daemon runs no MPC planner (mpc.enabled is false) and offers no policy mode", mode: s.currentMode)
            }
            s.access.planner?.clearTarget()
            s.access.policies?.setTarget(joints: nil, position: nil)
            return ["target": .null]
        })
        register(ControlMethod.estop, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            return s.command { LoopCommand(id: $0, kind: .estop) }
        }
        register(ControlMethod.reset, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            // reset returns to hold: torque on.
            try s.checkTorqueAllowed("reset")
            return s.command { LoopCommand(id: $0, kind: .reset) }
        }
    }

    func setMode(_ p: Params) throws(RPCError) -> EventLoopFuture<JSONValue> {
        let params = try ModeSetParams(p)
        let name = params.mode
        guard let mode = Mode(name: name) else {
            throw .invalidParams("unknown mode \"\(name)\" (modes: \(Mode.allCases.map(\.description).joined(separator: ", ")))")
        }
        if mode == .idle, !params.force { try checkIdleIsSafe() }
        if mode != .idle, mode != .estop { try checkTorqueAllowed("mode \(name)") }
        guard info.modes.contains(mode), mode != .move, mode != .faulted else {
            throw .wrongMode("mode \(name) is not available in this build (available: \(info.modes.map(\.description).joined(separator: ", ")); use move for joint moves)",
                             mode: currentMode)
        }
        takeoverFrom = nil
        return command { LoopCommand(id: $0, kind: mode == .estop ? .estop : .setMode, mode: mode) }
    }

    /// `idle` turns the actuators off: an arm that gravity pulls on falls (a 17 kg arm at about
    /// 8 rad/s). Refused while any joint carries more than 5 % of its effort limit in gravity
    /// torque at the measured pose, unless the caller confirms with `"force": true`.
    func checkIdleIsSafe() throws(RPCError) {
        let t = access.telemetry()
        // From faulted or estop the loop refuses idle itself (reset first).
        guard t.mode.isActuated, t.mode != .faulted, t.mode != .estop, let gravity = access.gravityTorque?() else { return }
        let n = min(gravity.count, info.jointNames.count, info.effortLimits.count)
        var worst: (joint: Int, ratio: Double)?
        for i in 0 ..< n where info.effortLimits[i] > 0 {
            let ratio = abs(gravity[i]) / info.effortLimits[i]
            if ratio > 0.05, ratio > (worst?.ratio ?? 0) { worst = (i, ratio) }
        }
        guard let (i, _) = worst else { return }
        let torque = (abs(gravity[i]) * 10).rounded() / 10
        throw .wrongMode("idle turns the torque off and the arm would fall: gravity pulls joint \(info.jointNames[i]) with \(torque) N·m at the measured pose. Move it to a resting pose (or support it) first, use hold or estop to stop it, or confirm with {\"mode\": \"idle\", \"force\": true} (robotctl mode idle --force)",
                         mode: "\(t.mode)")
    }

    func setTarget(_ p: Params) throws(RPCError) -> JSONValue {
        try p.allowOnly(TargetSetParams.keys)
        let planner = access.planner
        // What the daemon runs is checked before the params' shape, so a daemon without a
        // planner says so whatever the target looks like.
        if p.has("path") {
            guard planner != nil else {
                throw .wrongMode("path targets need the MPC planner (mpc.enabled is false)", mode: currentMode)
            }
        } else if !p.has("period") {
            guard planner != nil || access.policies != nil else {
                throw .wrongMode("this daemon runs no MPC planner (mpc.enabled is false) and offers no policy mode", mode: currentMode)
            }
        }
        let params = try TargetSetParams(p)
        var position: [Double]?, orientation: [Double]?, joints: [Double]?
        switch params.target {
        case let .pose(xyz, o): (position, orientation) = (xyz, o)
        case let .joints(q): joints = try checkedJointPositions(q)
        case .path: break
        }
        let duration = try checkedMoveDuration(params.duration)
        if planner == nil, orientation != nil || duration != nil {
            throw .invalidParams("\"orientation\" and \"duration\" shape MPC plans; this daemon runs no planner (mpc.enabled is false)")
        }
        do {
            // The planner validates (workspace, limits); a refused target reaches neither.
            try planner?.setTarget(TargetSetParams(target: params.target, duration: duration))
        } catch {
            throw .invalidParams("\(error)")
        }
        let mode = access.telemetry().mode
        if case let .path(waypoints, _) = params.target {
            return TargetSetResult(mode: "\(mode)", waypoints: waypoints.count,
                                   hint: mode == .mpc ? nil : "send mode.set {\"mode\": \"mpc\"} to follow the path").json
        }
        // Target-conditioned policies observe the same target.
        access.policies?.setTarget(joints: joints, position: position)
        return TargetSetResult(mode: "\(mode)",
                               hint: mode == .mpc || mode == .policy ? nil
                                   : planner == nil ? "send mode.set {\"mode\": \"policy\"} to let a target-conditioned policy act" : "send mode.set {\"mode\": \"mpc\"} to follow the plan").json
    }

    /// One position per joint, each within its limits (`move` and `target.set`; numbers are
    /// finite already, the JSON parser refuses others).
    func checkedJointPositions(_ q: [Double]) throws(RPCError) -> [Double] {
        let n = info.jointNames.count
        guard q.count == n else {
            throw .invalidParams("\"q\" has \(q.count) values; the robot has \(n) joints (\(info.jointNames.joined(separator: ", ")))")
        }
        for i in 0 ..< n where q[i] < info.lowerLimits[i] || q[i] > info.upperLimits[i] {
            throw .invalidParams("\"q\"[\(i)] = \(q[i]) rad is outside joint \(info.jointNames[i])'s limits [\(info.lowerLimits[i]), \(info.upperLimits[i])]")
        }
        return q
    }

    /// Shortest `"duration"` of a move or target: 10 control periods. Anything shorter is a step
    /// command in disguise (5e-324 s was accepted), not a minimum-jerk trajectory.
    var minimumMoveDuration: Double { 10 / Double(max(info.rateHz, 1)) }

    /// The optional `"duration"` of a move or target, in [10 control periods, 600] s.
    func checkedMoveDuration(_ duration: Double?) throws(RPCError) -> Double? {
        if let d = duration, !(d >= minimumMoveDuration && d <= 600) {
            throw .invalidParams("\"duration\" must be in [\(minimumMoveDuration), 600] s (at least 10 control periods at \(info.rateHz) Hz), got \(d)")
        }
        return duration
    }

    func move(_ p: Params) throws(RPCError) -> EventLoopFuture<JSONValue> {
        let params = try MoveParams(p)
        try checkTorqueAllowed("move")
        let q = try checkedJointPositions(params.q)
        let duration = try checkedMoveDuration(params.duration)
        if let duration { try checkMoveSpeed(to: q, duration: duration) }
        return commandMode { .move(id: $0, to: q, duration: duration ?? 0) }
            .map { MoveResult(mode: "\($0)", durationS: duration).json }
    }

    /// A minimum-jerk move of `duration` from the measured pose peaks at 15/8 · |Δq| / T on each
    /// joint: refused when that is above a joint's velocity limit (the loop would only brake it,
    /// and stretches such a move itself), naming the joint and the shortest duration that fits.
    func checkMoveSpeed(to q: [Double], duration: Double) throws(RPCError) {
        let t = access.telemetry()
        // In faulted or estop the loop refuses the move itself, with the reason that matters.
        guard t.mode != .faulted, t.mode != .estop else { return }
        let n = min(q.count, Int(t.dof), info.velocityLimits.count)
        var shortest = 0.0, joint = -1
        for i in 0 ..< n where info.velocityLimits[i] > 0 {
            let needed = 1.875 * abs(q[i] - t.position[i]) / info.velocityLimits[i]
            if needed > shortest { (shortest, joint) = (needed, i) }
        }
        guard joint >= 0, duration < shortest else { return }
        let peak = 1.875 * abs(q[joint] - t.position[joint]) / duration
        func r(_ x: Double, _ k: Double = 1000) -> Double { (x * k).rounded(.up) / k }
        throw .invalidParams("\"duration\" \(duration) s is too short: joint \(info.jointNames[joint]) would peak at \(r(peak, 100)) rad/s, over its limit of \(info.velocityLimits[joint]) rad/s; give at least \(r(shortest)) s (or leave duration out and the loop times the move)")
    }
}
