import Learning
import LinearAlgebra
import RealModule

/// Model-predictive path integral control (Williams et al., "Information-theoretic MPC", 2017)
/// over the same `DynamicsModel` and `TrajectoryCost` as iLQR, using only `step` and `value`: no
/// derivatives, so costs with steps or kinks and learned models without Jacobians plan too.
///
/// One iteration: draw `samples` control perturbations εᵢ ~ N(0, σ²) per node and control, roll
/// out ū + εᵢ (clamped to the box) from x0, cost Sᵢ; then
///   wᵢ = exp(−(Sᵢ − min S)/λ) / Σⱼ exp(−(Sⱼ − min S)/λ),   ū ← ū + Σᵢ wᵢ εᵢ (clamped).
/// Sample 0 is always the unperturbed ū, so an iteration never makes the best rollout worse
/// than keeping ū. The noise comes from a seeded generator: the same seed, the same plan.
public final class MPPIPlanner<Dynamics: DynamicsModel, Cost: TrajectoryCost> {
    public struct Options: Sendable {
        public var samples = 64
        /// Temperature λ (cost units): smaller → greedier averaging.
        public var temperature = 1e-2
        /// Standard deviation of the control perturbation, per control (nu values), or one value.
        public var noise: [Double] = [1]
        /// Box bounds on the controls; unbounded by default.
        public var bounds = ControlBounds()
        public var seed: UInt64 = 1
        public init() {}
    }

    public struct Result: Sendable, Equatable {
        /// Cost of the mean controls after the last iteration.
        public var cost: Double
        public var initialCost: Double
        public var iterations: Int
        /// Effective sample size of the last iteration, 1/Σwᵢ² (1 … samples).
        public var effectiveSamples: Double
    }

    public let dynamics: Dynamics
    public var cost: Cost
    public let horizon: Int
    public let nx: Int
    public let nu: Int
    public var options: Options
    private var dynamicsWorkspace: Dynamics.Workspace
    private var costWorkspace: Cost.Workspace
    private let us: UnsafeMutablePointer<Double>
    private let noise: UnsafeMutablePointer<Double>
    private let candidate: UnsafeMutablePointer<Double>
    private let xs: UnsafeMutablePointer<Double>
    private let costs: UnsafeMutablePointer<Double>
    private let x0: UnsafeMutablePointer<Double>
    private var rng: SplitMix64

    /// - Warning: Not real-time safe (allocates the sample buffers).
    public init(dynamics: Dynamics, cost: Cost, horizon: Int, options: Options = Options()) {
        precondition(horizon >= 1 && options.samples >= 2, "at least one node and two samples")
        self.dynamics = dynamics
        self.cost = cost
        self.horizon = horizon
        self.options = options
        nx = dynamics.stateDimension
        nu = dynamics.controlDimension
        us = .allocate(capacity: horizon * nu)
        us.initialize(repeating: 0, count: horizon * nu)
        noise = .allocate(capacity: options.samples * horizon * nu)
        noise.initialize(repeating: 0, count: options.samples * horizon * nu)
        candidate = .allocate(capacity: horizon * nu)
        candidate.initialize(repeating: 0, count: horizon * nu)
        xs = .allocate(capacity: 2 * nx)
        xs.initialize(repeating: 0, count: 2 * nx)
        costs = .allocate(capacity: options.samples)
        costs.initialize(repeating: 0, count: options.samples)
        x0 = .allocate(capacity: nx)
        x0.initialize(repeating: 0, count: nx)
        dynamicsWorkspace = dynamics.makeWorkspace()
        costWorkspace = cost.makeWorkspace()
        rng = SplitMix64(seed: options.seed)
    }

    deinit {
        us.deallocate()
        noise.deallocate()
        candidate.deallocate()
        xs.deallocate()
        costs.deallocate()
        x0.deallocate()
    }

    public func setControls(_ controls: [Double]) {
        precondition(controls.count == horizon * nu, "controls: T·nu values")
        for i in 0 ..< horizon * nu { us[i] = controls[i] }
    }

    /// Warm start: drops the first `steps` controls, repeating the last.
    public func shift(by steps: Int) {
        guard steps > 0 else { return }
        for k in 0 ..< horizon {
            let src = min(k + steps, horizon - 1)
            for i in 0 ..< nu { us[k * nu + i] = us[src * nu + i] }
        }
    }

    public var controls: [Double] { Array(UnsafeBufferPointer(start: us, count: horizon * nu)) }

    @inline(__always)
    private func gaussian() -> Double { rng.nextGaussian() }

    @inline(__always)
    private func clamp(_ v: Double, _ i: Int) -> Double { options.bounds.clamp(v, i) }

    /// Total cost of the controls in `u` from x0 (+∞ when the dynamics fail).
    private func rolloutCost(_ u: UnsafePointer<Double>) -> Double {
        for i in 0 ..< nx { xs[i] = x0[i] }
        var total = 0.0
        var current = xs, next = xs + nx
        for k in 0 ..< horizon {
            total += cost.value(&costWorkspace, node: k, horizon: horizon, x: current, u: u + k * nu)
            guard dynamics.step(&dynamicsWorkspace, x: current, u: u + k * nu, next: next) else { return .infinity }
            swap(&current, &next)
        }
        total += cost.value(&costWorkspace, node: horizon, horizon: horizon, x: current, u: nil)
        return total.isFinite ? total : .infinity
    }

    /// Runs `iterations` MPPI updates from `initialState`.
    /// - Note: Real-time safe: no allocation, no locks.
    public func solve(from initialState: UnsafePointer<Double>, iterations: Int = 1) -> Result {
        for i in 0 ..< nx { x0[i] = initialState[i] }
        let n = horizon * nu, samples = options.samples
        let initial = rolloutCost(us)
        var ess = 1.0
        for _ in 0 ..< iterations {
            var best = Double.infinity
            for s in 0 ..< samples {
                let eps = noise + s * n
                for j in 0 ..< n {
                    let sigma = options.noise.count == nu ? options.noise[j % nu] : options.noise[0]
                    let e = s == 0 ? 0 : sigma * gaussian()
                    let u = clamp(us[j] + e, j % nu)
                    eps[j] = u - us[j]
                    candidate[j] = u
                }
                costs[s] = rolloutCost(candidate)
                best = min(best, costs[s])
            }
            guard best.isFinite else { break }
            var total = 0.0, squares = 0.0
            for s in 0 ..< samples {
                let w = costs[s].isFinite ? Double.exp(-(costs[s] - best) / options.temperature) : 0
                costs[s] = w
                total += w
            }
            for s in 0 ..< samples {
                costs[s] /= total
                squares += costs[s] * costs[s]
            }
            ess = 1 / squares
            for j in 0 ..< n {
                var du = 0.0
                for s in 0 ..< samples { du += costs[s] * noise[s * n + j] }
                us[j] = clamp(us[j] + du, j % nu)
            }
        }
        return Result(cost: rolloutCost(us), initialCost: initial, iterations: iterations, effectiveSamples: ess)
    }
}
