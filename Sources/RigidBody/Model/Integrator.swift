import LinearAlgebra
import RealModule

/// How `RobotModel.step` advances the state.
public enum IntegrationMethod: String, Sendable, CaseIterable {
    /// v⁺ = v + dt·(M + dt·D)⁻¹ (τ − b(q, v) − D v);  q⁺ = q + dt·v⁺ (symplectic Euler with the
    /// joint damping D — URDF damping plus any actuator damping passed to `step` — treated
    /// implicitly, so stiff servo gains stay stable at millisecond steps). Coulomb friction is a
    /// per-joint stick/slip velocity impulse bounded by dt·F·(M + dt·D)⁻¹_ii: it stops a joint
    /// when that suffices and never reverses its motion.
    case semiImplicitEuler
    /// Classical fourth-order Runge–Kutta on (q, v). Coulomb friction is smoothed to
    /// F·tanh(v / v_s) so that the right-hand side is differentiable; meant for accuracy studies
    /// with small steps, not for stiff friction.
    case rk4
}

/// Scratch for `RobotModel.step`: the dynamics workspace plus the integrator's stage buffers.
public struct IntegratorWorkspace: Sendable {
    /// The dynamics scratch; after a step it holds the last stage's ABA results.
    public var dynamics: RobotWorkspace
    var qStage: [Double]
    var vStage: [Double]
    var tauStage: [Double]
    /// Stage derivatives, (4 × dof) each: row s holds stage s's q̇ or v̇.
    var kq: [Double]
    var kv: [Double]
    /// Diagonal of the implicit damping, (dof).
    var implicitDamping: [Double]

    init(dof n: Int, dynamics: RobotWorkspace) {
        self.dynamics = dynamics
        qStage = Array(repeating: 0, count: n)
        vStage = Array(repeating: 0, count: n)
        tauStage = Array(repeating: 0, count: n)
        kq = Array(repeating: 0, count: 4 * n)
        kv = Array(repeating: 0, count: 4 * n)
        implicitDamping = Array(repeating: 0, count: n)
    }
}

extension RobotModel {
    /// Scratch for `step`, allocated once.
    public func makeIntegratorWorkspace() -> IntegratorWorkspace {
        IntegratorWorkspace(dof: dof, dynamics: makeWorkspace())
    }

    /// Advances (q, v) by `dt` seconds under joint torques `tau`, with the URDF's joint damping
    /// (τ_d = −b q̇) and Coulomb friction.
    /// - Parameters:
    ///   - extraDamping: per-joint damping added to the URDF's (N·m·s/rad), e.g. the derivative
    ///     gain of a servo whose torque is part of `tau`: −extraDamping·q̇ is then applied
    ///     implicitly by the semi-implicit Euler step (RK4 applies it explicitly). Empty = none.
    ///   - frictionVelocityScale: v_s (rad/s or m/s) of the smoothed friction used by RK4.
    /// - Note: Real-time safe: no allocation, no locks.
    public func step(
        _ iw: inout IntegratorWorkspace, q: inout [Double], v: inout [Double], tau: [Double], dt: Double,
        method: IntegrationMethod = .semiImplicitEuler, extraDamping: [Double] = [],
        frictionVelocityScale: Double = 0.01
    ) {
        precondition(q.count == dof && v.count == dof && tau.count == dof, "q, v, tau must have \(dof) entries")
        precondition(extraDamping.isEmpty || extraDamping.count == dof, "extraDamping must be empty or have \(dof) entries")
        let n = dof
        for i in 0 ..< n { iw.implicitDamping[i] = dampings[i] + (extraDamping.isEmpty ? 0 : extraDamping[i]) }
        switch method {
        case .semiImplicitEuler:
            // b(q, v) into dynamics.tau, M(q) into dynamics.massMatrix (CRBA reuses RNEA's poses).
            bias(&iw.dynamics, q: q, v: v)
            crbaFromPoses(&iw.dynamics)
            for i in 0 ..< n {
                iw.dynamics.massMatrix[i * n + i] += dt * iw.implicitDamping[i]
                iw.tauStage[i] = tau[i] - iw.dynamics.tau[i] - iw.implicitDamping[i] * v[i]
            }
            guard invertMassMatrix(&iw.dynamics) else {
                // M + dt·D is positive definite for any physical model; a NaN state lands here.
                for i in 0 ..< n { v[i] = .nan; q[i] = .nan }
                return
            }
            for i in 0 ..< n {
                var a = 0.0
                for k in 0 ..< n { a += iw.dynamics.massMatrixInverse[k * n + i] * iw.tauStage[k] }
                var vi = v[i] + dt * a
                let f = frictions[i]
                if f > 0 {
                    let dvMax = dt * f * iw.dynamics.massMatrixInverse[i * n + i]
                    vi = abs(vi) <= dvMax ? 0 : vi - (vi > 0 ? dvMax : -dvMax)
                }
                iw.dynamics.ddq[i] = (vi - v[i]) / dt
                iw.vStage[i] = vi
            }
            for i in 0 ..< n {
                v[i] = iw.vStage[i]
                q[i] += dt * v[i]
            }
        case .rk4:
            let weights = (1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6)
            for s in 0 ..< 4 {
                let c = s == 0 ? 0 : (s == 3 ? dt : 0.5 * dt)
                for i in 0 ..< n {
                    iw.qStage[i] = s == 0 ? q[i] : q[i] + c * iw.kq[(s - 1) * n + i]
                    iw.vStage[i] = s == 0 ? v[i] : v[i] + c * iw.kv[(s - 1) * n + i]
                    let vi = iw.vStage[i]
                    iw.tauStage[i] = tau[i] - iw.implicitDamping[i] * vi
                        - frictions[i] * Double.tanh(vi / frictionVelocityScale)
                }
                aba(&iw.dynamics, q: iw.qStage, v: iw.vStage, tau: iw.tauStage)
                for i in 0 ..< n {
                    iw.kq[s * n + i] = iw.vStage[i]
                    iw.kv[s * n + i] = iw.dynamics.ddq[i]
                }
            }
            for i in 0 ..< n {
                q[i] += dt * (weights.0 * iw.kq[i] + weights.1 * iw.kq[n + i] + weights.2 * iw.kq[2 * n + i] + weights.3 * iw.kq[3 * n + i])
                v[i] += dt * (weights.0 * iw.kv[i] + weights.1 * iw.kv[n + i] + weights.2 * iw.kv[2 * n + i] + weights.3 * iw.kv[3 * n + i])
            }
        }
    }
}
