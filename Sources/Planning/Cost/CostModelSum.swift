import LinearAlgebra
import RigidBody

/// A trajectory cost for one frame of a rigid-body arm (x = (q, v), u = τ), composed of named
/// terms as Crocoddyl's `CostModelSum` is:
///
///   running node k < T:  l_k = dt · Σ_terms running · a(r(x_k, u_k))
///   terminal node T:     l_T =      Σ_terms terminal · a(r(x_T))
///
/// summed in the order of `terms`. Each term's derivatives are analytic: with the residual's
/// Jacobian R = ∂r/∂(x, u) and the activation's a_r, a_rr (diagonal),
///
///   ∂l = c Rᵀ a_r,   ∂²l ≈ c Rᵀ diag(a_rr) R   (Gauss–Newton),   c = dt·running or terminal,
///
/// which is exact for the residuals linear in (x, u) and drops only the residual's own curvature
/// for the frame and disagreement terms (positive semidefinite, same minimisers and values).
///
/// The references the residuals read (targets, state reference, disagreement threshold) live
/// here, shared by the terms, and are set between solves by the task (`ReachTask`). The frame's
/// kinematics are computed once per node for all frame terms.
public struct CostModelSum: TrajectoryCost {
    public let model: RobotModel
    public let frame: Int
    public let dt: Double
    /// The terms in summation order; their names are unique. Retune weights with `setWeights`.
    public internal(set) var terms: [CostTerm]

    /// p* of `frameTranslation` (m, base frame).
    public var frameTarget: Vector3
    /// Per-node p*_k for k = 0 … T (a moving reference); empty = `frameTarget` at every node.
    /// Nodes past the end use the last entry.
    public var frameTargets: [Vector3] = []
    /// R* of `frameOrientation`.
    public var frameRotation: Matrix3 = .identity
    /// x_ref of `state` (nx).
    public var stateReference: [Double]
    /// Where the learned model lives for `disagreement` (the planner's `SwitchableDynamics.box`);
    /// nil = the term is always zero.
    public let disagreementBox: SwitchableDynamics.Box?
    /// D₀ of `disagreement` (state units²); 0 turns the term off.
    public var disagreementThreshold = 0.0

    /// - Precondition: unique term names; every activation's parameters sized to its residual;
    ///   `stateReference` (default zeros) has 2·dof entries.
    public init(model: RobotModel, frame: Int, dt: Double, terms: [CostTerm], frameTarget: Vector3 = .zero,
                stateReference: [Double]? = nil, disagreementBox: SwitchableDynamics.Box? = nil) {
        let n = model.dof
        precondition(Set(terms.map(\.name)).count == terms.count, "cost term names must be unique")
        for t in terms {
            if let m = t.activation.dimension {
                precondition(m == t.dimension(dof: n), "cost term \(t.name): activation for \(m) residuals, residual has \(t.dimension(dof: n))")
            }
        }
        let reference = stateReference ?? Array(repeating: 0, count: 2 * n)
        precondition(reference.count == 2 * n, "x_ref has 2·dof entries")
        self.model = model
        self.frame = frame
        self.dt = dt
        self.terms = terms
        self.frameTarget = frameTarget
        self.stateReference = reference
        self.disagreementBox = disagreementBox
    }

    /// The index of the term named `name`, nil when there is none. Look it up once, at set-up.
    public func index(of name: String) -> Int? { terms.firstIndex { $0.name == name } }

    /// The term named `name`.
    /// - Precondition: there is one.
    public subscript(name: String) -> CostTerm {
        guard let i = index(of: name) else { preconditionFailure("no cost term named \(name)") }
        return terms[i]
    }

    /// Sets the running and terminal weights of term `i`.
    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func setWeights(_ i: Int, running: Double, terminal: Double) {
        terms[i].running = running
        terms[i].terminal = terminal
    }

    public struct Workspace {
        var rigid: RobotWorkspace
        var q: [Double]
        /// The frame Jacobian (6 × n, column-major: linear rows 0…2, angular 3…5).
        var jacobian: [Double]
        /// ∇D (nx + nu).
        var gradient: [Double]
    }

    public func makeWorkspace() -> Workspace {
        let n = model.dof
        return Workspace(rigid: model.makeWorkspace(), q: Array(repeating: 0, count: n), jacobian: Array(repeating: 0, count: 6 * n),
                         gradient: Array(repeating: 0, count: 3 * n))
    }

    public func value(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?) -> Double {
        evaluate(&ws, node: k, horizon: horizon, x: x, u: u, into: nil)
    }

    public func derivatives(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?,
                            into d: CostDerivatives) -> Double {
        evaluate(&ws, node: k, horizon: horizon, x: x, u: u, into: d)
    }

    /// Orientation residual ½ Σᵢ aᵢ × bᵢ with aᵢ = R eᵢ, bᵢ = R* eᵢ.
    @inline(__always)
    func orientationResidual(_ r: Matrix3) -> Vector3 {
        let t = frameRotation
        let a0 = Vector3(r.m00, r.m10, r.m20), a1 = Vector3(r.m01, r.m11, r.m21), a2 = Vector3(r.m02, r.m12, r.m22)
        let b0 = Vector3(t.m00, t.m10, t.m20), b1 = Vector3(t.m01, t.m11, t.m21), b2 = Vector3(t.m02, t.m12, t.m22)
        return 0.5 * (a0.cross(b0) + a1.cross(b1) + a2.cross(b2))
    }

    /// G = ½ Σᵢ (aᵢ bᵢᵀ − (aᵢ·bᵢ) I), with ṙ_o = G ω: from d(aᵢ)/dt = ω × aᵢ and
    /// (ω × a) × b = (a bᵀ − (a·b) I) ω.
    @inline(__always)
    func orientationJacobianFactor(_ r: Matrix3) -> Matrix3 {
        let t = frameRotation
        func outer(_ a: Vector3, _ b: Vector3) -> Matrix3 {
            Matrix3(rows: a.x * b, a.y * b, a.z * b)
        }
        let a0 = Vector3(r.m00, r.m10, r.m20), a1 = Vector3(r.m01, r.m11, r.m21), a2 = Vector3(r.m02, r.m12, r.m22)
        let b0 = Vector3(t.m00, t.m10, t.m20), b1 = Vector3(t.m01, t.m11, t.m21), b2 = Vector3(t.m02, t.m12, t.m22)
        let sum = outer(a0, b0) + outer(a1, b1) + outer(a2, b2)
        let trace = a0.dot(b0) + a1.dot(b1) + a2.dot(b2)
        return 0.5 * (sum - trace * Matrix3.identity)
    }

    /// Whether `disagreement` contributes at all: a learned model active, D₀ > 0.
    @inline(__always)
    private var disagreementActive: Bool {
        guard let box = disagreementBox else { return false }
        return disagreementThreshold > 0 && box.active != nil
    }

    private func evaluate(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?,
                          into d: CostDerivatives?) -> Double {
        let n = model.dof, nx = 2 * n
        let terminal = k >= horizon
        let s = terminal ? 1.0 : dt
        var total = 0.0
        var pose: Transform?
        for t in terms.indices {
            let w = terminal ? terms[t].terminal : terms[t].running
            guard w > 0 else { continue }
            let c = s * w
            switch terms[t].residual {
            case .frameTranslation, .frameOrientation:
                if pose == nil {
                    for i in 0 ..< n { ws.q[i] = x[i] }
                    model.forwardKinematics(&ws.rigid, q: ws.q)
                    pose = model.framePose(ws.rigid, frame: frame)
                    if d != nil { model.frameJacobian(ws.rigid, frame: frame, into: &ws.jacobian) }
                }
                guard let pose else { continue }
                let orientation = terms[t].residual == .frameOrientation
                let r = orientation ? orientationResidual(pose.rotation)
                    : pose.translation - (frameTargets.isEmpty ? frameTarget : frameTargets[min(k, frameTargets.count - 1)])
                total += c * addFrameTerm(t, r: r, rotation: orientation ? orientationJacobianFactor(pose.rotation) : nil,
                                          ws: &ws, into: d, c: c, n: n, nx: nx)
            case .state:
                total += stateReference.withUnsafeBufferPointer { ref in
                    Self.addDiagonal(terms[t].activation, count: nx, c: c, gradient: d?.lx, hessian: d?.lxx, stride: nx + 1) { x[$0] - ref[$0] }
                }
            case .jointPosition:
                total += Self.addDiagonal(terms[t].activation, count: n, c: c, gradient: d?.lx, hessian: d?.lxx, stride: nx + 1) { x[$0] }
            case .jointVelocity:
                total += Self.addDiagonal(terms[t].activation, count: n, c: c, gradient: d.map { $0.lx + n }, hessian: d.map { $0.lxx + n * nx + n },
                                          stride: nx + 1) { x[n + $0] }
            case .control:
                guard !terminal, let u else { continue }
                total += Self.addDiagonal(terms[t].activation, count: n, c: c, gradient: d?.lu, hessian: d?.luu, stride: n + 1) { u[$0] }
            case .disagreement:
                guard !terminal, let u, let box = disagreementBox, disagreementActive else { continue }
                total += addDisagreementTerm(t, box: box, x: x, u: u, ws: &ws, into: d, c: c, n: n, nx: nx)
            }
        }
        return total
    }

    /// c·a(r) of a residual with an identity Jacobian, adding c·a_r into `gradient` and c·a_rr
    /// into the diagonal of `hessian` (`stride` apart). One loop per kind of activation, so none
    /// branches per component.
    @inline(__always)
    private static func addDiagonal(_ a: CostActivation, count: Int, c: Double, gradient: UnsafeMutablePointer<Double>?,
                                    hessian: UnsafeMutablePointer<Double>?, stride: Int, residual r: (Int) -> Double) -> Double {
        var sum = 0.0
        switch a.kind {
        case .quadratic:
            for i in 0 ..< count {
                let ri = r(i)
                sum += ri * ri
                if let gradient, let hessian {
                    gradient[i] += c * ri
                    hessian[i * stride] += c
                }
            }
        case .weightedQuadratic:
            for i in 0 ..< count {
                let ri = r(i), w = a.weights[i]
                sum += w * ri * ri
                if let gradient, let hessian {
                    gradient[i] += c * w * ri
                    hessian[i * stride] += c * w
                }
            }
        case .quadraticBarrier:
            for i in 0 ..< count {
                let ri = r(i), lo = a.lower[i], hi = a.upper[i]
                let v = ri < lo ? ri - lo : (ri > hi ? ri - hi : 0)
                guard v != 0 else { continue }
                sum += v * v
                if let gradient, let hessian {
                    gradient[i] += c * v
                    hessian[i * stride] += c
                }
            }
        }
        return 0.5 * c * sum
    }

    /// a(r) of a frame term, adding c·Jᵀa_r and c·Jᵀdiag(a_rr)J into `d`: J the linear rows of
    /// the frame Jacobian (translation) or G·J_ω (`rotation` = G, orientation).
    @inline(__always)
    private func addFrameTerm(_ t: Int, r: Vector3, rotation G: Matrix3?, ws: inout Workspace, into d: CostDerivatives?,
                              c: Double, n: Int, nx: Int) -> Double {
        let value: Double, g: Vector3, h: Vector3
        if terms[t].activation.kind == .quadratic {
            (value, g, h) = (0.5 * r.dot(r), r, Vector3(1, 1, 1))
        } else {
            let e0 = terms[t].activation.element(0, r.x), e1 = terms[t].activation.element(1, r.y), e2 = terms[t].activation.element(2, r.z)
            (value, g, h) = (e0.value + e1.value + e2.value, Vector3(e0.gradient, e1.gradient, e2.gradient), Vector3(e0.hessian, e1.hessian, e2.hessian))
        }
        if let d {
            // J's columns: rows 0…2 of the (6 × n, column-major) frame Jacobian, or G·(rows 3…5).
            if let G {
                Self.addGaussNewton(c: c, g: g, h: h, n: n, nx: nx, into: d) { i in
                    G * Vector3(ws.jacobian[6 * i + 3], ws.jacobian[6 * i + 4], ws.jacobian[6 * i + 5])
                }
            } else {
                Self.addGaussNewton(c: c, g: g, h: h, n: n, nx: nx, into: d) { i in
                    Vector3(ws.jacobian[6 * i], ws.jacobian[6 * i + 1], ws.jacobian[6 * i + 2])
                }
            }
        }
        return value
    }

    /// lx += c·Jᵀg and lxx += c·Jᵀdiag(h)J for a 3-row residual Jacobian J given by its columns.
    @inline(__always)
    private static func addGaussNewton(c: Double, g: Vector3, h: Vector3, n: Int, nx: Int, into d: CostDerivatives,
                                       column: (Int) -> Vector3) {
        for i in 0 ..< n {
            let ji = column(i)
            d.lx[i] += c * ji.dot(g)
            let hi = Vector3(h.x * ji.x, h.y * ji.y, h.z * ji.z)
            for j in 0 ... i {
                let v = c * hi.dot(column(j))
                d.lxx[i * nx + j] += v
                if j != i { d.lxx[j * nx + i] += v }
            }
        }
    }

    /// c·a(r), r = (D − D₀)/D₀, adding c·a_r ∇D/D₀ and c·a_rr ∇D∇Dᵀ/D₀² into `d`, split into
    /// the (x, x), (u, u) and (u, x) blocks. D's gradient is computed only where a_r ≠ 0: below
    /// the threshold (the usual case) the members' forward passes settle it.
    @inline(__always)
    private func addDisagreementTerm(_ t: Int, box: SwitchableDynamics.Box, x: UnsafePointer<Double>, u: UnsafePointer<Double>,
                                     ws: inout Workspace, into d: CostDerivatives?, c: Double, n: Int, nx: Int) -> Double {
        let a = terms[t].activation, d0 = disagreementThreshold
        let probe = a.element(0, (box.disagreement(x: x, u: u) - d0) / d0)
        guard let d, probe.gradient != 0 || probe.hessian != 0 else { return c * probe.value }
        let D = ws.gradient.withUnsafeMutableBufferPointer { box.disagreementGradient(x: x, u: u, gradient: $0.baseAddress!) }
        let e = a.element(0, (D - d0) / d0)
        let c1 = c * e.gradient / d0, c2 = c * e.hessian / (d0 * d0)
        ws.gradient.withUnsafeBufferPointer { gp in
            let g = gp.baseAddress!
            for i in 0 ..< nx {
                d.lx[i] += c1 * g[i]
                for j in 0 ..< nx { d.lxx[i * nx + j] += c2 * g[i] * g[j] }
            }
            for a in 0 ..< n {
                d.lu[a] += c1 * g[nx + a]
                for b in 0 ..< n { d.luu[a * n + b] += c2 * g[nx + a] * g[nx + b] }
                for j in 0 ..< nx { d.lux[a * nx + j] += c2 * g[nx + a] * g[j] }
            }
        }
        return c * e.value
    }
}
