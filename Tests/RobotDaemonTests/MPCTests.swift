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
        // What the tick records (Transition.modelVersion) is the model the followed plan was
        // made with: the rigid body (0), not the installed learned model it refused.
        #expect(loop.plans?.followedModelVersion == 0, "the tick followed a plan of model \(String(describing: loop.plans?.followedModelVersion))")
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
