import LinearAlgebra
@testable import Planning
import RigidBody

// The planner's cost as it was before the cost became a sum of named terms (issue 13), kept
// verbatim as the oracle the new `CostModelSum` and `ReachTask` are checked against: the same
// inputs must give the same cost and derivatives.

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
struct LegacyReachCost: TrajectoryCost {
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

/// A trajectory cost plus a soft penalty on the learned model's epistemic uncertainty: where
/// the ensemble members disagree the model is extrapolating, so the planner is steered back
/// towards the states and torques it has data for. On running nodes k < T:
///
///   l_k = base_k + dt · ½ w ((D(x, u) − D₀)₊ / D₀)²
///
/// with D the ensemble disagreement (mean variance of the members' residuals, state units²),
/// D₀ the threshold and w the weight. The relative excess keeps w independent of the state's
/// units. Its Hessian is the Gauss–Newton term dt·w/D₀² ∇D ∇Dᵀ (positive semidefinite). With no
/// learned model installed (or it is suspended), or w = 0, or D₀ = 0, the cost is exactly `base`.
struct LegacyDisagreementPenalty<Base: TrajectoryCost>: TrajectoryCost {
    public var base: Base
    /// Where the learned model lives (the planner's `SwitchableDynamics.box`).
    public let box: SwitchableDynamics.Box
    public let dt: Double
    let nx: Int, nu: Int
    /// D₀ (state units²); 0 turns the penalty off.
    public var threshold: Double
    /// w (cost units at twice the threshold: ½w per second).
    public var weight: Double

    /// - Parameter dynamics: the planner's dynamics (its box, step and dimensions are used).
    public init(base: Base, dynamics: SwitchableDynamics, threshold: Double = 0, weight: Double = 0) {
        self.base = base
        box = dynamics.box
        dt = dynamics.dt
        nx = dynamics.stateDimension
        nu = dynamics.controlDimension
        self.threshold = threshold
        self.weight = weight
    }

    public final class Workspace {
        var base: Base.Workspace
        let gradient: UnsafeMutablePointer<Double>

        init(base: Base.Workspace, size: Int) {
            self.base = base
            gradient = .allocate(capacity: size)
            gradient.initialize(repeating: 0, count: size)
        }

        deinit { gradient.deallocate() }
    }

    public func makeWorkspace() -> Workspace {
        Workspace(base: base.makeWorkspace(), size: nx + nu)
    }

    @inline(__always)
    private var active: Bool { threshold > 0 && weight > 0 && box.active != nil }

    public func value(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?) -> Double {
        var total = base.value(&ws.base, node: k, horizon: horizon, x: x, u: u)
        if active, k < horizon, let u {
            let excess = max(0, box.disagreement(x: x, u: u) - threshold) / threshold
            total += dt * 0.5 * weight * excess * excess
        }
        return total
    }

    public func derivatives(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?,
                            into d: CostDerivatives) -> Double {
        var total = base.derivatives(&ws.base, node: k, horizon: horizon, x: x, u: u, into: d)
        // Below the threshold (the usual case) the members' forward passes settle it; their
        // Jacobians are worth computing only above it.
        guard active, k < horizon, let u, box.disagreement(x: x, u: u) > threshold else { return total }
        let D = box.disagreementGradient(x: x, u: u, gradient: ws.gradient)
        let excess = D - threshold
        guard excess > 0 else { return total }
        let r = excess / threshold
        total += dt * 0.5 * weight * r * r
        // ∂l = dt·w·r/D₀ ∇D;  ∂²l ≈ dt·w/D₀² ∇D ∇Dᵀ, split into the (x, x), (u, u), (u, x) blocks.
        let g = ws.gradient, c1 = dt * weight * r / threshold, c2 = dt * weight / (threshold * threshold)
        for i in 0 ..< nx {
            d.lx[i] += c1 * g[i]
            for j in 0 ..< nx { d.lxx[i * nx + j] += c2 * g[i] * g[j] }
        }
        for a in 0 ..< nu {
            d.lu[a] += c1 * g[nx + a]
            for b in 0 ..< nu { d.luu[a * nu + b] += c2 * g[nx + a] * g[nx + b] }
            for j in 0 ..< nx { d.lux[a * nx + j] += c2 * g[nx + a] * g[j] }
        }
        return total
    }
}
