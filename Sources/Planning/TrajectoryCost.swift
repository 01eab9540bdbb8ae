/// Where a cost writes its derivatives at one node (row-major; nx = state, nu = control
/// dimension). The solver zeroes them before each call, so a cost only adds its terms.
public struct CostDerivatives {
    /// ∂l/∂x (nx).
    public var lx: UnsafeMutablePointer<Double>
    /// ∂l/∂u (nu); unused at the terminal node.
    public var lu: UnsafeMutablePointer<Double>
    /// ∂²l/∂x² (nx × nx).
    public var lxx: UnsafeMutablePointer<Double>
    /// ∂²l/∂u² (nu × nu).
    public var luu: UnsafeMutablePointer<Double>
    /// ∂²l/∂u∂x (nu × nx).
    public var lux: UnsafeMutablePointer<Double>
}

/// A trajectory cost: running terms at nodes k = 0 … T−1 (with the control u_k) and a terminal
/// term at node T (u is nil). Second derivatives may be Gauss–Newton approximations.
public protocol TrajectoryCost: Sendable {
    associatedtype Workspace
    func makeWorkspace() -> Workspace
    /// The cost of node `k` of a horizon of `horizon` steps.
    /// - Note: Real-time safe: no allocation, no locks.
    func value(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?) -> Double
    /// The cost of node `k`, adding its derivatives into `d`.
    /// - Note: Real-time safe: no allocation, no locks.
    func derivatives(_ ws: inout Workspace, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?,
                     into d: CostDerivatives) -> Double
}
