import LinearAlgebra
import RigidBody

/// Where a cost writes its derivatives at one node (row-major; nx = state, nu = control
/// dimension). The solver zeroes them before each call, so a cost only adds its terms.
public struct CostDerivatives {
    /// ∂l/∂x (nx).
    public var lx: UnsafeMutablePointer<Double>
    /// ∂l/∂u (nu); unused at the terminal node.
    public var lu: UnsafeMutablePointer<Double>
    /// ∂²l/∂x² (nx × nx).
    public var lxx: UnsafeMutablePointer<Double>
    /// ∂²l/∂u² (nu × nu).
    public var luu: UnsafeMutablePointer<Double>
    /// ∂²l/∂u∂x (nu × nx).
    public var lux: UnsafeMutablePointer<Double>
}

/// A trajectory cost: running terms at nodes k = 0 … T−1 (with the control u_k) and a terminal
/// term at node T (u is nil). Second derivatives may be Gauss–Newton approximations.
public protocol TrajectoryCost: Sendable {
    associatedtype Workspace
    func makeWorkspace() -> Workspace
    /// The cost of node `k` of a horizon of `horizon` steps.
    /// - Note: Real-time safe: no allocation, no locks.
    func value(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?) -> Double
    /// The cost of node `k`, adding its derivatives into `d`.
    /// - Note: Real-time safe: no allocation, no locks.
    func derivatives(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?,
                     into d: CostDerivatives) -> Double
}

/// Reaching with a frame of a rigid-body arm, x = (q, v), u = τ:
///
///   running node k < T:  dt·( ½w_f‖p(q) − p*‖² + ½w_o‖r_o(q)‖² + ½w_x‖x − x_ref‖² + ½w_u‖u‖² + ½w_b‖b(q)‖² )
///   terminal node T:         ½W_f‖p(q) − p*‖² + ½W_o‖r_o(q)‖² + ½W_x‖x − x_ref‖² + ½W_v‖v‖² + ½w_b‖b(q)‖²
///
/// p(q) is the frame's position in the base frame; r_o = ½ Σᵢ R(q)eᵢ × R*eᵢ is the orientation
/// error (the rotation vector of R*Rᵀ for small errors, exact zero at R = R*); b(q) is how far each
/// joint is inside its last `limitMargin` before a position limit (a quadratic barrier). Second
/// derivatives of the residual terms are Gauss–Newton (JᵀJ), which leaves every minimiser and cost
/// value unchanged.
public struct ReachCost: TrajectoryCost {
    public struct Weights: Sendable, Equatable {
        public var runningFrame = 1.0
        public var runningOrientation = 0.0
        public var runningState = 1e-3
        public var runningControl = 1e-5
        public var terminalFrame = 1e3
        public var terminalOrientation = 0.0
        public var terminalState = 0.0
        /// ½W_v‖v_T‖² at the terminal node: arrive at rest.
        public var terminalVelocity = 0.0
        public var limitBarrier = 0.0
        public init() {}
    }

    public let model: RobotModel
    public let frame: Int
    public let dt: Double
    public var weights: Weights
    /// Target position p* (m, base frame).
    public var target: Vector3
    /// Per-node targets p*_k for k = 0 … T (a moving reference, e.g. a tracked path); empty =
    /// `target` at every node. Nodes past the end use the last entry.
    public var frameTargets: [Vector3] = []
    /// Target orientation R* (used when an orientation weight is positive).
    public var targetRotation: Matrix3 = .identity
    /// Reference state x_ref (nx); the regularisation pulls towards it.
    public var stateReference: [Double]
    /// Per-element scale of the state term (nx), e.g. to weight velocities differently; ones by default.
    public var stateScale: [Double]
    /// Distance before a joint limit where the barrier starts (rad or m).
    public var limitMargin = 0.05

    public init(model: RobotModel, frame: Int, dt: Double, weights: Weights = Weights(), target: Vector3, stateReference: [Double]) {
        precondition(stateReference.count == 2 * model.dof, "x_ref has 2·dof entries")
        self.model = model
        self.frame = frame
        self.dt = dt
        self.weights = weights
        self.target = target
        self.stateReference = stateReference
        stateScale = Array(repeating: 1, count: 2 * model.dof)
    }

    public struct Workspace {
        var rigid: RobotWorkspace
        var q: [Double]
        var jacobian: [Double]
    }

    public func makeWorkspace() -> Workspace {
        Workspace(rigid: model.makeWorkspace(), q: Array(repeating: 0, count: model.dof),
                  jacobian: Array(repeating: 0, count: 6 * model.dof))
    }

    /// Orientation residual ½ Σᵢ aᵢ × bᵢ with aᵢ = R eᵢ, bᵢ = R* eᵢ.
    @inline(__always)
    func orientationResidual(_ r: Matrix3) -> Vector3 {
        let t = targetRotation
        let a0 = Vector3(r.m00, r.m10, r.m20), a1 = Vector3(r.m01, r.m11, r.m21), a2 = Vector3(r.m02, r.m12, r.m22)
        let b0 = Vector3(t.m00, t.m10, t.m20), b1 = Vector3(t.m01, t.m11, t.m21), b2 = Vector3(t.m02, t.m12, t.m22)
        return 0.5 * (a0.cross(b0) + a1.cross(b1) + a2.cross(b2))
    }

    /// G = ½ Σᵢ (aᵢ bᵢᵀ − (aᵢ·bᵢ) I), with ṙ_o = G ω: from d(aᵢ)/dt = ω × aᵢ and
    /// (ω × a) × b = (a bᵀ − (a·b) I) ω.
    @inline(__always)
    func orientationJacobianFactor(_ r: Matrix3) -> Matrix3 {
        let t = targetRotation
        func outer(_ a: Vector3, _ b: Vector3) -> Matrix3 {
            Matrix3(rows: a.x * b, a.y * b, a.z * b)
        }
        let a0 = Vector3(r.m00, r.m10, r.m20), a1 = Vector3(r.m01, r.m11, r.m21), a2 = Vector3(r.m02, r.m12, r.m22)
        let b0 = Vector3(t.m00, t.m10, t.m20), b1 = Vector3(t.m01, t.m11, t.m21), b2 = Vector3(t.m02, t.m12, t.m22)
        let sum = outer(a0, b0) + outer(a1, b1) + outer(a2, b2)
        let trace = a0.dot(b0) + a1.dot(b1) + a2.dot(b2)
        return 0.5 * (sum - trace * Matrix3.identity)
    }

    public func value(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?) -> Double {
        evaluate(&ws, node: k, horizon: horizon, x: x, u: u, into: nil)
    }

    public func derivatives(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?,
                            into d: CostDerivatives) -> Double {
        evaluate(&ws, node: k, horizon: horizon, x: x, u: u, into: d)
    }

    private func evaluate(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?,
                          into d: CostDerivatives?) -> Double {
        let n = model.dof, nx = 2 * n
        let terminal = k >= horizon
        let s = terminal ? 1.0 : dt
        let wf = terminal ? weights.terminalFrame : weights.runningFrame
        let wo = terminal ? weights.terminalOrientation : weights.runningOrientation
        let wx = terminal ? weights.terminalState : weights.runningState
        var total = 0.0

        if wf > 0 || wo > 0 {
            for i in 0 ..< n { ws.q[i] = x[i] }
            model.forwardKinematics(&ws.rigid, q: ws.q)
            let pose = model.framePose(ws.rigid, frame: frame)
            if d != nil { model.frameJacobian(ws.rigid, frame: frame, into: &ws.jacobian) }
            if wf > 0 {
                let e = pose.translation - (frameTargets.isEmpty ? target : frameTargets[min(k, frameTargets.count - 1)])
                total += 0.5 * s * wf * e.dot(e)
                if let d {
                    // Rows 0…2 of the (6 × n, column-major) Jacobian are the linear velocity.
                    let c = s * wf
                    for i in 0 ..< n {
                        let ji = Vector3(ws.jacobian[6 * i], ws.jacobian[6 * i + 1], ws.jacobian[6 * i + 2])
                        d.lx[i] += c * ji.dot(e)
                        for j in 0 ... i {
                            let jj = Vector3(ws.jacobian[6 * j], ws.jacobian[6 * j + 1], ws.jacobian[6 * j + 2])
                            let h = c * ji.dot(jj)
                            d.lxx[i * nx + j] += h
                            if j != i { d.lxx[j * nx + i] += h }
                        }
                    }
                }
            }
            if wo > 0 {
                let r = orientationResidual(pose.rotation)
                total += 0.5 * s * wo * r.dot(r)
                if let d {
                    // ṙ = G ω with G = ½ Σᵢ (aᵢ bᵢᵀ − (aᵢ·bᵢ) I), ω = J_ω q̇ (rows 3…5).
                    let G = orientationJacobianFactor(pose.rotation)
                    let c = s * wo
                    for i in 0 ..< n {
                        let gi = G * Vector3(ws.jacobian[6 * i + 3], ws.jacobian[6 * i + 4], ws.jacobian[6 * i + 5])
                        d.lx[i] += c * gi.dot(r)
                        for j in 0 ... i {
                            let gj = G * Vector3(ws.jacobian[6 * j + 3], ws.jacobian[6 * j + 4], ws.jacobian[6 * j + 5])
                            let h = c * gi.dot(gj)
                            d.lxx[i * nx + j] += h
                            if j != i { d.lxx[j * nx + i] += h }
                        }
                    }
                }
            }
        }

        if wx > 0 {
            let c = s * wx
            for i in 0 ..< nx {
                let e = x[i] - stateReference[i]
                let w = c * stateScale[i]
                total += 0.5 * w * e * e
                if let d {
                    d.lx[i] += w * e
                    d.lxx[i * nx + i] += w
                }
            }
        }

        if terminal, weights.terminalVelocity > 0 {
            let c = weights.terminalVelocity
            for i in n ..< nx {
                total += 0.5 * c * x[i] * x[i]
                if let d {
                    d.lx[i] += c * x[i]
                    d.lxx[i * nx + i] += c
                }
            }
        }

        if weights.limitBarrier > 0 {
            let c = s * weights.limitBarrier
            for i in 0 ..< n {
                let j = model.joints[i]
                let lo = j.lowerLimit + limitMargin, hi = j.upperLimit - limitMargin
                let q = x[i]
                let violation = q < lo ? q - lo : (q > hi ? q - hi : 0)
                if violation != 0 {
                    total += 0.5 * c * violation * violation
                    if let d {
                        d.lx[i] += c * violation
                        d.lxx[i * nx + i] += c
                    }
                }
            }
        }

        if !terminal, let u, weights.runningControl > 0 {
            let c = s * weights.runningControl
            for i in 0 ..< n {
                total += 0.5 * c * u[i] * u[i]
                if let d {
                    d.lu[i] += c * u[i]
                    d.luu[i * n + i] += c
                }
            }
        }
        return total
    }
}
