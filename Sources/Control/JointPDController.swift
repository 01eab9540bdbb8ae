import RigidBody
import RobotInterface

/// Joint-space PD tracking with gravity compensation, for `hold` and `move`:
///   torque:   τ = g(q) + K_p (q_d − q) + K_d (q̇_d − q̇)
///   position: goal q_d with g(q) as feed-forward effort (the servo closes its own PD)
///   velocity: q̇ = q̇_d + (K_p / K_d) (q_d − q)
/// g(q) = RNEA(q, 0, 0) of the nominal model.
public struct JointPDController: Sendable {
    public let model: RobotModel
    /// (dof) gains: N·m/rad and N·m·s/rad.
    public let kp: [Double]
    public let kd: [Double]
    public let gravityCompensation: Bool
    private var workspace: RobotWorkspace
    private var zero: [Double]

    public init(model: RobotModel, kp: [Double], kd: [Double], gravityCompensation: Bool = true) {
        precondition(kp.count == model.dof && kd.count == model.dof, "one gain per joint")
        self.model = model
        self.kp = kp
        self.kd = kd
        self.gravityCompensation = gravityCompensation
        workspace = model.makeWorkspace()
        zero = Array(repeating: 0, count: model.dof)
    }

    /// Default gains from each joint's inertia m_i = M_ii(q_ref) at a reference pose: a
    /// critically damped second-order response of natural frequency ω,
    /// K_p = ω² m_i and K_d = 2 ω m_i, with K_p capped at τ_max / 0.2 rad (full effort at 0.2 rad
    /// error) and K_d reduced in proportion. At ω = 25 rad/s the discrete 1 kHz loop is far
    /// from its stability limit (ω·dt ≪ 1).
    public init(model: RobotModel, naturalFrequency omega: Double = 25, referencePose: [Double]? = nil, gravityCompensation: Bool = true) {
        var ws = model.makeWorkspace()
        model.crba(&ws, q: referencePose ?? Array(repeating: 0, count: model.dof))
        let n = model.dof
        var kp = [Double](repeating: 0, count: n), kd = kp
        for i in 0 ..< n {
            let m = ws.massMatrix[i * n + i]
            let cap = (model.joints[i].effortLimit.isFinite ? model.joints[i].effortLimit : 50) / 0.2
            let scale = min(1, cap / (omega * omega * m))
            kp[i] = omega * omega * m * scale
            kd[i] = 2 * omega * m * scale.squareRoot()
        }
        self.init(model: model, kp: kp, kd: kd, gravityCompensation: gravityCompensation)
    }

    /// Writes the command for desired position/velocity at measured `state` into `command`
    /// (its mode decides the form).
    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func compute(
        _ command: inout JointCommand, desiredPosition qd: [Double], desiredVelocity vd: [Double], state: JointState
    ) {
        let n = model.dof
        if gravityCompensation {
            model.bias(&workspace, q: state.position, v: zero)
        }
        for i in 0 ..< n {
            let g = gravityCompensation ? workspace.tau[i] : 0
            let e = qd[i] - state.position[i], de = vd[i] - state.velocity[i]
            switch command.mode {
            case .torque:
                command.values[i] = g + kp[i] * e + kd[i] * de
                command.feedforwardEffort[i] = 0
            case .position:
                command.values[i] = qd[i]
                command.feedforwardEffort[i] = g
            case .velocity:
                command.values[i] = vd[i] + (kd[i] > 0 ? kp[i] / kd[i] : 0) * e
                command.feedforwardEffort[i] = g
            }
        }
    }
}
