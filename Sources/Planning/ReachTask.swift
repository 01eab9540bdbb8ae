import LinearAlgebra
import RigidBody

/// The MPC's reaching task, as data and without threads: what a target means for the cost
/// (which terms, weights and references), the integral bias that removes a steady-state
/// offset, and the minimum-jerk reference that slides from the start to the target. The planner
/// calls `update` before each solve; everything here is a pure function of its inputs and the
/// bias state it carries from one re-plan to the next.
///
/// The cost it drives is the `CostModelSum` of `makeCost`, with these terms in this order:
///
/// | term | residual | activation | running | terminal |
/// |---|---|---|---|---|
/// | `frame_translation` | p(q) − p* | quadratic | `running_frame` (pose), `path_frame` (path) | `terminal_frame` |
/// | `frame_orientation` | orientation error | quadratic | `running_orientation` (pose with orientation) | `terminal_orientation` |
/// | `state` | x − x_ref | weighted quadratic | `running_state`; joints: `running_joint` | joints: `terminal_joint` |
/// | `terminal_velocity` | v | quadratic | | `terminal_velocity` (not paths) |
/// | `joint_limits` | q | quadratic barrier, last `limitMargin` | `joint_limit_barrier` | `joint_limit_barrier` |
/// | `control` | τ | quadratic | `running_control` | |
/// | `disagreement` | (D − D₀)/D₀ | quadratic barrier above 0 | `learning.disagreement_weight` | |
///
/// For pose and path targets x_ref = (q_now, 0) with unit weights (damping of the motion); for
/// joint targets x_ref = (q*, 0), weights 1 on q and `running_state`/`running_joint` on v.
public struct ReachTask {
    /// What a person asks the arm to reach.
    public enum Target: Sendable, Equatable {
        /// End-effector position (m, base frame) and optional orientation (unit quaternion w x y z).
        case pose(position: Vector3, orientation: [Double]?)
        /// Joint positions (rad).
        case joints([Double])
        /// A closed end-effector path traversed repeatedly from the moment it is set.
        case path(ReferencePath)
    }

    /// A target as it was set: when, over what duration, and from where.
    public struct Goal: Sendable, Equatable {
        public var target: Target
        /// Time (s) the reference takes to slide from the start to the target along a minimum-jerk
        /// profile; nil or ≤ 0 = aim at the target at once.
        public var duration: Double?
        /// Loop time (s) the target was set at.
        public var setAt: Double
        /// The frame's position when a pose target was set (nil = start at the target).
        public var startPosition: Vector3?
        /// The joint positions when a joint target was set (nil = start at the target).
        public var startJoints: [Double]?

        public init(target: Target, duration: Double? = nil, setAt: Double = 0, startPosition: Vector3? = nil, startJoints: [Double]? = nil) {
            self.target = target
            self.duration = duration
            self.setAt = setAt
            self.startPosition = startPosition
            self.startJoints = startJoints
        }
    }

    /// Which planning model a re-plan uses: each keeps its own integral bias, since each lacks
    /// something different (the rigid-body bias absorbs a payload's sag that the learned model
    /// predicts; aiming the learned plan at it would send the arm off the target and its data).
    public enum PlanningModel: Int, Sendable {
        case nominal = 0
        case learned = 1
    }

    /// The cost terms' names, in `makeCost`'s order.
    public static let termNames = ["frame_translation", "frame_orientation", "state", "terminal_velocity", "joint_limits", "control", "disagreement"]
    static let frameTerm = 0, orientationTerm = 1, stateTerm = 2, velocityTerm = 3, limitTerm = 4, controlTerm = 5, disagreementTerm = 6

    /// Distance before a joint limit where the barrier starts (rad or m).
    public static let limitMargin = 0.05
    /// Integral gain (1/s), the radius inside which the bias integrates (m or rad), and its clamp
    /// (m or rad; for a pose target, on the norm).
    public static let biasGain = 3.0, biasZone = 0.05, biasLimit = 0.05

    public let model: RobotModel
    public let frame: Int
    public let weights: ReachWeights
    public let horizon: Int
    /// Node spacing (s).
    public let dt: Double
    /// Time between re-plans (s): the integral's step.
    public let replanPeriod: Double

    /// Integral of the steady-state error (offset-free MPC), one per `PlanningModel`: the cost
    /// aims at target + bias, where the bias integrates (target − measured) near the target,
    /// absorbing what the model lacks (friction, an unmodelled payload) that would otherwise
    /// leave a constant offset (the receding horizon keeps "arriving at the end of the horizon").
    public private(set) var positionBias = [Vector3.zero, .zero]
    public private(set) var jointBias: [[Double]]
    /// The target the bias and the cost's weights are for.
    private var biasTarget: Target?
    /// The target without the bias (pose: position; joints: q) as of the newest `update`.
    public private(set) var unbiasedPosition = Vector3.zero
    public private(set) var unbiasedJoints: [Double]
    private var kinematics: RobotWorkspace
    private var q: [Double]

    /// - Parameters:
    ///   - weights: the terms' weights (`mpc.weights`).
    ///   - horizon: nodes per plan; `dt`: their spacing (s); `replanPeriod`: 1/`mpc.rate_hz` (s).
    public init(model: RobotModel, frame: Int, weights: ReachWeights, horizon: Int, dt: Double, replanPeriod: Double) {
        precondition(horizon >= 1 && dt > 0 && replanPeriod > 0, "horizon, dt and the re-plan period must be positive")
        self.model = model
        self.frame = frame
        self.weights = weights
        self.horizon = horizon
        self.dt = dt
        self.replanPeriod = replanPeriod
        let n = model.dof
        jointBias = [Array(repeating: 0, count: n), Array(repeating: 0, count: n)]
        unbiasedJoints = Array(repeating: 0, count: n)
        kinematics = model.makeWorkspace()
        q = Array(repeating: 0, count: n)
    }

    /// The task's cost (terms as in the table above), aimed at the frame's position at q = 0 until
    /// the first `update`; room for a path's T + 1 targets is reserved.
    /// - Parameter box: where the planner's learned model lives (nil: no disagreement term effect).
    /// - Warning: Not real-time safe (allocates).
    public func makeCost(disagreementBox box: SwitchableDynamics.Box? = nil) -> CostModelSum {
        let n = model.dof
        var ws = model.makeWorkspace()
        model.forwardKinematics(&ws, q: Array(repeating: 0, count: n))
        let lower = model.joints.map { $0.lowerLimit + Self.limitMargin }, upper = model.joints.map { $0.upperLimit - Self.limitMargin }
        let names = Self.termNames
        var cost = CostModelSum(model: model, frame: frame, dt: dt, terms: [
            CostTerm(names[0], .frameTranslation),
            CostTerm(names[1], .frameOrientation),
            CostTerm(names[2], .state, activation: .weightedQuadratic(Array(repeating: 1, count: 2 * n))),
            CostTerm(names[3], .jointVelocity),
            CostTerm(names[4], .jointPosition, activation: .quadraticBarrier(lower: lower, upper: upper),
                     running: weights.jointLimitBarrier, terminal: weights.jointLimitBarrier),
            CostTerm(names[5], .control, running: weights.runningControl),
            CostTerm(names[6], .disagreement, activation: .quadraticBarrier(lower: [-.infinity], upper: [0])),
        ], frameTarget: model.framePose(ws, frame: frame).translation, disagreementBox: box)
        cost.frameTargets.reserveCapacity(horizon + 1)
        return cost
    }

    /// s(τ) = 10τ³ − 15τ⁴ + 6τ⁵: the minimum-jerk progress from 0 to 1 over τ ∈ [0, 1], with zero
    /// velocity and acceleration at both ends.
    @inline(__always)
    public static func minimumJerk(_ tau: Double) -> Double { tau * tau * tau * (10 - 15 * tau + 6 * tau * tau) }

    /// How far (0 … 1) the reference has slid from the start to the target for a plan made at
    /// loop time `time`: the minimum-jerk progress at the end of the horizon, 1 without a
    /// duration.
    public func progress(_ goal: Goal, time: Double) -> Double {
        guard let duration = goal.duration, duration > 0 else { return 1 }
        let tau = min(1, max(0, (time + Double(horizon) * dt - goal.setAt) / duration))
        return Self.minimumJerk(tau)
    }

    /// Sets `cost` up for a plan from the measured state `x` (nx) at loop time `time` towards
    /// `goal`, integrating the bias of `planningModel` (and only it). A new target restarts both
    /// biases and sets the terms' weights; the references (targets, x_ref) are set every call.
    /// - Note: Allocates only when the target changes.
    public mutating func update(_ cost: inout CostModelSum, goal: Goal, time: Double, state x: [Double], planningModel: PlanningModel) {
        assert(cost.terms.map(\.name) == Self.termNames, "the cost is not this task's (makeCost)")
        let n = model.dof
        let s = progress(goal, time: time)
        cost.frameTargets.removeAll(keepingCapacity: true)
        if biasTarget != goal.target {
            biasTarget = goal.target
            positionBias = [.zero, .zero]
            jointBias = [Array(repeating: 0, count: n), Array(repeating: 0, count: n)]
            unbiasedJoints = Array(repeating: 0, count: n)
            applyWeights(&cost, for: goal.target)
        }
        let m = planningModel.rawValue
        switch goal.target {
        case let .pose(p, _):
            let start = goal.startPosition ?? p
            if s >= 1 {
                let e = p - framePosition(x)
                if e.dot(e).squareRoot() < Self.biasZone {
                    positionBias[m] += (Self.biasGain * replanPeriod) * e
                    let norm = positionBias[m].dot(positionBias[m]).squareRoot()
                    if norm > Self.biasLimit { positionBias[m] = (Self.biasLimit / norm) * positionBias[m] }
                }
            }
            unbiasedPosition = start + s * (p - start)
            aim(&cost, target: goal.target, planningModel: planningModel)
            dampMotion(&cost, from: x)
        case let .joints(qStar):
            let start = goal.startJoints ?? qStar
            for i in 0 ..< n {
                if s >= 1, abs(qStar[i] - x[i]) < Self.biasZone {
                    jointBias[m][i] = min(max(jointBias[m][i] + Self.biasGain * replanPeriod * (qStar[i] - x[i]), -Self.biasLimit), Self.biasLimit)
                }
                unbiasedJoints[i] = start[i] + s * (qStar[i] - start[i])
                cost.stateReference[i] = unbiasedJoints[i] + jointBias[m][i]
                cost.stateReference[n + i] = 0
            }
        case let .path(path):
            // A moving reference: node k aims at where the path is k·dt from now. No integral
            // action: a tracking lag is not the constant offset the bias is meant to absorb.
            let phase = time - goal.setAt
            for k in 0 ... horizon { cost.frameTargets.append(path.position(at: phase + Double(k) * dt)) }
            dampMotion(&cost, from: x)
        }
    }

    /// Points `cost` at the target of the newest `update` plus the bias of `planningModel` (the
    /// planner re-aims when it falls back from the learned model to the rigid-body one).
    /// - Note: Real-time safe: no allocation, no locks.
    public func aim(_ cost: inout CostModelSum, target: Target, planningModel: PlanningModel) {
        let m = planningModel.rawValue
        switch target {
        case .pose: cost.frameTarget = unbiasedPosition + positionBias[m]
        case .joints:
            for i in 0 ..< model.dof { cost.stateReference[i] = unbiasedJoints[i] + jointBias[m][i] }
        case .path: break
        }
    }

    /// Restarts the learned model's bias (a new learned model lacks something else).
    public mutating func resetLearnedBias() {
        positionBias[PlanningModel.learned.rawValue] = .zero
        for i in jointBias[PlanningModel.learned.rawValue].indices { jointBias[PlanningModel.learned.rawValue][i] = 0 }
    }

    /// Sets the disagreement term: threshold D₀ (state units², 0 = off) and weight w (½w per
    /// second at D = 2D₀).
    public static func setDisagreementPenalty(_ cost: inout CostModelSum, threshold: Double, weight: Double) {
        cost.disagreementThreshold = threshold
        cost.setWeights(disagreementTerm, running: weight, terminal: 0)
    }

    /// Where the plan's last node should put the frame: the pose target, or the path's point
    /// for node T; nil for joint targets.
    public func terminalGoal(_ cost: CostModelSum, target: Target) -> Vector3? {
        switch target {
        case let .pose(p, _): p
        case .path: cost.frameTargets[horizon]
        case .joints: nil
        }
    }

    /// The frame's position for the joint positions in the first dof entries of `x`.
    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func framePosition(_ x: [Double]) -> Vector3 {
        for i in 0 ..< model.dof { q[i] = x[i] }
        model.forwardKinematics(&kinematics, q: q)
        return model.framePose(kinematics, frame: frame).translation
    }

    /// The quaternion (w, x, y, z) as a rotation matrix.
    public static func rotation(_ q: [Double]) -> Matrix3 {
        let (w, x, y, z) = (q[0], q[1], q[2], q[3])
        return Matrix3(1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                       2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                       2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y))
    }

    /// The terms' weights (and the orientation reference) for a kind of target; see the table.
    private func applyWeights(_ cost: inout CostModelSum, for target: Target) {
        let w = weights, n = model.dof
        switch target {
        case let .pose(_, orientation):
            cost.setWeights(Self.frameTerm, running: w.runningFrame, terminal: w.terminalFrame)
            if let orientation {
                cost.frameRotation = Self.rotation(orientation)
                cost.setWeights(Self.orientationTerm, running: w.runningOrientation, terminal: w.terminalOrientation)
            } else {
                cost.setWeights(Self.orientationTerm, running: 0, terminal: 0)
            }
            cost.setWeights(Self.velocityTerm, running: 0, terminal: w.terminalVelocity)
            setMotionDamping(&cost)
        case .joints:
            cost.setWeights(Self.frameTerm, running: 0, terminal: 0)
            cost.setWeights(Self.orientationTerm, running: 0, terminal: 0)
            cost.setWeights(Self.velocityTerm, running: 0, terminal: w.terminalVelocity)
            // Running: joint tracking (positions) plus motion damping (velocities).
            cost.setWeights(Self.stateTerm, running: w.runningJoint, terminal: w.terminalJoint)
            for i in 0 ..< n {
                cost.terms[Self.stateTerm].activation.weights[i] = 1
                cost.terms[Self.stateTerm].activation.weights[n + i] = w.runningState / max(w.runningJoint, 1e-12)
            }
        case .path:
            cost.setWeights(Self.frameTerm, running: w.pathFrame, terminal: w.terminalFrame)
            cost.setWeights(Self.orientationTerm, running: 0, terminal: 0)
            cost.setWeights(Self.velocityTerm, running: 0, terminal: 0)
            setMotionDamping(&cost)
        }
    }

    /// The state term of end-effector targets: ½w‖x − (q_now, 0)‖², motion damping that keeps
    /// the redundant joints still (`running_state`).
    private func setMotionDamping(_ cost: inout CostModelSum) {
        for i in 0 ..< 2 * model.dof { cost.terms[Self.stateTerm].activation.weights[i] = 1 }
        cost.setWeights(Self.stateTerm, running: weights.runningState, terminal: 0)
    }

    /// x_ref = (q_now, 0).
    private func dampMotion(_ cost: inout CostModelSum, from x: [Double]) {
        let n = model.dof
        for i in 0 ..< n {
            cost.stateReference[i] = x[i]
            cost.stateReference[n + i] = 0
        }
    }
}
