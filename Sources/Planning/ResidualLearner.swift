import ControlRuntime
import Learning
import RigidBody

/// The data side of online (DAgger-style) model learning: the arm's own transitions become
/// samples of the planner's step, a bounded replay buffer aggregates them, candidate ensembles
/// are trained on all but the most recent data and validated on it, and a candidate replaces the
/// current model only if it predicts the held-out steps better. Versions are kept for rollback.
///
/// A sample: x = (q, v) at tick t, ū = the mean torque commanded over the next k ticks
/// (k = planner dt / loop period), x⁺ = (q, v) k ticks later; its target is the residual
/// x⁺ − f_nom(x, ū) of the rigid-body step the planner uses, its input x (or (x, ū) with
/// `controlInput`).
/// - Warning: Not real-time safe: runs on the learner thread.
public final class ResidualLearner {
    public struct Options: Sendable {
        /// Planner step (s): samples span this much time.
        public var dt = 0.01
        /// Control-loop period (s).
        public var loopPeriod = 0.001
        public var replayCapacity = 50_000
        /// Most recent fraction of the buffer held out for validation.
        public var validationFraction = 0.2
        public var members = 5
        /// Whether the residual also takes the torque: r(x, ū) instead of r(x). A state-only
        /// residual (gravity, friction and Coriolis errors of the payload and the joints) leaves
        /// the torque's effect to the rigid-body model, which on-policy data — where the torque
        /// is a function of the state — cannot teach a network anyway.
        public var controlInput = false
        public var hidden = [64, 64]
        public var epochs = 30
        /// Passes for a warm-started candidate.
        public var warmStartEpochs = 10
        /// The disagreement limit stored with each version: this quantile of the ensemble's
        /// disagreement on the held-out samples, times `disagreementFactor`.
        public var disagreementQuantile = 0.99
        public var disagreementFactor = 4.0
        /// Each residual component is bounded by this multiple of the largest |target| in the
        /// buffer (`ResidualDynamics.residualBound`).
        public var residualBoundFactor = 2.0
        public var trainer: MLPTrainer.Options = {
            var o = MLPTrainer.Options()
            // Inputs are (q rad, v rad/s, τ N·m): a joint that stood still in the data must not
            // make small planned motions look like huge extrapolations.
            o.inputScaleFloor = 0.05
            // A joint that stood still (σ below 1 mrad, 1 mrad/s or 1 mN·m) is ignored.
            o.ignoreInputsBelow = 1e-3
            return o
        }()
        public init() {}
    }

    /// What a version's own data says about where it may be trusted, stored with it.
    public struct Calibration: Sendable, Equatable {
        /// Disagreement (mean member variance, state units², as `ResidualDynamics.disagreement`)
        /// above which the model is extrapolating: the `disagreementQuantile` of its disagreement
        /// on held-out data, or the rigid-body model's mean squared next-state error there (same
        /// units) when larger, × `disagreementFactor`. Held-out data from one still pose alone
        /// would give a limit no motion passes, and a plan is a 0.5 s prediction, not one step
        /// from a measured state; members that disagree by about as much as the rigid-body
        /// model errs still know more than it does, while an extrapolating ensemble disagrees by
        /// orders of magnitude more (0.18 → 1.2 → 1e12 in issue 12).
        public var disagreementLimit: Double
        /// Bound of each residual component (state units, nx values).
        public var residualBound: [Double]
        public init(disagreementLimit: Double, residualBound: [Double]) {
            self.disagreementLimit = disagreementLimit
            self.residualBound = residualBound
        }
    }

    /// One published model: its number (unique for the daemon's life), members, calibration.
    public struct Version: Sendable {
        public var number: Int
        public var members: [MLP]
        public var calibration: Calibration?
    }

    public struct Candidate {
        public var members: [MLP]
        public var calibration: Calibration?
        /// Whether it continued from the current version's weights.
        public var warmStarted = false
        /// Training was stopped by `shouldStop`: the members are part-trained, never to be published.
        public var cancelled = false
        /// Mean squared error of the predicted next state on the held-out samples.
        public var validationError: Double
        public var samples: Int
        /// `samplesSeen` when `validationError` was measured: while it is unchanged the held-out
        /// samples are the same and the error need not be measured again.
        var measuredAt: Int?

        public init(members: [MLP], validationError: Double = .nan, samples: Int = 0) {
            self.members = members
            self.validationError = validationError
            self.samples = samples
        }
    }

    public let model: RobotModel
    public let options: Options
    public let nominal: RigidBodyDynamics
    private var nominalWorkspace: RigidBodyDynamics.Workspace
    private var window: [Transition] = []
    private var inputs: [Float] = []
    private var targets: [Float] = []
    private var head = 0
    public private(set) var sampleCount = 0
    public private(set) var samplesSeen = 0
    /// Published versions, oldest first; version 0 (the nominal model alone) is implicit.
    public private(set) var versions: [Version] = []
    /// The largest version number issued so far: numbers only grow (across rollback and reset),
    /// so "v3" names one model for the daemon's life.
    public private(set) var lastIssued = 0

    public init(model: RobotModel, options: Options = Options()) {
        self.model = model
        self.options = options
        nominal = RigidBodyDynamics(model: model, dt: options.dt)
        nominalWorkspace = nominal.makeWorkspace()
    }

    var n: Int { model.dof }
    /// Network inputs: (q, v) with `controlInput` false, (q, v, ū) with it true.
    public var inputWidth: Int { options.controlInput ? 3 * n : 2 * n }
    var stride: Int { max(1, Int((options.dt / options.loopPeriod).rounded())) }

    /// The current model version (0 = nominal only), its members and calibration.
    public var version: Int { versions.last?.number ?? 0 }
    public var current: [MLP]? { versions.last?.members }
    public var currentCalibration: Calibration? { versions.last?.calibration }

    /// Adds one tick. Samples form from runs of consecutive actuated ticks in one command mode
    /// with a fresh measurement (a held state is not one). ū is the torque the arm got over the
    /// sample: torque mode, the mean command of its first `stride` ticks (held for a period
    /// each); position servos, whose PD makes the torque, the mean measured effort of its last
    /// `stride` ticks (each tick's measurement carries the effort of the period before it).
    public func ingest(_ t: Transition) {
        let consecutive = window.last.map { t.tick == $0.tick + 1 && t.commandMode == $0.commandMode } ?? true
        let usable = (t.commandMode == .torque || t.commandMode == .position) && t.mode.isActuated
            && t.flags & Transition.Flags.heldState == 0
        guard consecutive, usable else {
            window.removeAll(keepingCapacity: true)
            if usable { window.append(t) }
            return
        }
        window.append(t)
        guard window.count == stride + 1 else { return }
        var x = [Double](repeating: 0, count: 2 * n), u = [Double](repeating: 0, count: n), xNext = x
        let first = window[0], last = window[stride]
        for i in 0 ..< n {
            x[i] = first.position[i]
            x[n + i] = first.velocity[i]
            xNext[i] = last.position[i]
            xNext[n + i] = last.velocity[i]
            var s = 0.0
            if first.commandMode == .position {
                for k in 1 ... stride { s += window[k].effort[i] }
            } else {
                for k in 0 ..< stride { s += window[k].command[i] }
            }
            u[i] = s / Double(stride)
        }
        var predicted = [Double](repeating: 0, count: 2 * n)
        guard nominal.step(&nominalWorkspace, x: x, u: u, next: &predicted) else {
            window.removeAll(keepingCapacity: true)
            return
        }
        add(input: (options.controlInput ? x + u : x).map { Float($0) }, target: (0 ..< 2 * n).map { Float(xNext[$0] - predicted[$0]) })
        // Non-overlapping samples: the window restarts at the last tick.
        window.removeAll(keepingCapacity: true)
        window.append(last)
    }

    private func add(input: [Float], target: [Float]) {
        let di = inputWidth, dt = 2 * n
        if sampleCount < options.replayCapacity {
            inputs += input
            targets += target
            sampleCount += 1
        } else {
            for i in 0 ..< di { inputs[head * di + i] = input[i] }
            for i in 0 ..< dt { targets[head * dt + i] = target[i] }
            head = (head + 1) % options.replayCapacity
        }
        samplesSeen += 1
    }

    /// Samples in chronological order (the replay buffer unrolled).
    private func ordered() -> (inputs: [Float], targets: [Float]) {
        guard sampleCount == options.replayCapacity, head != 0 else { return (inputs, targets) }
        let di = inputWidth, dt = 2 * n
        return (Array(inputs[(head * di)...] + inputs[..<(head * di)]), Array(targets[(head * dt)...] + targets[..<(head * dt)]))
    }

    /// Per sample in [from, to): the members' disagreement D = (1/(K·nx)) Σ_m Σ_i (y_mi − ȳ_i)²
    /// (`ResidualDynamics.disagreement`'s formula) at row-major `inputs`.
    func disagreements(of members: [MLP], inputs: [Float], from: Int, to: Int) -> [Double] {
        let di = members[0].inputSize, dt = members[0].outputSize, k = members.count
        guard k > 1, to > from else { return Array(repeating: 0, count: max(0, to - from)) }
        var workspaces = members.map { $0.makeWorkspace() }
        var out = [Float](repeating: 0, count: k * dt)
        var result: [Double] = []
        result.reserveCapacity(to - from)
        inputs.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for s in from ..< to {
                    for (m, mlp) in members.enumerated() { mlp.forward(&workspaces[m], input: x.baseAddress! + s * di, output: o.baseAddress! + m * dt) }
                    var total = 0.0
                    for i in 0 ..< dt {
                        var mean = 0.0
                        for m in 0 ..< k { mean += Double(o[m * dt + i]) }
                        mean /= Double(k)
                        for m in 0 ..< k { let e = Double(o[m * dt + i]) - mean; total += e * e }
                    }
                    result.append(total / Double(k * dt))
                }
            }
        }
        return result
    }

    /// The calibration of `members` from samples: the disagreement limit from the held-out
    /// [from, to), the residual bound from every target in the buffer.
    func calibrate(_ members: [MLP], inputs: [Float], targets: [Float], from: Int, to: Int) -> Calibration {
        let d = disagreements(of: members, inputs: inputs, from: from, to: to).sorted()
        let q = d.isEmpty ? 0 : d[min(d.count - 1, Int((options.disagreementQuantile * Double(d.count - 1)).rounded(.up)))]
        let nominalError = error(of: nil, inputs: inputs, targets: targets, from: from, to: to)
        let dt = 2 * n, count = targets.count / dt
        var largest = [Double](repeating: 0, count: dt)
        for s in 0 ..< count { for i in 0 ..< dt { largest[i] = max(largest[i], abs(Double(targets[s * dt + i]))) } }
        return Calibration(disagreementLimit: options.disagreementFactor * max(q, nominalError.isFinite ? nominalError : 0),
                           residualBound: largest.map { $0 * options.residualBoundFactor })
    }

    /// A plan to validate a candidate on: its states ((T+1) × nx, row-major; the first is the
    /// measured state it starts from) and controls (T × nu).
    public struct Plan: Sendable {
        public var states: [Double]
        public var controls: [Double]
        public init(states: [Double], controls: [Double]) {
            self.states = states
            self.controls = controls
        }
    }

    /// The inputs `members` would see along `plan`: from its first state, the rigid-body step
    /// plus their mean residual (bounded by `bound`) under its controls, one row of `inputWidth`
    /// per node — where the model, once published, predicts the arm goes. nil when the rollout
    /// leaves the finite numbers.
    func rolloutInputs(of members: [MLP], bound: [Double]?, plan: Plan) -> [Float]? {
        let nx = 2 * n, nodes = plan.controls.count / n
        guard plan.states.count >= nx, nodes > 0 else { return [] }
        let dynamics = ResidualDynamics(nominal: nominal, members: members, derivatives: .none, residualBound: bound)
        var ws = dynamics.makeWorkspace()
        var x = Array(plan.states[0 ..< nx]), next = x
        var rows: [Float] = []
        rows.reserveCapacity(nodes * inputWidth)
        for k in 0 ..< nodes {
            let u = Array(plan.controls[(k * n) ..< ((k + 1) * n)])
            rows += x.map { Float($0) }
            if options.controlInput { rows += u.map { Float($0) } }
            guard dynamics.step(&ws, x: x, u: u, next: &next) else { return nil }
            swap(&x, &next)
        }
        return rows
    }

    /// `members`' calibration on the current buffer (held-out newest samples as in training);
    /// nil with too few samples.
    public func calibration(of members: [MLP]) -> Calibration? {
        let total = sampleCount, held = Int(Double(total) * options.validationFraction)
        guard held >= 16, members.allSatisfy({ $0.inputSize == inputWidth && $0.outputSize == 2 * n }) else { return nil }
        let (x, y) = ordered()
        return calibrate(members, inputs: x, targets: y, from: total - held, to: total)
    }

    /// Mean squared next-state error of `members` (nil = nominal only) on samples [from, to).
    func error(of members: [MLP]?, inputs: [Float], targets: [Float], from: Int, to: Int) -> Double {
        guard to > from else { return .infinity }
        let di = inputWidth, dt = 2 * n
        precondition(members?.allSatisfy { $0.inputSize == di && $0.outputSize == dt } ?? true, "members of this learner's shape")
        var workspaces = members?.map { $0.makeWorkspace() } ?? []
        var out = [Float](repeating: 0, count: dt)
        var mean = [Double](repeating: 0, count: dt)
        var total = 0.0
        for s in from ..< to {
            for i in 0 ..< dt { mean[i] = 0 }
            if let members {
                for (m, mlp) in members.enumerated() {
                    inputs.withUnsafeBufferPointer { mlp.forward(&workspaces[m], input: $0.baseAddress! + s * di, output: &out) }
                    for i in 0 ..< dt { mean[i] += Double(out[i]) / Double(members.count) }
                }
            }
            for i in 0 ..< dt {
                let e = Double(targets[s * dt + i]) - mean[i]
                total += e * e
            }
        }
        return total / Double((to - from) * dt)
    }

    /// Trains a candidate on all but the newest `validationFraction` of the buffer and reports
    /// its error on those; nil with too few samples.
    ///
    /// With `warmStart` (and a current version of the same architecture) the candidate continues
    /// from the current model's function for `warmStartEpochs` passes — the data changed by a few
    /// thousand samples, not the function — instead of `epochs` passes from a fresh
    /// initialisation. Its normalisers are refitted to the buffer and its weights re-expressed
    /// for them, so they follow the data as it moves (an input that stood still so far and
    /// starts moving is taken up again).
    /// `shouldStop` is asked before every mini-batch; a candidate stopped early comes back with
    /// `cancelled` set (and is refused by `publishIfBetter`).
    public func trainCandidate(seed: UInt64 = 1, warmStart: Bool = false, shouldStop: () -> Bool = { false }) -> Candidate? {
        let total = sampleCount
        let held = Int(Double(total) * options.validationFraction)
        let train = total - held
        guard train >= 64, held >= 16 else { return nil }
        let (x, y) = ordered()
        let di = inputWidth, dt = 2 * n
        let widths = [di] + options.hidden + [dt]
        let ensemble: MLPEnsemble
        var warm = false
        if warmStart, let current, current.count == options.members, current.allSatisfy({ $0.widths == widths }) {
            ensemble = MLPEnsemble(continuing: current, options: options.trainer, seed: seed)
            warm = true
        } else {
            ensemble = MLPEnsemble(widths: widths, activation: .silu, members: options.members, options: options.trainer, seed: seed)
        }
        var stopped = false
        ensemble.train(inputs: Array(x[..<(train * di)]), outputs: Array(y[..<(train * dt)]), count: train,
                       epochs: warm ? options.warmStartEpochs : options.epochs, continuing: warm,
                       shouldStop: { stopped = stopped || shouldStop(); return stopped })
        let members = ensemble.members.map(\.mlp)
        guard !stopped else {
            var candidate = Candidate(members: members, samples: train)
            candidate.cancelled = true
            return candidate
        }
        var candidate = Candidate(members: members, validationError: error(of: members, inputs: x, targets: y, from: train, to: total), samples: train)
        candidate.calibration = calibrate(members, inputs: x, targets: y, from: train, to: total)
        candidate.warmStarted = warm
        candidate.measuredAt = samplesSeen
        return candidate
    }

    /// The errors of several models (nil: the rigid-body model alone) on the held-out newest
    /// samples, from one unrolling of the buffer.
    func validationErrors(of models: [[MLP]?]) -> [Double] {
        let total = sampleCount
        let held = Int(Double(total) * options.validationFraction)
        let (x, y) = ordered()
        return models.map { error(of: $0, inputs: x, targets: y, from: total - held, to: total) }
    }

    /// The error of `members` (nil: the rigid-body model alone) on the held-out newest samples.
    public func validationError(of members: [MLP]?) -> Double { validationErrors(of: [members])[0] }

    /// The current model's error on the held-out samples.
    public func currentValidationError() -> Double { validationError(of: current) }

    /// What `publishIfBetter` compared (held-out mean squared errors) and decided.
    public struct Comparison: Sendable {
        public var candidate: Double
        public var current: Double
        public var nominal: Double
        public var published: Bool
        /// The candidate's largest disagreement over the probe (the states the planner is about
        /// to use it in) and its own limit; 0 without a probe.
        public var probeDisagreement = 0.0
        public var disagreementLimit = 0.0
        /// Why it was not published, in words (nil when published).
        public var refusal: String?
    }

    /// Publishes `candidate` as the next version if it has this learner's shape and, evaluated
    /// now on the held-out samples, predicts better than the current model and than the
    /// rigid-body model alone — overall and on the newest `recentSamples` (where the arm is
    /// now) — and, with a `plan` (the one the arm follows), its members agree within its
    /// calibrated limit all along its own rollout of that plan's controls: the region it will be
    /// used in. (DAgger's newest data come from the current model's behaviour, where that model
    /// may be at its worst: beating it alone is not enough.)
    @discardableResult
    public func publishIfBetter(_ candidate: Candidate, plan: Plan? = nil) -> Comparison {
        guard !candidate.cancelled else {
            return Comparison(candidate: .nan, current: .nan, nominal: .nan, published: false, refusal: "its training was cancelled")
        }
        guard candidate.members.allSatisfy({ $0.inputSize == inputWidth && $0.outputSize == 2 * n }) else {
            return Comparison(candidate: .nan, current: .nan, nominal: .nan, published: false, refusal: "its shape is not this learner's")
        }
        let fresh = candidate.measuredAt == samplesSeen
        let e = validationErrors(of: fresh ? [current, nil] : [current, nil, candidate.members])
        let candidateError = fresh ? candidate.validationError : e[2]
        var comparison = Comparison(candidate: candidateError, current: e[0], nominal: e[1], published: false)
        guard candidateError < e[0], candidateError < e[1] else {
            comparison.refusal = "the candidate was not better"
            return comparison
        }
        let (x, y) = ordered()
        let recent = min(Self.recentSamples, sampleCount)
        let recentCandidate = error(of: candidate.members, inputs: x, targets: y, from: sampleCount - recent, to: sampleCount)
        let recentNominal = error(of: nil, inputs: x, targets: y, from: sampleCount - recent, to: sampleCount)
        guard recentCandidate < recentNominal else {
            comparison.refusal = "the candidate predicts the newest \(recent) samples worse than the rigid-body model (\(recentCandidate) vs \(recentNominal))"
            return comparison
        }
        let calibration = candidate.calibration ?? calibrate(candidate.members, inputs: x, targets: y,
                                                             from: sampleCount - Int(Double(sampleCount) * options.validationFraction), to: sampleCount)
        comparison.disagreementLimit = calibration.disagreementLimit
        if let plan {
            guard let probe = rolloutInputs(of: candidate.members, bound: calibration.residualBound, plan: plan) else {
                comparison.probeDisagreement = .infinity
                comparison.refusal = "the candidate's rollout of the current plan diverges"
                return comparison
            }
            comparison.probeDisagreement = disagreements(of: candidate.members, inputs: probe, from: 0, to: probe.count / inputWidth).max() ?? 0
            guard comparison.probeDisagreement <= calibration.disagreementLimit else {
                comparison.refusal = "the candidate's members disagree along the current plan (\(comparison.probeDisagreement) > its limit \(calibration.disagreementLimit)): no data there yet"
                return comparison
            }
        }
        lastIssued += 1
        versions.append(Version(number: lastIssued, members: candidate.members, calibration: calibration))
        comparison.published = true
        return comparison
    }

    /// How many of the newest samples (1 s at the default 10 ms step) a candidate must predict
    /// better than the rigid-body model.
    static let recentSamples = 100

    /// Returns to the previous version (the nominal model after the first); false at version 0.
    /// The number it returns to is that version's (numbers are never reissued).
    @discardableResult
    public func rollback() -> Bool {
        guard !versions.isEmpty else { return false }
        versions.removeLast()
        return true
    }

    /// Adopts `members` (loaded from a file) as the next version, without validation. Its number
    /// is above every number issued and above `fileVersion` (the file's own), so it names no
    /// other model. Without `calibration` it is calibrated on the buffer (nil with too little data).
    public func adopt(_ members: [MLP], calibration: Calibration? = nil, fileVersion: Int? = nil) {
        precondition(members.allSatisfy { $0.inputSize == inputWidth && $0.outputSize == 2 * n }, "model shape checked by the caller")
        lastIssued = max(lastIssued, fileVersion ?? 0) + 1
        versions.append(Version(number: lastIssued, members: members, calibration: calibration ?? self.calibration(of: members)))
    }

    /// Forgets every learned version (the data stays; numbers are not reissued).
    public func reset() { versions.removeAll() }

    /// The current version as a dynamics model with every derivative (`.full`); the planner
    /// builds its own with `learning.derivatives`.
    public func dynamics() -> ResidualDynamics<RigidBodyDynamics>? {
        versions.last.map { ResidualDynamics(nominal: nominal, members: $0.members, residualBound: $0.calibration?.residualBound) }
    }
}
