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
        /// a = ddq of a recorded step (n).
        var a: [Double]
        /// L of M = L Lᵀ (n × n, row-major lower triangle), then ∂a/∂q, ∂a/∂v and M⁻¹ (n × n each,
        /// column-major like the rigid-body workspace's).
        var factor: [Double]
        var aq: [Double]
        var av: [Double]
        var minv: [Double]
    }

    public func makeWorkspace() -> Workspace {
        let n = model.dof
        func zeros(_ count: Int) -> [Double] { Array(repeating: 0, count: count) }
        return Workspace(rigid: model.makeWorkspace(), q: zeros(n), v: zeros(n), tau: zeros(n), a: zeros(n), factor: zeros(n * n),
                         aq: zeros(n * n), av: zeros(n * n), minv: zeros(n * n))
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
        ws.rigid.ddqDq.withUnsafeBufferPointer { aq in
            ws.rigid.ddqDv.withUnsafeBufferPointer { av in
                ws.rigid.massMatrixInverse.withUnsafeBufferPointer { minv in
                    assemble(aq: aq.baseAddress!, av: av.baseAddress!, minv: minv.baseAddress!, fx: fx, fu: fu)
                }
            }
        }
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

    /// With a = ABA(q, v, τ) known from the step, the derivatives need no second ABA:
    /// differentiating RNEA(q, v, a(q, v, τ)) = τ gives ∂a/∂q = −M⁻¹ ∂τ/∂q|ₐ, ∂a/∂v = −M⁻¹ ∂τ/∂v|ₐ,
    /// ∂a/∂τ = M⁻¹ (RNEA derivatives at a, CRBA, and M's Cholesky factor here: the same
    /// quantities as `abaDerivatives`, less its ABA pass).
    public func linearize(_ ws: inout Workspace, x: UnsafePointer<Double>, u: UnsafePointer<Double>, record: UnsafePointer<Double>,
                          next: UnsafeMutablePointer<Double>, fx: UnsafeMutablePointer<Double>, fu: UnsafeMutablePointer<Double>) -> Bool {
        load(&ws, x: x, u: u)
        let n = model.dof
        for i in 0 ..< n { ws.a[i] = record[i] }
        model.rneaDerivatives(&ws.rigid, q: ws.q, v: ws.v, a: ws.a)
        model.crba(&ws.rigid, q: ws.q)
        let M = ws.rigid.massMatrix, tauDq = ws.rigid.tauDq, tauDv = ws.rigid.tauDv
        // M = L Lᵀ, L row-major lower.
        let factored = ws.factor.withUnsafeMutableBufferPointer { L -> Bool in
            for j in 0 ..< n {
                var d = M[j * n + j]
                for k in 0 ..< j { d -= L[j * n + k] * L[j * n + k] }
                guard d > 0, d.isFinite else { return false }
                let l = d.squareRoot()
                L[j * n + j] = l
                for i in (j + 1) ..< n {
                    var s = M[j * n + i]
                    for k in 0 ..< j { s -= L[i * n + k] * L[j * n + k] }
                    L[i * n + j] = s / l
                }
            }
            return true
        }
        guard factored else { return false }
        let L = ws.factor
        // Column c of ∂a/∂q, ∂a/∂v and M⁻¹ solves M y = −∂τ/∂q_c, −∂τ/∂v_c, e_c: forward and back
        // substitution with L, the three right-hand sides together (column-major n × n, as the
        // rigid-body workspace's).
        L.withUnsafeBufferPointer { L in
            tauDq.withUnsafeBufferPointer { tq in
                tauDv.withUnsafeBufferPointer { tv in
                    ws.aq.withUnsafeMutableBufferPointer { aq in
                        ws.av.withUnsafeMutableBufferPointer { av in
                            ws.minv.withUnsafeMutableBufferPointer { mi in
                                for c in 0 ..< n {
                                    let yq = aq.baseAddress! + c * n, yv = av.baseAddress! + c * n, ym = mi.baseAddress! + c * n
                                    for i in 0 ..< n {
                                        var sq = -tq[c * n + i], sv = -tv[c * n + i], sm = i == c ? 1.0 : 0.0
                                        for k in 0 ..< i {
                                            let l = L[i * n + k]
                                            sq -= l * yq[k]; sv -= l * yv[k]; sm -= l * ym[k]
                                        }
                                        let d = L[i * n + i]
                                        yq[i] = sq / d; yv[i] = sv / d; ym[i] = sm / d
                                    }
                                    for i in stride(from: n - 1, through: 0, by: -1) {
                                        var sq = yq[i], sv = yv[i], sm = ym[i]
                                        for k in (i + 1) ..< n {
                                            let l = L[k * n + i]
                                            sq -= l * yq[k]; sv -= l * yv[k]; sm -= l * ym[k]
                                        }
                                        let d = L[i * n + i]
                                        yq[i] = sq / d; yv[i] = sv / d; ym[i] = sm / d
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        ws.aq.withUnsafeBufferPointer { aq in
            ws.av.withUnsafeBufferPointer { av in
                ws.minv.withUnsafeBufferPointer { minv in
                    assemble(aq: aq.baseAddress!, av: av.baseAddress!, minv: minv.baseAddress!, fx: fx, fu: fu)
                }
            }
        }
        return integrate(ws, a: record, next: next)
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
