import LinearAlgebra

/// A rigid-body inertia about the origin of the frame it is expressed in: mass m, first moment
/// h = m c and rotational inertia I_O = I_c − m ĉĉ about the origin. Unlike (m, c, I_c) it adds
/// linearly (a composite is the plain sum, no division, no parallel-axis step), which is what the
/// world-frame sweeps below sum over subtrees. As a 6×6 matrix, (angular, linear) order:
/// [[I_O, ĥ], [−ĥ, m 1]].
struct OriginInertia {
    var mass: Double
    var moment: Vector3
    var inertia: Matrix3

    static let zero = OriginInertia(mass: 0, moment: .zero, inertia: .zero)

    /// `y` expressed in the parent frame of `t`: c' = R c + p, I_c' = R I_c Rᵀ, then
    /// I_O' = I_c' + m (‖c'‖² 1 − c' c'ᵀ).
    @inline(__always)
    init(_ y: SpatialInertia, in t: Transform) {
        let c = t.act(point: y.centerOfMass)
        let r = t.rotation
        // R I_c Rᵀ is symmetric: (R I_c) times Rᵀ for the upper triangle only.
        let ri = r * y.rotationalInertia
        let r0 = r.row0, r1 = r.row1, r2 = r.row2
        let i00 = ri.row0.dot(r0), i01 = ri.row0.dot(r1), i02 = ri.row0.dot(r2)
        let i11 = ri.row1.dot(r1), i12 = ri.row1.dot(r2), i22 = ri.row2.dot(r2)
        let m = y.mass
        let cc = c.dot(c)
        let x01 = i01 - m * c.x * c.y, x02 = i02 - m * c.x * c.z, x12 = i12 - m * c.y * c.z
        mass = m
        moment = m * c
        inertia = Matrix3(
            i00 + m * (cc - c.x * c.x), x01, x02,
            x01, i11 + m * (cc - c.y * c.y), x12,
            x02, x12, i22 + m * (cc - c.z * c.z)
        )
    }

    @inline(__always)
    init(mass: Double, moment: Vector3, inertia: Matrix3) {
        self.mass = mass
        self.moment = moment
        self.inertia = inertia
    }

    /// Y m = (I_O ω + h × v, m v − h × ω).
    @inline(__always)
    static func * (y: OriginInertia, m: Motion) -> Force {
        Force(angular: y.inertia * m.angular + y.moment.cross(m.linear),
              linear: y.mass * m.linear - y.moment.cross(m.angular))
    }

    /// The 6×6 form: [[I_O, ĥ], [−ĥ, m 1]] as a `SpatialMatrix` (B = ĥ, so Bᵀ = −ĥ).
    @inline(__always)
    var matrix: SpatialMatrix {
        SpatialMatrix(a: inertia, b: .skew(moment), c: .diagonal(Vector3(mass, mass, mass)))
    }

    @inline(__always)
    static func += (a: inout OriginInertia, b: OriginInertia) {
        a.mass += b.mass
        a.moment += b.moment
        a.inertia += b.inertia
    }
}

/// The world-frame sweeps (every spatial quantity in the base frame at its origin, as Pinocchio's
/// `crba(…, WORLD)` and `computeRNEADerivatives` have them): a joint's axis is S_i = ⁰X_i S_i once,
/// and every entry of M or of ∂τ is one 6-dot product, no transform up the chain per entry.
extension RobotModel {
    /// Forward kinematics of body i (parents first): its joint's pose ᵖM_i into `ws.parentPoses`,
    /// ⁰M_i = ⁰M_p ᵖM_i into `ws.poses`; returns ⁰M_i and the parent p (−1 for the base).
    @inline(__always)
    func placeBody(_ ws: inout RobotWorkspace, _ i: Int, _ qi: Double) -> (pose: Transform, parent: Int) {
        let m = jointPose(i, qi)
        ws.parentPoses[i] = m
        let p = parents[i]
        let pose = p < 0 ? m : ws.poses[p] * m
        ws.poses[i] = pose
        return (pose, p)
    }

    /// S_i in the base frame from the pose ⁰M_i: revolute (R a, p × R a), prismatic (0, R a).
    @inline(__always)
    func worldSubspace(_ i: Int, _ pose: Transform) -> Motion {
        let axis = pose.rotation * axes[i]
        return isPrismatic[i] ? Motion(angular: .zero, linear: axis) : Motion(angular: axis, linear: pose.translation.cross(axis))
    }

    /// CRBA in the base frame on `ws.poses`: Y^c_i = Σ_subtree ⁰Y_k, F_i = Y^c_i S_i,
    /// M_ki = M_ik = S_kᵀ F_i for k = i and every ancestor k of i; other entries 0 (joints on
    /// different branches do not couple). Into `ws.treeMassMatrix` (treeCount², column-major).
    func crbaWorldKernel(_ ws: inout RobotWorkspace) {
        let n = treeCount
        for k in 0 ..< n * n { ws.treeMassMatrix[k] = 0 }
        for i in 0 ..< n {
            let pose = ws.poses[i]
            ws.worldSubspaces[i] = worldSubspace(i, pose)
            ws.worldComposites[i] = OriginInertia(inertias[i], in: pose)
        }
        crbaBackwardSweep(n, subspaces: ws.worldSubspaces, composites: &ws.worldComposites, into: &ws.treeMassMatrix)
    }

    /// CRBA's backward sweep in the base frame over `n` bodies: ⁰Y_i accumulates into the parent's
    /// composite, M_ii = S_iᵀ ⁰Y_i S_i + armature_i, M_ki = M_ik = S_kᵀ ⁰Y_i S_i for every ancestor k
    /// (`m` row-major n × n, zeroed by the caller; `composites` holds ⁰Y_i on entry and is consumed).
    @inline(__always)
    func crbaBackwardSweep(_ n: Int, subspaces: [Motion], composites: inout [OriginInertia], into m: inout [Double]) {
        for i in stride(from: n - 1, through: 0, by: -1) {
            let yc = composites[i]
            let f = yc * subspaces[i]
            m[i * n + i] = subspaces[i].dot(f) + armatures[i]
            var k = parents[i]
            while k >= 0 {
                let mki = subspaces[k].dot(f)
                m[i * n + k] = mki
                m[k * n + i] = mki
                k = parents[k]
            }
            let p = parents[i]
            if p >= 0 { composites[p] += yc }
        }
    }

    /// CRBA for models without mimic joints (treeCount = dof) in one pass over q: forward
    /// kinematics, S_i and ⁰Y_i together, then `crbaBackwardSweep` straight into
    /// `ws.massMatrix`.
    func crbaFusedKernel(_ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>) {
        let n = dof
        for i in 0 ..< n {
            let (pose, _) = placeBody(&ws, i, q[i])
            ws.worldSubspaces[i] = worldSubspace(i, pose)
            ws.worldComposites[i] = OriginInertia(inertias[i], in: pose)
        }
        for k in 0 ..< n * n { ws.massMatrix[k] = 0 }
        crbaBackwardSweep(n, subspaces: ws.worldSubspaces, composites: &ws.worldComposites, into: &ws.massMatrix)
    }

    /// RNEA and its analytic derivatives in one forward and one backward sweep in the base frame
    /// (Carpentier & Mansard 2018, "Analytical derivatives of rigid body dynamics algorithms", as
    /// Pinocchio's computeRNEADerivatives), on the tree's coordinates: τ_tree, M_tree = ∂τ/∂a and
    /// ∂τ_tree/∂q_tree, ∂τ_tree/∂v_tree into `ws.treeTau`, `ws.treeMassMatrix`, `ws.treeTauDq`,
    /// `ws.treeTauDv` (column j = derivative along joint j); leaves the poses in `ws`.
    ///
    /// Forward, with v_i, a_i the base-frame twist and acceleration (a including −g):
    ///   S_i = ⁰X_i S_i, v_i = v_λ + S_i q̇_i, a_i = a_λ + S_i q̈_i + v_i × S_i q̇_i,
    ///   Y_i = ⁰Y_i, h_i = Y_i v_i, f_i = Y_i a_i + v_i ×* h_i,
    ///   ∂v/∂q: V_i = v_λ × S_i,  ∂a/∂q: A_i = a_λ × S_i + v_λ × V_i,  ∂a/∂v: W_i = v_i × S_i + V_i,
    ///   B_i = v_i ×* Y_i − Y_i v_i× + (· ×* h_i), which for a rigid inertia is
    ///   [[ŵ I_O − I_O ŵ − (v̂ ĥ_Y + ĥ_Y v̂) − ĥ_ang, 0], [−2 ĥ_lin, 0]] (w, v: v_i's parts; h_Y:
    ///   Y_i's first moment; h_ang, h_lin: the momentum's): a 3×3 block and a vector.
    /// Backward, Y^c, B^c, f^c summed over the subtree:
    ///   τ_i = S_iᵀ f^c_i,  F_i = Y^c_i S_i,  M_ik = S_iᵀ F_k (k in i's subtree),
    ///   Q_i = B^c_i V_i + Y^c_i A_i,  ∂τ_i/∂q_k = S_iᵀ Q_k,  P_i = B^cᵀ_i S_i,
    ///   ∂τ_k/∂q_i = F_kᵀ A_i + P_kᵀ V_i (k strictly below i), then Q_i += S_i ×* f^c_i;
    ///   R_i = B^c_i S_i + Y^c_i W_i,  ∂τ_i/∂v_k = S_iᵀ R_k,  ∂τ_k/∂v_i = F_kᵀ W_i + P_kᵀ S_i.
    /// Exact to rounding; O(treeCount · subtree) 6-vector dot products.
    func rneaDerivativesWorldKernel(
        _ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>,
        a: UnsafeBufferPointer<Double>
    ) {
        let n = treeCount
        for k in 0 ..< n * n {
            ws.treeMassMatrix[k] = 0
            ws.treeTauDq[k] = 0
            ws.treeTauDv[k] = 0
        }
        let a0 = baseAcceleration
        for i in 0 ..< n {
            let (pose, p) = placeBody(&ws, i, q[i])
            let s = worldSubspace(i, pose)
            let vp = p < 0 ? Motion.zero : ws.worldVelocities[p]
            let ap = p < 0 ? a0 : ws.worldAccelerations[p]
            let sqd = v[i] * s
            let vi = vp + sqd
            let ai = ap + a[i] * s + vi.cross(sqd)
            ws.worldSubspaces[i] = s
            ws.worldVelocities[i] = vi
            ws.worldAccelerations[i] = ai
            let y = OriginInertia(inertias[i], in: pose)
            ws.worldComposites[i] = y
            let h = y * vi
            ws.worldForces[i] = y * ai + vi.cross(h)
            let dv = p < 0 ? Motion.zero : vp.cross(s)
            ws.dVdq[i] = dv
            ws.dAdq[i] = p < 0 ? ap.cross(s) : ap.cross(s) + vp.cross(dv)
            ws.dAdv[i] = vi.cross(s) + dv
            // B's angular block: ŵ I_O − I_O ŵ = W + Wᵀ (W = ŵ I_O, I_O symmetric), minus
            // v̂ ĥ_Y + ĥ_Y v̂ (skew(x) skew(y) = y xᵀ − (x·y) 1), minus ĥ_ang.
            let w = vi.angular, lin = vi.linear, io = y.inertia, hy = y.moment
            let wi = Matrix3.skew(w) * io
            let vh = lin.dot(hy)
            let ha = h.angular
            ws.variationBlocks[i] = Matrix3(
                2 * wi.m00 - 2 * (lin.x * hy.x - vh), wi.m01 + wi.m10 - (hy.x * lin.y + lin.x * hy.y) + ha.z, wi.m02 + wi.m20 - (hy.x * lin.z + lin.x * hy.z) - ha.y,
                wi.m10 + wi.m01 - (hy.y * lin.x + lin.y * hy.x) - ha.z, 2 * wi.m11 - 2 * (lin.y * hy.y - vh), wi.m12 + wi.m21 - (hy.y * lin.z + lin.y * hy.z) + ha.x,
                wi.m20 + wi.m02 - (hy.z * lin.x + lin.z * hy.x) + ha.y, wi.m21 + wi.m12 - (hy.z * lin.y + lin.z * hy.y) - ha.x, 2 * wi.m22 - 2 * (lin.z * hy.z - vh)
            )
            ws.variationMomenta[i] = h.linear
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            let s = ws.worldSubspaces[i]
            let yc = ws.worldComposites[i]
            let bc = ws.variationBlocks[i], hl = ws.variationMomenta[i]
            let fc = ws.worldForces[i]
            ws.treeTau[i] = s.dot(fc) + armatures[i] * a[i]
            let f = yc * s
            ws.dFda[i] = f
            // B^c m = (B_a ω, −2 h × ω); B^cᵀ s = (B_aᵀ ω_s + 2 h × v_s, 0).
            let dv = ws.dVdq[i], daq = ws.dAdq[i], dav = ws.dAdv[i]
            var fq = yc * daq
            fq.angular += bc * dv.angular
            fq.linear += (-2 * hl).cross(dv.angular)
            var fv = yc * dav
            fv.angular += bc * s.angular
            fv.linear += (-2 * hl).cross(s.angular)
            ws.dFdq[i] = fq
            ws.dFdv[i] = fv
            ws.dYtJ[i] = bc.transposeTimes(s.angular) + (2 * hl).cross(s.linear)
            let end = subtreeEnd[i]
            let column = i * n
            ws.treeMassMatrix[column + i] = s.dot(f) + armatures[i]
            ws.treeTauDq[column + i] = s.dot(fq)
            ws.treeTauDv[column + i] = s.dot(fv)
            var k = i + 1
            while k < end {
                let fk = ws.dFda[k], pk = ws.dYtJ[k]
                let mik = s.dot(fk)
                ws.treeMassMatrix[column + k] = mik
                ws.treeMassMatrix[k * n + i] = mik
                ws.treeTauDq[column + k] = fk.dot(daq) + pk.dot(dv.angular)
                ws.treeTauDv[column + k] = fk.dot(dav) + pk.dot(s.angular)
                ws.treeTauDq[k * n + i] = s.dot(ws.dFdq[k])
                ws.treeTauDv[k * n + i] = s.dot(ws.dFdv[k])
                k += 1
            }
            ws.dFdq[i] = fq + s.cross(fc)
            let p = parents[i]
            if p >= 0 {
                ws.worldComposites[p] += yc
                ws.variationBlocks[p] += bc
                ws.variationMomenta[p] += hl
                ws.worldForces[p] += fc
            }
        }
    }

    /// ABA in the base frame (Featherstone's three passes with every quantity at the base origin,
    /// as Pinocchio's aba(…, WORLD)): no spatial transform per joint in the backward pass, the
    /// articulated inertias and bias forces add into the parent as they are. For models without
    /// mimic joints (treeCount = dof); ddq into `ws.ddq`, poses into `ws`.
    ///   pass 1: S_i = ⁰X_i S_i, v_i = v_λ + S_i q̇_i, c_i = v_i × S_i q̇_i,
    ///           I^A_i = ⁰Y_i, p^A_i = v_i ×* ⁰Y_i v_i
    ///   pass 2: U_i = I^A_i S_i, D_i = S_iᵀ U_i + armature_i, u_i = τ_i − S_iᵀ p^A_i;
    ///           I^A_λ += I^A_i − U_i U_iᵀ / D_i, p^A_λ += p^A_i + I^a_i c_i + U_i u_i / D_i
    ///   pass 3: a' = a_λ + c_i (a_base = −g), ddq_i = (u_i − U_iᵀ a') / D_i, a_i = a' + S_i ddq_i
    func abaWorldKernel(
        _ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>,
        tau: UnsafeBufferPointer<Double>
    ) {
        let n = dof
        for i in 0 ..< n {
            let (pose, p) = placeBody(&ws, i, q[i])
            let s = worldSubspace(i, pose)
            let sqd = v[i] * s
            let vi = p < 0 ? sqd : ws.worldVelocities[p] + sqd
            ws.worldSubspaces[i] = s
            ws.worldVelocities[i] = vi
            ws.biasAccelerations[i] = vi.cross(sqd)
            let y = OriginInertia(inertias[i], in: pose)
            ws.articulatedInertias[i] = y.matrix
            ws.biasForces[i] = vi.cross(y * vi)
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            let s = ws.worldSubspaces[i]
            let ia = ws.articulatedInertias[i]
            let ui = ia * s
            let di = s.dot(ui) + armatures[i]
            let uTau = tau[i] - s.dot(ws.biasForces[i])
            ws.u[i] = ui
            ws.d[i] = di
            ws.uTau[i] = uTau
            let p = parents[i]
            if p >= 0 {
                let invD = 1 / di
                let ya = ia.subtractingOuterProduct(ui, scale: invD)
                ws.articulatedInertias[p] += ya
                ws.biasForces[p] += ws.biasForces[i] + ya * ws.biasAccelerations[i] + (uTau * invD) * ui
            }
        }
        let a0 = baseAcceleration
        for i in 0 ..< n {
            let p = parents[i]
            let ap = (p < 0 ? a0 : ws.worldAccelerations[p]) + ws.biasAccelerations[i]
            let qdd = (ws.uTau[i] - ws.u[i].dot(ap)) / ws.d[i]
            ws.ddq[i] = qdd
            ws.worldAccelerations[i] = ap + qdd * ws.worldSubspaces[i]
        }
    }
}
