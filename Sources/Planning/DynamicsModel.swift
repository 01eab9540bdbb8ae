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

    /// How many doubles a `step` can leave behind (`record`) to spare `linearize` at the same
    /// (x, u) work the step already did; 0 (the default) when there is nothing to keep.
    var stepRecordCount: Int { get }
    /// `step`, also writing its `stepRecordCount` doubles into `record`.
    /// - Note: Real-time safe: no allocation, no locks.
    func step(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>,
              record: UnsafeMutablePointer<Double>) -> Bool
    /// `linearize` at an (x, u) that a `step` was taken from, reading what it left in `record`.
    /// Call order: `step(…, record:)` at exactly this (x, u) first.
    /// - Note: Real-time safe: no allocation, no locks.
    func linearize(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, record: UnsafePointer<Double>,
                   next: UnsafeMutablePointer<Double>, fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) -> Bool
}

extension DynamicsModel {
    public var stepRecordCount: Int { 0 }

    public func step(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>,
                     record: UnsafeMutablePointer<Double>) -> Bool {
        step(&ws, x: x, u: u, next: next)
    }

    public func linearize(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, record: UnsafePointer<Double>,
                          next: UnsafeMutablePointer<Double>, fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) -> Bool {
        linearize(&ws, x: x, u: u, next: next, fx: fx, fu: fu)
    }
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
        func zeros(_ count: Int) -> [Double] { Array(repeating: 0, count: count) }
        return Workspace(rigid: model.makeWorkspace(), q: zeros(n), v: zeros(n), tau: zeros(n))
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
        ws.rigid.ddq.withUnsafeBufferPointer { integrate(ws, a: $0.baseAddress!, next: next) }
    }

    @inline(__always)
    private func integrate(_ ws: Workspace, a: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>) -> Bool {
        let n = model.dof
        var finite = true
        for i in 0 ..< n {
            let v1 = ws.v[i] + dt * a[i]
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
        assemble(ws, fx: fx, fu: fu)
        return integrate(ws, next: next)
    }

    /// The record of a step is its acceleration a = ABA(q, v, τ) (n).
    public var stepRecordCount: Int { model.dof }

    public func step(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, next: UnsafeMutablePointer<Double>,
                     record: UnsafeMutablePointer<Double>) -> Bool {
        guard step(&ws, x: x, u: u, next: next) else { return false }
        for i in 0 ..< model.dof { record[i] = ws.rigid.ddq[i] }
        return true
    }

    /// With a = ABA(q, v, τ) known from the step, the derivatives need no second ABA
    /// (`RobotModel.abaDerivatives(_:q:v:ddq:)`).
    public func linearize(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, record: UnsafePointer<Double>,
                          next: UnsafeMutablePointer<Double>, fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) -> Bool {
        load(&ws, x: x, u: u)
        guard model.abaDerivatives(&ws.rigid, q: ws.q, v: ws.v, ddq: record) else { return false }
        assemble(ws, fx: fx, fu: fu)
        return integrate(ws, a: record, next: next)
    }

    /// fx, fu from the rigid-body workspace's ∂a/∂q, ∂a/∂v and M⁻¹.
    @inline(__always)
    private func assemble(_ ws: Workspace, fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) {
        ws.rigid.ddqDq.withUnsafeBufferPointer { aq in
            ws.rigid.ddqDv.withUnsafeBufferPointer { av in
                ws.rigid.massMatrixInverse.withUnsafeBufferPointer { minv in
                    assemble(aq: aq.baseAddress!, av: av.baseAddress!, minv: minv.baseAddress!, fx: fx, fu: fu)
                }
            }
        }
    }

    /// fx, fu of the semi-implicit Euler step from ∂a/∂q, ∂a/∂v and M⁻¹ (column-major n × n).
    @inline(__always)
    private func assemble(aq: UnsafePointer<Double>, av: UnsafePointer<Double>, minv: UnsafePointer<Double>,
                          fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) {
        let n = model.dof, nx = 2 * n
        let dt2 = dt * dt
        for r in 0 ..< n {
            for c in 0 ..< n {
                // Column-major: [c·n + r] is row r, column c.
                let aq = aq[c * n + r], av = av[c * n + r], minv = minv[c * n + r]
                let eye = r == c ? 1.0 : 0.0
                fx[r * nx + c] = eye + dt2 * aq
                fx[r * nx + n + c] = dt * eye + dt2 * av
                fx[(n + r) * nx + c] = dt * aq
                fx[(n + r) * nx + n + c] = eye + dt * av
                fu[r * n + c] = dt2 * minv
                fu[(n + r) * n + c] = dt * minv
            }
        }
    }
}
