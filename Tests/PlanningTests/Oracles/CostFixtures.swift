import LinearAlgebra
@testable import Planning
import RigidBody

extension LegacyReachCost {
    /// The same cost as a sum of named terms, in the legacy cost's summation order; `box` adds
    /// the disagreement term (threshold D₀, weight w) as `LegacyDisagreementPenalty` does.
    func asSum(disagreementBox box: SwitchableDynamics.Box? = nil, threshold: Double = 0, weight: Double = 0) -> CostModelSum {
        let w = weights
        var terms = [
            CostTerm("frame_translation", .frameTranslation, running: w.runningFrame, terminal: w.terminalFrame),
            CostTerm("frame_orientation", .frameOrientation, running: w.runningOrientation, terminal: w.terminalOrientation),
            CostTerm("state", .state, activation: .weightedQuadratic(stateScale), running: w.runningState, terminal: w.terminalState),
            CostTerm("terminal_velocity", .jointVelocity, terminal: w.terminalVelocity),
            CostTerm("joint_limits", .jointPosition,
                     activation: .quadraticBarrier(lower: model.joints.map { $0.lowerLimit + limitMargin }, upper: model.joints.map { $0.upperLimit - limitMargin }),
                     running: w.limitBarrier, terminal: w.limitBarrier),
            CostTerm("control", .control, running: w.runningControl),
        ]
        if box != nil {
            terms.append(CostTerm("disagreement", .disagreement, activation: .quadraticBarrier(lower: [-.infinity], upper: [0]), running: weight))
        }
        var sum = CostModelSum(model: model, frame: frame, dt: dt, terms: terms, frameTarget: target, stateReference: stateReference,
                               disagreementBox: box)
        sum.frameTargets = frameTargets
        sum.frameRotation = targetRotation
        sum.disagreementThreshold = threshold
        return sum
    }
}

extension CostModelSum {
    /// This cost plus a disagreement term over `dynamics`' learned model (threshold D₀, weight w).
    func addingDisagreement(dynamics: SwitchableDynamics, threshold: Double, weight: Double) -> CostModelSum {
        var sum = CostModelSum(model: model, frame: frame, dt: dt,
                               terms: terms + [CostTerm("disagreement", .disagreement, activation: .quadraticBarrier(lower: [-.infinity], upper: [0]), running: weight)],
                               frameTarget: frameTarget, stateReference: stateReference, disagreementBox: dynamics.box)
        sum.frameTargets = frameTargets
        sum.frameRotation = frameRotation
        sum.disagreementThreshold = threshold
        return sum
    }
}

/// Value and derivatives of a cost at one node, in plain arrays.
struct NodeExpansion {
    var value = 0.0
    var lx: [Double], lu: [Double], lxx: [Double], luu: [Double], lux: [Double]

    init<C: TrajectoryCost>(_ cost: C, _ ws: inout C.Workspace, node: Int, horizon: Int, x: [Double], u: [Double]) {
        let nx = x.count, nu = u.count
        lx = Array(repeating: 0, count: nx)
        lu = Array(repeating: 0, count: nu)
        lxx = Array(repeating: 0, count: nx * nx)
        luu = Array(repeating: 0, count: nu * nu)
        lux = Array(repeating: 0, count: nu * nx)
        value = lx.withUnsafeMutableBufferPointer { a in lu.withUnsafeMutableBufferPointer { b in
            lxx.withUnsafeMutableBufferPointer { c in luu.withUnsafeMutableBufferPointer { d in lux.withUnsafeMutableBufferPointer { e in
                cost.derivatives(&ws, node: node, horizon: horizon, x: x, u: node < horizon ? u : nil,
                                 into: CostDerivatives(lx: a.baseAddress!, lu: b.baseAddress!, lxx: c.baseAddress!, luu: d.baseAddress!, lux: e.baseAddress!))
            } } } } }
    }
}
