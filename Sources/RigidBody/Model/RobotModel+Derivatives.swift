import LinearAlgebra

extension RobotModel {
    /// Analytic partial derivatives of RNEA, ∂τ/∂q and ∂τ/∂v at (q, v, a), into `ws.tauDq` and
    /// `ws.tauDv` (column j = derivative with respect to q_j or v_j). Also leaves τ in `ws.tau`
    /// and the poses.
    ///
    /// One forward and one backward sweep in the base frame (`rneaDerivativesWorldKernel`,
    /// Carpentier & Mansard 2018), O(dof · subtree). Exact to rounding (finite differences and
    /// Pinocchio are the test oracles; `rneaTreeDerivatives`, forward-mode differentiation of
    /// the joint-frame recursion, is the reference it is tested against).
    /// With mimic joints it runs on the tree at (G q + c, G v, G a) and returns
    /// Gᵀ (∂τ_tree/∂q_tree) G: τ = Gᵀ τ_tree(G q + c, G v, G a).
    /// - Note: Real-time safe: no allocation, no locks.
    public func rneaDerivatives(_ ws: inout RobotWorkspace, q: [Double], v: [Double], a: [Double]) {
        precondition(q.count == dof && v.count == dof && a.count == dof, "q, v, a must have \(dof) entries")
        q.withUnsafeBufferPointer { q in
            v.withUnsafeBufferPointer { v in
                a.withUnsafeBufferPointer { a in
                    if hasMimic {
                        withTreeCoordinates(q: q, v: v, a: a) { qt, vt, at in rneaDerivativesWorldKernel(&ws, q: qt, v: vt!, a: at!) }
                    } else {
                        rneaDerivativesWorldKernel(&ws, q: q, v: v, a: a)
                    }
                }
            }
        }
        reduceVector(&ws.tau, ws.treeTau)
        reduceMatrix(&ws.tauDq, ws.treeTauDq)
        reduceMatrix(&ws.tauDv, ws.treeTauDv)
    }

    /// The joint-frame derivative sweeps (forward mode, one joint direction at a time) on the
    /// tree's coordinates; reads what `rneaKernel` left in `ws`, writes `ws.treeTauDq` and
    /// `ws.treeTauDv`. The reference for `rneaDerivativesWorldKernel` in the tests:
    ///   perturbing q_j rotates (or shifts) frame j by exp(δ S_j), so d(X_j m)/dq_j = −S_j × (X_j m)
    ///   and d(X_jᵀ f)/dq_j = X_jᵀ (S_j ×* f). Only j's subtree moves; its ancestors see the extra force:
    ///   q_j:  v̇_j = −S_j × v_j,  ȧ_j = −S_j × (X_j a_λ) + v̇_j × S_j q̇_j
    ///   v_j:  v̇_j = S_j,          ȧ_j = v_j × S_j
    ///   subtree k ≠ j: v̇_k = X_k v̇_λ, ȧ_k = X_k ȧ_λ + v̇_k × S_k q̇_k
    ///   ḟ_k = I_k ȧ_k + v̇_k ×* I_k v_k + v_k ×* I_k v̇_k, summed up the tree like f, plus
    ///   X_jᵀ (S_j ×* f_j) entering j's parent for the q direction; τ̇_k = S_kᵀ ḟ_k.
    func rneaTreeDerivatives(_ ws: inout RobotWorkspace, v: UnsafeBufferPointer<Double>) {
        let n = treeCount
        let a0 = baseAcceleration
        for k in 0 ..< n * n {
            ws.treeTauDq[k] = 0
            ws.treeTauDv[k] = 0
        }
        for j in 0 ..< n {
            let s = subspaces[j]
            let x = ws.parentPoses[j]
            let p = parents[j]
            let vj = ws.velocities[j]
            let sqd = v[j] * s
            let xa = x.actInverse(p < 0 ? a0 : ws.accelerations[p])
            let y = inertias[j]
            let yv = y * vj

            let dvq = -s.cross(vj)
            let daq = -s.cross(xa) + dvq.cross(sqd)
            let daV = vj.cross(s)
            ws.dv[j] = dvq
            ws.da[j] = daq
            ws.dvV[j] = s
            ws.daV[j] = daV
            ws.df[j] = y * daq + dvq.cross(yv) + vj.cross(y * dvq)
            ws.dfV[j] = y * daV + s.cross(yv) + vj.cross(y * s)

            let end = subtreeEnd[j]
            var i = j + 1
            while i < end {
                let pi = parents[i]
                let xi = ws.parentPoses[i]
                let si = v[i] * subspaces[i]
                let vi = ws.velocities[i]
                let yi = inertias[i]
                let yvi = yi * vi
                let dv = xi.actInverse(ws.dv[pi])
                let da = xi.actInverse(ws.da[pi]) + dv.cross(si)
                let dvV = xi.actInverse(ws.dvV[pi])
                let daV = xi.actInverse(ws.daV[pi]) + dvV.cross(si)
                ws.dv[i] = dv
                ws.da[i] = da
                ws.dvV[i] = dvV
                ws.daV[i] = daV
                ws.df[i] = yi * da + dv.cross(yvi) + vi.cross(yi * dv)
                ws.dfV[i] = yi * daV + dvV.cross(yvi) + vi.cross(yi * dvV)
                i += 1
            }
            i = end - 1
            while i > j {
                let fq = ws.df[i], fv = ws.dfV[i]
                ws.treeTauDq[j * n + i] = subspaces[i].dot(fq)
                ws.treeTauDv[j * n + i] = subspaces[i].dot(fv)
                let pi = parents[i]
                let xi = ws.parentPoses[i]
                ws.df[pi] += xi.act(fq)
                ws.dfV[pi] += xi.act(fv)
                i -= 1
            }
            ws.treeTauDq[j * n + j] = s.dot(ws.df[j])
            ws.treeTauDv[j * n + j] = s.dot(ws.dfV[j])

            var fq = x.act(ws.df[j] + s.cross(ws.forces[j]))
            var fv = x.act(ws.dfV[j])
            var k = p
            while k >= 0 {
                ws.treeTauDq[j * n + k] = subspaces[k].dot(fq)
                ws.treeTauDv[j * n + k] = subspaces[k].dot(fv)
                let xk = ws.parentPoses[k]
                fq = xk.act(fq)
                fv = xk.act(fv)
                k = parents[k]
            }
        }
    }

    /// Forward dynamics and its analytic derivatives at (q, v, τ):
    /// `ws.ddq` = ABA(q, v, τ); differentiating RNEA(q, v, ddq(q, v, τ)) = τ gives
    ///   ∂ddq/∂q = −M⁻¹ ∂τ/∂q|ₐ₌ddq,  ∂ddq/∂v = −M⁻¹ ∂τ/∂v|ₐ₌ddq,  ∂ddq/∂τ = M⁻¹,
    /// written to `ws.ddqDq`, `ws.ddqDv` and `ws.massMatrixInverse`: ddq by ABA, then one
    /// world-frame sweep (`rneaDerivativesWorldKernel`) gives ∂τ/∂q, ∂τ/∂v at a = ddq and M
    /// (left in `ws.massMatrix`), M⁻¹ through its Cholesky factor. Pinocchio's
    /// computeABADerivatives computes the same four results. Rigid-body terms only.
    /// - Returns: `false` if M is not numerically positive definite (then the derivatives are not
    ///   valid); `true` otherwise.
    /// - Note: Real-time safe: no allocation, no locks.
    @discardableResult
    public func abaDerivatives(_ ws: inout RobotWorkspace, q: [Double], v: [Double], tau: [Double]) -> Bool {
        precondition(q.count == dof && v.count == dof && tau.count == dof, "q, v, tau must have \(dof) entries")
        let n = dof
        return q.withUnsafeBufferPointer { q in
            v.withUnsafeBufferPointer { v in
                tau.withUnsafeBufferPointer { tau in
                    if hasMimic {
                        reducedForwardDynamics(&ws, q: q, v: v, tau: tau)
                    } else {
                        abaKernel(&ws, q: q, v: v, tau: tau)
                    }
                }
                return withUnsafeTemporaryAllocation(of: Double.self, capacity: n) { ddq in
                    for i in 0 ..< n { ddq[i] = ws.ddq[i] }
                    return forwardDynamicsDerivatives(&ws, q: q, v: v, ddq: UnsafeBufferPointer(ddq))
                }
            }
        }
    }

    /// `abaDerivatives` for a ddq = ABA(q, v, τ) already known (the step that produced it, as an
    /// iLQR rollout has): the same four results without the ABA pass; `ws.ddq` is set to `ddq`.
    /// - Returns: `false` if M is not numerically positive definite.
    /// - Note: Real-time safe: no allocation, no locks.
    @discardableResult
    public func abaDerivatives(_ ws: inout RobotWorkspace, q: [Double], v: [Double], ddq: UnsafePointer<Double>) -> Bool {
        precondition(q.count == dof && v.count == dof, "q, v must have \(dof) entries")
        let n = dof
        for i in 0 ..< n { ws.ddq[i] = ddq[i] }
        return q.withUnsafeBufferPointer { q in
            v.withUnsafeBufferPointer { v in
                forwardDynamicsDerivatives(&ws, q: q, v: v, ddq: UnsafeBufferPointer(start: ddq, count: n))
            }
        }
    }

    /// ∂ddq/∂q, ∂ddq/∂v and M⁻¹ at (q, v, ddq) into `ws.ddqDq`, `ws.ddqDv`, `ws.massMatrixInverse`:
    /// one sweep gives ∂τ/∂q, ∂τ/∂v at a = ddq and M (= ∂τ/∂a), then M⁻¹ by Cholesky and
    /// ∂ddq/∂x = −M⁻¹ ∂τ/∂x. `ddq` must not point into `ws`.
    private func forwardDynamicsDerivatives(_ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>,
                                            ddq: UnsafeBufferPointer<Double>) -> Bool {
        let n = dof
        if hasMimic {
            withTreeCoordinates(q: q, v: v, a: ddq) { qt, vt, at in
                rneaDerivativesWorldKernel(&ws, q: qt, v: vt!, a: at!)
            }
        } else {
            rneaDerivativesWorldKernel(&ws, q: q, v: v, a: ddq)
        }
        reduceMatrix(&ws.tauDq, ws.treeTauDq)
        reduceMatrix(&ws.tauDv, ws.treeTauDv)
        reduceMatrix(&ws.massMatrix, ws.treeMassMatrix)
        guard invertMassMatrix(&ws) else { return false }
        // ∂ddq/∂q = −M⁻¹ ∂τ/∂q and ∂ddq/∂v = −M⁻¹ ∂τ/∂v, column-major, on raw pointers (the
        // inputs are local references: no copy, no uniqueness checks).
        let minv = ws.massMatrixInverse
        func product(_ source: [Double], into out: inout [Double]) {
            minv.withUnsafeBufferPointer { minv in
                source.withUnsafeBufferPointer { source in
                    out.withUnsafeMutableBufferPointer { out in
                        for c in 0 ..< n {
                            for r in 0 ..< n {
                                var s = 0.0
                                for k in 0 ..< n { s += minv[k * n + r] * source[c * n + k] }
                                out[c * n + r] = -s
                            }
                        }
                    }
                }
            }
        }
        product(ws.tauDq, into: &ws.ddqDq)
        product(ws.tauDv, into: &ws.ddqDv)
        return true
    }

    /// M = L Lᵀ from `ws.massMatrix`, L into `ws.factor` (column-major, lower triangle).
    /// - Returns: `false` when a pivot is not positive (M not positive definite).
    func choleskyFactor(_ ws: inout RobotWorkspace) -> Bool {
        let n = dof
        for j in 0 ..< n {
            var djj = ws.massMatrix[j * n + j]
            for k in 0 ..< j { djj -= ws.factor[k * n + j] * ws.factor[k * n + j] }
            guard djj > 0, djj.isFinite else { return false }
            let ljj = djj.squareRoot()
            ws.factor[j * n + j] = ljj
            for i in j + 1 ..< n {
                var s = ws.massMatrix[j * n + i]
                for k in 0 ..< j { s -= ws.factor[k * n + i] * ws.factor[k * n + j] }
                ws.factor[j * n + i] = s / ljj
            }
        }
        return true
    }

    /// M⁻¹ from `ws.massMatrix` into `ws.massMatrixInverse`: M = L Lᵀ (Cholesky), then
    /// M⁻¹ = L⁻ᵀ L⁻¹. Plain loops: at arm sizes a LAPACK call costs more than the arithmetic.
    /// - Returns: `false` when a pivot is not positive (M not positive definite).
    func invertMassMatrix(_ ws: inout RobotWorkspace) -> Bool {
        let n = dof
        guard choleskyFactor(&ws) else { return false }
        // Overwrite L with L⁻¹ (lower triangular), column by column.
        for j in 0 ..< n {
            ws.factor[j * n + j] = 1 / ws.factor[j * n + j]
            for i in j + 1 ..< n {
                var s = 0.0
                for k in j ..< i { s -= ws.factor[k * n + i] * ws.factor[j * n + k] }
                ws.factor[j * n + i] = s / ws.factor[i * n + i]
            }
        }
        // M⁻¹_rc = Σ_k L⁻¹_kr L⁻¹_kc for k ≥ max(r, c).
        for c in 0 ..< n {
            for r in 0 ... c {
                var s = 0.0
                for k in c ..< n { s += ws.factor[r * n + k] * ws.factor[c * n + k] }
                ws.massMatrixInverse[c * n + r] = s
                ws.massMatrixInverse[r * n + c] = s
            }
        }
        return true
    }
}
