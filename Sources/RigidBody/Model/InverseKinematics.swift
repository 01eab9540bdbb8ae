import LinearAlgebra
import RealModule

/// Inverse kinematics of one frame by damped least squares on the frame Jacobian
/// (`RobotModel.frameJacobian`), joint limits enforced by projection after every step.
///
/// One iteration at q, with m = 3 (position) or 6 (position and orientation):
///   e = p* − p(q)                                  (3)      J = J_v                 (3 × n)
///   e = [p* − p(q); w · log(R* R(q)ᵀ)]             (6)      J = [J_v; w · J_ω]      (6 × n)
///   Δq = Jᵀ (J Jᵀ + λ² I_m)⁻¹ e,  scaled so that max_i |Δq_i| ≤ maxStep
///   q ← clamp(q + Δq, lower, upper)
/// log R is R's rotation vector (axis · angle, base frame), the quantity the world-aligned angular
/// rows J_ω map joint velocities to; w (m/rad) weighs a radian against a metre. The iterate with
/// the smallest error is returned (clamping can make a later one worse).
///
/// A target out of reach (or reachable only past a joint limit) gets the nearest pose the
/// iterations find, inside the limits, with its residual error; `converged` says whether the
/// tolerances were met. Warm starts (the previous solution as the seed) make a stream of nearby
/// targets converge in a few iterations.
///
/// Owns its scratch; one thread at a time (`mutating`). Not for the control tick (it loops over
/// `iterations` forward kinematics).
public struct InverseKinematics: Sendable {
    public struct Options: Sendable, Equatable {
        /// Most iterations per `solve`.
        public var iterations = 20
        /// λ (m): larger is steadier near singular poses and out of reach, slower to converge.
        public var damping = 0.01
        /// Position error (m) and orientation error (rad) below which `solve` stops.
        public var tolerance = 1e-6
        public var orientationTolerance = 1e-5
        /// Largest change of one joint per iteration (rad or m).
        public var maxStep = 0.2
        /// w (m/rad): the weight of orientation errors against position errors.
        public var orientationWeight = 0.2

        public init() {}
    }

    public struct Solution: Sendable, Equatable {
        /// Joint positions (dof values), inside [lower, upper].
        public var q: [Double]
        /// |p* − p(q)| (m).
        public var positionError: Double
        /// The angle of R* R(q)ᵀ (rad); 0 without an orientation target.
        public var orientationError: Double
        /// Iterations run.
        public var iterations: Int
        /// Whether both errors are within the tolerances.
        public var converged: Bool
    }

    public let model: RobotModel
    public let frame: Int
    /// Joint limits the solution stays inside (dof values each).
    public let lower: [Double]
    public let upper: [Double]
    public var options: Options
    /// Origin of the first joint of the frame's chain (m, base frame): it never moves.
    public let base: Vector3
    /// An upper bound on |p − base| over every configuration (m): the sum of the chain's link
    /// lengths (joint origin to joint origin, then to the frame) plus the prismatic joints' travel.
    public let reach: Double

    private var workspace: RobotWorkspace
    /// (6 × dof), column-major, as `frameJacobian` writes it.
    private var jacobian: [Double]
    /// (m × m) row-major: J Jᵀ + λ² I, factored in place (Cholesky, lower).
    private var system: [Double]
    /// (m): e, then y = (J Jᵀ + λ² I)⁻¹ e.
    private var error: [Double]
    private var q: [Double]
    private var dq: [Double]
    private var best: [Double]

    /// - Parameters:
    ///   - frame: index into `model.frames`.
    ///   - lower, upper: joint limits (dof values each; the model's when nil).
    public init(model: RobotModel, frame: Int, lower: [Double]? = nil, upper: [Double]? = nil, options: Options = Options()) {
        precondition(frame >= 0 && frame < model.frames.count, "frame \(frame) of \(model.frames.count)")
        self.model = model
        self.frame = frame
        self.lower = lower ?? model.joints.map(\.lowerLimit)
        self.upper = upper ?? model.joints.map(\.upperLimit)
        precondition(self.lower.count == model.dof && self.upper.count == model.dof, "one limit per joint")
        self.options = options
        let n = model.dof
        workspace = model.makeWorkspace()
        jacobian = Array(repeating: 0, count: 6 * n)
        system = Array(repeating: 0, count: 36)
        error = Array(repeating: 0, count: 6)
        q = Array(repeating: 0, count: n)
        dq = Array(repeating: 0, count: n)
        best = Array(repeating: 0, count: n)

        // Reach: at q = 0 (link lengths do not depend on q for revolute joints).
        model.forwardKinematics(&workspace, q: q)
        let tip = model.framePose(workspace, frame: frame).translation
        var point = tip, total = 0.0, origin = tip
        var k = model.frames[frame].body
        while k >= 0 {
            origin = workspace.poses[k].translation
            total += (point - origin).norm
            if model.isPrismatic[k] {
                let j = model.coordinates[k]
                let travel = self.upper[j] - self.lower[j]
                total += abs(model.multipliers[k]) * (travel.isFinite ? travel : 0)
            }
            point = origin
            k = model.parents[k]
        }
        base = origin
        reach = total
    }

    /// Solves for the frame at `position` (m, base frame) and, when given, `orientation`
    /// (a rotation matrix, base frame), starting from `seed` (dof values; clamped into the limits).
    /// - Warning: Not real-time safe (iterates forward kinematics; allocates the result).
    public mutating func solve(position target: Vector3, orientation: Matrix3? = nil, seed: [Double]) -> Solution {
        precondition(seed.count == model.dof, "seed has \(seed.count) values, the model has \(model.dof) joints")
        let n = model.dof
        for i in 0 ..< n { q[i] = min(max(seed[i].isFinite ? seed[i] : 0.5 * (lower[i] + upper[i]), lower[i]), upper[i]) }
        var bestError = Double.infinity, bestPosition = 0.0, bestAngle = 0.0
        var iterations = 0
        var converged = false
        while true {
            let (p, angle) = evaluate(position: target, orientation: orientation)
            let w = options.orientationWeight
            let score = p * p + w * w * angle * angle
            if score < bestError {
                bestError = score
                bestPosition = p
                bestAngle = angle
                for i in 0 ..< n { best[i] = q[i] }
            }
            if p <= options.tolerance && angle <= options.orientationTolerance { converged = true; break }
            if iterations >= options.iterations { break }
            iterations += 1
            step(rows: orientation == nil ? 3 : 6)
        }
        return Solution(q: best, positionError: bestPosition, orientationError: bestAngle, iterations: iterations,
                        converged: converged)
    }

    /// Forward kinematics and the Jacobian at `q`; the error into `error` (rows 3–5 only with an
    /// orientation), and the jacobian's angular rows scaled by w.
    /// - Returns: |p* − p(q)| (m) and the error's angle (rad).
    private mutating func evaluate(position target: Vector3, orientation: Matrix3?) -> (position: Double, angle: Double) {
        model.forwardKinematics(&workspace, q: q)
        let pose = model.framePose(workspace, frame: frame)
        model.frameJacobian(workspace, frame: frame, into: &jacobian)
        let e = target - pose.translation
        error[0] = e.x; error[1] = e.y; error[2] = e.z
        guard let orientation else { return (e.norm, 0) }
        let r = Self.rotationVector(orientation * pose.rotation.transposed)
        let w = options.orientationWeight
        error[3] = w * r.x; error[4] = w * r.y; error[5] = w * r.z
        for j in 0 ..< model.dof {
            for row in 3 ..< 6 { jacobian[6 * j + row] *= w }
        }
        return (e.norm, r.norm)
    }

    /// q ← clamp(q + Δq) with Δq = Jᵀ (J Jᵀ + λ² I)⁻¹ e on the first `m` rows.
    private mutating func step(rows m: Int) {
        let n = model.dof
        let lambda2 = options.damping * options.damping
        for r in 0 ..< m {
            for c in 0 ... r {
                var s = 0.0
                for j in 0 ..< n { s += jacobian[6 * j + r] * jacobian[6 * j + c] }
                system[r * m + c] = s + (r == c ? lambda2 : 0)
            }
        }
        // Cholesky L Lᵀ of the symmetric positive-definite system (λ > 0), then two triangular solves.
        for j in 0 ..< m {
            var d = system[j * m + j]
            for k in 0 ..< j { d -= system[j * m + k] * system[j * m + k] }
            guard d > 0 else { return }
            let l = d.squareRoot()
            system[j * m + j] = l
            for i in (j + 1) ..< m {
                var s = system[i * m + j]
                for k in 0 ..< j { s -= system[i * m + k] * system[j * m + k] }
                system[i * m + j] = s / l
            }
        }
        for i in 0 ..< m {
            var s = error[i]
            for k in 0 ..< i { s -= system[i * m + k] * error[k] }
            error[i] = s / system[i * m + i]
        }
        for i in stride(from: m - 1, through: 0, by: -1) {
            var s = error[i]
            for k in (i + 1) ..< m { s -= system[k * m + i] * error[k] }
            error[i] = s / system[i * m + i]
        }
        var largest = 0.0
        for j in 0 ..< n {
            var s = 0.0
            for r in 0 ..< m { s += jacobian[6 * j + r] * error[r] }
            dq[j] = s
            largest = max(largest, abs(s))
        }
        let scale = largest > options.maxStep ? options.maxStep / largest : 1
        for j in 0 ..< n {
            let x = q[j] + scale * dq[j]
            q[j] = x.isFinite ? min(max(x, lower[j]), upper[j]) : q[j]
        }
    }

    /// The rotation vector (axis · angle, angle in [0, π]) of a rotation matrix: log R.
    ///   v = (R₂₁ − R₁₂, R₀₂ − R₂₀, R₁₀ − R₀₁) = 2 sin θ · a,  cos θ = (tr R − 1) / 2
    /// Near θ = π (sin θ → 0, cos θ < 0) the axis comes from R ≈ 2 a aᵀ − I instead.
    public static func rotationVector(_ r: Matrix3) -> Vector3 {
        let v = Vector3(r.m21 - r.m12, r.m02 - r.m20, r.m10 - r.m01)
        let s = 0.5 * v.norm
        let c = min(max(0.5 * (r.trace - 1), -1), 1)
        let theta = Double.atan2(y: s, x: c)
        if s > 1e-7 { return (theta / (2 * s)) * v }
        if c > 0 { return 0.5 * v }
        let d = [r.m00, r.m11, r.m22]
        let k = d[0] >= d[1] && d[0] >= d[2] ? 0 : d[1] >= d[2] ? 1 : 2
        var a = [0.0, 0.0, 0.0]
        a[k] = ((d[k] + 1) / 2).squareRoot()
        for j in 0 ..< 3 where j != k { a[j] = (r[j, k] + r[k, j]) / (4 * a[k]) }
        return theta * Vector3(a[0], a[1], a[2])
    }
}
