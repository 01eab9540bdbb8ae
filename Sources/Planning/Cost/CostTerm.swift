/// What a cost term measures: a residual r(x, u) of an arm's state x = (q, v) and control
/// u = τ, read against the references its `CostModelSum` holds.
public enum CostResidual: Sendable, Equatable {
    /// r = p(q) − p*_k (3, m): the frame's position against `frameTarget`, or `frameTargets[k]`
    /// when the sum has per-node targets. ∂r/∂q = the linear rows of the frame Jacobian.
    case frameTranslation
    /// r = ½ Σᵢ R(q)eᵢ × R*eᵢ (3, rad for small errors): the frame's orientation against
    /// `frameRotation`; the rotation vector of R*Rᵀ near R = R*, exactly zero there.
    /// ∂r/∂q = G J_ω with G = ½ Σᵢ (aᵢbᵢᵀ − (aᵢ·bᵢ) I), aᵢ = R eᵢ, bᵢ = R* eᵢ.
    case frameOrientation
    /// r = x − x_ref (nx): the whole state against `stateReference`.
    case state
    /// r = q (n): joint positions (with a barrier activation: the joint limits).
    case jointPosition
    /// r = v (n): joint velocities.
    case jointVelocity
    /// r = u (nu): the control; running nodes only.
    case control
    /// r = (D(x, u) − D₀)/D₀ (1): the learned model's ensemble disagreement D relative to the
    /// sum's `disagreementThreshold` D₀; running nodes only, and only while a learned model is
    /// active in the sum's `disagreementBox` and D₀ > 0. ∂r/∂(x, u) = ∇D/D₀.
    case disagreement
}

/// One named term of a `CostModelSum`, as in Crocoddyl's `CostModelSum::addCost(name, cost,
/// weight)`: residual, activation and weight. One term serves both kinds of node:
///
///   running node k < T:  dt · running · a(r(x_k, u_k))
///   terminal node T:          terminal · a(r(x_T))
///
/// A weight of 0 switches the term off on that kind of node (nothing of it is evaluated).
public struct CostTerm: Sendable, Equatable {
    /// The term's name, unique in its sum (`CostModelSum.index(of:)`).
    public let name: String
    public var residual: CostResidual
    public var activation: CostActivation
    /// Weight on running nodes, per second of the horizon.
    public var running: Double
    /// Weight at the terminal node.
    public var terminal: Double

    public init(_ name: String, _ residual: CostResidual, activation: CostActivation = .quadratic, running: Double = 0, terminal: Double = 0) {
        self.name = name
        self.residual = residual
        self.activation = activation
        self.running = running
        self.terminal = terminal
    }

    /// The residual's dimension for an arm of `dof` joints.
    public func dimension(dof: Int) -> Int {
        switch residual {
        case .frameTranslation, .frameOrientation: 3
        case .state: 2 * dof
        case .jointPosition, .jointVelocity, .control: dof
        case .disagreement: 1
        }
    }
}
