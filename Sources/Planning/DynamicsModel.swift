import RigidBody

/// Discrete-time dynamics x' = f(x, u) for planners: iLQR needs the step and its Jacobians,
/// sampling planners only the step. Vectors are contiguous `Double`s; matrices row-major.
///
/// Implementations keep per-thread scratch in a `Workspace` created once, so that planning
/// iterations allocate nothing.
public protocol DynamicsModel: Sendable {
    associatedtype Workspace
    /// nx.
    var stateDimension: Int { get }
    /// nu.
    var controlDimension: Int { get }
    /// Time step (s).
    var dt: Double { get }
    func makeWorkspace() -> Workspace
    /// `next` = f(x, u). Returns false when f is not defined there (singular inertia, NaN).
    /// - Note: Real-time safe: no allocation, no locks.
    func step(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>) -> Bool
    /// `next` = f(x, u), `fx` = ∂f/∂x (nx × nx), `fu` = ∂f/∂u (nx × nu).
    /// - Note: Real-time safe: no allocation, no locks.
    func linearize(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>,
                   fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) -> Bool
}

/// The rigid-body model as planning dynamics: x = (q, v), u = τ, forward dynamics by ABA (with
/// the description's armature; no damping or friction) integrated by semi-implicit Euler:
///   v' = v + dt·a(q, v, τ),   q' = q + dt·v'.
/// Its Jacobians follow from ∂a/∂q, ∂a/∂v and ∂a/∂τ = M⁻¹ (analytic, `abaDerivatives`):
///   ∂v'/∂q = dt·A_q,  ∂v'/∂v = I + dt·A_v,  ∂v'/∂τ = dt·M⁻¹,
///   ∂q'/∂q = I + dt²·A_q,  ∂q'/∂v = dt·I + dt²·A_v,  ∂q'/∂τ = dt²·M⁻¹.
public struct RigidBodyDynamics: DynamicsModel {
    public let model: RobotModel
    public let dt: Double

    public init(model: RobotModel, dt: Double) {
        precondition(dt > 0, "dt must be positive")
        self.model = model
        self.dt = dt
    }

    public var stateDimension: Int { 2 * model.dof }
    public var controlDimension: Int { model.dof }

    public struct Workspace {
        var rigid: RobotWorkspace
        var q: [Double]
        var v: [Double]
        var tau: [Double]
    }

    public func makeWorkspace() -> Workspace {
        let n = model.dof
        return Workspace(rigid: model.makeWorkspace(), q: Array(repeating: 0, count: n), v: Array(repeating: 0, count: n),
                         tau: Array(repeating: 0, count: n))
    }

    @inline(__always)
    private func load(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>) {
        let n = model.dof
        for i in 0 ..< n {
            ws.q[i] = x[i]
            ws.v[i] = x[n + i]
            ws.tau[i] = u[i]
        }
    }

    @inline(__always)
    private func integrate(_ ws: Workspace, next: UnsafeMutablePointer<Double>) -> Bool {
        let n = model.dof
        var finite = true
        for i in 0 ..< n {
            let v1 = ws.v[i] + dt * ws.rigid.ddq[i]
            next[n + i] = v1
            next[i] = ws.q[i] + dt * v1
            finite = finite && v1.isFinite
        }
        return finite
    }

    public func step(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>) -> Bool {
        load(&ws, x: x, u: u)
        model.aba(&ws.rigid, q: ws.q, v: ws.v, tau: ws.tau)
        return integrate(ws, next: next)
    }

    public func linearize(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>,
                          fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) -> Bool {
        load(&ws, x: x, u: u)
        guard model.abaDerivatives(&ws.rigid, q: ws.q, v: ws.v, tau: ws.tau) else { return false }
        let n = model.dof, nx = 2 * n
        let dt2 = dt * dt
        for r in 0 ..< n {
            for c in 0 ..< n {
                // Workspace matrices are column-major: [c·n + r] is row r, column c.
                let aq = ws.rigid.ddqDq[c * n + r], av = ws.rigid.ddqDv[c * n + r], minv = ws.rigid.massMatrixInverse[c * n + r]
                let eye = r == c ? 1.0 : 0.0
                fx[r * nx + c] = eye + dt2 * aq
                fx[r * nx + n + c] = dt * eye + dt2 * av
                fx[(n + r) * nx + c] = dt * aq
                fx[(n + r) * nx + n + c] = eye + dt * av
                fu[r * n + c] = dt2 * minv
                fu[(n + r) * n + c] = dt * minv
            }
        }
        return integrate(ws, next: next)
    }
}
