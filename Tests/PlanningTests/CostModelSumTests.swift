import AllocationCounter
import BuildInfo
import Foundation
import Learning
import LinearAlgebra
@testable import Planning
import RigidBody
import Testing

/// Each cost term alone against finite differences (gradient of the value; Hessian of the
/// gradient where the term is linear in its residual's arguments, or where the residual is
/// zero, which is where Gauss–Newton is exact), and the whole sum against the cost it replaced.
@Suite struct CostModelSumTests {
    static let x = [0.1, -1.1, 0.9, -0.4, 0.5, 0.2, 0.3, -0.2, 0.5, 0.1, -0.3, 0.4]
    static let u = [1.0, -20, 5, 0.5, -0.2, 0.1]
    static let horizon = 10

    /// One term alone, with the references it reads; `zeroResidual` moves the frame references
    /// onto the frame at `x`, where the Gauss–Newton Hessian is the exact one.
    enum Case: String, CaseIterable, CustomTestStringConvertible {
        case frameTranslation, weightedFrameTranslation, frameOrientation, state, jointLimits, jointVelocity, control
        var testDescription: String { rawValue }

        func term() -> CostTerm {
            switch self {
            case .frameTranslation: CostTerm("t", .frameTranslation, running: 2, terminal: 30)
            case .weightedFrameTranslation: CostTerm("t", .frameTranslation, activation: .weightedQuadratic([1, 3, 0.5]), running: 2, terminal: 30)
            case .frameOrientation: CostTerm("t", .frameOrientation, running: 0.7, terminal: 20)
            case .state: CostTerm("t", .state, activation: .weightedQuadratic((0 ..< 12).map { 0.5 + 0.25 * Double($0) }), running: 3, terminal: 40)
            // Bands that put joints 0 and 1 below and joint 5 above theirs, 0.1 rad from the edges.
            case .jointLimits: CostTerm("t", .jointPosition, activation: .quadraticBarrier(lower: [0.2, -1, 0, -1, -1, -1], upper: [1, 1, 1, 0, 1, 0.1]),
                                        running: 50, terminal: 50)
            case .jointVelocity: CostTerm("t", .jointVelocity, running: 2, terminal: 3)
            case .control: CostTerm("t", .control, running: 1e-2)
            }
        }

        var isFrame: Bool { self == .frameTranslation || self == .weightedFrameTranslation || self == .frameOrientation }
    }

    static func cost(_ c: Case, zeroResidual: Bool) throws -> CostModelSum {
        let model = try PlanningDerivativeTests.sim6()
        let frame = try #require(model.frameIndex(named: "tool0"))
        var sum = CostModelSum(model: model, frame: frame, dt: 0.01, terms: [c.term()], frameTarget: Vector3(0.4, 0.2, 0.3),
                               stateReference: [0, -1, 1, 0, 0.3, 0, 0, 0, 0, 0, 0, 0])
        sum.frameRotation = Matrix3.rpy(0.3, -0.2, 1.1)
        if zeroResidual {
            var ws = model.makeWorkspace()
            model.forwardKinematics(&ws, q: Array(x.prefix(6)))
            let pose = model.framePose(ws, frame: frame)
            sum.frameTarget = pose.translation
            sum.frameRotation = pose.rotation
        }
        return sum
    }

    @Test(arguments: Case.allCases)
    func termGradientMatchesFiniteDifferences(_ c: Case) throws {
        let cost = try Self.cost(c, zeroResidual: false)
        var ws = cost.makeWorkspace()
        for node in [3, Self.horizon] {
            let e = NodeExpansion(cost, &ws, node: node, horizon: Self.horizon, x: Self.x, u: Self.u)
            func value(_ x: [Double], _ u: [Double]) -> Double { cost.value(&ws, node: node, horizon: Self.horizon, x: x, u: node < Self.horizon ? u : nil) }
            #expect(e.value == value(Self.x, Self.u))
            #expect(e.value > 0 || c == .control && node == Self.horizon, "the case exercises the term")
            let h = 1e-6
            for i in 0 ..< 12 {
                var xp = Self.x, xm = Self.x
                xp[i] += h; xm[i] -= h
                let fd = (value(xp, Self.u) - value(xm, Self.u)) / (2 * h)
                #expect(abs(fd - e.lx[i]) <= 1e-6 * max(1, abs(fd)), "\(c) node \(node) ∂l/∂x[\(i)]: \(e.lx[i]) vs FD \(fd)")
            }
            for i in 0 ..< 6 {
                var up = Self.u, um = Self.u
                up[i] += h; um[i] -= h
                let fd = node < Self.horizon ? (value(Self.x, up) - value(Self.x, um)) / (2 * h) : 0
                #expect(abs(fd - e.lu[i]) <= 1e-6 * max(1, abs(fd)), "\(c) node \(node) ∂l/∂u[\(i)]: \(e.lu[i]) vs FD \(fd)")
            }
        }
    }

    /// The Hessian against central differences of the analytic gradient: exact for the terms
    /// linear in (x, u), and for the frame terms where their residual is zero (the Gauss–Newton
    /// approximation drops only r·∇²r).
    @Test(arguments: Case.allCases)
    func termHessianMatchesFiniteDifferencesOfTheGradient(_ c: Case) throws {
        let cost = try Self.cost(c, zeroResidual: c.isFrame)
        var ws = cost.makeWorkspace()
        for node in [3, Self.horizon] {
            let e = NodeExpansion(cost, &ws, node: node, horizon: Self.horizon, x: Self.x, u: Self.u)
            var largest = 0.0
            for v in e.lxx + e.luu { largest = max(largest, abs(v)) }
            #expect(largest > 0 || c == .control && node == Self.horizon, "\(c): the case exercises the Hessian")
            let h = 1e-6
            for j in 0 ..< 12 {
                var xp = Self.x, xm = Self.x
                xp[j] += h; xm[j] -= h
                let ep = NodeExpansion(cost, &ws, node: node, horizon: Self.horizon, x: xp, u: Self.u)
                let em = NodeExpansion(cost, &ws, node: node, horizon: Self.horizon, x: xm, u: Self.u)
                for i in 0 ..< 12 {
                    let fd = (ep.lx[i] - em.lx[i]) / (2 * h)
                    #expect(abs(fd - e.lxx[i * 12 + j]) <= 1e-6 * max(1, largest), "\(c) node \(node) ∂²l/∂x[\(i)]∂x[\(j)]: \(e.lxx[i * 12 + j]) vs FD \(fd)")
                    #expect(e.lxx[i * 12 + j] == e.lxx[j * 12 + i])
                }
                for a in 0 ..< 6 {
                    let fd = (ep.lu[a] - em.lu[a]) / (2 * h)
                    #expect(abs(fd - e.lux[a * 12 + j]) <= 1e-6 * max(1, largest), "\(c) ∂²l/∂u[\(a)]∂x[\(j)]")
                }
            }
            guard node < Self.horizon else { continue }
            for b in 0 ..< 6 {
                var up = Self.u, um = Self.u
                up[b] += h; um[b] -= h
                let ep = NodeExpansion(cost, &ws, node: node, horizon: Self.horizon, x: Self.x, u: up)
                let em = NodeExpansion(cost, &ws, node: node, horizon: Self.horizon, x: Self.x, u: um)
                for a in 0 ..< 6 {
                    let fd = (ep.lu[a] - em.lu[a]) / (2 * h)
                    #expect(abs(fd - e.luu[a * 6 + b]) <= 1e-6 * max(1, largest), "\(c) ∂²l/∂u[\(a)]∂u[\(b)]: \(e.luu[a * 6 + b]) vs FD \(fd)")
                }
            }
        }
    }

    /// The disagreement term is a scalar residual with a barrier above zero: where it is active
    /// l = ½c r², ∇l = c r ∇r and the Gauss–Newton Hessian c ∇r∇rᵀ is ∇l∇lᵀ/(2l), block by
    /// block; its gradient matches central differences (float32 members: a wide step).
    @Test func disagreementTermIsGaussNewtonOfItsGradient() throws {
        let (base, _, _, _) = try ILQRReachTests.reachSolver(horizon: 10)
        let dynamics = SwitchableDynamics(nominal: base.dynamics)
        dynamics.box.install(ResidualDynamics(nominal: base.dynamics, members: DisagreementPenaltyTests.members(inputs: 18)), version: 1)
        let D = dynamics.box.disagreement(x: Self.x, u: Self.u)
        let model = base.dynamics.model
        let cost = CostModelSum(model: model, frame: base.cost.frame, dt: 0.01, terms: [], disagreementBox: dynamics.box)
            .addingDisagreement(dynamics: dynamics, threshold: D / 3, weight: 20)
        var ws = cost.makeWorkspace()
        let e = NodeExpansion(cost, &ws, node: 3, horizon: 10, x: Self.x, u: Self.u)
        // r = (D − D/3)/(D/3) = 2: l = dt·½·w·r² = 0.01·0.5·20·4.
        #expect(abs(e.value - 0.4) <= 1e-9)
        let two = 2 * e.value
        for i in 0 ..< 12 {
            for j in 0 ..< 12 { #expect(abs(e.lxx[i * 12 + j] - e.lx[i] * e.lx[j] / two) <= 1e-9 * max(1, abs(e.lxx[i * 12 + j]))) }
        }
        for a in 0 ..< 6 {
            for b in 0 ..< 6 { #expect(abs(e.luu[a * 6 + b] - e.lu[a] * e.lu[b] / two) <= 1e-9 * max(1, abs(e.luu[a * 6 + b]))) }
            for j in 0 ..< 12 { #expect(abs(e.lux[a * 12 + j] - e.lu[a] * e.lx[j] / two) <= 1e-9 * max(1, abs(e.lux[a * 12 + j]))) }
        }
        let h = 1e-2
        var worst = 0.0, largest = 0.0
        for c in 0 ..< 18 {
            var xp = Self.x, xm = Self.x, up = Self.u, um = Self.u
            if c < 12 { xp[c] += h; xm[c] -= h } else { up[c - 12] += h; um[c - 12] -= h }
            let fd = (cost.value(&ws, node: 3, horizon: 10, x: xp, u: up) - cost.value(&ws, node: 3, horizon: 10, x: xm, u: um)) / (2 * h)
            let g = c < 12 ? e.lx[c] : e.lu[c - 12]
            worst = max(worst, abs(fd - g))
            largest = max(largest, abs(g))
        }
        #expect(largest > 0 && worst <= 5e-3 * largest, "max |∇l − FD| = \(worst), largest \(largest)")
        // Suspended (the planner's fallback), the term is off.
        dynamics.box.suspended = true
        #expect(cost.value(&ws, node: 3, horizon: 10, x: Self.x, u: Self.u) == 0)
    }

    /// The oracle: the sum set up as the old `ReachCost` + `DisagreementPenalty` gives the same
    /// cost and derivatives on the same inputs, every term active, running and terminal nodes,
    /// a per-node frame reference, a state scale, joints in the barrier band and a learned model
    /// whose disagreement is above the threshold.
    @Test func theSumReproducesTheOldReachCost() throws {
        let model = try PlanningDerivativeTests.sim6()
        let frame = try #require(model.frameIndex(named: "tool0"))
        var weights = LegacyReachCost.Weights()
        weights.runningOrientation = 0.7
        weights.terminalOrientation = 30
        weights.terminalState = 0.2
        weights.terminalVelocity = 3
        weights.limitBarrier = 50
        weights.runningControl = 1e-3
        var legacy = LegacyReachCost(model: model, frame: frame, dt: 0.01, weights: weights, target: Vector3(0.4, 0.2, 0.3),
                                     stateReference: [0, -1, 1, 0, 0.3, 0, 0, 0, 0, 0, 0, 0])
        legacy.targetRotation = Matrix3.rpy(0.3, -0.2, 1.1)
        legacy.limitMargin = 6.3
        legacy.stateScale = (0 ..< 12).map { 1 + 0.1 * Double($0) }
        legacy.frameTargets = (0 ... 4).map { Vector3(0.4 + 0.01 * Double($0), 0.2, 0.3 - 0.02 * Double($0)) }
        let nominal = RigidBodyDynamics(model: model, dt: 0.01)
        let dynamics = SwitchableDynamics(nominal: nominal)
        dynamics.box.install(ResidualDynamics(nominal: nominal, members: DisagreementPenaltyTests.members(inputs: 18)), version: 1)
        let D = dynamics.box.disagreement(x: Self.x, u: Self.u)
        let old = LegacyDisagreementPenalty(base: legacy, dynamics: dynamics, threshold: D / 2, weight: 50)
        let new = legacy.asSum(disagreementBox: dynamics.box, threshold: D / 2, weight: 50)
        var oldWorkspace = old.makeWorkspace(), newWorkspace = new.makeWorkspace()
        for sample in 0 ..< 4 {
            let x = Self.x.enumerated().map { $1 + 0.05 * sin(Double(7 * sample + $0)) }
            let u = Self.u.enumerated().map { $1 * (1 + 0.1 * cos(Double(3 * sample + $0))) }
            for node in [0, 2, 7, Self.horizon] {
                let a = NodeExpansion(old, &oldWorkspace, node: node, horizon: Self.horizon, x: x, u: u)
                let b = NodeExpansion(new, &newWorkspace, node: node, horizon: Self.horizon, x: x, u: u)
                #expect(abs(a.value - b.value) <= 1e-12 * max(1, abs(a.value)), "node \(node): \(b.value) vs \(a.value)")
                #expect(abs(old.value(&oldWorkspace, node: node, horizon: Self.horizon, x: x, u: node < Self.horizon ? u : nil)
                    - new.value(&newWorkspace, node: node, horizon: Self.horizon, x: x, u: node < Self.horizon ? u : nil)) <= 1e-12 * max(1, abs(a.value)))
                for (name, p, q) in [("lx", a.lx, b.lx), ("lu", a.lu, b.lu), ("lxx", a.lxx, b.lxx), ("luu", a.luu, b.luu), ("lux", a.lux, b.lux)] {
                    let scale = p.reduce(1) { max($0, abs($1)) }
                    let worst = zip(p, q).reduce(0) { max($0, abs($1.0 - $1.1)) }
                    #expect(worst <= 1e-12 * scale, "node \(node) \(name): max difference \(worst) (scale \(scale))")
                }
            }
        }
    }

    /// After the first solve, re-solves with the task's full cost (every term, a learned model
    /// installed) allocate nothing, nor does re-aiming the task between them.
    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func resolvesWithTheTaskCostAllocateNothing() throws {
        let model = try PlanningDerivativeTests.sim6()
        let frame = try #require(model.frameIndex(named: "tool0"))
        let nominal = RigidBodyDynamics(model: model, dt: 0.01)
        let dynamics = SwitchableDynamics(nominal: nominal)
        dynamics.box.install(ResidualDynamics(nominal: nominal, members: DisagreementPenaltyTests.members(inputs: 18)), version: 1)
        var task = ReachTask(model: model, frame: frame, weights: ReachWeights(), horizon: 20, dt: 0.01, replanPeriod: 0.01)
        let solver = ILQRSolver(dynamics: dynamics, cost: task.makeCost(disagreementBox: dynamics.box), horizon: 20)
        ReachTask.setDisagreementPenalty(&solver.cost, threshold: 1e-6, weight: 10)
        let x0 = [0, -1.2, 1.0, -0.5, 0.4, 0.1] + Array(repeating: 0.0, count: 6)
        let goal = ReachTask.Goal(target: .pose(position: Vector3(0.5, 0.35, 0.3), orientation: [1, 0, 0, 0]), duration: 0.5, setAt: 0)
        task.update(&solver.cost, goal: goal, time: 0, state: x0, planningModel: .learned)
        solver.setControls(Array(repeating: 0, count: 20 * 6))
        _ = x0.withUnsafeBufferPointer { solver.solve(from: $0.baseAddress!, maxIterations: 2) }
        AllocationCounter_start()
        for k in 1 ... 5 {
            task.update(&solver.cost, goal: goal, time: 0.01 * Double(k), state: x0, planningModel: .learned)
            solver.shift(by: 1)
            _ = x0.withUnsafeBufferPointer { solver.solve(from: $0.baseAddress!, maxIterations: 2) }
        }
        let n = AllocationCounter_stop()
        #expect(n == 0, "\(n) allocations in 5 re-aimed, warm-started solves")
    }
}
