import ControlRuntime
import Foundation
import LinearAlgebra
import Logging
import Planning
import Platform
import RobotDaemon
import RobotdConfig

/// `robotd bench adapt`: does online learning make MPC track better on an arm that differs from
/// its model? The simulated arm carries an unmodelled payload and extra joint friction; MPC
/// (planning with the rigid-body model) makes the end effector trace a closed path again and
/// again. The run is repeated twice from the same state with the same seed: once with the
/// rigid-body model alone, once with the daemon's online learner publishing residual models to
/// the planner. The tracking error (distance from the end effector to where the path is at that
/// instant) is reported as an RMS per window.
///
/// The daemon's own parts run in simulated time, lock-step: the control loop built by
/// `DaemonAssembly`, ticked at `loop.rate_hz`; the `MPCPlanner` re-planned every 1/`mpc.rate_hz`
/// (`replanNow`, iteration-bounded, no wall-clock budget); the `LearnerService` stepped at the
/// same rate (`step(now:)`), training a round every `learning.interval` of simulated time. Two
/// idealisations against the running daemon: a plan is ready the instant its state is measured
/// (the daemon's plans are a few ms old), and a training round takes no simulated time (the
/// daemon publishes its result seconds later).
public enum AdaptBenchmark {
    public struct Options: Sendable {
        public var seconds = 120.0
        public var window = 10.0
        /// Unmodelled payload at the last link (kg).
        public var payloadMass = 1.0
        /// Coulomb friction added to the URDF's, per joint (N·m).
        public var extraFriction = [1.5, 1.5, 1.0, 0.3, 0.3, 0.3]
        /// The path: a circle through the start pose, in the vertical plane facing the base.
        public var radius = 0.08
        public var lap = 4.0
        public var initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        public init() {}
    }

    public struct Trial: @unchecked Sendable {
        public var rms: [Double] = []
        /// The planner's model version at the end of each window.
        public var versions: [Int] = []
        /// The largest plan disagreement seen in each window.
        public var disagreement: [Double] = []
        public var rounds = 0
        /// Learned plans refused (disagreement, divergence or limits) and plans made with the
        /// rigid-body model while a learned one was installed; the last refusal's reason.
        public var uncertainPlans: UInt64 = 0
        public var fallbackPlans: UInt64 = 0
        public var lastRefusal: String?
        /// Each training round: simulated time, the candidate's and the rigid-body model's
        /// validation MSE, and what became of it.
        public var roundLog: [[String: Any]] = []
        public var trainingSeconds = 0.0
        public var solveMs = 0.0
        public var wallSeconds = 0.0
    }

    public struct Report: Sendable {
        public var options: Options
        public var learned: Trial
        public var nominal: Trial
        public var path: ReferencePath

        /// Last window at most half the first, and no window worse than the nominal model's.
        public var targetMet: Bool {
            guard let first = learned.rms.first, let last = learned.rms.last else { return false }
            return last <= first / 2 && zip(learned.rms, nominal.rms).allSatisfy { $0 <= $1 * (1 + 1e-9) }
        }

        public var json: [String: Any] {
            func mm(_ xs: [Double]) -> [Double] { xs.map { ($0 * 1e6).rounded() / 1e6 } }
            return [
                "window_s": options.window,
                "learned_rms_m": mm(learned.rms),
                "nominal_rms_m": mm(nominal.rms),
                "model_version_per_window": learned.versions,
                "max_disagreement_per_window": learned.disagreement,
                "training_rounds": learned.rounds,
                "uncertain_plans": learned.uncertainPlans, "fallback_plans": learned.fallbackPlans,
                "last_refusal": learned.lastRefusal ?? "none",
                "rounds": learned.roundLog,
                "training_s_total": learned.trainingSeconds,
                "mean_solve_ms": ["learned": learned.solveMs, "nominal": nominal.solveMs],
                "simulated_s": options.seconds,
                "wall_s": learned.wallSeconds + nominal.wallSeconds,
                "payload_kg": options.payloadMass,
                "extra_friction_nm": options.extraFriction,
                "path": ["kind": "circle", "radius_m": options.radius, "lap_s": options.lap,
                         "start": [path.waypoints[0].x, path.waypoints[0].y, path.waypoints[0].z]],
                "target_met": targetMet,
            ]
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func run(config: DaemonConfiguration, options: Options = Options()) throws -> Report {
        let (nominal, path) = try trial(config: config, options: options, learning: false)
        let (learned, _) = try trial(config: config, options: options, learning: true)
        return Report(options: options, learned: learned, nominal: nominal, path: path)
    }

    static func trial(config base: DaemonConfiguration, options: Options, learning: Bool) throws -> (Trial, ReferencePath) {
        let wall0 = MonotonicClock.seconds()
        var config = base
        guard case var .simulation(sim) = config.driver else { throw Failure(description: "bench adapt needs driver.kind: simulation") }
        sim.payloadMass = options.payloadMass
        sim.extraFriction = .perJoint(options.extraFriction)
        sim.initialPosition = options.initialPosition
        config.driver = .simulation(sim)
        config.mpc.enabled = true
        config.mpc.budget = 10          // iteration-bounded: the same plans on any machine
        config.learning.enabled = learning
        config.loop.overrunFaultThreshold = 1_000_000
        var logger = Logger(label: "robotd.bench.adapt")
        logger.logLevel = .warning
        // The arm's initial position and friction lists are checked against the robot here.
        let parts = try DaemonAssembly.parts(config, logger: logger)
        let (loop, learner) = (parts.loop, parts.learner)
        guard let planner = parts.planner else { throw Failure(description: "bench adapt: no planner") }
        try loop.start()

        let period = config.loop.period
        let ticksPerPlan = max(1, Int((1 / Double(config.mpc.rateHz) / period).rounded()))
        var tick = 0
        var time: Double { Double(tick) * period }
        func step() {
            tick += 1
            loop.tick(time: time, overran: false)
        }
        // Settle in hold, then start the path at the end effector's position.
        for _ in 0 ..< Int(0.5 / period) { step() }
        let t0 = loop.telemetry.read()
        let p0 = Vector3(t0.endEffectorPosition[0], t0.endEffectorPosition[1], t0.endEffectorPosition[2])
        // The plane facing the base: horizontal (perpendicular to the base→p0 direction) and up.
        let radial = Vector3(p0.x, p0.y, 0)
        let norm = max(1e-9, radial.dot(radial).squareRoot())
        let a = Vector3(-p0.y / norm, p0.x / norm, 0), b = Vector3(0, 0, 1)
        let path = ReferencePath.circle(center: p0 - options.radius * a, radius: options.radius, a: a, b: b, period: options.lap, samples: 64)
        try planner.setTarget(.path(path), duration: nil)
        let start = time
        planner.replanNow()
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .mpc))
        step()
        guard loop.results.pop()?.accepted == true else { throw Failure(description: "bench adapt: the loop refused mpc mode") }

        var trial = Trial()
        let windowTicks = Int((options.window / period).rounded())
        let totalTicks = Int((options.seconds / period).rounded())
        var sum = 0.0, count = 0
        var solveMs = 0.0, solves = 0
        var windowDisagreement = 0.0
        for k in 1 ... totalTicks {
            if k % ticksPerPlan == 0 {
                if let learner {
                    let t = MonotonicClock.seconds()
                    if learner.step(now: time).trained {
                        trial.rounds += 1
                        trial.trainingSeconds += MonotonicClock.seconds() - t
                        let st = learner.status
                        trial.roundLog.append(["t_s": time, "validation_mse": st.lastValidationError ?? -1, "nominal_mse": st.lastNominalError ?? -1,
                                               "outcome": st.lastOutcome, "version": st.version, "warm_started": st.lastWarmStarted])
                    }
                }
                planner.replanNow()
                let st = planner.statistics
                solveMs += st.lastSolveMs
                solves += 1
                windowDisagreement = max(windowDisagreement, st.disagreement)
            }
            step()
            let s = loop.telemetry.read()
            guard s.mode == .mpc else { 
                let st = planner.statistics
                throw Failure(description: "bench adapt (\(learning ? "learned" : "nominal")): the arm left mpc for \(s.mode) at t = \(time) s (planner: \(st.lastStatus), model version \(planner.modelVersion), disagreement \(st.disagreement))")
            }
            let e = Vector3(s.endEffectorPosition[0], s.endEffectorPosition[1], s.endEffectorPosition[2]) - path.position(at: time - start)
            sum += e.dot(e)
            count += 1
            if k % windowTicks == 0 {
                trial.rms.append((sum / Double(count)).squareRoot())
                trial.versions.append(planner.modelVersion)
                trial.disagreement.append(windowDisagreement)
                windowDisagreement = 0
                sum = 0
                count = 0
            }
        }
        trial.solveMs = solves == 0 ? 0 : solveMs / Double(solves)
        let st = planner.statistics
        (trial.uncertainPlans, trial.fallbackPlans, trial.lastRefusal) = (st.uncertainPlans, st.fallbackPlans, st.lastRefusal)
        trial.wallSeconds = MonotonicClock.seconds() - wall0
        return (trial, path)
    }
}
