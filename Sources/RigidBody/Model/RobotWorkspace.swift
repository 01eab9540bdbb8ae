import LinearAlgebra

/// Mutable scratch and results for one `RobotModel`. Single owner; pass it `inout`.
///
/// Every buffer is sized at creation and only overwritten afterwards, so the algorithms never
/// allocate as long as the arrays stay uniquely referenced (do not keep copies of them).
/// Results (`tau`, `ddq`, the matrices) have `dof` entries indexed like q, matrices `dof × dof`,
/// column-major. Per-body arrays (`poses`, `velocities`, …) have `treeCount` entries, one per tree
/// joint including mimic followers (`RobotModel.Frame.body` indexes them); without mimic joints
/// that is again one per entry of q.
public struct RobotWorkspace: Sendable {
    public let dof: Int
    /// Moving joints of the tree, mimic followers included (≥ `dof`).
    public let treeCount: Int

    /// ^λM_i: tree joint i's frame in its parent's frame (after `forwardKinematics` or any dynamics call).
    public internal(set) var parentPoses: [Transform]
    /// ^0M_i: tree joint i's frame in the base frame.
    public internal(set) var poses: [Transform]
    /// Body twists in joint frames (after `rnea`, `bias` or the energy functions).
    public internal(set) var velocities: [Motion]
    /// Body spatial accelerations (including the gravity offset) in joint frames (after `rnea`).
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

    // The kernels' results on the tree's coordinates, reduced into the ones above (through G;
    // copied when there are no mimic joints). (treeCount) and (treeCount × treeCount).
    @usableFromInline var treeTau: [Double]
    @usableFromInline var treeMassMatrix: [Double]
    @usableFromInline var treeTauDq: [Double]
    @usableFromInline var treeTauDv: [Double]
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
    // World-frame sweeps (RobotModel+WorldFrame.swift), per tree joint: S_i, twist, acceleration
    // (with −g), inertia (composite after the backward sweep), force, ∂v/∂q, ∂a/∂q, ∂a/∂v
    // directions, B's 3×3 block and momentum, F = Y^c S, ∂f/∂q, ∂f/∂v, B^cᵀ S.
    var worldSubspaces: [Motion]
    var worldVelocities: [Motion]
    var worldAccelerations: [Motion]
    var worldComposites: [OriginInertia]
    var worldForces: [Force]
    var dVdq: [Motion]
    var dAdq: [Motion]
    var dAdv: [Motion]
    var variationBlocks: [Matrix3]
    var variationMomenta: [Vector3]
    var dFda: [Force]
    var dFdq: [Force]
    var dFdv: [Force]
    var dYtJ: [Vector3]
    // Cholesky factor scratch, (dof × dof).
    @usableFromInline var factor: [Double]
    // Integrator scratch.
    @usableFromInline var scratchQ: [Double]
    @usableFromInline var scratchV: [Double]
    @usableFromInline var scratchTau: [Double]
    @usableFromInline var rk: [Double]

    init(dof n: Int, treeCount nt: Int) {
        self.dof = n
        self.treeCount = nt
        parentPoses = Array(repeating: .identity, count: nt)
        poses = Array(repeating: .identity, count: nt)
        velocities = Array(repeating: .zero, count: nt)
        accelerations = Array(repeating: .zero, count: nt)
        forces = Array(repeating: .zero, count: nt)
        treeTau = Array(repeating: 0, count: nt)
        treeMassMatrix = Array(repeating: 0, count: nt * nt)
        treeTauDq = Array(repeating: 0, count: nt * nt)
        treeTauDv = Array(repeating: 0, count: nt * nt)
        tau = Array(repeating: 0, count: n)
        ddq = Array(repeating: 0, count: n)
        massMatrix = Array(repeating: 0, count: n * n)
        massMatrixInverse = Array(repeating: 0, count: n * n)
        ddqDq = Array(repeating: 0, count: n * n)
        ddqDv = Array(repeating: 0, count: n * n)
        tauDq = Array(repeating: 0, count: n * n)
        tauDv = Array(repeating: 0, count: n * n)
        articulatedInertias = Array(repeating: .zero, count: nt)
        biasForces = Array(repeating: .zero, count: nt)
        biasAccelerations = Array(repeating: .zero, count: nt)
        u = Array(repeating: .zero, count: nt)
        d = Array(repeating: 0, count: nt)
        uTau = Array(repeating: 0, count: nt)
        compositeInertias = Array(repeating: .zero, count: nt)
        dv = Array(repeating: .zero, count: nt)
        da = Array(repeating: .zero, count: nt)
        df = Array(repeating: .zero, count: nt)
        dvV = Array(repeating: .zero, count: nt)
        daV = Array(repeating: .zero, count: nt)
        dfV = Array(repeating: .zero, count: nt)
        worldSubspaces = Array(repeating: .zero, count: nt)
        worldVelocities = Array(repeating: .zero, count: nt)
        worldAccelerations = Array(repeating: .zero, count: nt)
        worldComposites = Array(repeating: .zero, count: nt)
        worldForces = Array(repeating: .zero, count: nt)
        dVdq = Array(repeating: .zero, count: nt)
        dAdq = Array(repeating: .zero, count: nt)
        dAdv = Array(repeating: .zero, count: nt)
        variationBlocks = Array(repeating: .zero, count: nt)
        variationMomenta = Array(repeating: .zero, count: nt)
        dFda = Array(repeating: .zero, count: nt)
        dFdq = Array(repeating: .zero, count: nt)
        dFdv = Array(repeating: .zero, count: nt)
        dYtJ = Array(repeating: .zero, count: nt)
        factor = Array(repeating: 0, count: n * n)
        scratchQ = Array(repeating: 0, count: n)
        scratchV = Array(repeating: 0, count: n)
        scratchTau = Array(repeating: 0, count: n)
        rk = Array(repeating: 0, count: 8 * n)
    }
}
