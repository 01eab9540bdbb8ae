/// How a cost term turns its residual r (m values) into a cost a(r), as Crocoddyl's activation
/// models do. Every activation here is separable, a(r) = Σᵢ aᵢ(rᵢ), so its Hessian is diagonal
/// and a term needs no scratch for it:
///
///   quadratic           aᵢ = ½ rᵢ²
///   weighted quadratic  aᵢ = ½ wᵢ rᵢ²
///   quadratic barrier   aᵢ = ½ (rᵢ − clamp(rᵢ, lᵢ, uᵢ))²   (zero inside [lᵢ, uᵢ])
///
/// The arrays are the activation's parameters, one per residual component; they are mutated in
/// place (uniquely owned), so a task can retune them between solves without allocating.
public struct CostActivation: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case quadratic
        case weightedQuadratic
        case quadraticBarrier
    }

    public var kind: Kind
    /// wᵢ of a weighted quadratic (m values); empty otherwise.
    public var weights: [Double]
    /// lᵢ and uᵢ of a barrier (m values each, ±∞ for a one-sided bound); empty otherwise.
    public var lower: [Double]
    public var upper: [Double]

    /// a(r) = ½‖r‖².
    public static let quadratic = CostActivation(kind: .quadratic, weights: [], lower: [], upper: [])

    /// a(r) = ½ Σ wᵢ rᵢ².
    public static func weightedQuadratic(_ weights: [Double]) -> CostActivation {
        CostActivation(kind: .weightedQuadratic, weights: weights, lower: [], upper: [])
    }

    /// a(r) = ½ Σ (rᵢ − clamp(rᵢ, lᵢ, uᵢ))². With lᵢ > uᵢ (a band narrower than its margins)
    /// the component is measured from lᵢ below it and from uᵢ otherwise.
    /// - Precondition: as many lower as upper bounds.
    public static func quadraticBarrier(lower: [Double], upper: [Double]) -> CostActivation {
        precondition(lower.count == upper.count, "barrier bounds: as many lower as upper")
        return CostActivation(kind: .quadraticBarrier, weights: [], lower: lower, upper: upper)
    }

    /// The number of residual components the parameters are for (nil: any).
    public var dimension: Int? {
        switch kind {
        case .quadratic: nil
        case .weightedQuadratic: weights.count
        case .quadraticBarrier: lower.count
        }
    }

    /// aᵢ(r), ∂aᵢ/∂rᵢ and ∂²aᵢ/∂rᵢ² of component `i` at residual value `r`. The barrier's second
    /// derivative is 1 outside the band and 0 inside (its one-sided value on the bound).
    /// - Note: Real-time safe: no allocation, no locks.
    @inline(__always)
    public func element(_ i: Int, _ r: Double) -> (value: Double, gradient: Double, hessian: Double) {
        switch kind {
        case .quadratic:
            return (0.5 * r * r, r, 1)
        case .weightedQuadratic:
            let w = weights[i]
            return (0.5 * w * r * r, w * r, w)
        case .quadraticBarrier:
            let lo = lower[i], hi = upper[i]
            let d = r < lo ? r - lo : (r > hi ? r - hi : 0)
            return d == 0 ? (0, 0, 0) : (0.5 * d * d, d, 1)
        }
    }
}
