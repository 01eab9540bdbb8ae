import AllocationCounter
import Learning
@testable import Planning
import RigidBody
import BuildInfo
import Testing
import Foundation

@Suite struct ResidualDynamicsTests {
    /// sim6 with two random residual networks: the step is nominal + mean residual, and the
    /// Jacobians (nominal + mean network Jacobian) match central differences of the step.
    @Test func jacobiansMatchFiniteDifferences() throws {
        let model = try PlanningDerivativeTests.sim6()
        let nominal = RigidBodyDynamics(model: model, dt: 0.01)
        var members: [MLP] = []
        for seed in [11, 12] as [UInt64] {
            var m = MLP(widths: [18, 32, 12], activation: .tanh, seed: seed)
            m.outputScale = [Float](repeating: 0.01, count: 12)
            m.inputScale = [Float](repeating: 2, count: 18)
            members.append(m)
        }
        let dyn = ResidualDynamics(nominal: nominal, members: members)
        var ws = dyn.makeWorkspace(), nws = nominal.makeWorkspace()
        let x = [0.1, -1.1, 0.9, -0.4, 0.5, 0.2, 0.3, -0.2, 0.5, 0.1, -0.3, 0.4]
        let u = [1.0, -20, 5, 0.5, -0.2, 0.1]
        var fx = [Double](repeating: 0, count: 144), fu = [Double](repeating: 0, count: 72), next = [Double](repeating: 0, count: 12)
        #expect(dyn.linearize(&ws, x: x, u: u, next: &next, fx: &fx, fu: &fu))
        // The step: nominal + mean of the members' outputs.
        var nom = [Double](repeating: 0, count: 12)
        _ = nominal.step(&nws, x: x, u: u, next: &nom)
        var input = (x + u).map { Float($0) }
        var o1 = [Float](repeating: 0, count: 12), o2 = o1
        var w1 = members[0].makeWorkspace(), w2 = members[1].makeWorkspace()
        members[0].forward(&w1, input: &input, output: &o1)
        members[1].forward(&w2, input: &input, output: &o2)
        for i in 0 ..< 12 { #expect(abs(next[i] - (nom[i] + Double(o1[i] + o2[i]) / 2)) < 1e-9) }

        func f(_ x: [Double], _ u: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: 12)
            _ = dyn.step(&ws, x: x, u: u, next: &out)
            return out
        }
        // Float32 networks: steps and tolerances sized for single precision.
        let h = 1e-3
        var worst = 0.0
        for c in 0 ..< 12 {
            var xp = x, xm = x
            xp[c] += h; xm[c] -= h
            let a = f(xp, u), b = f(xm, u)
            for r in 0 ..< 12 { worst = max(worst, abs((a[r] - b[r]) / (2 * h) - fx[r * 12 + c])) }
        }
        for c in 0 ..< 6 {
            var up = u, um = u
            up[c] += h; um[c] -= h
            let a = f(x, up), b = f(x, um)
            for r in 0 ..< 12 { worst = max(worst, abs((a[r] - b[r]) / (2 * h) - fu[r * 6 + c])) }
        }
        #expect(worst < 2e-4, "max |analytic − FD| = \(worst)")
    }

    /// iLQR plans through the learned model, and its warm-started re-solves allocate nothing.
    @Test func iLQRPlansWithTheLearnedModel() throws {
        let (base, x0, _, _) = try ILQRReachTests.reachSolver(horizon: 30)
        var m = MLP(widths: [18, 32, 12], activation: .silu, seed: 5)
        m.outputScale = [Float](repeating: 0.002, count: 12)
        let dyn = ResidualDynamics(nominal: base.dynamics, members: [m])
        let solver = ILQRSolver(dynamics: dyn, cost: base.cost, horizon: 30)
        solver.setControls(base.controls)
        let r = x0.withUnsafeBufferPointer { solver.solve(from: $0.baseAddress!, maxIterations: 30) }
        #expect(r.cost < 0.1 * r.initialCost, "\(r)")
        if BuildConfiguration.isOptimized {
            AllocationCounter_start()
            for _ in 0 ..< 3 {
                solver.shift(by: 1)
                _ = x0.withUnsafeBufferPointer { solver.solve(from: $0.baseAddress!, maxIterations: 2) }
            }
            let n = AllocationCounter_stop()
            #expect(n == 0, "\(n) allocations in 3 warm-started solves")
        }
    }

    /// The learned model's step and linearisation allocate nothing.
    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func stepAndLinearizeAllocateNothing() throws {
        let model = try PlanningDerivativeTests.sim6()
        let dyn = ResidualDynamics(nominal: RigidBodyDynamics(model: model, dt: 0.01),
                                   members: [MLP(widths: [18, 32, 12], activation: .silu, seed: 5), MLP(widths: [18, 32, 12], activation: .silu, seed: 6)])
        var ws = dyn.makeWorkspace()
        let x = [0.1, -1.1, 0.9, -0.4, 0.5, 0.2, 0.3, -0.2, 0.5, 0.1, -0.3, 0.4], u = [1.0, -20, 5, 0.5, -0.2, 0.1]
        let fx = UnsafeMutablePointer<Double>.allocate(capacity: 144), fu = UnsafeMutablePointer<Double>.allocate(capacity: 72)
        let next = UnsafeMutablePointer<Double>.allocate(capacity: 12)
        defer { fx.deallocate(); fu.deallocate(); next.deallocate() }
        x.withUnsafeBufferPointer { xb in
            u.withUnsafeBufferPointer { ub in
                _ = dyn.linearize(&ws, x: xb.baseAddress!, u: ub.baseAddress!, next: next, fx: fx, fu: fu)
                AllocationCounter_start()
                for _ in 0 ..< 10 {
                    _ = dyn.linearize(&ws, x: xb.baseAddress!, u: ub.baseAddress!, next: next, fx: fx, fu: fu)
                    _ = dyn.step(&ws, x: xb.baseAddress!, u: ub.baseAddress!, next: next)
                }
            }
        }
        let n = AllocationCounter_stop()
        #expect(n == 0, "\(n) allocations")
    }
}

extension ResidualDynamicsTests {
    /// Identical members agree (0); different members disagree, by exactly the variance of their
    /// outputs averaged over the state.
    @Test func disagreementIsTheMembersVariance() throws {
        let model = try PlanningDerivativeTests.sim6()
        let nominal = RigidBodyDynamics(model: model, dt: 0.01)
        let a = MLP(widths: [18, 8, 12], activation: .tanh, seed: 1), b = MLP(widths: [18, 8, 12], activation: .tanh, seed: 2)
        let x = [0.1, -1.1, 0.9, -0.4, 0.5, 0.2, 0.3, -0.2, 0.5, 0.1, -0.3, 0.4], u = [1.0, -20, 5, 0.5, -0.2, 0.1]
        let same = ResidualDynamics(nominal: nominal, members: [a, a])
        var ws = same.makeWorkspace()
        #expect(same.disagreement(&ws, x: x, u: u) == 0)
        let pair = ResidualDynamics(nominal: nominal, members: [a, b])
        var pws = pair.makeWorkspace()
        var input = (x + u).map { Float($0) }
        var ya = [Float](repeating: 0, count: 12), yb = ya
        var wa = a.makeWorkspace(), wb = b.makeWorkspace()
        a.forward(&wa, input: &input, output: &ya)
        b.forward(&wb, input: &input, output: &yb)
        let expected = (0 ..< 12).reduce(0.0) { $0 + pow(Double(ya[$1] - yb[$1]) / 2, 2) } / 12
        // Float32 networks: BLAS may round differently for differently aligned buffers.
        #expect(abs(pair.disagreement(&pws, x: x, u: u) - expected) <= 1e-6 * expected)
    }
}

extension ResidualDynamicsTests {
    /// A state-only residual r̄(x): with `.full` derivatives fx matches central differences of the
    /// step and fu is the rigid-body model's; `.position` keeps the network's ∂/∂q columns and the
    /// rigid-body ∂/∂v columns; `.none` is the rigid-body linearisation around the learned step.
    @Test(arguments: [ResidualDynamics<RigidBodyDynamics>.Derivatives.full, .position, .none])
    func stateOnlyResidualDerivatives(mode: ResidualDynamics<RigidBodyDynamics>.Derivatives) throws {
        let model = try PlanningDerivativeTests.sim6()
        let nominal = RigidBodyDynamics(model: model, dt: 0.01)
        let members = (0 ..< 2).map { k -> MLP in
            var m = MLP(widths: [12, 32, 12], activation: .tanh, seed: UInt64(31 + k))
            m.outputScale = [Float](repeating: 0.01, count: 12)
            m.inputScale = [Float](repeating: 2, count: 12)
            return m
        }
        let dyn = ResidualDynamics(nominal: nominal, members: members, derivatives: mode)
        #expect(!dyn.takesControl)
        var ws = dyn.makeWorkspace(), nws = nominal.makeWorkspace()
        let x = [0.1, -1.1, 0.9, -0.4, 0.5, 0.2, 0.3, -0.2, 0.5, 0.1, -0.3, 0.4]
        let u = [1.0, -20, 5, 0.5, -0.2, 0.1]
        var fx = [Double](repeating: 0, count: 144), fu = [Double](repeating: 0, count: 72), next = [Double](repeating: 0, count: 12)
        var nfx = fx, nfu = fu, nnext = next
        #expect(dyn.linearize(&ws, x: x, u: u, next: &next, fx: &fx, fu: &fu))
        #expect(nominal.linearize(&nws, x: x, u: u, next: &nnext, fx: &nfx, fu: &nfu))
        // The step is the learned one in every mode.
        var stepped = [Double](repeating: 0, count: 12)
        _ = dyn.step(&ws, x: x, u: u, next: &stepped)
        for i in 0 ..< 12 { #expect(abs(next[i] - stepped[i]) < 1e-12) }
        #expect(fu == nfu, "a state-only residual never changes fu")
        let h = 1e-3
        var worstQ = 0.0, worstV = 0.0
        for c in 0 ..< 12 {
            var xp = x, xm = x
            xp[c] += h; xm[c] -= h
            var a = [Double](repeating: 0, count: 12), b = a
            _ = dyn.step(&ws, x: xp, u: u, next: &a)
            _ = dyn.step(&ws, x: xm, u: u, next: &b)
            for r in 0 ..< 12 {
                let fd = (a[r] - b[r]) / (2 * h)
                switch mode {
                case .full: if c < 6 { worstQ = max(worstQ, abs(fd - fx[r * 12 + c])) } else { worstV = max(worstV, abs(fd - fx[r * 12 + c])) }
                case .position:
                    if c < 6 { worstQ = max(worstQ, abs(fd - fx[r * 12 + c])) } else { #expect(fx[r * 12 + c] == nfx[r * 12 + c]) }
                case .none: #expect(fx[r * 12 + c] == nfx[r * 12 + c])
                }
            }
        }
        #expect(worstQ < 2e-4 && worstV < 2e-4, "max |analytic − FD|: q \(worstQ), v \(worstV)")
    }
}
