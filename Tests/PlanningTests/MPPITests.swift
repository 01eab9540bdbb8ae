import AllocationCounter
@testable import Planning
import BuildInfo
import Testing

/// A cost with kinks and a step, and no derivatives at all: only sampling planners can use it.
struct KinkedCost: TrajectoryCost {
    func makeWorkspace() {}
    func value(_ ws: inout Void, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?) -> Double {
        var s = 0.0
        for i in 0 ..< 4 { s += abs(x[i]) }
        if x[0] > 0.5 { s += 10 }   // a forbidden region, as a step
        if let u { s += 0.01 * (abs(u[0]) + abs(u[1])) }
        return k == horizon ? 20 * s : s
    }
    func derivatives(_ ws: inout Void, node k: Int, horizon: Int, x: UnsafePointer<Double>, u: UnsafePointer<Double>?,
                     into d: CostDerivatives) -> Double {
        fatalError("MPPI must not ask for derivatives")
    }
}

@Suite struct MPPITests {
    static let A = [1, 0.1, 0, 0, 0, 1, 0.05, 0, 0, 0, 1, 0.1, 0.02, 0, 0, 0.98]
    static let B = [0, 0, 0.1, 0, 0, 0.05, 0.3, 0.1]
    static let x0 = [1.0, -0.5, 0.3, 2]

    /// On the linear-quadratic problem MPPI approaches the Riccati optimum (computed by iLQR,
    /// which the LQR test pins to the Riccati recursion).
    @Test func approachesTheLQROptimum() throws {
        let dynamics = LinearDynamics(A: Self.A, B: Self.B, n: 4, m: 2)
        let cost = QuadraticCost(q: [1.0, 0.5, 2, 0.1], r: [0.3, 0.7], qf: [10.0, 5, 8, 1])
        var ilqrOptions = ILQRSolver<LinearDynamics, QuadraticCost>.Options()
        ilqrOptions.initialRegularization = 0
        ilqrOptions.minRegularization = 0
        let ilqr = ILQRSolver(dynamics: dynamics, cost: cost, horizon: 30, options: ilqrOptions)
        let optimal = Self.x0.withUnsafeBufferPointer { ilqr.solve(from: $0.baseAddress!) }.cost

        var options = MPPIPlanner<LinearDynamics, QuadraticCost>.Options()
        options.samples = 256
        options.temperature = 0.01
        options.noise = [0.1]
        let mppi = MPPIPlanner(dynamics: dynamics, cost: cost, horizon: 30, options: options)
        var previous = Double.infinity
        var result = MPPIPlanner<LinearDynamics, QuadraticCost>.Result(cost: 0, initialCost: 0, iterations: 0, effectiveSamples: 0)
        for _ in 0 ..< 20 {
            result = Self.x0.withUnsafeBufferPointer { mppi.solve(from: $0.baseAddress!, iterations: 10) }
            #expect(result.cost <= previous + 1e-12, "an iteration never worsens the mean controls' cost")
            previous = result.cost
        }
        #expect(result.cost <= optimal * 1.03, "MPPI \(result.cost) vs optimum \(optimal)")
        #expect(result.cost >= optimal - 1e-9)
    }

    @Test func theSameSeedGivesTheSamePlan() {
        let dynamics = LinearDynamics(A: Self.A, B: Self.B, n: 4, m: 2)
        func plan(seed: UInt64) -> [Double] {
            var options = MPPIPlanner<LinearDynamics, KinkedCost>.Options()
            options.seed = seed
            options.samples = 32
            let p = MPPIPlanner(dynamics: dynamics, cost: KinkedCost(), horizon: 20, options: options)
            _ = Self.x0.withUnsafeBufferPointer { p.solve(from: $0.baseAddress!, iterations: 5) }
            return p.controls
        }
        #expect(plan(seed: 7) == plan(seed: 7))
        #expect(plan(seed: 7) != plan(seed: 8))
    }

    /// A cost with no derivatives, a step, and a control box: the plan improves and stays in it.
    @Test func plansNonDifferentiableCostsWithinTheBox() {
        let dynamics = LinearDynamics(A: Self.A, B: Self.B, n: 4, m: 2)
        var options = MPPIPlanner<LinearDynamics, KinkedCost>.Options()
        options.samples = 128
        options.temperature = 0.5
        options.noise = [1.0, 0.5]
        options.bounds = ControlBounds(lower: [-1, -0.5], upper: [1, 0.5])
        let p = MPPIPlanner(dynamics: dynamics, cost: KinkedCost(), horizon: 30, options: options)
        let r = Self.x0.withUnsafeBufferPointer { p.solve(from: $0.baseAddress!, iterations: 40) }
        #expect(r.cost < 0.5 * r.initialCost, "\(r)")
        #expect(r.effectiveSamples >= 1 && r.effectiveSamples <= 128)
        let u = p.controls
        for k in 0 ..< 30 {
            #expect(u[2 * k] >= -1 && u[2 * k] <= 1 && u[2 * k + 1] >= -0.5 && u[2 * k + 1] <= 0.5)
        }
    }

    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func iterationsAllocateNothing() {
        let dynamics = LinearDynamics(A: Self.A, B: Self.B, n: 4, m: 2)
        let p = MPPIPlanner(dynamics: dynamics, cost: KinkedCost(), horizon: 20)
        _ = Self.x0.withUnsafeBufferPointer { p.solve(from: $0.baseAddress!, iterations: 1) }
        AllocationCounter_start()
        p.shift(by: 1)
        _ = Self.x0.withUnsafeBufferPointer { p.solve(from: $0.baseAddress!, iterations: 3) }
        let n = AllocationCounter_stop()
        #expect(n == 0, "\(n) allocations")
    }
}

@Suite struct MPPIRigidBodyTests {
    /// The same reach cost and rigid-body dynamics iLQR uses, planned by sampling alone.
    @Test func improvesAReachOnTheArm() throws {
        let (ilqr, x0, _, _) = try ILQRReachTests.reachSolver(horizon: 20)
        var options = MPPIPlanner<RigidBodyDynamics, CostModelSum>.Options()
        options.samples = 64
        options.temperature = 0.05
        options.noise = [5]
        let mppi = MPPIPlanner(dynamics: ilqr.dynamics, cost: ilqr.cost, horizon: 20, options: options)
        mppi.setControls(ilqr.controls)   // gravity compensation at q0
        let r = x0.withUnsafeBufferPointer { mppi.solve(from: $0.baseAddress!, iterations: 30) }
        #expect(r.cost < 0.8 * r.initialCost, "\(r)")
    }
}
