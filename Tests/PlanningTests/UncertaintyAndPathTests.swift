import Foundation
import Learning
import LinearAlgebra
@testable import Planning
import RigidBody
import Testing

@Suite struct DisagreementPenaltyTests {
    static let x = [0.1, -1.1, 0.9, -0.4, 0.5, 0.2, 0.3, -0.2, 0.5, 0.1, -0.3, 0.4]
    static let u = [1.0, -20, 5, 0.5, -0.2, 0.1]

    /// Three different random members over (x, u) or over x alone.
    static func members(inputs: Int) -> [MLP] {
        (0 ..< 3).map { k -> MLP in
            var m = MLP(widths: [inputs, 16, 12], activation: .tanh, seed: UInt64(20 + k))
            m.outputScale = [Float](repeating: 0.05, count: 12)
            m.inputScale = [Float](repeating: 2, count: inputs)
            return m
        }
    }

    /// ∇D against central differences of D, for members over (x, u) and over x alone (where
    /// the u part of the gradient is exactly 0).
    @Test(arguments: [18, 12])
    func disagreementGradientMatchesFiniteDifferences(inputs: Int) throws {
        let model = try PlanningDerivativeTests.sim6()
        let dyn = ResidualDynamics(nominal: RigidBodyDynamics(model: model, dt: 0.01), members: Self.members(inputs: inputs))
        var ws = dyn.makeWorkspace()
        var gradient = [Double](repeating: 0, count: 18)
        let d = dyn.disagreementGradient(&ws, x: Self.x, u: Self.u, gradient: &gradient)
        #expect(abs(d - dyn.disagreement(&ws, x: Self.x, u: Self.u)) <= 1e-9 * d)
        #expect(d > 0)
        // Float32 members: a step large enough that rounding (1e-7 relative) stays far below the
        // O(h²) truncation error.
        let h = 1e-2
        var worst = 0.0, largest = 0.0
        for c in 0 ..< 18 {
            var xp = Self.x, xm = Self.x, up = Self.u, um = Self.u
            if c < 12 { xp[c] += h; xm[c] -= h } else { up[c - 12] += h; um[c - 12] -= h }
            let fd = (dyn.disagreement(&ws, x: xp, u: up) - dyn.disagreement(&ws, x: xm, u: um)) / (2 * h)
            worst = max(worst, abs(fd - gradient[c]))
            largest = max(largest, abs(gradient[c]))
        }
        #expect(largest > 0)
        #expect(worst <= 5e-3 * largest, "max |∇D − FD| = \(worst), largest component \(largest)")
        if inputs == 12 { for c in 12 ..< 18 { #expect(gradient[c] == 0) } }
    }

    /// The penalised cost's derivatives against central differences of its value: the gradient
    /// exactly, the Hessian's Gauss–Newton part (∇l∇lᵀ-shaped, PSD) on the diagonal from below.
    @Test func penaltyDerivativesMatchFiniteDifferences() throws {
        let (base, _, _, _) = try ILQRReachTests.reachSolver(horizon: 10)
        let dynamics = SwitchableDynamics(nominal: base.dynamics)
        dynamics.box.install(ResidualDynamics(nominal: base.dynamics, members: Self.members(inputs: 18)), version: 1)
        var probe = dynamics.box.learned!.makeWorkspace()
        let D = dynamics.box.learned!.disagreement(&probe, x: Self.x, u: Self.u)
        // Threshold at half the disagreement here: the penalty is active with r = 1.
        let cost = base.cost.addingDisagreement(dynamics: dynamics, threshold: D / 2, weight: 50)
        var ws = cost.makeWorkspace()
        var baseWorkspace = base.cost.makeWorkspace()
        func value(_ x: [Double], _ u: [Double]) -> Double { cost.value(&ws, node: 3, horizon: 10, x: x, u: u) }
        var lx = [Double](repeating: 0, count: 12), lu = [Double](repeating: 0, count: 6)
        var lxx = [Double](repeating: 0, count: 144), luu = [Double](repeating: 0, count: 36), lux = [Double](repeating: 0, count: 72)
        let total = lx.withUnsafeMutableBufferPointer { a in lu.withUnsafeMutableBufferPointer { b in
            lxx.withUnsafeMutableBufferPointer { c in luu.withUnsafeMutableBufferPointer { d in lux.withUnsafeMutableBufferPointer { e in
                cost.derivatives(&ws, node: 3, horizon: 10, x: Self.x, u: Self.u,
                                 into: CostDerivatives(lx: a.baseAddress!, lu: b.baseAddress!, lxx: c.baseAddress!, luu: d.baseAddress!, lux: e.baseAddress!))
            } } } } }
        let baseOnly = base.cost.value(&baseWorkspace, node: 3, horizon: 10, x: Self.x, u: Self.u)
        // ½·w·dt·r² with r = (D − D/2)/(D/2) = 1.
        #expect(abs(total - value(Self.x, Self.u)) <= 1e-9 * abs(total))
        #expect(abs((total - baseOnly) - 0.5 * 50 * 0.01) <= 1e-4 * 0.25)
        let h = 1e-2
        var worst = 0.0, largest = 0.0
        for c in 0 ..< 18 {
            var xp = Self.x, xm = Self.x, up = Self.u, um = Self.u
            if c < 12 { xp[c] += h; xm[c] -= h } else { up[c - 12] += h; um[c - 12] -= h }
            let fd = (value(xp, up) - value(xm, um)) / (2 * h)
            let g = c < 12 ? lx[c] : lu[c - 12]
            worst = max(worst, abs(fd - g))
            largest = max(largest, abs(g))
        }
        #expect(worst <= 5e-3 * largest, "max |∇l − FD| = \(worst), largest \(largest)")
        // Gauss–Newton Hessian blocks are symmetric and PSD on the diagonal.
        for i in 0 ..< 6 { #expect(luu[i * 6 + i] >= 0) }
        for i in 0 ..< 12 { for j in 0 ..< 12 { #expect(abs(lxx[i * 12 + j] - lxx[j * 12 + i]) <= 1e-12 * max(1, abs(lxx[i * 12 + j]))) } }

        // Below the threshold, or with no learned model, the cost is the base cost.
        let off = base.cost.addingDisagreement(dynamics: dynamics, threshold: D * 2, weight: 50)
        var ows = off.makeWorkspace()
        #expect(off.value(&ows, node: 3, horizon: 10, x: Self.x, u: Self.u) == baseOnly)
        let nominalOnly = base.cost.addingDisagreement(dynamics: SwitchableDynamics(nominal: base.dynamics), threshold: D / 2, weight: 50)
        var nws = nominalOnly.makeWorkspace()
        #expect(nominalOnly.value(&nws, node: 3, horizon: 10, x: Self.x, u: Self.u) == baseOnly)
    }

    /// The behaviour the penalty exists for: planning through an ensemble whose members disagree
    /// away from the start, the penalised plan stays where they agree — its largest
    /// disagreement is lower than the unpenalised plan's.
    @Test func thePenaltyKeepsPlansWhereTheMembersAgree() throws {
        let (base, x0, _, _) = try ILQRReachTests.reachSolver(horizon: 30)
        let dynamics = SwitchableDynamics(nominal: base.dynamics)
        dynamics.box.install(ResidualDynamics(nominal: base.dynamics, members: (0 ..< 3).map { k -> MLP in
            var m = MLP(widths: [12, 16, 12], activation: .tanh, seed: UInt64(40 + k))
            m.outputScale = [Float](repeating: 0.002, count: 12)
            m.inputScale = [Float](repeating: 0.3, count: 12)
            m.inputMean = x0.map { Float($0) }
            return m
        }), version: 1)
        func plan(threshold: Double, weight: Double) -> Double {
            let solver = ILQRSolver(dynamics: dynamics, cost: base.cost.addingDisagreement(dynamics: dynamics, threshold: threshold, weight: weight),
                                    horizon: 30)
            solver.setControls(base.controls)
            _ = x0.withUnsafeBufferPointer { solver.solve(from: $0.baseAddress!, maxIterations: 50) }
            var worst = 0.0
            var x = [Double](repeating: 0, count: 12), u = [Double](repeating: 0, count: 6)
            for k in 0 ..< 30 {
                x.withUnsafeMutableBufferPointer { solver.state(k, into: $0.baseAddress!) }
                u.withUnsafeMutableBufferPointer { solver.control(k, into: $0.baseAddress!) }
                worst = max(worst, dynamics.box.disagreement(x: x, u: u))
            }
            return worst
        }
        let free = plan(threshold: 0, weight: 0)
        let penalised = plan(threshold: free / 10, weight: 1e3)
        #expect(penalised < 0.7 * free, "largest disagreement: penalised \(penalised), free \(free)")
    }
}

@Suite struct ResidualBoundTests {
    /// An extrapolating network can output anything (1e12 was seen): with a bound, each component
    /// of the step differs from the rigid-body step by at most its bound — in the step and in the
    /// linearisation's next state — and a clamped component contributes no derivative.
    @Test func aBoundedResidualCannotPredictAnArbitrarilyLargeStep() throws {
        let model = try PlanningDerivativeTests.sim6()
        let nominal = RigidBodyDynamics(model: model, dt: 0.01)
        let members = (0 ..< 3).map { k -> MLP in
            var m = MLP(widths: [12, 16, 12], activation: .tanh, seed: UInt64(60 + k))
            m.outputScale = [Float](repeating: 1e12, count: 12)
            return m
        }
        let bound = (0 ..< 12).map { 0.01 * Double($0 + 1) }
        let x = DisagreementPenaltyTests.x, u = DisagreementPenaltyTests.u
        var reference = [Double](repeating: 0, count: 12)
        var nws = nominal.makeWorkspace()
        #expect(nominal.step(&nws, x: x, u: u, next: &reference))
        let free = ResidualDynamics(nominal: nominal, members: members, derivatives: .full)
        var fws = free.makeWorkspace()
        var unbounded = [Double](repeating: 0, count: 12)
        _ = free.step(&fws, x: x, u: u, next: &unbounded)
        #expect((0 ..< 12).contains { abs(unbounded[$0] - reference[$0]) > 1e6 }, "the unbounded residual is huge")
        let bounded = ResidualDynamics(nominal: nominal, members: members, derivatives: .full, residualBound: bound)
        var bws = bounded.makeWorkspace()
        var next = [Double](repeating: 0, count: 12)
        #expect(bounded.step(&bws, x: x, u: u, next: &next))
        for i in 0 ..< 12 { #expect(abs(next[i] - reference[i]) <= bound[i] * (1 + 1e-12) + 1e-12, "component \(i): \(next[i] - reference[i])") }
        var lnext = [Double](repeating: 0, count: 12), fx = [Double](repeating: 0, count: 144), fu = [Double](repeating: 0, count: 72)
        var nfx = fx, nfu = fu, nnext = lnext
        #expect(bounded.linearize(&bws, x: x, u: u, next: &lnext, fx: &fx, fu: &fu))
        #expect(nominal.linearize(&nws, x: x, u: u, next: &nnext, fx: &nfx, fu: &nfu))
        for i in 0 ..< 12 {
            #expect(abs(lnext[i] - next[i]) <= 1e-9 * max(1, abs(next[i])))
            // Saturated (the residual is 1e12-sized): the row is the rigid-body model's.
            for c in 0 ..< 12 { #expect(fx[i * 12 + c] == nfx[i * 12 + c]) }
        }
    }
}

@Suite struct ReferencePathTests {
    /// The spline passes through every waypoint at its time, repeats with the period, and is C¹:
    /// one-sided slopes agree at the joins.
    @Test func interpolatesPeriodicallyAndSmoothly() {
        let points = [Vector3(0, 0, 0), Vector3(1, 0, 0), Vector3(1, 1, 0), Vector3(0, 1, 1)]
        let path = ReferencePath(waypoints: points, period: 2)
        for (i, p) in points.enumerated() {
            let t = 2 * Double(i) / 4
            for lap in [-1.0, 0, 3] {
                let e = path.position(at: t + 2 * lap) - p
                #expect(e.dot(e).squareRoot() < 1e-12, "waypoint \(i), lap \(lap)")
            }
            let h = 1e-6
            let left = (1 / h) * (path.position(at: t) - path.position(at: t - h))
            let right = (1 / h) * (path.position(at: t + h) - path.position(at: t))
            let d = left - right
            #expect(d.dot(d).squareRoot() < 1e-4, "slope jump at waypoint \(i): \(d)")
        }
    }

    /// A sampled circle stays on the circle between samples (Catmull–Rom's chordal error is
    /// small at 64 samples) and starts at center + r·a.
    @Test func circleStaysOnItsRadius() {
        let c = Vector3(0.5, 0.1, 0.4)
        let path = ReferencePath.circle(center: c, radius: 0.08, a: Vector3(0, 1, 0), b: Vector3(0, 0, 1), period: 4, samples: 64)
        let start = path.position(at: 0) - (c + 0.08 * Vector3(0, 1, 0))
        #expect(start.dot(start).squareRoot() < 1e-12)
        for k in 0 ..< 400 {
            let d = path.position(at: Double(k) * 0.01) - c
            #expect(abs(d.dot(d).squareRoot() - 0.08) < 1e-5)
            #expect(abs(d.x) < 1e-12)
        }
    }
}
