import Control
import ControlRuntime
import Foundation
import Learning
import RigidBody
import RobotInterface
import SimulationDriver
import Testing

/// What the loop does when the process stalls or a controller saturates: the arm never exceeds a
/// limit unfaulted. Driven tick by tick on the simulated sim6 (loop time in the test's hands).
@Suite struct LimitAndStallTests {
    static func loop(policies: PolicySlot? = nil) throws -> (ControlLoop<SimulatedArm>, JointLimits) {
        let model = try ControlLoopTests.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        var config = ControlLoop<SimulatedArm>.Configuration()
        config.flightRecorderTicks = 3000
        config.maxStall = 0.5
        config.velocityFaultMargin = 0.5
        let limits = JointLimits(model: model)
        let loop = ControlLoop(model: model, driver: try SimulatedArm(model: model, configuration: sim),
                               holdController: JointPDController(model: model), limits: limits,
                               configuration: config, policies: policies)
        try loop.start()
        return (loop, limits)
    }

    /// Peak joint speeds of a minimum-jerk move: 15/8 · |Δq| / T (the profile's maximum, at T/2).
    static func peakSpeeds(from q0: [Double], to q1: [Double], duration: Double) -> [Double] {
        zip(q0, q1).map { 1.875 * abs($1 - $0) / duration }
    }

    static func position(_ loop: ControlLoop<SimulatedArm>) -> [Double] {
        let s = loop.telemetry.read()
        return (0 ..< 6).map { s.position[$0] }
    }

    /// A 0.3 s gap in the middle of a 2 s move (below `max_stall`): the reference pauses with the
    /// loop, so the arm resumes at the speed it had instead of stepping 0.3 s ahead at its peak
    /// speed; the move ends at its goal, and no joint is ever faster than the profile's peak
    /// (plus a tracking allowance far below the jump a skipped reference would cause).
    @Test func aGapMidMovePausesTheReferenceInsteadOfJumping() throws {
        let (loop, _) = try Self.loop()
        let q0 = Self.position(loop)
        let goal = [0.5, -1, 1, 0, 0, 0]
        let peak = Self.peakSpeeds(from: q0, to: goal, duration: 2)
        _ = loop.commands.send(.move(id: 1, to: goal, duration: 2))
        var time = 0.0
        var worst = [Double](repeating: 0, count: 6)
        func tick() {
            time += 0.001
            loop.tick(time: time, overran: false)
            let s = loop.telemetry.read()
            for i in 0 ..< 6 { worst[i] = max(worst[i], abs(s.velocity[i])) }
        }
        for _ in 0 ..< 900 { tick() }
        time += 0.3    // the process was stopped: 300 periods without a tick
        for _ in 0 ..< 2500 { tick() }
        let s = loop.telemetry.read()
        #expect(s.mode == .hold, "\(s.mode) \(s.hasFault ? "\(s.fault)" : "")")
        #expect(s.stalls == 1 && abs(s.stalledTime - 0.3) < 1e-9, "\(s.stalls) stalls, \(s.stalledTime) s")
        for i in 0 ..< 6 {
            #expect(abs(s.position[i] - goal[i]) < 3e-3, "joint \(i) at \(s.position[i]), goal \(goal[i])")
            #expect(worst[i] <= peak[i] * 1.1 + 0.1, "joint \(i): \(worst[i]) rad/s, the move's peak is \(peak[i])")
        }
    }

    /// A gap longer than `max_stall` (a 2 s SIGSTOP) faults the loop at the first tick after it,
    /// with the flight recorder frozen; the arm is held where it is, never stepped to the goal.
    @Test func aGapLongerThanMaxStallFaultsAndHolds() throws {
        let (loop, _) = try Self.loop()
        let q0 = Self.position(loop)
        let goal = [0.5, -1, 1, 0, 0, 0]
        let peak = Self.peakSpeeds(from: q0, to: goal, duration: 2)
        _ = loop.commands.send(.move(id: 1, to: goal, duration: 2))
        var time = 0.0
        for _ in 0 ..< 600 { time += 0.001; loop.tick(time: time, overran: false) }
        let before = Self.position(loop)
        time += 2.0
        var worst = [Double](repeating: 0, count: 6)
        for _ in 0 ..< 2000 {
            time += 0.001
            loop.tick(time: time, overran: false)
            let s = loop.telemetry.read()
            for i in 0 ..< 6 { worst[i] = max(worst[i], abs(s.velocity[i])) }
        }
        let s = loop.telemetry.read()
        #expect(s.mode == .faulted && s.hasFault && s.fault == .stall, "\(s.mode)")
        #expect(loop.flightRecorder.isFrozen)
        let q = Self.position(loop)
        for i in 0 ..< 6 {
            #expect(worst[i] <= peak[i] * 1.1 + 0.1, "joint \(i): \(worst[i]) rad/s after the stall")
            // Held near where the stall found it: the move's remaining travel was not taken.
            #expect(abs(q[i] - before[i]) < 0.05 + 0.5 * abs(goal[i] - before[i]), "joint \(i) went from \(before[i]) to \(q[i])")
        }
    }

    /// A move whose duration is far too short for the joints (the loop's own guard, behind the
    /// socket's refusal) is stretched to the shortest minimum-jerk move within the velocity
    /// limits: no joint exceeds its limit, and the move still ends at its goal.
    @Test func aMoveTooFastForTheJointsIsStretchedToTheirLimits() throws {
        let (loop, limits) = try Self.loop()
        var goal = Self.position(loop)
        goal[0] += 0.6
        goal[1] += 0.4
        _ = loop.commands.send(.move(id: 1, to: goal, duration: 5e-324))
        var time = 0.0
        var worstRatio = 0.0
        for _ in 0 ..< 2000 {
            time += 0.001
            loop.tick(time: time, overran: false)
            let s = loop.telemetry.read()
            #expect(s.mode == .move || s.mode == .hold, "\(s.mode)")
            for i in 0 ..< 6 { worstRatio = max(worstRatio, abs(s.velocity[i]) / limits.velocity[i]) }
        }
        let s = loop.telemetry.read()
        #expect(s.mode == .hold)
        #expect(worstRatio <= 1.0, "a joint reached \(worstRatio) × its velocity limit")
        for i in 0 ..< 6 { #expect(abs(s.position[i] - goal[i]) < 5e-3, "joint \(i) at \(s.position[i]), goal \(goal[i])") }
    }

    /// A policy that asks for 10 kN·m on every joint (a saturating network): the limiter brakes
    /// every joint above its velocity limit, so no joint exceeds it by more than the braking band
    /// (URDF limits, 3.15–3.2 rad/s), and the loop faults before any joint reaches a position limit
    /// or the velocity fault margin; after the fault the arm is brought to rest.
    @Test func aSaturatingPolicyIsBrakedAndFaultsBeforeALimit() throws {
        let slot = PolicySlot(dof: 6)
        let (loop, limits) = try Self.loop(policies: slot)
        let saturating = MLP(widths: [12, 6], activation: .identity, weights: [[Float](repeating: 0, count: 72)],
                             biases: [[Float](repeating: 1e4, count: 6)])
        slot.install(MLPPolicy(mlp: try #require(saturating), name: "saturating", actionKind: .torque))
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        var time = 0.0
        var faultedAt: Double?
        var worstRatio = 0.0
        var worstPositionMargin = Double.infinity
        for _ in 0 ..< 6000 {
            time += 0.001
            loop.tick(time: time, overran: false)
            let s = loop.telemetry.read()
            if s.mode == .faulted {
                if faultedAt == nil { faultedAt = time }
                continue
            }
            #expect(s.mode == .policy)
            for i in 0 ..< 6 {
                worstRatio = max(worstRatio, abs(s.velocity[i]) / limits.velocity[i])
                worstPositionMargin = min(worstPositionMargin, s.position[i] - limits.lower[i], limits.upper[i] - s.position[i])
            }
        }
        let s = loop.telemetry.read()
        let when = try #require(faultedAt, "a saturating policy ran 6 s without a fault")
        #expect(s.fault == .positionLimit || s.fault == .velocityLimit, "\(s.fault) at \(when) s")
        #expect(loop.flightRecorder.isFrozen)
        // Braking holds every joint within 10 % (the braking band) plus one tick of gravity.
        #expect(worstRatio <= 1 + CommandLimiter.brakingBand + 0.05, "a joint reached \(worstRatio) × its velocity limit unfaulted")
        #expect(worstPositionMargin > 0, "a joint reached a position limit unfaulted")
        for i in 0 ..< 6 { #expect(abs(s.velocity[i]) < 0.1, "joint \(i) still moving at \(s.velocity[i]) rad/s, \(6 - when) s after the fault") }
    }
}

/// A servo arm that fell onto its stop while unpowered (a fault's torque off) rests just past a
/// joint limit. Powering it must bring that joint back inside instead of faulting at once, which
/// would leave `reset` unable to ever re-arm the arm; once inside, the joint's limit check is armed
/// again, so a later excursion still faults.
@Suite struct LimitReentryTests {
    static func loop(mode: CommandMode) throws -> (ControlLoop<SimulatedArm>, JointLimits) {
        let model = try ControlLoopTests.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        var config = ControlLoop<SimulatedArm>.Configuration()
        config.commandMode = mode
        // The loop's bound for joint 1 (−1.25) lies inside where the arm rests (−1.2 is past it).
        var limits = JointLimits(model: model)
        limits.upper[1] = -1.25
        let loop = ControlLoop(model: model, driver: try SimulatedArm(model: model, configuration: sim),
                               holdController: JointPDController(model: model), limits: limits, configuration: config)
        try loop.start()
        return (loop, limits)
    }

    @Test(arguments: [CommandMode.torque, .position]) func aJointPastItsLimitIsBroughtBackNotFaulted(_ mode: CommandMode) throws {
        let (loop, limits) = try Self.loop(mode: mode)
        var t = 0.0
        var worst = -Double.infinity
        for _ in 0 ..< 3000 {
            t += 0.001
            loop.tick(time: t, overran: false)
            let s = loop.telemetry.read()
            #expect(s.mode == .hold, "\(mode): \(s.mode) \(s.hasFault ? "\(s.fault)" : "") at \(t) s")
            if s.mode != .hold { return }
            worst = s.position[1]
        }
        #expect(worst < limits.upper[1], "\(mode): joint 1 at \(worst), its upper limit \(limits.upper[1])")
        // Armed again: a move target is refused outside, and the loop faults if the joint is
        // pushed past the limit (a policy or plan cannot: the limiter clamps; the arm is held).
        let s = loop.telemetry.read()
        #expect(s.position[1] > limits.upper[1] - 0.05, "held just inside the limit, at \(s.position[1])")
    }
}
