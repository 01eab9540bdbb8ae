import LinearAlgebra
import RealModule
import RigidBody
import Testing

/// Physical identities that any correct rigid-body implementation satisfies, on random states.
@Suite struct DynamicsIdentityTests {
    static let cases = TestRobots.all.map(\.0)
    static func model(_ name: String) throws -> RobotModel {
        try RobotModel(urdf: TestRobots.all.first { $0.0 == name }!.1)
    }

    @Test(arguments: cases)
    func rneaInvertsAba(_ name: String) throws {
        let model = try Self.model(name)
        var ws = model.makeWorkspace()
        var rng = SplitMix64(seed: 42)
        for _ in 0 ..< 20 {
            let q = rng.vector(model.dof, -3, 3), v = rng.vector(model.dof, -2, 2), tau = rng.vector(model.dof, -20, 20)
            model.aba(&ws, q: q, v: v, tau: tau)
            let ddq = ws.ddq
            model.rnea(&ws, q: q, v: v, a: ddq)
            #expect(maxAbsDiff(ws.tau, tau) < 1e-9, "RNEA(q, v, ABA(q, v, τ)) ≠ τ")
        }
    }

    @Test(arguments: cases)
    func massMatrixTimesAbaPlusBiasIsTau(_ name: String) throws {
        let model = try Self.model(name)
        let n = model.dof
        var ws = model.makeWorkspace()
        var rng = SplitMix64(seed: 43)
        for _ in 0 ..< 20 {
            let q = rng.vector(n, -3, 3), v = rng.vector(n, -2, 2), tau = rng.vector(n, -20, 20)
            model.aba(&ws, q: q, v: v, tau: tau)
            let ddq = ws.ddq
            model.bias(&ws, q: q, v: v)
            let b = ws.tau
            model.crba(&ws, q: q)
            let m = ws.massMatrix
            let lhs = (0 ..< n).map { r in (0 ..< n).reduce(b[r]) { $0 + m[$1 * n + r] * ddq[$1] } }
            #expect(maxAbsDiff(lhs, tau) < 1e-9, "M·ABA + b ≠ τ")
        }
    }

    @Test(arguments: cases)
    func massMatrixIsSymmetricPositiveDefiniteAndMatchesRnea(_ name: String) throws {
        let model = try Self.model(name)
        let n = model.dof
        var ws = model.makeWorkspace()
        var rng = SplitMix64(seed: 44)
        for _ in 0 ..< 10 {
            let q = rng.vector(n, -3, 3)
            model.crba(&ws, q: q)
            let m = ws.massMatrix
            for r in 0 ..< n { for c in 0 ..< n { #expect(abs(m[c * n + r] - m[r * n + c]) < 1e-12) } }
            // Column j of M is RNEA(q, 0, e_j) − g(q): an independent oracle for CRBA.
            let zero = [Double](repeating: 0, count: n)
            model.rnea(&ws, q: q, v: zero, a: zero)
            let g = ws.tau
            for j in 0 ..< n {
                var e = zero
                e[j] = 1
                model.rnea(&ws, q: q, v: zero, a: e)
                let col = (0 ..< n).map { ws.tau[$0] - g[$0] }
                #expect(maxAbsDiff(col, Array(m[j * n ..< (j + 1) * n])) < 1e-10)
            }
            // Positive definite: xᵀ M x > 0 for random x, and Cholesky pivots stay positive.
            #expect(choleskyPivots(m, n).allSatisfy { $0 > 0 })
        }
    }

    @Test func branchesDoNotCouple() throws {
        let model = try RobotModel(urdf: TestRobots.branchedTree())
        var ws = model.makeWorkspace()
        model.crba(&ws, q: [0.3, -0.2, 0.5, 1.0, -0.7])
        let n = model.dof
        let left = model.jointIndex(named: "j_left2")!, right = model.jointIndex(named: "j_right2")!
        #expect(ws.massMatrix[left * n + right] == 0)
        #expect(model.joints[model.jointIndex(named: "j_left1")!].parent == model.jointIndex(named: "j_trunk")!)
    }

    /// A passive, undamped arm conserves T + U. RK4's energy error is O(dt⁴) over a fixed span:
    /// over 1.5 s halving the step must shrink the drift about 16× (> 10× asserted), and at
    /// dt = 0.25 ms it is below 1e-5 of the energy scale. A wrong dynamics term would show as a
    /// drift that does not converge.
    @Test(arguments: cases)
    func passiveArmConservesEnergyUnderRK4(_ name: String) throws {
        var urdf = try #require(TestRobots.all.first { $0.0 == name }).1
        for k in urdf.joints.indices { urdf.joints[k].dynamics = .none }
        let model = try RobotModel(urdf: urdf)
        var iw = model.makeIntegratorWorkspace()
        var rng = SplitMix64(seed: 45)
        let q0 = rng.vector(model.dof, -1, 1), v0 = rng.vector(model.dof, -1, 1)
        let zero = [Double](repeating: 0, count: model.dof)
        let e0 = model.energy(&iw.dynamics, q: q0, v: v0)
        let scale = e0.kinetic + abs(e0.potential) + 1
        func drift(steps: Int) -> Double {
            var q = q0, v = v0, worst = 0.0
            for _ in 0 ..< steps {
                model.step(&iw, q: &q, v: &v, tau: zero, dt: 1.5 / Double(steps), method: .rk4)
                let e = model.energy(&iw.dynamics, q: q, v: v)
                worst = max(worst, abs(e.kinetic + e.potential - e0.kinetic - e0.potential))
            }
            return worst / scale
        }
        let coarse = drift(steps: 3000), fine = drift(steps: 6000)
        #expect(fine < 1e-5, "relative energy drift \(fine) at dt = 0.25 ms")
        #expect(coarse / fine > 10, "drift \(coarse) → \(fine) when halving dt: not fourth order")
    }

    /// Damping and friction only ever remove energy.
    @Test func dampedArmLosesEnergy() throws {
        let model = try RobotModel(urdf: TestRobots.randomChain())
        var iw = model.makeIntegratorWorkspace()
        var q = [Double](repeating: 0.2, count: model.dof), v = [Double](repeating: 1, count: model.dof)
        let zero = [Double](repeating: 0, count: model.dof)
        var last = model.energy(&iw.dynamics, q: q, v: v)
        for method in IntegrationMethod.allCases {
            for _ in 0 ..< 200 {
                model.step(&iw, q: &q, v: &v, tau: zero, dt: 2e-4, method: method)
                let e = model.energy(&iw.dynamics, q: q, v: v)
                #expect(e.kinetic + e.potential <= last.kinetic + last.potential + 1e-7)
                last = e
            }
        }
    }

    /// Two-link planar arm rotating about y: the tip sits at
    /// x = l1 cos q1 + l2 cos(q1 + q2), z = −(l1 sin q1 + l2 sin(q1 + q2)).
    @Test func planarTwoLinkForwardKinematicsMatchesClosedForm() throws {
        let l1 = 0.7, l2 = 0.45
        let model = try RobotModel(urdf: TestRobots.planarTwoLink(l1: l1, l2: l2))
        var ws = model.makeWorkspace()
        let tip = try #require(model.frameIndex(named: "tip"))
        var rng = SplitMix64(seed: 46)
        for _ in 0 ..< 50 {
            let q = rng.vector(2, -.pi, .pi)
            model.forwardKinematics(&ws, q: q)
            let p = model.framePose(ws, frame: tip)
            let x = l1 * .cos(q[0]) + l2 * .cos(q[0] + q[1])
            let z = -(l1 * .sin(q[0]) + l2 * .sin(q[0] + q[1]))
            #expect(abs(p.translation.x - x) < 1e-12 && abs(p.translation.y) < 1e-12 && abs(p.translation.z - z) < 1e-12)
            let expected = Matrix3.rotation(axis: .unitY, angle: q[0] + q[1])
            #expect(maxAbsDiff(p.rotation.rows.flatMap { $0 }, expected.rows.flatMap { $0 }) < 1e-12)
        }
    }

    /// Planar two-link gravity torque in closed form, point masses at the link ends. R_y(q) maps
    /// x̂ to (cos q, 0, −sin q), so z1 = −l1 sin q1, z2 = −(l1 sin q1 + l2 sin(q1 + q2)) and the
    /// holding torque is ∂U/∂q with U = g (m1 z1 + m2 z2).
    @Test func planarTwoLinkGravityMatchesClosedForm() throws {
        let l1 = 0.7, l2 = 0.45, m1 = 1.3, m2 = 0.8, g = 9.81
        let model = try RobotModel(urdf: TestRobots.planarTwoLink(l1: l1, l2: l2, m1: m1, m2: m2))
        var ws = model.makeWorkspace()
        let q = [0.4, -0.9]
        model.bias(&ws, q: q, v: [0, 0])
        let c1 = Double.cos(q[0]), c12 = Double.cos(q[0] + q[1])
        #expect(abs(ws.tau[0] - -g * (m1 * l1 * c1 + m2 * (l1 * c1 + l2 * c12))) < 1e-9)
        #expect(abs(ws.tau[1] - -g * m2 * l2 * c12) < 1e-9)
    }
}

/// Pivots d_j of an LDLᵀ factorisation: all positive ⇔ positive definite.
func choleskyPivots(_ m: [Double], _ n: Int) -> [Double] {
    var a = m
    var pivots: [Double] = []
    for j in 0 ..< n {
        let d = a[j * n + j]
        pivots.append(d)
        guard d > 0 else { return pivots }
        for i in j + 1 ..< n {
            let l = a[j * n + i] / d
            for k in j + 1 ..< n { a[k * n + i] -= l * a[k * n + j] }
        }
    }
    return pivots
}
