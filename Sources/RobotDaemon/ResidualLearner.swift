import ControlRuntime
import Learning
import Planning
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

    public struct Candidate {
        public var members: [MLP]
        /// Whether it continued from the current version's weights.
        public var warmStarted = false
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
    public private(set) var versions: [[MLP]] = []

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

    /// The current model version (0 = nominal only) and its members.
    public var version: Int { versions.count }
    public var current: [MLP]? { versions.last }

    /// Adds one tick. Samples form from runs of consecutive actuated torque-mode ticks.
    public func ingest(_ t: Transition) {
        let consecutive = window.last.map { t.tick == $0.tick + 1 } ?? true
        guard consecutive, t.commandMode == 1, t.mode.isActuated else {
            window.removeAll(keepingCapacity: true)
            if t.commandMode == 1, t.mode.isActuated { window.append(t) }
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
            for k in 0 ..< stride { s += window[k].command[i] }
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
    public func trainCandidate(seed: UInt64 = 1, warmStart: Bool = false) -> Candidate? {
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
        ensemble.train(inputs: Array(x[..<(train * di)]), outputs: Array(y[..<(train * dt)]), count: train,
                       epochs: warm ? options.warmStartEpochs : options.epochs, continuing: warm)
        let members = ensemble.members.map(\.mlp)
        var candidate = Candidate(members: members, validationError: error(of: members, inputs: x, targets: y, from: train, to: total), samples: train)
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
    }

    /// Publishes `candidate` as the next version if it has this learner's shape and, evaluated
    /// now on the held-out samples, predicts better than the current model and than the
    /// rigid-body model alone. (DAgger's newest data come from the current model's behaviour,
    /// where that model may be at its worst: beating it alone is not enough.)
    @discardableResult
    public func publishIfBetter(_ candidate: Candidate) -> Comparison {
        guard candidate.members.allSatisfy({ $0.inputSize == inputWidth && $0.outputSize == 2 * n }) else {
            return Comparison(candidate: .nan, current: .nan, nominal: .nan, published: false)
        }
        let fresh = candidate.measuredAt == samplesSeen
        let e = validationErrors(of: fresh ? [current, nil] : [current, nil, candidate.members])
        let candidateError = fresh ? candidate.validationError : e[2]
        let published = candidateError < e[0] && candidateError < e[1]
        if published { versions.append(candidate.members) }
        return Comparison(candidate: candidateError, current: e[0], nominal: e[1], published: published)
    }

    /// Returns to the previous version (the nominal model after the first); false at version 0.
    @discardableResult
    public func rollback() -> Bool {
        guard !versions.isEmpty else { return false }
        versions.removeLast()
        return true
    }

    /// Adopts `members` (loaded from a file) as the next version, without validation.
    public func adopt(_ members: [MLP]) {
        precondition(members.allSatisfy { $0.inputSize == inputWidth && $0.outputSize == 2 * n }, "model shape checked by the caller")
        versions.append(members)
    }

    /// Forgets every learned version (the data stays).
    public func reset() { versions.removeAll() }

    /// The current version as a dynamics model with every derivative (`.full`); the planner
    /// builds its own with `learning.derivatives`.
    public func dynamics() -> ResidualDynamics<RigidBodyDynamics>? {
        current.map { ResidualDynamics(nominal: nominal, members: $0) }
    }
}
