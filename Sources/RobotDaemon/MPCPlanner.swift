import ControlRuntime
import Foundation
import Learning
import LinearAlgebra
import Planning
import Platform
import RigidBody
import RobotdConfig
import Synchronization

/// The MPC planner thread (docs/architecture.md §2): at `mpc.rate_hz` it reads the loop's newest state,
/// re-solves iLQR warm-started from its previous plan (shifted by the time elapsed), and
/// publishes the plan to the tick through a `PlanSlot`. It plans whenever a target is set, in
/// any mode, so that switching to `mpc` starts from a fresh plan.
public final class MPCPlanner: @unchecked Sendable {
    /// What a person asks the arm to reach (the task's own vocabulary).
    public typealias Target = ReachTask.Target

    /// Planner figures for `status`/`timing`.
    public struct Statistics: Sendable {
        public var solves: UInt64 = 0
        public var lastSolveMs = 0.0
        public var maxSolveMs = 0.0
        public var lastIterations = 0
        public var lastCost = 0.0
        public var lastStatus = "none"
        /// Distance (m) from the plan's final end-effector position to the target (pose targets).
        public var predictedTerminalError = 0.0
        public var target: Target?
        public var planT0 = 0.0
        /// Largest ensemble disagreement along the newest plan (0 with the rigid-body model).
        public var disagreement = 0.0
        /// Plans made with the learned model and refused (disagreement above the limit, or a
        /// rollout that diverged); each was replaced by a plan with the rigid-body model.
        public var uncertainPlans: UInt64 = 0
        /// Plans published from the rigid-body model while a learned one was installed.
        public var fallbackPlans: UInt64 = 0
        /// The model the newest plan was made with: "nominal", "learned" or "nominal (fallback)".
        public var planningModel = "nominal"
        /// The disagreement limit in force (0 = none).
        public var disagreementLimit = 0.0
        /// Why the newest refused learned plan was refused (nil before any).
        public var lastRefusal: String?
    }

    /// How the planner treats the learned model's epistemic uncertainty (`learning.*_disagreement`).
    ///
    /// The limit in force is `hardLimit` when positive, else the installed model's calibrated
    /// limit (`ResidualLearner.Calibration`), else none. A learned plan above it is refused and
    /// the planner plans with the rigid-body model instead (the arm keeps moving and gathers the
    /// data the model lacks); it tries the learned model again once its disagreement along the
    /// rigid-body plan is below half the limit.
    public struct UncertaintyPolicy: Sendable, Equatable {
        /// Fixed disagreement limit along a plan; 0 = the model's calibrated limit.
        public var hardLimit = 0.0
        /// Above this, the cost penalises disagreement with `weight`; 0 = `softFraction` × the
        /// limit in force.
        public var softThreshold = 0.0
        public var softFraction = 0.5
        public var weight = 0.0
        /// Which of the learned model's derivatives the planner uses (`learning.derivatives`).
        public var derivatives = ResidualDynamics<RigidBodyDynamics>.Derivatives.none
        public init(hardLimit: Double = 0, softThreshold: Double = 0, softFraction: Double = 0.5, weight: Double = 0,
                    derivatives: ResidualDynamics<RigidBodyDynamics>.Derivatives = .none) {
            self.hardLimit = hardLimit
            self.softThreshold = softThreshold
            self.softFraction = softFraction
            self.weight = weight
            self.derivatives = derivatives
        }
    }

    /// Set before `start()` (the planner thread reads it without a lock); the soft penalty's
    /// threshold and weight go into the cost once, here, not on every re-plan.
    public var uncertainty = UncertaintyPolicy() {
        didSet { applyLimits() }
    }

    /// The disagreement limit in force (planner thread; 0 = none) and the installed model's
    /// calibrated one.
    private var activeLimit = 0.0
    private var calibratedLimit = 0.0
    /// Planning with the rigid-body model because the learned model's plan was refused.
    private var fallback = false

    /// Sets the limit in force and the soft penalty's threshold from `uncertainty` and the
    /// installed model's calibration.
    private func applyLimits() {
        activeLimit = uncertainty.hardLimit > 0 ? uncertainty.hardLimit : calibratedLimit
        ReachTask.setDisagreementPenalty(&solver.cost, threshold: uncertainty.softThreshold > 0 ? uncertainty.softThreshold : uncertainty.softFraction * activeLimit,
                                         weight: uncertainty.weight)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let model: RobotModel
    public let configuration: DaemonConfiguration.MPC
    public let plans: PlanSlot
    public let frame: Int
    /// Reach radius: the largest distance from the first joint's axis origin to the frame.
    public let reach: Double
    public let base: Vector3
    private let telemetry: () -> TelemetrySnapshot
    private let solver: ILQRSolver<SwitchableDynamics, CostModelSum>
    /// What the target means for the cost, the integral bias and the minimum-jerk reference
    /// (planner thread).
    private var task: ReachTask
    /// A learned model waiting to be installed by the planner thread (nil members = nominal).
    private let pendingModel = Mutex<(members: [MLP]?, version: Int, calibration: ResidualLearner.Calibration?)?>(nil)
    /// The newest published plan's states ((T+1) × nx) and controls (T × nu), for the learner to
    /// validate a candidate where it will be used; `nodes` = 0 before the first plan.
    private let probe = Mutex<(states: [Double], controls: [Double], nodes: Int)>(([], [], 0))
    private let shared = Mutex<(target: Target?, duration: Double?, setAt: Double, startPosition: Vector3?, startJoints: [Double]?, stats: Statistics)>(
        (nil, nil, 0, nil, nil, Statistics()))
    // Planner-thread scratch, so a re-plan allocates only on a cold start.
    private var fk: RobotWorkspace
    private var qScratch: [Double]
    private var stateScratch: [Double]
    private var controlScratch: [Double]
    private var plannerState: [Double]
    private var lastT0: Double?
    private let worker = WorkerThread()

    /// Plan capacity a loop's `PlanSlot` needs for `configuration`.
    public static func makePlanSlot(dof: Int, configuration: DaemonConfiguration.MPC) -> PlanSlot {
        PlanSlot(dof: dof, capacity: configuration.horizon, validity: configuration.planValidity)
    }

    /// - Parameter plans: the slot the control loop reads (from `makePlanSlot`).
    public init(model: RobotModel, configuration: DaemonConfiguration.MPC, effortLimits: [Double], plans: PlanSlot,
                telemetry: @escaping () -> TelemetrySnapshot) throws {
        self.model = model
        self.configuration = configuration
        self.telemetry = telemetry
        if let name = configuration.frame {
            guard let f = model.frameIndex(named: name) else { throw Failure(description: "mpc.frame: no link named \"\(name)\"") }
            frame = f
        } else {
            frame = model.frames.count - 1
        }
        precondition(plans.dof == model.dof && plans.capacity >= configuration.horizon, "plan slot too small")
        self.plans = plans
        let n = model.dof
        task = ReachTask(model: model, frame: frame, weights: configuration.weights, horizon: configuration.horizon, dt: configuration.dt,
                         replanPeriod: 1 / Double(configuration.rateHz))
        var options = ILQRSolver<SwitchableDynamics, CostModelSum>.Options()
        options.bounds = .symmetric(effortLimits)
        let dynamics = SwitchableDynamics(nominal: RigidBodyDynamics(model: model, dt: configuration.dt))
        solver = ILQRSolver(dynamics: dynamics, cost: task.makeCost(disagreementBox: dynamics.box),
                            horizon: configuration.horizon, options: options)
        (base, reach) = Self.workspaceSphere(model: model, frame: frame)
        fk = model.makeWorkspace()
        qScratch = Array(repeating: 0, count: n)
        stateScratch = Array(repeating: 0, count: 2 * n)
        controlScratch = Array(repeating: 0, count: n)
        plannerState = Array(repeating: 0, count: 2 * n)
        let horizon = configuration.horizon
        probe.withLock {
            $0.states = Array(repeating: 0, count: (horizon + 1) * 2 * n)
            $0.controls = Array(repeating: 0, count: horizon * n)
        }
    }

    /// The newest published plan's states ((T+1) × nx, row-major) and controls (T × nu) while
    /// the arm follows plans (mode `mpc`): the region a learned model is about to be used in.
    /// nil before the first plan, without a target, or in another mode.
    public func planProbe() -> (states: [Double], controls: [Double])? {
        guard telemetry().mode == .mpc else { return nil }
        return probe.withLock { $0.nodes == 0 ? nil : ($0.states, $0.controls) }
    }

    /// The sphere holding every reachable frame position: centred on the first joint's origin,
    /// radius the largest distance seen over a deterministic sweep of 4096 configurations
    /// (plus 2 %). Targets outside are refused rather than chased.
    static func workspaceSphere(model: RobotModel, frame: Int) -> (Vector3, Double) {
        var ws = model.makeWorkspace()
        let n = model.dof
        var q = Array(repeating: 0.0, count: n)
        model.forwardKinematics(&ws, q: q)
        // The first joint's body frame (its origin lies on the first joint's axis).
        let first = model.frames.firstIndex { $0.joint == 0 } ?? 0
        let base = model.framePose(ws, frame: first).translation
        var rng = SplitMix64(seed: 7)
        var best = 0.0
        for _ in 0 ..< 4096 {
            for i in 0 ..< n {
                let j = model.joints[i]
                let lo = j.lowerLimit.isFinite ? j.lowerLimit : -Double.pi, hi = j.upperLimit.isFinite ? j.upperLimit : Double.pi
                q[i] = lo + (hi - lo) * rng.nextUnit()
            }
            model.forwardKinematics(&ws, q: q)
            let d = model.framePose(ws, frame: frame).translation - base
            best = max(best, d.dot(d).squareRoot())
        }
        return (base, best * 1.02)
    }

    /// Throws when `p` lies outside the workspace sphere, naming `what` and the distances.
    private func checkReachable(_ p: Vector3, what: String) throws {
        let d = p - base
        let distance = d.dot(d).squareRoot()
        guard distance <= reach else {
            throw Failure(description: "\(what) (\(p.x), \(p.y), \(p.z)) is outside the workspace: \(String(format: "%.3f", distance)) m from the base, reach \(String(format: "%.3f", reach)) m")
        }
    }

    /// Validates and sets the target; the next re-plan uses it.
    /// - Throws: a message naming what is wrong (dimension, limits, outside the workspace).
    public func setTarget(_ target: Target, duration: Double?) throws {
        let t = telemetry()
        var startPosition: Vector3?
        var startJoints: [Double]?
        switch target {
        case let .pose(p, orientation):
            try checkReachable(p, what: "target")
            if let o = orientation {
                let norm = o.reduce(0) { $0 + $1 * $1 }.squareRoot()
                guard o.count == 4, abs(norm - 1) < 1e-3 else {
                    throw Failure(description: "orientation must be a unit quaternion [w, x, y, z] (norm \(norm))")
                }
            }
            var ws = model.makeWorkspace()
            model.forwardKinematics(&ws, q: (0 ..< model.dof).map { t.position[$0] })
            startPosition = model.framePose(ws, frame: frame).translation
        case let .joints(q):
            guard q.count == model.dof else { throw Failure(description: "q has \(q.count) values; the robot has \(model.dof) joints") }
            for i in 0 ..< model.dof where q[i] < model.joints[i].lowerLimit || q[i] > model.joints[i].upperLimit {
                throw Failure(description: "q[\(i)] = \(q[i]) is outside joint \(model.joints[i].name)'s limits")
            }
            startJoints = (0 ..< model.dof).map { t.position[$0] }
        case let .path(path):
            for (i, p) in path.waypoints.enumerated() { try checkReachable(p, what: "path waypoint \(i)") }
        }
        shared.withLock {
            $0.target = target
            $0.duration = duration
            $0.setAt = t.time
            $0.startPosition = startPosition
            $0.startJoints = startJoints
        }
    }

    public func clearTarget() {
        shared.withLock {
            $0.target = nil
        }
        probe.withLock { $0.nodes = 0 }
        plans.clear()
    }

    /// The planner's figures, with the target it plans for now.
    public var statistics: Statistics {
        var s = shared.withLock {
            var s = $0.stats
            s.target = $0.target
            return s
        }
        s.disagreement = planDisagreement
        return s
    }

    /// Why the loop may have found no valid plan at loop time `t`, in a few words: the newest
    /// plan's status and age against its validity, and plans withdrawn as uncertain.
    public func fallbackSummary(loopTime t: Double) -> String {
        let s = statistics
        guard s.target != nil else { return "no target set" }
        guard s.solves > 0 else { return "the planner has not solved yet" }
        let age = (t - s.planT0) * 1000
        var text = "planner: newest plan \(s.lastStatus), \(Int(age.rounded())) ms old (valid \(Int((plans.validity * 1000).rounded())) ms)"
        if s.uncertainPlans > 0 { text += ", \(s.uncertainPlans) plans withdrawn as uncertain (disagreement \(s.disagreement))" }
        return text
    }

    public func start() { worker.start(name: "robotd-mpc", stackSize: 1 << 20) { [self] in run() } }

    /// Stops the thread (fault injection in tests, and shutdown); plans stop being published.
    public func stop() { worker.stop() }

    private func run() {
        let period = 1.0 / Double(configuration.rateHz)
        var next = MonotonicClock.seconds()
        while !worker.isStopping {
            next += period
            let now = MonotonicClock.seconds()
            if next < now { next = now }
            replan()
            let sleep = next - MonotonicClock.seconds()
            if sleep > 0 { usleep(useconds_t(sleep * 1e6)) }
        }
    }

    /// One re-plan from the loop's newest state, for a caller that drives the planner in its
    /// own (e.g. simulated) time instead of `start()`: call it every 1/`mpc.rate_hz` of loop
    /// time, from one thread, never together with `start()`.
    public func replanNow() { replan() }

    /// Hands the planner a learned residual model (nil members = back to the rigid-body model alone);
    /// installed at the start of the next re-plan. The members must take (x, u) or x and give Δx
    /// at `mpc.dt`; `calibration` bounds their residual and sets the disagreement limit.
    public func setLearnedModel(_ members: [MLP]?, version: Int, calibration: ResidualLearner.Calibration? = nil) {
        pendingModel.withLock { $0 = (members, version, calibration) }
    }

    /// The model version the planner currently plans with (0 = rigid body only).
    public var modelVersion: Int { modelVersionValue.load(ordering: .relaxed) }
    private let modelVersionValue = Atomic<Int>(0)
    /// The newest plan's disagreement (bit pattern), read without the lock: `planDisagreement`,
    /// and `statistics.disagreement` derives from it.
    private let disagreementBits = Atomic<UInt64>(0)

    /// Cold start: hold the current pose (gravity torques) as the initial guess.
    private func coldStart(_ x: [Double]) {
        let n = model.dof
        for i in 0 ..< n { qScratch[i] = x[i]; controlScratch[i] = 0 }
        model.rnea(&fk, q: qScratch, v: controlScratch, a: controlScratch)
        solver.setControls((0 ..< configuration.horizon).flatMap { _ in fk.tau })
    }

    /// Fraction of each joint's velocity limit (URDF) a learned model's plan may reach: the
    /// members can agree and still be wrong, and the arm then moves faster than planned.
    static let learnedVelocityFraction = 0.6

    /// Whether the first `nodes` nodes of the solver's current plan leave a joint's position
    /// limits or exceed `learnedVelocityFraction` of its velocity limit.
    private func planLeavesLimits(nodes: Int) -> Bool {
        let n = model.dof
        for k in 1 ... min(nodes, configuration.horizon) {
            stateScratch.withUnsafeMutableBufferPointer { solver.state(k, into: $0.baseAddress!) }
            for i in 0 ..< n {
                let j = model.joints[i]
                if !(stateScratch[i] >= j.lowerLimit && stateScratch[i] <= j.upperLimit)
                    || !(abs(stateScratch[n + i]) <= Self.learnedVelocityFraction * j.velocityLimit) { return true }
            }
        }
        return false
    }

    /// The learned model's largest disagreement along the first `nodes` nodes of the solver's
    /// current plan (0 without one).
    private func disagreementAlongPlan(nodes: Int) -> Double {
        guard solver.dynamics.box.learned != nil else { return 0 }
        var d = 0.0
        for k in 0 ..< min(nodes, configuration.horizon) {
            stateScratch.withUnsafeMutableBufferPointer { solver.state(k, into: $0.baseAddress!) }
            controlScratch.withUnsafeMutableBufferPointer { solver.control(k, into: $0.baseAddress!) }
            // NaN (a diverged rollout) counts as infinitely uncertain.
            let dk = solver.dynamics.box.disagreement(x: stateScratch, u: controlScratch)
            d = dk.isNaN ? .infinity : max(d, dk)
        }
        return d
    }

    private func solve(_ x: [Double]) -> ILQRSolver<SwitchableDynamics, CostModelSum>.Result {
        x.withUnsafeBufferPointer {
            solver.solve(from: $0.baseAddress!, maxIterations: configuration.iterations,
                         budget: UInt64(configuration.budget * 1e9), now: MonotonicClock.now)
        }
    }

    /// Installs the learned model handed over by `setLearnedModel`, if any: its calibrated limit
    /// and penalty, a fresh learned bias, and a clean slate for the fallback.
    private func installPendingModel() {
        guard let pending = pendingModel.withLock({ p -> (members: [MLP]?, version: Int, calibration: ResidualLearner.Calibration?)? in defer { p = nil }; return p })
        else { return }
        let nominal = solver.dynamics.nominal
        let derivatives = uncertainty.derivatives
        solver.dynamics.box.install(pending.members.map {
            ResidualDynamics(nominal: nominal, members: $0, derivatives: derivatives, residualBound: pending.calibration?.residualBound)
        }, version: pending.version)
        calibratedLimit = pending.members == nil ? 0 : pending.calibration?.disagreementLimit ?? 0
        task.resetLearnedBias()
        applyLimits()
        fallback = false
        modelVersionValue.store(pending.version, ordering: .relaxed)
    }

    /// Copies the solver's plan into the loop's slot and the learner's probe.
    private func publishPlan(t0: Double) {
        let n = model.dof, T = configuration.horizon, nx = 2 * n
        // The version of the model this plan was made with (0 = the rigid body, also when a
        // learned model is installed but its plan was refused): what the tick records.
        let version = solver.dynamics.box.active == nil ? 0 : UInt32(clamping: modelVersion)
        plans.publish(t0: t0, dt: configuration.dt, count: T, modelVersion: version) { xRef, uff, gains in
            for k in 0 ... T { solver.state(k, into: xRef + k * nx) }
            for k in 0 ..< T {
                solver.control(k, into: uff + k * n)
                solver.gain(k, into: gains + k * n * nx)
            }
        }
        probe.withLock { p in
            p.states.withUnsafeMutableBufferPointer { s in for k in 0 ... T { solver.state(k, into: s.baseAddress! + k * nx) } }
            p.controls.withUnsafeMutableBufferPointer { c in for k in 0 ..< T { solver.control(k, into: c.baseAddress! + k * n) } }
            p.nodes = T + 1
        }
    }

    /// One re-plan: the task sets the cost up for the newest state, iLQR solves warm-started,
    /// the uncertainty gate may replace a learned plan by a rigid-body one, and the plan is
    /// published with its figures.
    private func replan() {
        installPendingModel()
        solver.dynamics.box.suspended = fallback
        let (target, duration, setAt, startPosition, startJoints) = shared.withLock { ($0.target, $0.duration, $0.setAt, $0.startPosition, $0.startJoints) }
        guard let target else {
            lastT0 = nil
            // No plan, nothing to disagree about (telemetry must not show an old plan's value).
            disagreementBits.store(0, ordering: .relaxed)
            return
        }
        let t = telemetry()
        let n = model.dof
        for i in 0 ..< n {
            plannerState[i] = t.position[i]
            plannerState[n + i] = t.velocity[i]
        }
        let x = plannerState
        // Only the bias of the model this re-plan starts with integrates.
        task.update(&solver.cost, goal: ReachTask.Goal(target: target, duration: duration, setAt: setAt, startPosition: startPosition, startJoints: startJoints),
                    time: t.time, state: x, planningModel: solver.dynamics.box.active == nil ? .nominal : .learned)

        var result: ILQRSolver<SwitchableDynamics, CostModelSum>.Result
        if let last = lastT0 {
            solver.shift(by: Int(((t.time - last) / configuration.dt).rounded(.down)))
            result = solve(x)
            // A warm start that diverges from this state says nothing about the next one: plan
            // again from the holding torques rather than publish nothing (and keep failing on
            // the same shifted plan at every re-plan after).
            if result.status == .invalidDynamics {
                coldStart(x)
                result = solve(x)
            }
        } else {
            coldStart(x)
            result = solve(x)
        }
        let box = solver.dynamics.box
        // Epistemic uncertainty along the plan: where the learned model's members disagree, its
        // predictions are not to be trusted. A learned plan above the limit (or one whose rollout
        // diverged) is refused and replaced by a rigid-body plan from a cold start, so that the
        // arm keeps moving — and gathers the data the model lacks — instead of holding.
        // The gate looks at the nodes the arm can execute before a newer plan replaces this one
        // (`mpc.plan_validity`): every re-plan checks again from the measured state, so the arm
        // cannot walk out of the data unseen, while the horizon's far end — a 0.5 s open-loop
        // prediction that drifts from where the arm will really be — does not refuse a plan
        // whose executed part stays in the data (the soft penalty still covers the whole horizon).
        let gated = max(1, Int((configuration.planValidity / configuration.dt).rounded(.up)))
        var disagreement = disagreementAlongPlan(nodes: gated)
        let limit = activeLimit
        var refused: (status: ILQRSolver<SwitchableDynamics, CostModelSum>.Status, disagreement: Double)?
        if box.learned != nil, !box.suspended,
           result.status == .invalidDynamics || (limit > 0 && disagreement > limit) || planLeavesLimits(nodes: gated) {
            refused = (result.status, disagreement)
            fallback = true
            box.suspended = true
            task.aim(&solver.cost, target: target, planningModel: .nominal)
            coldStart(x)
            result = solve(x)
            disagreement = disagreementAlongPlan(nodes: gated)
        } else if box.learned != nil, box.suspended, limit > 0, disagreement <= 0.5 * limit {
            // The rigid-body plan runs where the learned model has data: try it again next time.
            fallback = false
        }
        let planningModel = box.learned == nil ? "nominal" : box.suspended ? "nominal (fallback)" : "learned"
        shared.withLock {
            if let refused {
                $0.stats.uncertainPlans += 1
                $0.stats.lastRefusal = refused.status == .invalidDynamics ? "the learned rollout diverged"
                    : limit > 0 && refused.disagreement > limit ? "disagreement \(refused.disagreement) above the limit \(limit)"
                    : "the plan leaves a joint's position limits or exceeds \(Self.learnedVelocityFraction) of its velocity limit"
            }
            if box.learned != nil, box.suspended { $0.stats.fallbackPlans += 1 }
            $0.stats.planningModel = planningModel
            $0.stats.disagreementLimit = limit
        }
        guard result.status != .invalidDynamics else {
            lastT0 = nil
            shared.withLock {
                $0.stats.lastStatus = result.status.rawValue
            }
            disagreementBits.store(0, ordering: .relaxed)
            return
        }
        publishPlan(t0: t.time)
        lastT0 = t.time
        // The plan's final end-effector position against where it should end: the pose target,
        // or the path's point for node T.
        var terminalError = 0.0
        if let goal = task.terminalGoal(solver.cost, target: target) {
            stateScratch.withUnsafeMutableBufferPointer { solver.state(configuration.horizon, into: $0.baseAddress!) }
            let e = task.framePosition(stateScratch) - goal
            terminalError = e.dot(e).squareRoot()
        }
        let ms = Double(result.nanoseconds) / 1e6
        shared.withLock {
            $0.stats.solves += 1
            $0.stats.lastSolveMs = ms
            $0.stats.maxSolveMs = max($0.stats.maxSolveMs, ms)
            $0.stats.lastIterations = result.iterations
            $0.stats.lastCost = result.cost
            $0.stats.lastStatus = result.status.rawValue
            $0.stats.predictedTerminalError = terminalError
            $0.stats.planT0 = t.time
        }
        disagreementBits.store(disagreement.bitPattern, ordering: .relaxed)
    }
}

extension MPCPlanner {
    /// `statistics.disagreement` without the lock or the copy of the statistics (every telemetry
    /// sample of every client reads it: 64 000 reads a second at 64 clients and 1 kHz).
    public var planDisagreement: Double { Double(bitPattern: disagreementBits.load(ordering: .relaxed)) }
}
