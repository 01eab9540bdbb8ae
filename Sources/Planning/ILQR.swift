import CRiccati

/// Box-constrained iterative LQR (DDP with Gauss–Newton dynamics), anytime and allocation-free
/// after construction.
///
/// Each iteration: linearise the dynamics and expand the cost along the current trajectory;
/// backward pass — for k = T−1 … 0,
///   Q_x = l_x + f_xᵀV_x,  Q_u = l_u + f_uᵀV_x,  Q_xx = l_xx + f_xᵀV_xx f_x,
///   Q_uu = l_uu + f_uᵀV_xx f_u + μI,  Q_ux = l_ux + f_uᵀV_xx f_x,
/// the feedforward k = argmin ½δuᵀQ_uu δu + Q_uᵀδu over the control box (projected Newton, as in
/// Tassa, Mansard & Todorov, "Control-limited differential dynamic programming", 2014) and the
/// gain K = −Q_uu,ff⁻¹ Q_ux,f on the free controls (rows of clamped controls are zero); then
///   V_x = Q_x + Kᵀ Q_uu k + Kᵀ Q_u + Q_uxᵀ k,  V_xx = Q_xx + Kᵀ Q_uu K + Kᵀ Q_ux + Q_uxᵀ K;
/// forward pass — roll out u = ū + α k + K (x − x̄), clamped, for α = 1, ½, ¼, … and accept the
/// first α whose actual decrease is at least 10⁻⁴ of the predicted α·ΔV₁ + α²·ΔV₂.
/// μ follows the Levenberg–Marquardt schedule of Tassa et al. (geometric factor growing with
/// repeated changes): divided after a step with α ≥ ½, multiplied after one with α ≤ 0.01, when
/// Q_uu is not positive definite, or when no step is accepted.
///
/// Every outcome is a `Status`, never a throw; the trajectory held is always the best found.
public final class ILQRSolver<Dynamics: DynamicsModel, Cost: TrajectoryCost> {
    public struct Options: Sendable {
        public var maxIterations = 100
        /// Converged when the predicted decrease of a full step falls below this.
        public var tolerance = 1e-9
        public var initialRegularization = 1e-6
        public var minRegularization = 1e-9
        public var maxRegularization = 1e10
        /// Box bounds on the controls; unbounded by default.
        public var bounds = ControlBounds()
        /// The build of the backward pass's kernels (0 baseline, 1 AVX2+FMA, 2 AVX-512F), capped
        /// to what the CPU supports; nil = AVX2+FMA where the CPU has it, else baseline. The
        /// builds round differently in the last bits (the wider ones fuse multiply-adds); tests
        /// run each through this.
        public var kernelBuild: Int? = nil
        public init() {}
    }

    public enum Status: String, Sendable, Equatable {
        /// Predicted improvement below tolerance.
        case converged
        case maxIterations
        /// Stopped at the wall-clock budget with the best plan so far.
        case budgetExhausted
        /// μ exceeded its maximum (no descent found).
        case regularizationLimit
        /// The initial rollout or linearisation produced non-finite values.
        case invalidDynamics
    }

    public struct Result: Sendable, Equatable {
        public var status: Status
        public var iterations: Int
        public var cost: Double
        public var initialCost: Double
        /// Predicted decrease of a full step at the last backward pass.
        public var expectedImprovement: Double
        public var regularization: Double
        public var nanoseconds: UInt64
        /// Time spent linearising dynamics and cost.
        public var derivativeNanoseconds: UInt64
        /// Time spent in backward passes (Riccati recursion, gains), retries after a failed
        /// factorisation included.
        public var backwardPassNanoseconds: UInt64 = 0
        /// Time spent in the line search (rollouts of the new policy and their cost).
        public var lineSearchNanoseconds: UInt64 = 0
    }

    public let dynamics: Dynamics
    public var cost: Cost
    public let horizon: Int
    public let nx: Int
    public let nu: Int
    public var options: Options

    private var dynamicsWorkspace: Dynamics.Workspace
    private var costWorkspace: Cost.Workspace
    private let buffer: UnsafeMutablePointer<Double>
    private let bufferCount: Int
    // Views into `buffer`.
    private let x0, xs, us, xsNew, usNew, fx, fu, kff, gains: UnsafeMutablePointer<Double>
    private let lx, lu, lxx, luu, lux: UnsafeMutablePointer<Double>
    private let vx, vxx, qx, qu, qxx, quu, qux, vxxFx, vxxFu, factor, qpGrad, qpStep, qpTrial, lower, upper, dx: UnsafeMutablePointer<Double>
    /// Q_uu and Q_ux without regularisation (the value-function update); `quu`/`qux` hold the
    /// regularised ones the step is solved with.
    private let quuTrue, quxTrue: UnsafeMutablePointer<Double>
    /// Defects of a multiple-shooting iterate (FDDP, Mastalli et al. 2020): gaps[0] = x0 − x₀,
    /// gaps[k+1] = f(x_k, u_k) − x_{k+1}. Zero for a rolled-out (feasible) trajectory.
    private let gaps, vnext, zs, zsNext: UnsafeMutablePointer<Double>
    private var statesGiven = false
    /// What each rollout step left for `linearize` at its (x_k, u_k) (T × `recordCount`, e.g. the
    /// arm's accelerations), for `us`/`xs` and for the candidate; valid while `xs`/`us` are a
    /// rollout's (FDDP's reuse of the forward pass: no second ABA when linearising).
    private let records, recordsNew: UnsafeMutablePointer<Double>
    private let recordCount: Int
    private var recordsValid = false
    private var feasible = true
    private let free: UnsafeMutablePointer<Bool>
    /// The CRiccati kernels' default build on this CPU and the widest it supports.
    private let defaultKernelBuild: Int, widestKernelBuild: Int

    /// The build of the backward pass's kernels the next solve runs (0 baseline, 1 AVX2+FMA,
    /// 2 AVX-512F): `options.kernelBuild` capped to what the CPU supports, else the default
    /// (AVX2+FMA where the CPU has it).
    public var kernelBuild: Int { options.kernelBuild.map { min(max($0, 0), widestKernelBuild) } ?? defaultKernelBuild }
    private var mu: Double
    private var muFactor = 1.0
    private var currentCost = Double.infinity
    private var hasTrajectory = false
    /// `gains` hold the feedback policy of the newest solve (a backward pass succeeded).
    private var policyValid = false
    /// The next solve's first rollout follows the shifted policy (`shift(by:)`).
    private var warmPolicy = false

    /// - Warning: Not real-time safe (allocates every buffer the iterations use).
    public init(dynamics: Dynamics, cost: Cost, horizon: Int, options: Options = Options()) {
        precondition(horizon >= 1, "horizon must be at least 1")
        self.dynamics = dynamics
        self.cost = cost
        self.horizon = horizon
        self.options = options
        let nx = dynamics.stateDimension, nu = dynamics.controlDimension
        self.nx = nx
        self.nu = nu
        let T = horizon
        let sizes = [
            nx, (T + 1) * nx, T * nu, (T + 1) * nx, T * nu, T * nx * nx, T * nx * nu, T * nu, T * nu * nx,
            (T + 1) * nx, T * nu, (T + 1) * nx * nx, T * nu * nu, T * nu * nx,
            nx, nx * nx, nx, nu, nx * nx, nu * nu, nu * nx, nx * nx, nx * nu, nu * nu, nu, nu, nu, nu, nu, nx,
            nu * nu, nu * nx, (T + 1) * nx, nx, nx, nx,
            T * dynamics.stepRecordCount, T * dynamics.stepRecordCount,
        ]
        let count = sizes.reduce(0, +)
        let base = UnsafeMutablePointer<Double>.allocate(capacity: count)
        base.initialize(repeating: 0, count: count)
        bufferCount = count
        buffer = base
        var offsets: [Int] = []
        var running = 0
        for size in sizes {
            offsets.append(running)
            running += size
        }
        func next(_ k: Int) -> UnsafeMutablePointer<Double> { base + offsets[k] }
        x0 = next(0); xs = next(1); us = next(2); xsNew = next(3); usNew = next(4); fx = next(5); fu = next(6)
        kff = next(7); gains = next(8); lx = next(9); lu = next(10); lxx = next(11); luu = next(12); lux = next(13)
        vx = next(14); vxx = next(15); qx = next(16); qu = next(17); qxx = next(18); quu = next(19); qux = next(20)
        vxxFx = next(21); vxxFu = next(22); factor = next(23); qpGrad = next(24); qpStep = next(25); qpTrial = next(26)
        lower = next(27); upper = next(28); dx = next(29); quuTrue = next(30); quxTrue = next(31)
        gaps = next(32); vnext = next(33); zs = next(34); zsNext = next(35)
        records = next(36); recordsNew = next(37)
        recordCount = dynamics.stepRecordCount
        free = .allocate(capacity: nu)
        free.initialize(repeating: true, count: nu)
        dynamicsWorkspace = dynamics.makeWorkspace()
        costWorkspace = cost.makeWorkspace()
        mu = options.initialRegularization
        defaultKernelBuild = Int(CRiccati_selectedBuild())
        widestKernelBuild = Int(CRiccati_widestBuild())
    }

    deinit {
        buffer.deallocate()
        free.deallocate()
    }

    // MARK: - Trajectory access

    /// Sets the initial control guess (T·nu values, node-major); the states follow from the next
    /// rollout from x0.
    public func setControls(_ controls: [Double]) {
        precondition(controls.count == horizon * nu, "controls: T·nu values")
        for i in 0 ..< horizon * nu { us[i] = controls[i] }
        hasTrajectory = false
        statesGiven = false
        warmPolicy = false
        recordsValid = false
    }

    /// Sets an initial state guess ((T+1)·nx values) that need not be dynamically consistent
    /// (nor start at x0): the solver then starts infeasible and closes the gaps as it goes, as
    /// FDDP does — which keeps a poor guess (say, all zeros) from being rolled out into a
    /// trajectory far from anything useful.
    public func setStates(_ states: [Double]) {
        precondition(states.count == (horizon + 1) * nx, "states: (T+1)·nx values")
        for i in 0 ..< (horizon + 1) * nx { xs[i] = states[i] }
        statesGiven = true
        warmPolicy = false
        recordsValid = false
    }

    /// Warm start for MPC: drops the first `steps` nodes and repeats the last one at the end.
    ///
    /// After a solve that produced a feedback policy, the states and gains shift with the
    /// controls and the next solve's first rollout follows that policy from its new x0,
    /// u_k = ū_k + K_k (x_k − x̄_k) (clamped to the bounds), rather than replaying ū open loop:
    /// the measured state never matches the plan's exactly, and on a light, fast arm an open-loop
    /// torque sequence from a slightly different state diverges within the horizon (the Koch's
    /// distal links: 0.4 g·m² of armature against 0.5 N·m), leaving iLQR a useless start.
    /// - Note: Real-time safe: no allocation, no locks.
    public func shift(by steps: Int) {
        guard steps > 0 else { return }
        let s = min(steps, horizon)
        for k in 0 ..< horizon {
            let src = min(k + s, horizon - 1)
            for i in 0 ..< nu { us[k * nu + i] = us[src * nu + i] }
        }
        if hasTrajectory, policyValid {
            for k in 0 ... horizon {
                let src = min(k + s, horizon)
                for i in 0 ..< nx { xs[k * nx + i] = xs[src * nx + i] }
            }
            for k in 0 ..< horizon {
                let src = min(k + s, horizon - 1)
                for i in 0 ..< nu * nx { gains[k * nu * nx + i] = gains[src * nu * nx + i] }
            }
            warmPolicy = true
        }
        hasTrajectory = false
        recordsValid = false
    }

    /// State of node k (0 … T) into `out` (nx values).
    public func state(_ k: Int, into out: UnsafeMutablePointer<Double>) {
        for i in 0 ..< nx { out[i] = xs[k * nx + i] }
    }

    /// Control of node k (0 … T−1) into `out` (nu values).
    public func control(_ k: Int, into out: UnsafeMutablePointer<Double>) {
        for i in 0 ..< nu { out[i] = us[k * nu + i] }
    }

    /// Feedback gain of node k (nu × nx, row-major) into `out`.
    public func gain(_ k: Int, into out: UnsafeMutablePointer<Double>) {
        for i in 0 ..< nu * nx { out[i] = gains[k * nu * nx + i] }
    }

    public var states: [Double] { Array(UnsafeBufferPointer(start: xs, count: (horizon + 1) * nx)) }
    public var controls: [Double] { Array(UnsafeBufferPointer(start: us, count: horizon * nu)) }
    public var feedbackGains: [Double] { Array(UnsafeBufferPointer(start: gains, count: horizon * nu * nx)) }

    // MARK: - Solve

    /// Optimises from `initialState` until convergence, `options.maxIterations`, or the budget:
    /// `now` is a monotonic clock (ns) and `budget` the wall-clock allowance (ns).
    /// - Note: Real-time safe after the first call (no allocation); bounded by the budget.
    public func solve(from initialState: UnsafePointer<Double>, maxIterations: Int? = nil, budget: UInt64? = nil,
                      now: (() -> UInt64)? = nil) -> Result {
        let start = now?() ?? 0
        var derivativeTime: UInt64 = 0
        for i in 0 ..< nx { x0[i] = initialState[i] }
        for i in 0 ..< nu {
            lower[i] = options.bounds.lower(i)
            upper[i] = options.bounds.upper(i)
            for k in 0 ..< horizon { us[k * nu + i] = min(max(us[k * nu + i], lower[i]), upper[i]) }
        }
        var result = Result(status: .maxIterations, iterations: 0, cost: 0, initialCost: 0, expectedImprovement: 0,
                            regularization: mu, nanoseconds: 0, derivativeNanoseconds: 0)
        let j0: Double
        if statesGiven {
            statesGiven = false
            j0 = evaluate()
            feasible = false
        } else {
            // The shifted policy first (no gaps to close: the rollout is the new iterate), then
            // the controls open loop.
            let warm = warmPolicy
            warmPolicy = false
            feasible = true
            guard let j = (warm ? rollout(alpha: 0, feedback: true) : nil) ?? rollout(alpha: 0, feedback: false) else {
                result.status = .invalidDynamics
                result.cost = .infinity
                policyValid = false
                return result
            }
            swapCandidate()
            j0 = j
            feasible = true
            for i in 0 ..< (horizon + 1) * nx { gaps[i] = 0 }
        }
        currentCost = j0
        result.initialCost = j0
        mu = max(mu, options.initialRegularization)
        let iterations = maxIterations ?? options.maxIterations

        var it = 0
        while it < iterations {
            // One clock reading per phase boundary: the budget check's is the derivatives' start,
            // each phase's end the next one's start.
            let t0 = now?() ?? 0
            if let budget, now != nil, t0 &- start >= budget {
                result.status = .budgetExhausted
                break
            }
            guard linearizeAll() else {
                result.status = .invalidDynamics
                break
            }
            let t1 = now?() ?? 0
            derivativeTime &+= t1 &- t0
            var dV1 = 0.0, dV2 = 0.0
            var backwardOK = false
            while !backwardOK {
                if let change = backwardPass() {
                    // A feasible iterate's prediction falls out of the backward pass; with open
                    // gaps it needs the linearised policy rollout.
                    (dV1, dV2) = feasible ? change : expectedChange()
                    backwardOK = true
                } else {
                    increaseRegularization()
                    if mu > options.maxRegularization { break }
                }
            }
            let t2 = now?() ?? 0
            result.backwardPassNanoseconds &+= t2 &- t1
            if !backwardOK {
                result.status = .regularizationLimit
                break
            }
            it += 1
            result.expectedImprovement = -(dV1 + dV2)
            if -(dV1 + dV2) < options.tolerance, feasible {
                result.status = .converged
                decreaseRegularization()
                break
            }
            defer { result.lineSearchNanoseconds &+= (now?() ?? 0) &- t2 }
            var accepted = false
            var alpha = 1.0
            while alpha >= 1e-4 {
                if let j = rollout(alpha: alpha, feedback: true) {
                    let expected = -(alpha * dV1 + alpha * alpha * dV2)
                    if currentCost - j > 1e-4 * expected || (expected <= 0 && j < currentCost) {
                        swapCandidate()
                        currentCost = j
                        accepted = true
                        // A step of α closes that fraction of every gap.
                        if !feasible {
                            for i in 0 ..< (horizon + 1) * nx { gaps[i] *= 1 - alpha }
                            feasible = alpha == 1
                        }
                        break
                    }
                }
                alpha *= 0.5
            }
            if accepted {
                // As in Crocoddyl: a full-ish step means the model is trusted (less damping); a
                // tiny one means it is not (more damping); in between μ stays.
                if alpha >= 0.5 { decreaseRegularization() } else if alpha <= 0.01 { increaseRegularization() }
            } else {
                increaseRegularization()
                if mu > options.maxRegularization {
                    result.status = .regularizationLimit
                    break
                }
            }
        }
        // Gains from this solve's backward passes; an earlier solve's no longer match `xs`.
        policyValid = it > 0
        result.iterations = it
        result.cost = currentCost
        result.regularization = mu
        result.nanoseconds = (now?() ?? 0) &- start
        result.derivativeNanoseconds = derivativeTime
        hasTrajectory = true
        return result
    }

    /// The total cost of the current trajectory.
    public var trajectoryCost: Double { currentCost }

    // MARK: - Parts

    private func increaseRegularization() {
        muFactor = max(2, muFactor * 2)
        mu = max(options.minRegularization, mu * muFactor)
    }

    private func decreaseRegularization() {
        muFactor = min(1 / 2, muFactor / 2)
        mu = mu * muFactor
        if mu < options.minRegularization { mu = options.minRegularization }
    }

    /// Rolls out into xsNew/usNew: α = 0 and no feedback replays `us` open loop from x0.
    /// Returns the cost, or nil when the dynamics fail.
    private func rollout(alpha: Double, feedback: Bool) -> Double? {
        // x̂₀ = x0 − (1−α)·gap₀ and x̂_{k+1} = f(x̂_k, û_k) − (1−α)·gap_{k+1}: a step of α closes
        // that fraction of each gap (none are open for a feasible iterate).
        let open = feedback && !feasible ? 1 - alpha : 0
        for i in 0 ..< nx { xsNew[i] = x0[i] - open * gaps[i] }
        var total = 0.0
        for k in 0 ..< horizon {
            let x = xsNew + k * nx, u = usNew + k * nu
            if feedback {
                for i in 0 ..< nx { dx[i] = x[i] - xs[k * nx + i] }
                for r in 0 ..< nu {
                    var v = us[k * nu + r] + alpha * kff[k * nu + r]
                    let g = gains + (k * nu + r) * nx
                    for c in 0 ..< nx { v += g[c] * dx[c] }
                    u[r] = min(max(v, lower[r]), upper[r])
                }
            } else {
                for r in 0 ..< nu { u[r] = us[k * nu + r] }
            }
            total += cost.value(&costWorkspace, node: k, horizon: horizon, x: x, u: u)
            let stepped = recordCount > 0
                ? dynamics.step(&dynamicsWorkspace, x: x, u: u, next: xsNew + (k + 1) * nx, record: recordsNew + k * recordCount)
                : dynamics.step(&dynamicsWorkspace, x: x, u: u, next: xsNew + (k + 1) * nx)
            guard stepped else { return nil }
            if open != 0 {
                for i in 0 ..< nx { xsNew[(k + 1) * nx + i] -= open * gaps[(k + 1) * nx + i] }
            }
        }
        total += cost.value(&costWorkspace, node: horizon, horizon: horizon, x: xsNew + horizon * nx, u: nil)
        return total.isFinite ? total : nil
    }

    /// The cost of the current (possibly infeasible) iterate as it stands.
    private func evaluate() -> Double {
        var total = 0.0
        for k in 0 ..< horizon { total += cost.value(&costWorkspace, node: k, horizon: horizon, x: xs + k * nx, u: us + k * nu) }
        return total + cost.value(&costWorkspace, node: horizon, horizon: horizon, x: xs + horizon * nx, u: nil)
    }

    /// Predicted change of the cost along the new policy, α·d₁ + α²·d₂, from the quadratic model
    /// rolled out linearly: z₀ = gap₀, z_{k+1} = A z_k + B δu_k + gap_{k+1}, δu_k = k_k + K_k z_k,
    /// d₁ = Σ l_xᵀz + l_uᵀδu, d₂ = ½ Σ (zᵀl_xx z + 2δuᵀl_ux z + δuᵀl_uu δu). Exact for the model,
    /// with or without gaps (δx = α z since the policy is linear). Returns (d₁, d₂).
    private func expectedChange() -> (Double, Double) {
        var d1 = 0.0, d2 = 0.0
        for i in 0 ..< nx { zs[i] = feasible ? 0 : gaps[i] }
        for k in 0 ..< horizon {
            let K = gains + k * nu * nx, kk = kff + k * nu
            for r in 0 ..< nu {
                var v = kk[r]
                for c in 0 ..< nx { v += K[r * nx + c] * zs[c] }
                qpTrial[r] = v
            }
            let Lx = lx + k * nx, Lu = lu + k * nu, Lxx = lxx + k * nx * nx, Luu = luu + k * nu * nu, Lux = lux + k * nu * nx
            for i in 0 ..< nx {
                d1 += Lx[i] * zs[i]
                var s = 0.0
                for j in 0 ..< nx { s += Lxx[i * nx + j] * zs[j] }
                d2 += 0.5 * zs[i] * s
            }
            for r in 0 ..< nu {
                d1 += Lu[r] * qpTrial[r]
                var s = 0.0
                for c in 0 ..< nu { s += Luu[r * nu + c] * qpTrial[c] }
                var t = 0.0
                for c in 0 ..< nx { t += Lux[r * nx + c] * zs[c] }
                d2 += qpTrial[r] * (0.5 * s + t)
            }
            let A = fx + k * nx * nx, B = fu + k * nx * nu
            for i in 0 ..< nx {
                var s = feasible ? 0 : gaps[(k + 1) * nx + i]
                for j in 0 ..< nx { s += A[i * nx + j] * zs[j] }
                for r in 0 ..< nu { s += B[i * nu + r] * qpTrial[r] }
                zsNext[i] = s
            }
            for i in 0 ..< nx { zs[i] = zsNext[i] }
        }
        let Lx = lx + horizon * nx, Lxx = lxx + horizon * nx * nx
        for i in 0 ..< nx {
            d1 += Lx[i] * zs[i]
            var s = 0.0
            for j in 0 ..< nx { s += Lxx[i * nx + j] * zs[j] }
            d2 += 0.5 * zs[i] * s
        }
        return (d1, d2)
    }

    /// The candidate (a rollout's) becomes the iterate, with its steps' records.
    private func swapCandidate() {
        for i in 0 ..< (horizon + 1) * nx { xs[i] = xsNew[i] }
        for i in 0 ..< horizon * nu { us[i] = usNew[i] }
        for i in 0 ..< horizon * recordCount { records[i] = recordsNew[i] }
        recordsValid = true
    }

    private func linearizeAll() -> Bool {
        let T = horizon
        if !feasible { for i in 0 ..< nx { gaps[i] = x0[i] - xs[i] } }
        for i in 0 ..< (T + 1) * nx { lx[i] = 0 }
        for i in 0 ..< T * nu { lu[i] = 0 }
        for i in 0 ..< (T + 1) * nx * nx { lxx[i] = 0 }
        for i in 0 ..< T * nu * nu { luu[i] = 0 }
        for i in 0 ..< T * nu * nx { lux[i] = 0 }
        for k in 0 ... T {
            let x = xs + k * nx
            if k < T {
                let linearized = recordsValid && recordCount > 0
                    ? dynamics.linearize(&dynamicsWorkspace, x: x, u: us + k * nu, record: records + k * recordCount,
                                         next: xsNew + (k + 1) * nx, fx: fx + k * nx * nx, fu: fu + k * nx * nu)
                    : dynamics.linearize(&dynamicsWorkspace, x: x, u: us + k * nu, next: xsNew + (k + 1) * nx,
                                         fx: fx + k * nx * nx, fu: fu + k * nx * nu)
                guard linearized else { return false }
                if !feasible {
                    for i in 0 ..< nx { gaps[(k + 1) * nx + i] = xsNew[(k + 1) * nx + i] - xs[(k + 1) * nx + i] }
                }
            }
            // The terminal node has no control: its u-derivatives go to scratch.
            let d = k < T
                ? CostDerivatives(lx: lx + k * nx, lu: lu + k * nu, lxx: lxx + k * nx * nx, luu: luu + k * nu * nu, lux: lux + k * nu * nx)
                : CostDerivatives(lx: lx + k * nx, lu: qu, lxx: lxx + k * nx * nx, luu: quu, lux: qux)
            _ = cost.derivatives(&costWorkspace, node: k, horizon: T, x: x, u: k < T ? us + k * nu : nil, into: d)
        }
        return true
    }

    /// Returns (ΔV₁, ΔV₂) = (Σ kᵀQ_u, ½ Σ kᵀQ_uu k) — for a feasible iterate the predicted change
    /// is α·ΔV₁ + α²·ΔV₂ — or nil when some Q_uu (regularised) is not positive definite on the
    /// free controls.
    ///
    /// At n = 6 (nx = 12, nu = 6) every product here is a few hundred multiply-adds, so they are
    /// fused loops, not BLAS calls (whose per-call overhead would dominate): the O(nx³) ones in
    /// CRiccati (built for baseline, AVX2+FMA and AVX-512F, `kernelBuild` picked at load time),
    /// the O(nx·nu) ones here in row-axpy form, `out_row += a · in_row`, over local copies of the
    /// buffers' pointers (a store through one `UnsafeMutablePointer` would otherwise make the
    /// compiler reload the others from `self`).
    private func backwardPass() -> (Double, Double)? {
        let T = horizon, nx = self.nx, nu = self.nu, mu = self.mu, feasible = self.feasible
        let fx = self.fx, fu = self.fu, lx = self.lx, lu = self.lu, lxx = self.lxx, luu = self.luu, lux = self.lux
        let vx = self.vx, vxx = self.vxx, qx = self.qx, qu = self.qu, qxx = self.qxx, quu = self.quu, qux = self.qux
        let quuTrue = self.quuTrue, quxTrue = self.quxTrue, gaps = self.gaps, vnext = self.vnext
        // Scratch of the kernels: vA = V_xx·A (nx × nx), vB = V_xx·B (nx × nu), then M (nu × nx).
        let vA = self.vxxFx, vB = self.vxxFu
        let kernelBuild = Int32(self.kernelBuild)
        let kff = self.kff, gains = self.gains, qpStep = self.qpStep
        for i in 0 ..< nx { vx[i] = lx[T * nx + i] }
        for i in 0 ..< nx * nx { vxx[i] = lxx[T * nx * nx + i] }
        var dV1 = 0.0, dV2 = 0.0
        for k in stride(from: T - 1, through: 0, by: -1) {
            let A = fx + k * nx * nx, B = fu + k * nx * nu
            // v' = V_x + V_xx·gap_{k+1}: the next value's gradient where the linearised step lands.
            for i in 0 ..< nx { vnext[i] = vx[i] }
            if !feasible {
                let gap = gaps + (k + 1) * nx
                for m in 0 ..< nx {
                    let g = gap[m], row = vxx + m * nx
                    for i in 0 ..< nx { vnext[i] += g * row[i] }
                }
            }
            // Q_x = l_x + Aᵀv', Q_u = l_u + Bᵀv'.
            for i in 0 ..< nx { qx[i] = lx[k * nx + i] }
            for i in 0 ..< nu { qu[i] = lu[k * nu + i] }
            for m in 0 ..< nx {
                let g = vnext[m], rowA = A + m * nx, rowB = B + m * nu
                for i in 0 ..< nx { qx[i] += g * rowA[i] }
                for i in 0 ..< nu { qu[i] += g * rowB[i] }
            }
            // Q_xx = l_xx + Aᵀ(V_xx A), Q_uu = l_uu + Bᵀ(V_xx B), Q_ux = l_ux + Bᵀ(V_xx A) and the
            // regularised Q̃_uu = Q_uu + μ BᵀB, Q̃_ux = Q_ux + μ BᵀA: regularisation on the state
            // (Tassa, Erez & Todorov 2012), i.e. V_xx + μI, which damps the change of the next
            // state rather than of the controls (better scaled when B spans orders of magnitude,
            // as dt·M⁻¹ does).
            CRiccati_qBlocks(kernelBuild, nx, nu, vxx, A, B, lxx + k * nx * nx, luu + k * nu * nu, lux + k * nu * nx, mu,
                             vA, vB, qxx, quuTrue, quxTrue, quu, qux)

            let kk = kff + k * nu, K = gains + k * nu * nx
            guard solveBoxQP(k: k, into: kk) else { return nil }
            solveGains(K)
            // Q_uu·k serves the predicted change and, with M = Q_uu·K + Q_ux (true Q), the
            // value-function update (Tassa's form, valid with clamping):
            //   V_x = Q_x + Kᵀ(Q_uu k + Q_u) + Q_uxᵀ k,   V_xx = Q_xx + Kᵀ M + Q_uxᵀ K.
            for r in 0 ..< nu {
                let quuRow = quuTrue + r * nu
                var sk = 0.0
                for c in 0 ..< nu { sk += quuRow[c] * kk[c] }
                qpStep[r] = sk
                dV1 += kk[r] * qu[r]
                dV2 += 0.5 * kk[r] * sk
            }
            for i in 0 ..< nx { vx[i] = qx[i] }
            for r in 0 ..< nu {
                let a = qpStep[r] + qu[r], b = kk[r], kRow = K + r * nx, quxRow = quxTrue + r * nx
                for i in 0 ..< nx { vx[i] += a * kRow[i] + b * quxRow[i] }
            }
            CRiccati_valueHessian(kernelBuild, nx, nu, qxx, quuTrue, quxTrue, K, vB, vxx)
        }
        return (dV1, dV2)
    }

    /// K = −Q̃_uu,ff⁻¹ Q̃_ux,f on the free rows, zero on the clamped ones (`factor` holds the free
    /// block's Cholesky factor L): forward then back substitution a whole row of K at a time,
    ///   Y_i = (−Q̃_ux,i − Σ_{m<i} L_im Y_m) / L_ii,   K_i = (Y_i − Σ_{m>i} L_mi K_m) / L_ii,
    /// in place in K.
    private func solveGains(_ K: UnsafeMutablePointer<Double>) {
        let nx = self.nx, nu = self.nu, factor = self.factor, qux = self.qux, free = self.free
        for i in 0 ..< nu {
            let row = K + i * nx
            guard free[i] else {
                for j in 0 ..< nx { row[j] = 0 }
                continue
            }
            let q = qux + i * nx
            for j in 0 ..< nx { row[j] = -q[j] }
            for m in 0 ..< i where free[m] {
                let l = factor[i * nu + m], other = K + m * nx
                for j in 0 ..< nx { row[j] -= l * other[j] }
            }
            let d = factor[i * nu + i]
            for j in 0 ..< nx { row[j] /= d }
        }
        for i in stride(from: nu - 1, through: 0, by: -1) where free[i] {
            let row = K + i * nx
            for m in (i + 1) ..< nu where free[m] {
                let l = factor[m * nu + i], other = K + m * nx
                for j in 0 ..< nx { row[j] -= l * other[j] }
            }
            let d = factor[i * nu + i]
            for j in 0 ..< nx { row[j] /= d }
        }
    }

    /// min ½ δuᵀQ_uu δu + Q_uᵀ δu over lower − ū ≤ δu ≤ upper − ū, warm-started from the previous
    /// feedforward, by projected Newton. Leaves the free set in `free` and the Cholesky factor of
    /// the free block in `factor`. False when that block is not positive definite.
    private func solveBoxQP(k: Int, into d: UnsafeMutablePointer<Double>) -> Bool {
        let u = us + k * nu
        var bounded = false
        for i in 0 ..< nu where lower[i].isFinite || upper[i].isFinite { bounded = true }
        if !bounded {
            for i in 0 ..< nu { free[i] = true }
            guard choleskyFree() else { return false }
            for i in 0 ..< nu { d[i] = -qu[i] }
            choleskySolveFree(d)
            return true
        }
        for i in 0 ..< nu { d[i] = min(max(d[i], lower[i] - u[i]), upper[i] - u[i]) }
        func value(_ x: UnsafeMutablePointer<Double>) -> Double {
            var v = 0.0
            for r in 0 ..< nu {
                var s = 0.0
                for c in 0 ..< nu { s += quu[r * nu + c] * x[c] }
                v += x[r] * (0.5 * s + qu[r])
            }
            return v
        }
        var factored = false
        for _ in 0 ..< 30 {
            for r in 0 ..< nu {
                var s = qu[r]
                for c in 0 ..< nu { s += quu[r * nu + c] * d[c] }
                qpGrad[r] = s
            }
            var anyFree = false
            for i in 0 ..< nu {
                let atLower = d[i] <= lower[i] - u[i] && qpGrad[i] > 0
                let atUpper = d[i] >= upper[i] - u[i] && qpGrad[i] < 0
                free[i] = !(atLower || atUpper)
                anyFree = anyFree || free[i]
            }
            guard anyFree else { factored = false; break }
            guard choleskyFree() else { return false }
            factored = true
            var gradNorm = 0.0
            for i in 0 ..< nu where free[i] { gradNorm += qpGrad[i] * qpGrad[i] }
            if gradNorm < 1e-20 { break }
            // Newton step on the free set: δ_f = −H_ff⁻¹ g_f (clamped coordinates fixed).
            for i in 0 ..< nu { qpStep[i] = free[i] ? -qpGrad[i] : 0 }
            choleskySolveFree(qpStep)
            let v0 = value(d)
            var slope = 0.0
            for i in 0 ..< nu { slope += qpGrad[i] * qpStep[i] }
            var step = 1.0
            var improved = false
            while step > 1e-12 {
                for i in 0 ..< nu { qpTrial[i] = min(max(d[i] + step * qpStep[i], lower[i] - u[i]), upper[i] - u[i]) }
                if value(qpTrial) <= v0 + 1e-4 * step * slope { improved = true; break }
                step *= 0.5
            }
            guard improved else { break }
            var change = 0.0
            for i in 0 ..< nu {
                change = max(change, abs(qpTrial[i] - d[i]))
                d[i] = qpTrial[i]
            }
            if change < 1e-14 { break }
        }
        if !factored {
            // Every control clamped: no feedback on this node.
            for i in 0 ..< nu { free[i] = false }
        }
        return true
    }

    /// Cholesky of Q_uu restricted to the free controls, into `factor` (lower triangle, nu × nu
    /// indexing; clamped rows unused).
    private func choleskyFree() -> Bool {
        for i in 0 ..< nu where free[i] {
            for j in 0 ... i where free[j] {
                var s = quu[i * nu + j]
                for m in 0 ..< j where free[m] { s -= factor[i * nu + m] * factor[j * nu + m] }
                if i == j {
                    guard s > 0, s.isFinite else { return false }
                    factor[i * nu + i] = s.squareRoot()
                } else {
                    factor[i * nu + j] = s / factor[j * nu + j]
                }
            }
        }
        return true
    }

    /// b ← H_ff⁻¹ b on the free coordinates (clamped entries left as they are).
    private func choleskySolveFree(_ b: UnsafeMutablePointer<Double>) {
        for i in 0 ..< nu where free[i] {
            var s = b[i]
            for m in 0 ..< i where free[m] { s -= factor[i * nu + m] * b[m] }
            b[i] = s / factor[i * nu + i]
        }
        for i in stride(from: nu - 1, through: 0, by: -1) where free[i] {
            var s = b[i]
            for m in (i + 1) ..< nu where free[m] { s -= factor[m * nu + i] * b[m] }
            b[i] = s / factor[i * nu + i]
        }
    }
}
