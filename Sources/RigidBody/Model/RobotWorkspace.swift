import LinearAlgebra

/// Mutable scratch and results for one `RobotModel`. Single owner; pass it `inout`.
///
/// Every buffer is sized at creation and only overwritten afterwards, so the algorithms never
/// allocate as long as the arrays stay uniquely referenced (do not keep copies of them).
/// Per-joint arrays have `dof` entries indexed like q; matrices are `dof × dof`, column-major.
public struct RobotWorkspace: Sendable {
    public let dof: Int

    /// ^λM_i: joint i's frame in its parent's frame (after `forwardKinematics` or any dynamics call).
    public internal(set) var parentPoses: [Transform]
    /// ^0M_i: joint i's frame in the base frame.
    public internal(set) var poses: [Transform]
    /// Body twists in joint frames.
    public internal(set) var velocities: [Motion]
    /// Body spatial accelerations (including the gravity offset) in joint frames.
    public internal(set) var accelerations: [Motion]
    /// RNEA: total force transmitted by joint i (body plus subtree), in joint frame i.
    public internal(set) var forces: [Force]

    /// Joint torques from `rnea` (N·m or N).
    public internal(set) var tau: [Double]
    /// Joint accelerations from `aba` (rad/s² or m/s²).
    public internal(set) var ddq: [Double]
    /// Joint-space mass matrix from `crba`, (dof × dof), symmetric.
    public internal(set) var massMatrix: [Double]
    /// Inverse mass matrix from `abaDerivatives`, (dof × dof), symmetric.
    public internal(set) var massMatrixInverse: [Double]
    /// ∂ddq/∂q and ∂ddq/∂v from `abaDerivatives`, (dof × dof) column-major: column j is ∂ddq/∂q_j.
    /// ∂ddq/∂τ is `massMatrixInverse`.
    public internal(set) var ddqDq: [Double]
    public internal(set) var ddqDv: [Double]
    /// ∂τ/∂q and ∂τ/∂v of RNEA from `rneaDerivatives`, (dof × dof) column-major.
    public internal(set) var tauDq: [Double]
    public internal(set) var tauDv: [Double]

    // ABA scratch.
    @usableFromInline var articulatedInertias: [SpatialMatrix]
    @usableFromInline var biasForces: [Force]
    @usableFromInline var biasAccelerations: [Motion]
    @usableFromInline var u: [Force]
    @usableFromInline var d: [Double]
    @usableFromInline var uTau: [Double]
    // CRBA scratch.
    @usableFromInline var compositeInertias: [SpatialInertia]
    // Derivative tangents (one direction at a time): velocity, acceleration, force.
    @usableFromInline var dv: [Motion]
    @usableFromInline var da: [Motion]
    @usableFromInline var df: [Force]
    @usableFromInline var dvV: [Motion]
    @usableFromInline var daV: [Motion]
    @usableFromInline var dfV: [Force]
    // Cholesky factor scratch, (dof × dof).
    @usableFromInline var factor: [Double]
    // Integrator scratch.
    @usableFromInline var scratchQ: [Double]
    @usableFromInline var scratchV: [Double]
    @usableFromInline var scratchTau: [Double]
    @usableFromInline var rk: [Double]

    init(dof n: Int) {
        self.dof = n
        parentPoses = Array(repeating: .identity, count: n)
        poses = Array(repeating: .identity, count: n)
        velocities = Array(repeating: .zero, count: n)
        accelerations = Array(repeating: .zero, count: n)
        forces = Array(repeating: .zero, count: n)
        tau = Array(repeating: 0, count: n)
        ddq = Array(repeating: 0, count: n)
        massMatrix = Array(repeating: 0, count: n * n)
        massMatrixInverse = Array(repeating: 0, count: n * n)
        ddqDq = Array(repeating: 0, count: n * n)
        ddqDv = Array(repeating: 0, count: n * n)
        tauDq = Array(repeating: 0, count: n * n)
        tauDv = Array(repeating: 0, count: n * n)
        articulatedInertias = Array(repeating: .zero, count: n)
        biasForces = Array(repeating: .zero, count: n)
        biasAccelerations = Array(repeating: .zero, count: n)
        u = Array(repeating: .zero, count: n)
        d = Array(repeating: 0, count: n)
        uTau = Array(repeating: 0, count: n)
        compositeInertias = Array(repeating: .zero, count: n)
        dv = Array(repeating: .zero, count: n)
        da = Array(repeating: .zero, count: n)
        df = Array(repeating: .zero, count: n)
        dvV = Array(repeating: .zero, count: n)
        daV = Array(repeating: .zero, count: n)
        dfV = Array(repeating: .zero, count: n)
        factor = Array(repeating: 0, count: n * n)
        scratchQ = Array(repeating: 0, count: n)
        scratchV = Array(repeating: 0, count: n)
        scratchTau = Array(repeating: 0, count: n)
        rk = Array(repeating: 0, count: 8 * n)
    }
}
