import Control
import ControlRuntime
import Foundation
import LinearAlgebra
import Learning
import Logging
import AllocationCounter
import Platform
import RigidBody
import RobotDaemon
import RobotInterface
import RobotdConfig
import SimulationDriver
import BuildInfo
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

@Suite(.serialized) struct MPCClosedLoopTests {
    /// The daemon's loop (sim6 from reach.json's start pose), limits, planner and a 1 kHz runner,
    /// built from configs/sim.yaml as `robotd run` builds them; the loop is started, the runner not.
    static func config() throws -> DaemonConfiguration {
        try ConfigLoader.load(path: Fixtures.repoRoot.appendingPathComponent("configs/sim.yaml").path)
    }

    static func daemonParts() throws -> (DaemonConfiguration, ControlLoop<SimulatedArm>, JointLimits, MPCPlanner, ControlLoopRunner<SimulatedArm>) {
        var config = try Self.config()
        config.loop.overrunFaultThreshold = 1000
        config.loop.lockMemory = false
        if case var .simulation(sim) = config.driver {
            sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
            config.driver = .simulation(sim)
        }
        let parts = try DaemonAssembly.parts(config, logger: Logger(label: "test"))
        let planner = try #require(parts.planner)
        try parts.loop.start()
        return (config, parts.loop, parts.limits, planner, ControlLoopRunner(loop: parts.loop, periodNanoseconds: 1_000_000, rampTicks: 10, publishEvery: 10))
    }

    /// Starts the runner (normal scheduling, no memory locking) and the planner thread.
    static func startThreads(_ runner: ControlLoopRunner<SimulatedArm>, _ planner: MPCPlanner) {
        var options = RealtimeThread.Options()
        options.priority = nil
        options.lockMemory = false
        runner.start(options: options)
        planner.start()
    }

    static func stopThreads(_ runner: ControlLoopRunner<SimulatedArm>, _ planner: MPCPlanner) {
        planner.stop()
        runner.requestStop()
        runner.join()
    }

    /// The daemon's loop and planner on the simulated sim6 at 1 kHz, driven in simulated time
    /// (a tick every 1 ms of loop time, a synchronous re-plan every 1/`mpc.rate_hz`): a reach to
    /// a target 0.3 m away (hardware/robots/sim6/reach.json's) ends within 2 mm in under 2 s
    /// without any joint leaving its limits or any torque exceeding its effort limit; then the
    /// planner stops re-planning (it died) and the arm drops to `hold` once the last plan is
    /// older than its validity. Simulated time makes this about the controller, not about how
    /// often a shared VM stalls the test's threads (the daemon's threaded timing is measured by
    /// `robotd bench loop` and `bench adapt`).
    @Test func reachesWithin2mmIn2sAndHoldsWhenThePlannerDies() throws {
        let (config, loop, limits, planner, _) = try Self.daemonParts()
        let period = config.loop.period
        let ticksPerPlan = max(1, Int((1 / Double(config.mpc.rateHz) / period).rounded()))
        var k = 0
        var time: Double { Double(k) * period }
        func tick() {
            k += 1
            loop.tick(time: time, overran: false)
        }
        tick()
        let target = Vector3(0.52, 0.38, 0.31)
        try planner.setTarget(.pose(position: target, orientation: nil), duration: nil)
        planner.replanNow()
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .mpc))
        tick()
        #expect(loop.results.pop()?.accepted == true)
        let start = time
        var reachedAt: Double?
        var worstJointMargin = Double.infinity, worstEffortMargin = Double.infinity
        while reachedAt == nil, time - start <= 3 {
            if k % ticksPerPlan == 0 { planner.replanNow() }
            tick()
            let s = loop.telemetry.read()
            #expect(s.mode == .mpc, "left mpc at t = \(time - start) s: \(s.mode) (planner \(planner.statistics.lastStatus))")
            if s.mode != .mpc { break }
            for i in 0 ..< 6 {
                worstJointMargin = min(worstJointMargin, s.position[i] - limits.lower[i], limits.upper[i] - s.position[i])
                worstEffortMargin = min(worstEffortMargin, limits.effort[i] - abs(s.command[i]))
            }
            let p = Vector3(s.endEffectorPosition[0], s.endEffectorPosition[1], s.endEffectorPosition[2])
            let e = p - target
            if e.dot(e).squareRoot() < 0.002 { reachedAt = s.time - start }
        }
        let t = try #require(reachedAt, "not within 2 mm after 3 s")
        #expect(t < 2.0, "reached 2 mm after \(t) s")
        #expect(worstJointMargin > 0 && worstEffortMargin >= 0)

        // Fault injection: no more re-plans; the last plan ages out → hold, within its validity
        // of the last plan's start (plus the tick that notices).
        let lastPlanAt = planner.statistics.planT0
        while loop.telemetry.read().mode == .mpc, time - lastPlanAt < 2 { tick() }
        #expect(loop.telemetry.read().mode == .hold)
        #expect(time - lastPlanAt <= config.mpc.planValidity + 2 * period, "hold \(time - lastPlanAt) s after the last plan")
    }

    /// `learning.max_disagreement`: with a learned model whose members disagree above the limit
    /// along every plan, the planner refuses the learned model's plans (counted) and plans with
    /// the rigid-body model instead: the arm stays in mpc — it used to drop to hold, and so
    /// gathered none of the data the model lacked — and reaches reach.json's target within 2 mm
    /// in 2 s, within every joint's position limits. Run lock-step in simulated time (the loop
    /// at 1 kHz, a re-plan every 10 ms).
    @Test func plansTheEnsembleDisagreesOnFallBackToTheRigidBodyModel() throws {
        let (config, loop, limits, planner, _) = try Self.daemonParts()
        planner.uncertainty = MPCPlanner.UncertaintyPolicy(hardLimit: 1e-20)
        var k = 0
        let ticksPerPlan = Int((1 / Double(config.mpc.rateHz) / config.loop.period).rounded())
        func run(_ seconds: Double, _ check: (TelemetrySnapshot) -> Void = { _ in }) {
            for _ in 0 ..< Int((seconds / config.loop.period).rounded()) {
                if k % ticksPerPlan == 0 { planner.replanNow() }
                k += 1
                loop.tick(time: Double(k) * config.loop.period, overran: false)
                check(loop.telemetry.read())
            }
        }
        let target = Vector3(0.52, 0.38, 0.31)
        try planner.setTarget(.pose(position: target, orientation: nil), duration: nil)
        // Tiny residuals (the arm would move as with the rigid-body model), but members that
        // differ: any spread is above a 1e-20 limit.
        let members = (0 ..< 3).map { k -> MLP in
            var m = MLP(widths: [12, 32, 12], activation: .silu, seed: 40 &+ UInt64(k))
            m.outputScale = [Float](repeating: 1e-6, count: 12)
            return m
        }
        planner.setLearnedModel(members, version: 1)
        run(0.02)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .mpc))
        run(0.002)
        #expect(loop.results.pop()?.accepted == true)
        var modes: Set<String> = []
        var worstJointMargin = Double.infinity
        run(2) { s in
            modes.insert("\(s.mode)")
            for i in 0 ..< 6 { worstJointMargin = min(worstJointMargin, s.position[i] - limits.lower[i], limits.upper[i] - s.position[i]) }
        }
        let s = planner.statistics
        #expect(modes == ["mpc"], "the arm left mpc: \(modes)")
        #expect(s.uncertainPlans >= 1 && s.disagreement > 1e-20 && planner.modelVersion == 1, "\(s)")
        #expect(s.planningModel == "nominal (fallback)" && s.fallbackPlans >= 100, "\(s)")
        let t = loop.telemetry.read()
        let e = Vector3(t.endEffectorPosition[0], t.endEffectorPosition[1], t.endEffectorPosition[2]) - target
        #expect(e.dot(e).squareRoot() < 0.002, "\(e.dot(e).squareRoot()) m from the target after 2 s")
        #expect(worstJointMargin > 0)
    }

    @Test func targetsOutsideTheWorkspaceAreRefused() throws {
        let config = try ConfigLoader.load(path: Fixtures.repoRoot.appendingPathComponent("configs/sim.yaml").path)
        let model = try DaemonAssembly.loadModel(config)
        let loop = try DaemonAssembly.simulationLoop(config, model: model)
        let planner = try #require(try DaemonAssembly.planner(config, loop: loop, limits: try DaemonAssembly.limits(config, model: model)))
        // UR5-class reach is about 0.95 m from the shoulder.
        #expect(planner.reach > 0.85 && planner.reach < 1.1, "reach \(planner.reach)")
        #expect(throws: MPCPlanner.Failure.self) { try planner.setTarget(.pose(position: Vector3(2, 0, 0.1), orientation: nil), duration: nil) }
        do {
            try planner.setTarget(.pose(position: Vector3(2, 0, 0.1), orientation: nil), duration: nil)
        } catch {
            #expect("\(error)".contains("outside the workspace"))
        }
        #expect(throws: MPCPlanner.Failure.self) { try planner.setTarget(.joints([0, 0, 9, 0, 0, 0]), duration: nil) }
        #expect(planner.statistics.target == nil)
    }
}

@Suite struct PolicyModeTests {
    /// sim6's loop with a policy slot, a limiter that does not bind (slew 1e9) and the
    /// end-effector frame tool0, started in hold.
    static func policyLoop(commandMode: CommandMode = .torque) throws -> (ControlLoop<SimulatedArm>, PolicySlot) {
        let model = try Fixtures.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        let slot = PolicySlot(dof: 6, actionKind: commandMode)
        var config = ControlLoop<SimulatedArm>.Configuration()
        config.overrunFaultThreshold = 100_000
        config.endEffectorFrame = model.frames.count - 1
        config.commandMode = commandMode
        let loop = ControlLoop(model: model, driver: try SimulatedArm(model: model, configuration: sim),
                               holdController: JointPDController(model: model),
                               limits: JointLimits(model: model, slewRate: 1e9), configuration: config, policies: slot)
        try loop.start()
        return (loop, slot)
    }

    /// A linear "network" τ = W [q; v] + b: the loop's command in `policy` is exactly that
    /// (through a limiter that does not bind), a newly installed policy takes over between ticks,
    /// and ticking — swaps included — allocates nothing.
    @Test func runsThePolicyAndSwapsBetweenTicks() throws {
        let (loop, slot) = try Self.policyLoop()
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        tick(5)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        tick(1)
        #expect(loop.results.pop() == LoopCommandResult(id: 1, accepted: false, mode: .hold, reason: .noPolicy))

        func linear(_ scale: Float, bias: Float) -> MLP {
            var w = [Float](repeating: 0, count: 6 * 12)
            for i in 0 ..< 6 { w[i * 12 + i] = scale; w[i * 12 + 6 + i] = -0.5 }
            return MLP(widths: [12, 6], activation: .identity, weights: [w], biases: [[Float](repeating: bias, count: 6)])!
        }
        slot.install(MLPPolicy(mlp: linear(2, bias: 1), name: "a", actionKind: .torque))
        _ = loop.commands.send(LoopCommand(id: 2, kind: .setMode, mode: .policy))
        tick(1)
        #expect(loop.results.pop() == LoopCommandResult(id: 2, accepted: true, mode: .policy))
        func check(scale: Double, bias: Double) {
            let s = loop.telemetry.read()
            for i in 0 ..< 6 {
                let expected = Double(Float(scale) * Float(s.position[i]) - 0.5 * Float(s.velocity[i]) + Float(bias))
                #expect(abs(s.command[i] - expected) < 1e-4, "joint \(i): \(s.command[i]) vs \(expected)")
            }
        }
        tick(1)
        check(scale: 2, bias: 1)
        let second = MLPPolicy(mlp: linear(-1, bias: 0.5), name: "b", actionKind: .torque)
        slot.install(second)
        AllocationCounter_start()
        tick(1)   // adopts the new policy
        var allocations = AllocationCounter_stop()
        check(scale: -1, bias: 0.5)
        AllocationCounter_start()
        tick(50)
        allocations += AllocationCounter_stop()
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations") }
        #expect(slot.installedName == "b")
        slot.collect()
    }

    /// A target-conditioned policy, observation (target_q, q, target_position, ee_position):
    /// a linear τ_i = 10 (q*_i − q_i) + (p*_i − p_i) (the second term on the first three joints)
    /// commands exactly that; before any target the targets read as the measured q and
    /// end-effector position (τ = 0); the targets come in between ticks without allocating.
    /// With a position-servo or velocity driver the action is a position goal or a velocity per
    /// joint: the command carries the policy's output in the driver's mode, with no torque
    /// feedforward.
    @Test(arguments: [CommandMode.position, .velocity])
    func actionsAreInTheDriversCommandMode(_ mode: CommandMode) throws {
        let (loop, slot) = try Self.policyLoop(commandMode: mode)
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        tick(5)
        // Position goals a little off the start pose, or small joint velocities: a constant
        // output (bias only) per joint.
        let start = loop.telemetry.read()
        let action = (0 ..< 6).map { i in mode == .position ? start.position[i] + 0.01 * Double(i + 1) : 0.02 * Double(i + 1) }
        slot.install(MLPPolicy(mlp: MLP(widths: [12, 6], activation: .identity, weights: [[Float](repeating: 0, count: 72)],
                                        biases: [action.map { Float($0) }])!, name: "\(mode)", actionKind: mode))
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        // Entry goes through the limiter, which moves a position goal at most the joint's
        // velocity limit × dt per tick: after 0.1 s every goal is reached.
        tick(1)
        let first = loop.telemetry.read()
        if mode == .position {
            #expect((0 ..< 6).contains { abs(first.command[$0] - action[$0]) > 1e-3 }, "the first tick's goals are rate-limited")
        }
        tick(100)
        let s = loop.telemetry.read()
        #expect(s.mode == .policy)
        for i in 0 ..< 6 {
            #expect(abs(s.command[i] - Double(Float(action[i]))) < 1e-6, "\(mode) joint \(i): \(s.command[i]) vs \(action[i])")
        }
        slot.collect()
    }

    @Test func feedsTargetsToTargetConditionedPolicies() throws {
        let (loop, slot) = try Self.policyLoop()
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        let features = try PolicyFeature.parse("target_q, q,target_position,ee_position")
        #expect(features == [.targetQ, .q, .targetPosition, .eePosition])
        #expect(MLPPolicy.observationSize(features, dof: 6) == 18)
        var w = [Float](repeating: 0, count: 6 * 18)
        for i in 0 ..< 6 { w[i * 18 + i] = 10; w[i * 18 + 6 + i] = -10 }
        for i in 0 ..< 3 { w[i * 18 + 12 + i] = 1; w[i * 18 + 15 + i] = -1 }
        let mlp = try #require(MLP(widths: [18, 6], activation: .identity, weights: [w], biases: [[Float](repeating: 0, count: 6)]))
        slot.install(MLPPolicy(mlp: mlp, name: "reach", features: features, actionKind: .torque))
        tick(2)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        tick(1)
        #expect(loop.results.pop()?.accepted == true)
        tick(1)
        var s = loop.telemetry.read()
        for i in 0 ..< 6 { #expect(abs(s.command[i]) < 1e-4, "no target: joint \(i) commands \(s.command[i])") }

        let qStar = [0.05, -1.15, 1.05, -0.45, 0.45, 0.15], pStar = [0.3, 0.2, 0.5]
        slot.setTarget(joints: qStar, position: pStar)
        AllocationCounter_start()
        tick(1)
        let allocations = AllocationCounter_stop()
        s = loop.telemetry.read()
        for i in 0 ..< 6 {
            var expected = 10 * (qStar[i] - s.position[i])
            if i < 3 { expected += pStar[i] - s.endEffectorPosition[i] }
            #expect(abs(s.command[i] - expected) < 1e-4, "joint \(i): \(s.command[i]) vs \(expected)")
        }
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations") }
        #expect(slot.currentTarget.hasJoints && slot.currentTarget.hasPosition)
        #expect(throws: PolicyFeatureError.self) { try PolicyFeature.parse("q,v,velocity") }
        #expect(throws: PolicyFeatureError.self) { try PolicyFeature.parse("q,q") }
    }
}

@Suite(.serialized) struct HotSwapTests {
    /// The daemon's loop at 1 kHz on its real-time thread follows MPC plans for 3 s while the
    /// planner is handed a new learned model every 50 ms (alternating two ensembles and the
    /// rigid-body model), then runs learned policies in `policy` mode for 2 s while a new one is
    /// installed every 50 ms (the tick adopts each and evaluates it): the arm never leaves its
    /// mode, every period gets its tick, no tick's own work (wake-up to command written) comes
    /// near the 1 ms period, and the control thread allocates nothing. The swaps happen on the
    /// planner thread (between re-plans) and in the policy slot (between ticks); this test is the
    /// evidence that neither reaches into the tick's time.
    ///
    /// A deadline can still be missed when the kernel wakes the thread late — this shared,
    /// non-PREEMPT_RT host stalls for milliseconds a few times a minute (README, "The control
    /// loop"), and a stall of k ms skips k periods — which no swap can cause: the test requires
    /// every tick's own work to stay under half the period, so any overrun in the window comes
    /// from a late wake-up.
    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func modelAndPolicySwapsNeverCostATick() throws {
        let (_, loop, _, planner, runner) = try MPCClosedLoopTests.daemonParts()
        var options = RealtimeThread.Options()
        options.priority = 80
        options.lockMemory = false
        let achieved = runner.start(options: options)
        planner.start()
        defer {
            planner.stop()
            runner.requestStop()
            runner.join()
        }
        // Without SCHED_FIFO a busy machine can delay any thread past 1 ms; the claim is about
        // the daemon as deployed (CAP_SYS_NICE), which `make test` runs as root.
        try #require(achieved.schedulerName == "fifo", "the control thread needs SCHED_FIFO for this test: \(achieved.warnings)")

        // Small residual models (they keep the arm where the rigid-body model would): state-only
        // members over (q, v) → (Δq, Δv), as the learner publishes them.
        func ensemble(_ seed: UInt64) -> [MLP] {
            (0 ..< 5).map { k -> MLP in
                var m = MLP(widths: [12, 64, 64, 12], activation: .silu, seed: seed &+ UInt64(k))
                m.outputScale = [Float](repeating: 1e-6, count: 12)
                return m
            }
        }
        let models = [ensemble(1), ensemble(100)]
        // Two policies the arm can run: linear [q; v] → τ, a PD law about `q0` with its gravity
        // torque as the bias (gains 150 and 200 N·m/rad), so that in `policy` mode the arm stays
        // put whichever is installed.
        let model = try DaemonAssembly.loadModel(MPCClosedLoopTests.config())
        func holdingPolicies(at q0: [Double]) -> [MLPPolicy] {
            var ws = model.makeWorkspace()
            model.rnea(&ws, q: q0, v: Array(repeating: 0, count: 6), a: Array(repeating: 0, count: 6))
            let gravity = ws.tau
            return [150.0, 200.0].enumerated().map { k, kp -> MLPPolicy in
                var w = [Float](repeating: 0, count: 6 * 12)
                for i in 0 ..< 6 {
                    w[i * 12 + i] = Float(-kp)
                    w[i * 12 + 6 + i] = Float(-2 * kp.squareRoot())
                }
                let b = (0 ..< 6).map { Float(gravity[$0] + kp * q0[$0]) }
                return MLPPolicy(mlp: MLP(widths: [12, 6], activation: .identity, weights: [w], biases: [b])!, name: "pd\(k)", actionKind: .torque)
            }
        }
        func measuredQ() -> [Double] { let t = loop.telemetry.read(); return (0 ..< 6).map { t.position[$0] } }
        var policies = holdingPolicies(at: measuredQ())

        try planner.setTarget(.pose(position: Vector3(0.52, 0.38, 0.31), orientation: nil), duration: 1.5)
        #expect(waitUntil(seconds: 5) { planner.statistics.solves >= 2 })
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .mpc))
        #expect(waitUntil(seconds: 1) { loop.telemetry.read().mode == .mpc })
        let before = runner.statistics.read()
        var swaps = 0
        let start = MonotonicClock.seconds()
        while MonotonicClock.seconds() - start < 3 {
            let k = swaps % 3
            planner.setLearnedModel(k == 2 ? nil : models[k], version: swaps + 1)
            loop.policies?.install(policies[swaps % 2])
            swaps += 1
            #expect(loop.telemetry.read().mode == .mpc)
            usleep(50_000)
        }
        #expect(waitUntil(seconds: 1) { planner.modelVersion == swaps })
        usleep(20_000)
        #expect(swaps >= 50)
        // Over a window of `seconds` with `swaps` swaps: every period ticked or was counted as
        // skipped, no tick's own work near the period, overruns only when the thread was kept
        // off the CPU, nothing allocated, the mode kept. The tick's work is measured on the
        // thread's CPU clock: wall-clock compute time includes the stalls of this shared VM.
        func checkWindow(from before: LoopStatistics, seconds: Int, minTicks: Int, swaps: Int, mode: Mode) {
            let after = runner.statistics.read()
            let accounted = (after.ticks + after.overruns) - (before.ticks + before.overruns)
            #expect(accounted >= minTicks, "\(after.ticks - before.ticks) ticks and \(after.overruns - before.overruns) overruns in \(seconds) s")
            // A tick overruns when wake-up latency + its work exceed the period; with the work
            // under half a period of CPU time, only a late wake-up or losing the CPU mid-tick
            // (the kernel's or the hypervisor's doing) can.
            let slowTicks = after.computeCPUTime.count(atLeast: 500_000) - before.computeCPUTime.count(atLeast: 500_000)
            let lateWakeUps = after.wakeLatency.count(atLeast: 500_000) - before.wakeLatency.count(atLeast: 500_000)
            let preempted = after.preemptedTicks - before.preemptedTicks
            let overruns = after.overruns - before.overruns
            #expect(slowTicks == 0, "\(slowTicks) ticks used ≥ 0.5 ms of CPU during \(swaps) swaps in \(mode)")
            #expect(overruns == 0 || lateWakeUps + preempted > 0,
                    "\(overruns) overruns during \(swaps) swaps in \(mode) without a late wake-up or a preempted tick")
            #expect(after.allocations == 0, "\(after.allocations) allocations on the control thread")
            #expect(loop.telemetry.read().mode == mode)
        }
        checkWindow(from: before, seconds: 3, minTicks: 2900, swaps: swaps, mode: .mpc)

        // The same in `policy`: the tick adopts a new policy every 50 ms and runs it (policies
        // that hold the pose the arm has reached).
        let q0 = measuredQ()
        policies = holdingPolicies(at: q0)
        loop.policies?.install(policies[0])
        _ = loop.commands.send(LoopCommand(id: 2, kind: .setMode, mode: .policy))
        #expect(waitUntil(seconds: 1) { loop.telemetry.read().mode == .policy })
        let beforePolicy = runner.statistics.read()
        var policySwaps = 0
        let policyStart = MonotonicClock.seconds()
        while MonotonicClock.seconds() - policyStart < 2 {
            loop.policies?.install(policies[policySwaps % 2])
            policySwaps += 1
            #expect(loop.telemetry.read().mode == .policy)
            usleep(50_000)
        }
        usleep(20_000)
        #expect(loop.policies?.installedName == policies[(policySwaps - 1) % 2].name)
        checkWindow(from: beforePolicy, seconds: 2, minTicks: 1900, swaps: policySwaps, mode: .policy)
        // The arm stayed where the PD laws hold it (within 5 cm of joint travel).
        let q = measuredQ()
        #expect((0 ..< 6).allSatisfy { abs(q[$0] - q0[$0]) < 0.05 }, "\(q) from \(q0)")
    }
}
