import LinearAlgebra

/// The map between q (degrees of freedom) and the tree's coordinates, for mimic joints:
/// q_tree = G q + c, v_tree = G v, a_tree = G a, and back τ = Gᵀ τ_tree, M = Gᵀ M_tree G.
/// G (treeCount × dof) has one non-zero per row, G[t, coordinates[t]] = multipliers[t].
extension RobotModel {
    /// Calls `body` with q_tree, v_tree and a_tree (`nil` stays `nil`). Without mimic joints these
    /// are the caller's buffers; with them, stack scratch. The kernels' callers branch on
    /// `hasMimic` and call the kernel directly without: through this closure the 6-dof forward
    /// kinematics cost ~100 ns more a call (an optimiser limit, measured with `robotd bench
    /// dynamics`).
    /// - Note: Real-time safe: no allocation (the scratch is 3·treeCount doubles on the stack).
    @inline(__always)
    func withTreeCoordinates<R>(
        q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>?, a: UnsafeBufferPointer<Double>?,
        _ body: (UnsafeBufferPointer<Double>, UnsafeBufferPointer<Double>?, UnsafeBufferPointer<Double>?) -> R
    ) -> R {
        guard hasMimic else { return body(q, v, a) }
        return withExpandedTreeCoordinates(q: q, v: v, a: a, body)
    }

    @inline(never)
    func withExpandedTreeCoordinates<R>(
        q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>?, a: UnsafeBufferPointer<Double>?,
        _ body: (UnsafeBufferPointer<Double>, UnsafeBufferPointer<Double>?, UnsafeBufferPointer<Double>?) -> R
    ) -> R {
        let nt = treeCount
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * nt) { buffer in
            for t in 0 ..< nt {
                let c = coordinates[t], m = multipliers[t]
                buffer[t] = m * q[c] + offsets[t]
                buffer[nt + t] = v.map { m * $0[c] } ?? 0
                buffer[2 * nt + t] = a.map { m * $0[c] } ?? 0
            }
            let base = UnsafeBufferPointer(buffer)
            return body(
                UnsafeBufferPointer(rebasing: base[0 ..< nt]),
                v == nil ? nil : UnsafeBufferPointer(rebasing: base[nt ..< 2 * nt]),
                a == nil ? nil : UnsafeBufferPointer(rebasing: base[2 * nt ..< 3 * nt])
            )
        }
    }

    /// out = Gᵀ tree: out_j = Σ_{t: coordinates[t] = j} multipliers[t]·tree_t. (dof) ← (treeCount).
    /// Without mimic joints a copy (1·x + 0 is x exactly).
    /// - Note: Real-time safe: no allocation.
    @inline(__always)
    func reduceVector(_ out: inout [Double], _ tree: [Double]) {
        guard hasMimic else {
            for j in 0 ..< dof { out[j] = tree[j] }
            return
        }
        for j in 0 ..< dof { out[j] = 0 }
        for t in 0 ..< treeCount { out[coordinates[t]] += multipliers[t] * tree[t] }
    }

    /// out = Gᵀ tree G, both column-major: (dof × dof) ← (treeCount × treeCount). Without mimic
    /// joints a copy.
    /// - Note: Real-time safe: no allocation.
    @inline(__always)
    func reduceMatrix(_ out: inout [Double], _ tree: [Double]) {
        guard hasMimic else {
            out.withUnsafeMutableBufferPointer { o in
                tree.withUnsafeBufferPointer { t in
                    for k in 0 ..< o.count { o[k] = t[k] }
                }
            }
            return
        }
        let n = dof, nt = treeCount
        for k in 0 ..< n * n { out[k] = 0 }
        for c in 0 ..< nt {
            let oc = coordinates[c] * n, mc = multipliers[c]
            for r in 0 ..< nt {
                out[oc + coordinates[r]] += multipliers[r] * mc * tree[c * nt + r]
            }
        }
    }
}
