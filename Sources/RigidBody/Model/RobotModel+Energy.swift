import LinearAlgebra

extension RobotModel {
    /// Kinetic energy T = ½ Σ v_iᵀ I_i v_i + ½ Σ armature_i q̇_i² = ½ q̇ᵀ M q̇ (J) and potential energy
    /// U = −Σ m_i g · c_i (J, zero at the base origin), c_i the world centre of mass of body i.
    /// Updates `ws.poses` and `ws.velocities`.
    /// - Note: Real-time safe: no allocation, no locks.
    public func energy(_ ws: inout RobotWorkspace, q: [Double], v: [Double]) -> (kinetic: Double, potential: Double) {
        precondition(q.count == dof && v.count == dof, "q, v must have \(dof) entries")
        return q.withUnsafeBufferPointer { q in
            v.withUnsafeBufferPointer { v in
                hasMimic
                    ? withTreeCoordinates(q: q, v: v, a: nil) { qt, vt, _ in energyKernel(&ws, q: qt, v: vt!) }
                    : energyKernel(&ws, q: q, v: v)
            }
        }
    }

    /// Energy on the tree's coordinates (treeCount entries each).
    func energyKernel(
        _ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>, v: UnsafeBufferPointer<Double>
    ) -> (kinetic: Double, potential: Double) {
        var kinetic = 0.0, potential = 0.0
        for i in 0 ..< treeCount {
            let m = jointPose(i, q[i])
            ws.parentPoses[i] = m
            let p = parents[i]
            let vj = v[i] * subspaces[i]
            let vi = p < 0 ? vj : m.actInverse(ws.velocities[p]) + vj
            ws.poses[i] = p < 0 ? m : ws.poses[p] * m
            ws.velocities[i] = vi
            let y = inertias[i]
            kinetic += 0.5 * vi.dot(y * vi) + 0.5 * armatures[i] * v[i] * v[i]
            potential -= y.mass * gravity.dot(ws.poses[i].act(point: y.centerOfMass))
        }
        return (kinetic, potential)
    }
}
