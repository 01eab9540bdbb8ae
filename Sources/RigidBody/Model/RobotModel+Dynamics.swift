import LinearAlgebra

extension RobotModel {
    /// Spatial acceleration that stands in for gravity at the base: a₀ = (0, −g). Every body then
    /// "accelerates upwards" and RNEA/ABA need no separate gravity term.
    var baseAcceleration: Motion { Motion(angular: .zero, linear: -gravity) }

    /// Recursive Newton–Euler inverse dynamics, τ = M(q) a + C(q, v) v + g(q), into `ws.tau`.
    /// Rigid-body terms plus joint armature (no joint damping or friction).
    ///
    ///   forward:  v_i = X_i v_λ + S_i v̇_i,  a_i = X_i a_λ + S_i a_i + v_i × S_i q̇_i,
    ///             f_i = I_i a_i + v_i ×* I_i v_i
    ///   backward: τ_i = S_iᵀ f_i,  f_λ += X_iᵀ f_i
    /// Leaves poses, twists, accelerations and subtree forces in `ws` (read by `rneaDerivatives`).
    /// With mimic joints it runs on the tree at (G q + c, G v, G a) and returns τ = Gᵀ τ_tree.
    /// - Note: Real-time safe: no allocation, no locks.
    public func rnea(_ ws: inout RobotWorkspace, q: [Double], v: [Double], a: [Double]) {
        precondition(q.count == dof && v.count == dof && a.count == dof, "q, v, a must have \(dof) entries")
        q.withUnsafeBufferPointer { q in
            v.withUnsafeBufferPointer { v in
                a.withUnsafeBufferPointer { a in
                    if hasMimic {
                        withTreeCoordinates(q: q, v: v, a: a) { qt, vt, at in rneaKernel(&ws, q: qt, v: vt!, a: at) }
                    } else {
                        rneaKernel(&ws, q: q, v: v, a: a)
                    }
                }
            }
        }
        reduceVector(&ws.tau, ws.treeTau)
    }

    /// RNEA on the tree's coordinates (treeCount entries each) into `ws.treeTau`; `a == nil`
    /// means zero joint acceleration.
    func rneaKernel(
        _ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>,
        a: UnsafeBufferPointer<Double>?
    ) {
        let a0 = baseAcceleration
        for i in 0 ..< treeCount {
            let m = jointPose(i, q[i])
            ws.parentPoses[i] = m
            let p = parents[i]
            let s = subspaces[i]
            let vj = v[i] * s
            let vi: Motion, ai: Motion
            if p < 0 {
                ws.poses[i] = m
                vi = vj
                ai = m.actInverse(a0) + (a?[i] ?? 0) * s
            } else {
                ws.poses[i] = ws.poses[p] * m
                vi = m.actInverse(ws.velocities[p]) + vj
                ai = m.actInverse(ws.accelerations[p]) + (a?[i] ?? 0) * s + vi.cross(vj)
            }
            ws.velocities[i] = vi
            ws.accelerations[i] = ai
            let y = inertias[i]
            ws.forces[i] = y * ai + vi.cross(y * vi)
        }
        for i in stride(from: treeCount - 1, through: 0, by: -1) {
            let f = ws.forces[i]
            ws.treeTau[i] = subspaces[i].dot(f) + armatures[i] * (a?[i] ?? 0)
            let p = parents[i]
            if p >= 0 { ws.forces[p] += ws.parentPoses[i].act(f) }
        }
    }

    /// Gravity and Coriolis/centrifugal torques b(q, v) = RNEA(q, v, 0), into `ws.tau`.
    /// - Note: Real-time safe: no allocation, no locks.
    public func bias(_ ws: inout RobotWorkspace, q: [Double], v: [Double]) {
        precondition(q.count == dof && v.count == dof, "q, v must have \(dof) entries")
        q.withUnsafeBufferPointer { q in
            v.withUnsafeBufferPointer { v in
                if hasMimic {
                    withTreeCoordinates(q: q, v: v, a: nil) { qt, vt, _ in rneaKernel(&ws, q: qt, v: vt!, a: nil) }
                } else {
                    rneaKernel(&ws, q: q, v: v, a: nil)
                }
            }
        }
        reduceVector(&ws.tau, ws.treeTau)
    }

    /// Composite-rigid-body algorithm: the joint-space mass matrix M(q) into `ws.massMatrix`.
    ///
    ///   I^c_i = I_i + Σ_children X_cᵀ I^c_c X_c;  F = I^c_i S_i;  M_ii = S_iᵀ F;
    ///   M_ij = M_ji = S_jᵀ (X ancestors… F) for every ancestor j of i.
    /// - Note: Real-time safe: no allocation, no locks.
    public func crba(_ ws: inout RobotWorkspace, q: [Double]) {
        guard !hasMimic else {
            forwardKinematics(&ws, q: q)
            crbaFromPoses(&ws)
            return
        }
        precondition(q.count == dof, "q has \(q.count) entries, the model has \(dof) joints")
        q.withUnsafeBufferPointer { q in crbaFusedKernel(&ws, q: q) }
    }

    /// CRBA on the poses already in `ws.poses`: M_tree into `ws.treeMassMatrix` (in the base
    /// frame, `crbaWorldKernel`), then M = Gᵀ M_tree G into `ws.massMatrix`.
    func crbaFromPoses(_ ws: inout RobotWorkspace) {
        crbaWorldKernel(&ws)
        reduceMatrix(&ws.massMatrix, ws.treeMassMatrix)
    }

    /// The joint-frame CRBA (each column carried up the chain by ^λX_j) on `ws.parentPoses`, into
    /// `ws.treeMassMatrix`: the reference the world-frame kernel is tested against.
    func crbaLocalKernel(_ ws: inout RobotWorkspace) {
        let n = treeCount
        for i in 0 ..< n { ws.compositeInertias[i] = inertias[i] }
        for i in stride(from: n - 1, through: 0, by: -1) {
            let yc = ws.compositeInertias[i]
            var f = yc * subspaces[i]
            ws.treeMassMatrix[i * n + i] = subspaces[i].dot(f) + armatures[i]
            var j = i
            while parents[j] >= 0 {
                f = ws.parentPoses[j].act(f)
                j = parents[j]
                let mij = subspaces[j].dot(f)
                ws.treeMassMatrix[i * n + j] = mij
                ws.treeMassMatrix[j * n + i] = mij
            }
            let p = parents[i]
            if p >= 0 { ws.compositeInertias[p] += yc.transformed(by: ws.parentPoses[i]) }
        }
        // Joints on different branches do not couple.
        for i in 0 ..< n {
            for j in 0 ..< i where !isAncestor(j, of: i) {
                ws.treeMassMatrix[i * n + j] = 0
                ws.treeMassMatrix[j * n + i] = 0
            }
        }
    }

    /// Whether joint `a` is an ancestor of joint `b` (subtrees are contiguous in DFS order).
    @inline(__always)
    func isAncestor(_ a: Int, of b: Int) -> Bool { a < b && b < subtreeEnd[a] }

    /// Articulated-body algorithm: forward dynamics ddq = M⁻¹ (τ − b(q, v)), into `ws.ddq`.
    /// Rigid-body terms only (no joint damping or friction: integrators add those).
    ///
    /// With mimic joints the followers couple joints that the tree's recursion treats as
    /// independent, so ABA does not apply (nor does Pinocchio's): ddq then solves
    /// (Gᵀ M_tree G) ddq = τ − Gᵀ b_tree by CRBA and Cholesky, O(n³) at arm sizes, leaving M in
    /// `ws.massMatrix`. ddq is NaN where M is not positive definite.
    ///
    ///   pass 1: v_i, c_i = v_i × S_i q̇_i, I^A_i = I_i, p^A_i = v_i ×* I_i v_i
    ///   pass 2: U_i = I^A_i S_i, D_i = S_iᵀ U_i, u_i = τ_i − S_iᵀ p^A_i;
    ///           I^a = I^A_i − U_i U_iᵀ / D_i, p^a = p^A_i + I^a c_i + U_i u_i / D_i;
    ///           I^A_λ += X_iᵀ I^a X_i, p^A_λ += X_iᵀ p^a
    ///   pass 3: a' = X_i a_λ + c_i, ddq_i = (u_i − U_iᵀ a') / D_i, a_i = a' + S_i ddq_i
    /// - Note: Real-time safe: no allocation, no locks.
    public func aba(_ ws: inout RobotWorkspace, q: [Double], v: [Double], tau: [Double]) {
        precondition(q.count == dof && v.count == dof && tau.count == dof, "q, v, tau must have \(dof) entries")
        q.withUnsafeBufferPointer { q in
            v.withUnsafeBufferPointer { v in
                tau.withUnsafeBufferPointer { tau in
                    if hasMimic {
                        reducedForwardDynamics(&ws, q: q, v: v, tau: tau)
                    } else {
                        abaKernel(&ws, q: q, v: v, tau: tau)
                    }
                }
            }
        }
    }

    /// ddq = (Gᵀ M_tree G)⁻¹ (τ − Gᵀ b_tree) for models with mimic joints; b into
    /// `ws.scratchTau`, M into `ws.massMatrix`, its Cholesky factor into `ws.factor`.
    func reducedForwardDynamics(
        _ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>,
        tau: UnsafeBufferPointer<Double>
    ) {
        withTreeCoordinates(q: q, v: v, a: nil) { qt, vt, _ in rneaKernel(&ws, q: qt, v: vt!, a: nil) }
        crbaFromPoses(&ws)
        reduceVector(&ws.scratchTau, ws.treeTau)
        let n = dof
        guard choleskyFactor(&ws) else {
            for i in 0 ..< n { ws.ddq[i] = .nan }
            return
        }
        // L y = τ − b, then Lᵀ ddq = y (ws.factor holds L column-major, lower triangle).
        for i in 0 ..< n {
            var s = tau[i] - ws.scratchTau[i]
            for k in 0 ..< i { s -= ws.factor[k * n + i] * ws.ddq[k] }
            ws.ddq[i] = s / ws.factor[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = ws.ddq[i]
            for k in i + 1 ..< n { s -= ws.factor[i * n + k] * ws.ddq[k] }
            ws.ddq[i] = s / ws.factor[i * n + i]
        }
    }

    /// ABA proper, for models without mimic joints (treeCount = dof): in the base frame
    /// (`abaWorldKernel`), which spares the per-joint transform of the articulated inertia.
    @inline(__always)
    func abaKernel(
        _ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>,
        tau: UnsafeBufferPointer<Double>
    ) {
        abaWorldKernel(&ws, q: q, v: v, tau: tau)
    }

    /// ABA in joint frames (each articulated inertia carried to its parent by ^λX_i): the
    /// reference `abaWorldKernel` is tested against. Also leaves joint-frame twists and
    /// accelerations in `ws.velocities` and `ws.accelerations`.
    func abaLocalKernel(
        _ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>,
        tau: UnsafeBufferPointer<Double>
    ) {
        for i in 0 ..< dof {
            let m = jointPose(i, q[i])
            ws.parentPoses[i] = m
            let p = parents[i]
            let vj = v[i] * subspaces[i]
            let vi: Motion
            if p < 0 {
                ws.poses[i] = m
                vi = vj
            } else {
                ws.poses[i] = ws.poses[p] * m
                vi = m.actInverse(ws.velocities[p]) + vj
            }
            ws.velocities[i] = vi
            ws.biasAccelerations[i] = vi.cross(vj)
            let y = inertias[i]
            ws.articulatedInertias[i] = y.matrix
            ws.biasForces[i] = vi.cross(y * vi)
        }
        for i in stride(from: dof - 1, through: 0, by: -1) {
            let s = subspaces[i]
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
                let pa = ws.biasForces[i] + ya * ws.biasAccelerations[i] + (uTau * invD) * ui
                let x = ws.parentPoses[i]
                ws.articulatedInertias[p] += ya.transformed(by: x)
                ws.biasForces[p] += x.act(pa)
            }
        }
        let a0 = baseAcceleration
        for i in 0 ..< dof {
            let p = parents[i]
            let x = ws.parentPoses[i]
            let ap = x.actInverse(p < 0 ? a0 : ws.accelerations[p]) + ws.biasAccelerations[i]
            let qdd = (ws.uTau[i] - ws.u[i].dot(ap)) / ws.d[i]
            ws.ddq[i] = qdd
            ws.accelerations[i] = ap + qdd * subspaces[i]
        }
    }
}
