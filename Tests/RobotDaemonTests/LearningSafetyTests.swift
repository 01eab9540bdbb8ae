import ControlRuntime
import Foundation
import Learning
import LinearAlgebra
import Logging
import Planning
import RigidBody
import RobotDaemon
import RobotdConfig
import Testing

/// Online learning must not steer the arm where its model has no data (issue 12, item 10).
///
/// The daemon's own parts (`DaemonAssembly.parts` from configs/sim.yaml) run lock-step in
/// simulated time, as `robotd bench adapt` runs them: the loop ticked at 1 kHz, the planner
/// re-planned every 1/`mpc.rate_hz` (iteration-bounded, no wall-clock budget), the learner
/// stepped at the same rate. Nothing here depends on how fast the machine is.
@Suite(.serialized) struct LearningSafetyTests {
    /// The parts and a lock-step driver over them.
    final class Rig {
        let config: DaemonConfiguration
        let parts: DaemonAssembly.Parts
        let planner: MPCPlanner
        let learner: LearnerService
        var tick = 0
        var planning = false
        /// Oracles from the URDF: the worst ratio |v|/v_max and the smallest distance to a
        /// position limit over every tick, where it happened, and the lowest end-effector height.
        var worstSpeedRatio = 0.0, worstSpeedAt = ""
        var worstLimitMargin = Double.infinity
        var lowestEndEffector = Double.infinity
        var modes: Set<String> = []
        var maxDisagreement = 0.0
        var versions: Set<Int> = []

        init(payload: Double, interval: Double, edit: (inout DaemonConfiguration) -> Void = { _ in }) throws {
            var config = try ConfigLoader.load(path: Fixtures.repoRoot.appendingPathComponent("configs/sim.yaml").path)
            guard case var .simulation(sim) = config.driver else { throw Failure("sim.yaml drives the simulator") }
            sim.payloadMass = payload
            config.driver = .simulation(sim)
            config.learning.enabled = true
            config.learning.interval = interval
            config.mpc.budget = 10   // iteration-bounded: the same plans on any machine
            config.loop.overrunFaultThreshold = 1_000_000
            config.loop.lockMemory = false
            edit(&config)
            self.config = config
            var logger = Logger(label: "test.learning-safety")
            logger.logLevel = .warning
            parts = try DaemonAssembly.parts(config, logger: logger)
            planner = try #require(parts.planner)
            learner = try #require(parts.learner)
            try parts.loop.start()
        }

        struct Failure: Error { var message: String; init(_ m: String) { message = m } }

        var time: Double { Double(tick) * config.loop.period }
        var state: TelemetrySnapshot { parts.loop.telemetry.read() }

        /// Runs `seconds` of simulated time: the learner and (with a target) the planner every
        /// planner period, the loop every tick; checks the limits after every tick.
        func run(_ seconds: Double, until done: (() -> Bool)? = nil) {
            let ticksPerPlan = max(1, Int((1 / Double(config.mpc.rateHz) / config.loop.period).rounded()))
            let limits = parts.limits
            for _ in 0 ..< Int((seconds / config.loop.period).rounded()) {
                if tick % ticksPerPlan == 0 {
                    learner.step(now: time)
                    if planning {
                        planner.replanNow()
                        maxDisagreement = max(maxDisagreement, planner.statistics.disagreement)
                        versions.insert(planner.modelVersion)
                    }
                }
                tick += 1
                parts.loop.tick(time: time, overran: false)
                let s = state
                modes.insert("\(s.mode)")
                for i in 0 ..< parts.model.dof {
                    let ratio = abs(s.velocity[i]) / limits.velocity[i]
                    if ratio > worstSpeedRatio {
                        worstSpeedRatio = ratio
                        worstSpeedAt = "joint \(i) at t = \(time) s: \(s.velocity[i]) rad/s (mode \(s.mode), planner model v\(planner.modelVersion), disagreement \(planner.statistics.disagreement))"
                    }
                    worstLimitMargin = min(worstLimitMargin, s.position[i] - limits.lower[i], limits.upper[i] - s.position[i])
                }
                lowestEndEffector = min(lowestEndEffector, s.endEffectorPosition[2])
                if let done, done() { return }
            }
        }

        func endEffector() -> Vector3 {
            let s = state
            return Vector3(s.endEffectorPosition[0], s.endEffectorPosition[1], s.endEffectorPosition[2])
        }

        func distance(to p: Vector3) -> Double { let e = endEffector() - p; return e.dot(e).squareRoot() }
    }

    /// The scenario: configs/sim.yaml with a 2 kg unmodelled payload and the learning
    /// defaults (interval 10 s); one move to (0, −1.2, 1, 0, 0, 0); the first automatic round
    /// publishes a model trained on the hold and the move; then a target (0.5, 0.2, 0.4) in
    /// `mpc`. The arm never exceeds a joint's velocity or position limit (URDF), never drops to
    /// hold, stays above the base, and reaches the target within 3 mm while the learner keeps
    /// publishing from the data that arrives.
    @Test func aFreshModelNeverThrowsTheArmAndTheTargetIsReached() throws {
        let rig = try Rig(payload: 2.0, interval: 10)
        rig.run(0.2)
        _ = rig.parts.loop.commands.send(.move(id: 1, to: [0, -1.2, 1, 0, 0, 0], duration: 0))
        rig.run(20) { rig.learner.status.version >= 1 }
        try #require(rig.learner.status.version >= 1, "no model published on the hold and the move: \(rig.learner.status)")
        let target = Vector3(0.5, 0.2, 0.4)
        try rig.planner.setTarget(.pose(position: target, orientation: nil), duration: nil)
        rig.planning = true
        rig.planner.replanNow()
        _ = rig.parts.loop.commands.send(LoopCommand(id: 2, kind: .setMode, mode: .mpc))
        rig.run(0.01)
        #expect(rig.state.mode == .mpc)
        rig.modes = []
        rig.lowestEndEffector = .infinity
        rig.run(40)
        #expect(rig.worstSpeedRatio <= 1, "a joint exceeded its velocity limit: \(rig.worstSpeedAt)")
        #expect(rig.worstLimitMargin > 0, "a joint reached its position limit (margin \(rig.worstLimitMargin) rad)")
        #expect(rig.lowestEndEffector > 0, "the end effector went below the base (z = \(rig.lowestEndEffector) m)")
        #expect(rig.modes == ["mpc"], "the arm left mpc: \(rig.modes)")
        #expect(rig.distance(to: target) < 0.003, "\(rig.distance(to: target)) m from the target; planner \(rig.planner.statistics), learner \(rig.learner.status)")
        // Models kept being trained on the arriving data and reached the planner.
        #expect(rig.learner.status.rounds >= 4, "\(rig.learner.status)")
        #expect(rig.versions.contains { $0 >= 1 }, "no learned model reached the planner: \(rig.versions)")
    }
}
