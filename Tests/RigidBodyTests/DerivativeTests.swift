import LinearAlgebra
import RealModule
import RigidBody
import Testing

/// Analytic derivatives against central finite differences.
///
/// Tolerance: with step h = 1e-6 the central difference has truncation error ~h²·‖f‴‖ ≈ 1e-12 and
/// rounding error ~ε·‖f‖/h ≈ 2e-16·1e2/1e-6 = 2e-8 for the magnitudes here, so agreement to
/// 1e-6·max(1, ‖J‖∞) separates a correct derivative from a wrong term by orders of magnitude.
@Suite struct DerivativeTests {
    static let cases = TestRobots.all.map(\.0)
    static let h = 1e-6

    static func model(_ name: String) throws -> RobotModel {
        try RobotModel(urdf: TestRobots.all.first { $0.0 == name }!.1)
    }

    /// Column-major (rows × n) central-difference Jacobian of f at x.
    static func finiteDifference(_ x: [Double], rows: Int, _ f: ([Double]) -> [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: rows * x.count)
        for j in x.indices {
            var xp = x, xm = x
            xp[j] += h
            xm[j] -= h
            let fp = f(xp), fm = f(xm)
            for r in 0 ..< rows { out[j * rows + r] = (fp[r] - fm[r]) / (2 * h) }
        }
        return out
    }

    static func expectClose(_ analytic: [Double], _ numeric: [Double], _ what: String) {
        let tol = 1e-6 * max(1, maxAbs(numeric))
        let err = maxAbsDiff(analytic, numeric)
        #expect(err < tol, "\(what): max error \(err), tolerance \(tol)")
    }

    @Test(arguments: cases)
    func abaDerivativesMatchFiniteDifferences(_ name: String) throws {
        let model = try Self.model(name)
        let n = model.dof
        var ws = model.makeWorkspace()
        var scratch = model.makeWorkspace()
        var rng = SplitMix64(seed: 100)
        for _ in 0 ..< 5 {
            let q = rng.vector(n, -2, 2), v = rng.vector(n, -2, 2), tau = rng.vector(n, -10, 10)
            #expect(model.abaDerivatives(&ws, q: q, v: v, tau: tau))
            func ddq(_ q: [Double], _ v: [Double], _ tau: [Double]) -> [Double] {
                model.aba(&scratch, q: q, v: v, tau: tau)
                return scratch.ddq
            }
            Self.expectClose(ws.ddqDq, Self.finiteDifference(q, rows: n) { ddq($0, v, tau) }, "∂ddq/∂q")
            Self.expectClose(ws.ddqDv, Self.finiteDifference(v, rows: n) { ddq(q, $0, tau) }, "∂ddq/∂v")
            Self.expectClose(ws.massMatrixInverse, Self.finiteDifference(tau, rows: n) { ddq(q, v, $0) }, "∂ddq/∂τ")
        }
    }

    @Test(arguments: cases)
    func rneaDerivativesMatchFiniteDifferences(_ name: String) throws {
        let model = try Self.model(name)
        let n = model.dof
        var ws = model.makeWorkspace()
        var scratch = model.makeWorkspace()
        var rng = SplitMix64(seed: 101)
        for _ in 0 ..< 5 {
            let q = rng.vector(n, -2, 2), v = rng.vector(n, -2, 2), a = rng.vector(n, -5, 5)
            model.rneaDerivatives(&ws, q: q, v: v, a: a)
            func tau(_ q: [Double], _ v: [Double]) -> [Double] {
                model.rnea(&scratch, q: q, v: v, a: a)
                return scratch.tau
            }
            Self.expectClose(ws.tauDq, Self.finiteDifference(q, rows: n) { tau($0, v) }, "∂τ/∂q")
            Self.expectClose(ws.tauDv, Self.finiteDifference(v, rows: n) { tau(q, $0) }, "∂τ/∂v")
        }
    }

    /// Linear rows: d p / dq by central differences. Angular rows: the rotation increment
    /// R(q + h e_j) R(q − h e_j)ᵀ ≈ exp(2h [ω_j]×), so ω_j = vee(skew part) / (2h).
    @Test(arguments: cases)
    func frameJacobianMatchesFiniteDifferences(_ name: String) throws {
        let model = try Self.model(name)
        let n = model.dof
        var ws = model.makeWorkspace()
        var rng = SplitMix64(seed: 102)
        for frame in model.frames.indices {
            let q = rng.vector(n, -2, 2)
            model.forwardKinematics(&ws, q: q)
            var jac = [Double](repeating: 0, count: 6 * n)
            model.frameJacobian(ws, frame: frame, into: &jac)
            var numeric = [Double](repeating: 0, count: 6 * n)
            for j in 0 ..< n {
                var qp = q, qm = q
                qp[j] += Self.h
                qm[j] -= Self.h
                model.forwardKinematics(&ws, q: qp)
                let tp = model.framePose(ws, frame: frame)
                model.forwardKinematics(&ws, q: qm)
                let tm = model.framePose(ws, frame: frame)
                let dp = (tp.translation - tm.translation) / (2 * Self.h)
                let dr = tp.rotation * tm.rotation.transposed
                let w = Vector3(dr.m21 - dr.m12, dr.m02 - dr.m20, dr.m10 - dr.m01) / (4 * Self.h)
                numeric.replaceSubrange(6 * j ..< 6 * j + 6, with: [dp.x, dp.y, dp.z, w.x, w.y, w.z])
            }
            Self.expectClose(jac, numeric, "Jacobian of frame \(model.frames[frame].name)")
        }
    }
}
