import AllocationCounter
import BuildInfo
import Control
import ControlRuntime
import RigidBody
import RobotInterface
import SimulationDriver
import Testing

@Suite struct PlanSlotTests {
    /// u = u_ff[k] + K[k](x − x_ref(t)) with x_ref linear inside the interval, against a direct
    /// evaluation; outside the plan there is no control.
    @Test func evaluatesTheFeedbackLawAtTheRightNode() {
        let slot = PlanSlot(dof: 1, capacity: 4)
        #expect(slot.newest() == nil)
        slot.publish(t0: 2.0, dt: 0.1, count: 4) { xRef, uff, gains in
            for k in 0 ... 4 { xRef[2 * k] = Double(k); xRef[2 * k + 1] = -Double(k) }
            for k in 0 ..< 4 { uff[k] = 10 * Double(k); gains[2 * k] = 1; gains[2 * k + 1] = 0.5 }
        }
        var u = [0.0]
        let x = [1.7, -1.0]
        // t = 2.15: node 1, w = 0.5 → x_ref = (1.5, −1.5); u = 10 + (1.7 − 1.5) + 0.5·(−1 + 1.5).
        let t0 = slot.control(at: 2.15, state: x, into: &u)
        #expect(t0 == 2.0)
        #expect(abs(u[0] - (10 + 0.2 + 0.25)) < 1e-12)
        #expect(slot.control(at: 1.99, state: x, into: &u) == nil)
        #expect(slot.control(at: 2.45, state: x, into: &u) == nil)
        slot.clear()
        #expect(slot.control(at: 2.15, state: x, into: &u) == nil)
    }

    /// A plan older than the slot's validity is not followed, although it still spans `t`.
    @Test func aPlanIsFollowedOnlyWithinItsValidity() {
        let slot = PlanSlot(dof: 1, capacity: 4, validity: 0.2)
        slot.publish(t0: 2.0, dt: 0.1, count: 4) { xRef, uff, gains in
            for k in 0 ... 4 { xRef[2 * k] = 0; xRef[2 * k + 1] = 0 }
            for k in 0 ..< 4 { uff[k] = 1; gains[2 * k] = 0; gains[2 * k + 1] = 0 }
        }
        var u = [0.0], q = [0.0], tau = [0.0]
        #expect(slot.covers(2.15) && slot.control(at: 2.15, state: [0, 0], into: &u) == 2.0)
        #expect(!slot.covers(2.25) && slot.control(at: 2.25, state: [0, 0], into: &u) == nil)
        #expect(slot.reference(at: 2.25, position: &q, effort: &tau) == nil)
        #expect(!slot.covers(1.95))
    }
}

@Suite struct MPCModeTests {
    static func loop(validity: Double = 0.05, mode: CommandMode = .torque) throws -> (ControlLoop<SimulatedArm>, PlanSlot, RobotModel) {
        let model = try Fixtures.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        let plans = PlanSlot(dof: 6, capacity: 50, validity: validity)
        var config = ControlLoop<SimulatedArm>.Configuration()
        config.commandMode = mode
        config.overrunFaultThreshold = 100_000
        let loop = ControlLoop(model: model, driver: try SimulatedArm(model: model, configuration: sim),
                               holdController: JointPDController(model: model), limits: JointLimits(model: model),
                               configuration: config, plans: plans)
        try loop.start()
        return (loop, plans, model)
    }

    @Test func mpcNeedsAFreshPlanAndFallsBackToHoldWhenItAges() throws {
        let (loop, plans, model) = try Self.loop(validity: 0.2)
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        tick(10)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .mpc))
        tick(1)
        #expect(loop.results.pop() == LoopCommandResult(id: 1, accepted: false, mode: .hold, reason: .noPlan))

        // A plan holding the current pose: gravity torques, no feedback.
        var ws = model.makeWorkspace()
        let q = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        model.rnea(&ws, q: q, v: Array(repeating: 0, count: 6), a: Array(repeating: 0, count: 6))
        let gravity = ws.tau
        let t0 = Double(k) * 0.001
        plans.publish(t0: t0, dt: 0.01, count: 50) { xRef, uff, gains in
            for n in 0 ... 50 { for i in 0 ..< 6 { xRef[n * 12 + i] = q[i]; xRef[n * 12 + 6 + i] = 0 } }
            for n in 0 ..< 50 { for i in 0 ..< 6 { uff[n * 6 + i] = gravity[i] } }
            for n in 0 ..< 50 * 72 { gains[n] = 0 }
        }
        _ = loop.commands.send(LoopCommand(id: 2, kind: .setMode, mode: .mpc))
        tick(1)
        #expect(loop.results.pop() == LoopCommandResult(id: 2, accepted: true, mode: .mpc))
        // The limiter's slew rate (1000 N·m/s) takes the command from the measured effort to
        // the plan's within a few dozen ticks. Ticks following a plan allocate nothing.
        AllocationCounter_start()
        tick(60)
        let allocations = AllocationCounter_stop()
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations in 60 mpc ticks") }
        let s = loop.telemetry.read()
        #expect(s.mode == .mpc)
        for i in 0 ..< 6 { #expect(abs(s.command[i] - gravity[i]) < 1e-9, "joint \(i): \(s.command[i]) vs \(gravity[i]); \((0 ..< 6).map { s.command[$0] }) vs \(gravity)") }
        // The planner stops publishing: 200 ms after t0 the plan is stale and the loop holds.
        while loop.telemetry.read().mode == .mpc, k < 1000 { tick(1) }
        let heldAt = Double(k) * 0.001
        #expect(loop.telemetry.read().mode == .hold)
        #expect(heldAt - t0 > 0.2 && heldAt - t0 <= 0.2 + 0.0015, "held \(heldAt - t0) s after the plan's start")
    }
}

extension MPCModeTests {
    /// A position-servo driver gets the plan's interpolated positions as goals and its torques as
    /// feedforward (the servo closes the loop; K is not applied).
    @Test func positionServosFollowThePlansPositions() throws {
        let (loop, plans, _) = try Self.loop(validity: 0.5, mode: .position)
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        tick(5)
        let t0 = Double(k) * 0.001
        let q0 = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        // A ramp of +0.001 rad per 10 ms node on every joint, with 2 N·m of feedforward.
        plans.publish(t0: t0, dt: 0.01, count: 50) { xRef, uff, gains in
            for n in 0 ... 50 { for i in 0 ..< 6 { xRef[n * 12 + i] = q0[i] + 0.001 * Double(n); xRef[n * 12 + 6 + i] = 0.1 } }
            for n in 0 ..< 50 * 6 { uff[n] = 2 }
            for n in 0 ..< 50 * 72 { gains[n] = 1000 }   // must be ignored in position mode
        }
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .mpc))
        tick(1)
        #expect(loop.results.pop()?.accepted == true)
        AllocationCounter_start()
        tick(200)
        let allocations = AllocationCounter_stop()
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations in 200 position-mode mpc ticks") }
        let s = loop.telemetry.read()
        #expect(s.mode == .mpc)
        // At t = t0 + 0.201 s: node 20, w = 0.1 → q_ref = q0 + 0.0201; the limiter's velocity
        // limit (URDF, ≥ 3 rad/s) does not bind for this slow ramp.
        let elapsed = Double(k) * 0.001 - t0
        for i in 0 ..< 6 { #expect(abs(s.command[i] - (q0[i] + 0.1 * elapsed)) < 1e-9, "joint \(i): \(s.command[i])") }
    }
}
