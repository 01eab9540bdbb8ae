/// A trajectory cost plus a soft penalty on the learned model's epistemic uncertainty: where
/// the ensemble members disagree the model is extrapolating, so the planner is steered back
/// towards the states and torques it has data for. On running nodes k < T:
///
///   l_k = base_k + dt · ½ w ((D(x, u) − D₀)₊ / D₀)²
///
/// with D the ensemble disagreement (mean variance of the members' residuals, state units²),
/// D₀ the threshold and w the weight. The relative excess keeps w independent of the state's
/// units. Its Hessian is the Gauss–Newton term dt·w/D₀² ∇D ∇Dᵀ (positive semidefinite). With no
/// learned model installed (or it is suspended), or w = 0, or D₀ = 0, the cost is exactly `base`.
public struct DisagreementPenalty<Base: TrajectoryCost>: TrajectoryCost {
    public var base: Base
    /// Where the learned model lives (the planner's `SwitchableDynamics.box`).
    public let box: SwitchableDynamics.Box
    public let dt: Double
    let nx: Int, nu: Int
    /// D₀ (state units²); 0 turns the penalty off.
    public var threshold: Double
    /// w (cost units at twice the threshold: ½w per second).
    public var weight: Double

    /// - Parameter dynamics: the planner's dynamics (its box, step and dimensions are used).
    public init(base: Base, dynamics: SwitchableDynamics, threshold: Double = 0, weight: Double = 0) {
        self.base = base
        box = dynamics.box
        dt = dynamics.dt
        nx = dynamics.stateDimension
        nu = dynamics.controlDimension
        self.threshold = threshold
        self.weight = weight
    }

    public final class Workspace {
        var base: Base.Workspace
        let gradient: UnsafeMutablePointer<Double>

        init(base: Base.Workspace, size: Int) {
            self.base = base
            gradient = .allocate(capacity: size)
            gradient.initialize(repeating: 0, count: size)
        }

        deinit { gradient.deallocate() }
    }

    public func makeWorkspace() -> Workspace {
        Workspace(base: base.makeWorkspace(), size: nx + nu)
    }

    @inline(__always)
    private var active: Bool { threshold > 0 && weight > 0 && box.active != nil }

    public func value(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?) -> Double {
        var total = base.value(&ws.base, node: k, horizon: horizon, x: x, u: u)
        if active, k < horizon, let u {
            let excess = max(0, box.disagreement(x: x, u: u) - threshold) / threshold
            total += dt * 0.5 * weight * excess * excess
        }
        return total
    }

    public func derivatives(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?,
                            into d: CostDerivatives) -> Double {
        var total = base.derivatives(&ws.base, node: k, horizon: horizon, x: x, u: u, into: d)
        // Below the threshold (the usual case) the members' forward passes settle it; their
        // Jacobians are worth computing only above it.
        guard active, k < horizon, let u, box.disagreement(x: x, u: u) > threshold else { return total }
        let D = box.disagreementGradient(x: x, u: u, gradient: ws.gradient)
        let excess = D - threshold
        guard excess > 0 else { return total }
        let r = excess / threshold
        total += dt * 0.5 * weight * r * r
        // ∂l = dt·w·r/D₀ ∇D;  ∂²l ≈ dt·w/D₀² ∇D ∇Dᵀ, split into the (x, x), (u, u), (u, x) blocks.
        let g = ws.gradient, c1 = dt * weight * r / threshold, c2 = dt * weight / (threshold * threshold)
        for i in 0 ..< nx {
            d.lx[i] += c1 * g[i]
            for j in 0 ..< nx { d.lxx[i * nx + j] += c2 * g[i] * g[j] }
        }
        for a in 0 ..< nu {
            d.lu[a] += c1 * g[nx + a]
            for b in 0 ..< nu { d.luu[a * nu + b] += c2 * g[nx + a] * g[nx + b] }
            for j in 0 ..< nx { d.lux[a * nx + j] += c2 * g[nx + a] * g[j] }
        }
        return total
    }
}
