import LinearAlgebra

extension RobotModel {
    /// Joint placements for configuration q: fills `ws.parentPoses` (^λM_i) and `ws.poses` (^0M_i)
    /// of every tree joint, mimic followers at q_f = m·q_leader + c. ^0M_i = ^0M_λ · ^λM_i.
    /// - Note: Real-time safe: no allocation, no locks.
    public func forwardKinematics(_ ws: inout RobotWorkspace, q: [Double]) {
        precondition(q.count == dof, "q has \(q.count) entries, the model has \(dof) joints")
        q.withUnsafeBufferPointer { q in
            if hasMimic {
                withTreeCoordinates(q: q, v: nil, a: nil) { qt, _, _ in forwardKinematicsKernel(&ws, q: qt) }
            } else {
                forwardKinematicsKernel(&ws, q: q)
            }
        }
    }

    /// Forward kinematics on the tree's coordinates (treeCount entries).
    func forwardKinematicsKernel(_ ws: inout RobotWorkspace, q: UnsafeBufferPointer<Double>) {
        for i in 0 ..< treeCount {
            _ = placeBody(&ws, i, q[i])
        }
    }

    /// Pose of frame `frame` in the base frame. Call `forwardKinematics` (or any dynamics
    /// algorithm) first: this reads `ws.poses`.
    /// - Note: Real-time safe: no allocation, no locks.
    public func framePose(_ ws: RobotWorkspace, frame: Int) -> Transform {
        let f = frames[frame]
        return f.body < 0 ? f.placement : ws.poses[f.body] * f.placement
    }

    /// The frame Jacobian at the frame origin with world-aligned axes (Pinocchio's
    /// LOCAL_WORLD_ALIGNED): J q̇ = (ṗ, ω), rows 0–2 linear velocity of the frame origin in the
    /// base frame, rows 3–5 angular velocity. For a revolute ancestor k with world axis s_k at
    /// origin o_k: column k = (s_k × (p − o_k), s_k); prismatic: (s_k, 0); other columns are zero.
    /// A mimic follower's column, times its multiplier, adds to its leader's (J = J_tree G).
    /// Reads `ws.poses`: call `forwardKinematics` first.
    /// - Parameter jacobian: receives the (6 × dof) matrix, column-major; must hold 6·dof values.
    /// - Note: Real-time safe: no allocation, no locks.
    public func frameJacobian(_ ws: RobotWorkspace, frame: Int, into jacobian: inout [Double]) {
        precondition(jacobian.count == 6 * dof, "jacobian must hold 6 × \(dof) values")
        for k in 0 ..< 6 * dof { jacobian[k] = 0 }
        let p = framePose(ws, frame: frame).translation
        var k = frames[frame].body
        while k >= 0 {
            let pose = ws.poses[k]
            let s = pose.rotation * axes[k]
            let m = multipliers[k]
            let linear = m * (isPrismatic[k] ? s : s.cross(p - pose.translation))
            let angular = isPrismatic[k] ? Vector3.zero : m * s
            let c = 6 * coordinates[k]
            jacobian[c] += linear.x; jacobian[c + 1] += linear.y; jacobian[c + 2] += linear.z
            jacobian[c + 3] += angular.x; jacobian[c + 4] += angular.y; jacobian[c + 5] += angular.z
            k = parents[k]
        }
    }
}
