import CRiccati
import Foundation
@testable import Planning
import RigidBody
import Testing

/// CRiccati's backward-pass kernels, every build this CPU runs, against the formulas written out
/// as plain triple loops; and the solver with each build against the baseline one.
@Suite struct RiccatiKernelTests {
    static let builds = [Int32(CRiccati_buildBaseline), Int32(CRiccati_buildAVX2), Int32(CRiccati_buildAVX512)]
        .filter { CRiccati_buildAvailable($0) != 0 }

    /// Deterministic values in [−1, 1).
    struct Numbers {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 52) - 1
        }
        mutating func array(_ n: Int) -> [Double] { (0 ..< n).map { _ in next() } }
        /// A symmetric n × n matrix.
        mutating func symmetric(_ n: Int) -> [Double] {
            var a = array(n * n)
            for i in 0 ..< n { for j in 0 ..< i { a[i * n + j] = a[j * n + i] } }
            return a
        }
    }

    /// (rows × inner) · (inner × cols), all row-major; `transposeA` reads a as (inner × rows).
    static func product(_ a: [Double], _ b: [Double], rows: Int, inner: Int, cols: Int, transposeA: Bool = false) -> [Double] {
        var out = [Double](repeating: 0, count: rows * cols)
        for r in 0 ..< rows {
            for c in 0 ..< cols {
                var s = 0.0
                for m in 0 ..< inner { s += (transposeA ? a[m * rows + r] : a[r * inner + m]) * b[m * cols + c] }
                out[r * cols + c] = s
            }
        }
        return out
    }

    static func expectClose(_ a: [Double], _ b: [Double], _ what: String, build: Int32) {
        let scale = max(1, b.map(abs).max() ?? 1)
        let error = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        #expect(a.count == b.count && error <= 1e-13 * scale, "\(what), build \(build): error \(error)")
    }

    @Test(arguments: [(12, 6), (10, 5), (14, 7), (4, 2), (1, 1), (9, 3)])
    func kernelsMatchTheFormulas(nx: Int, nu: Int) {
        var g = Numbers(state: UInt64(nx * 131 + nu))
        let V = g.symmetric(nx), A = g.array(nx * nx), B = g.array(nx * nu)
        let lxx = g.symmetric(nx), luu = g.symmetric(nu), lux = g.array(nu * nx), K = g.array(nu * nx)
        let mu = 0.37
        let vA = Self.product(V, A, rows: nx, inner: nx, cols: nx), vB = Self.product(V, B, rows: nx, inner: nx, cols: nu)
        let qxx = zip(lxx, Self.product(A, vA, rows: nx, inner: nx, cols: nx, transposeA: true)).map(+)
        let quuTrue = zip(luu, Self.product(B, vB, rows: nu, inner: nx, cols: nu, transposeA: true)).map(+)
        let quxTrue = zip(lux, Self.product(B, vA, rows: nu, inner: nx, cols: nx, transposeA: true)).map(+)
        let quu = zip(quuTrue, Self.product(B, B, rows: nu, inner: nx, cols: nu, transposeA: true)).map { $0 + mu * $1 }
        let qux = zip(quxTrue, Self.product(B, A, rows: nu, inner: nx, cols: nx, transposeA: true)).map { $0 + mu * $1 }
        let m = zip(Self.product(quuTrue, K, rows: nu, inner: nu, cols: nx), quxTrue).map(+)
        let kTm = Self.product(K, m, rows: nx, inner: nu, cols: nx, transposeA: true)
        let quxTK = Self.product(quxTrue, K, rows: nx, inner: nu, cols: nx, transposeA: true)
        let v = (0 ..< nx * nx).map { qxx[$0] + kTm[$0] + quxTK[$0] }
        #expect(Self.builds.contains(Int32(CRiccati_buildBaseline)) && Self.builds.contains(CRiccati_selectedBuild())
                && Self.builds.last == CRiccati_widestBuild())
        for build in Self.builds {
            var outVA = [Double](repeating: .nan, count: nx * nx), outVB = [Double](repeating: .nan, count: nx * nu)
            var outQxx = outVA, outQuuTrue = [Double](repeating: .nan, count: nu * nu), outQuxTrue = [Double](repeating: .nan, count: nu * nx)
            var outQuu = outQuuTrue, outQux = outQuxTrue
            CRiccati_qBlocks(build, nx, nu, V, A, B, lxx, luu, lux, mu, &outVA, &outVB, &outQxx, &outQuuTrue, &outQuxTrue, &outQuu, &outQux)
            Self.expectClose(outVA, vA, "V A", build: build)
            Self.expectClose(outVB, vB, "V B", build: build)
            Self.expectClose(outQxx, qxx, "Q_xx", build: build)
            Self.expectClose(outQuuTrue, quuTrue, "Q_uu", build: build)
            Self.expectClose(outQuxTrue, quxTrue, "Q_ux", build: build)
            Self.expectClose(outQuu, quu, "Q̃_uu", build: build)
            Self.expectClose(outQux, qux, "Q̃_ux", build: build)
            // Symmetric to the bit, as the Cholesky reads one triangle and the QP the whole.
            for i in 0 ..< nx { for j in 0 ..< nx { #expect(outQxx[i * nx + j] == outQxx[j * nx + i]) } }
            for i in 0 ..< nu { for j in 0 ..< nu { #expect(outQuu[i * nu + j] == outQuu[j * nu + i]) } }
            var outM = [Double](repeating: .nan, count: nu * nx), outV = [Double](repeating: .nan, count: nx * nx)
            CRiccati_valueHessian(build, nx, nu, qxx, quuTrue, quxTrue, K, &outM, &outV)
            Self.expectClose(outM, m, "Q_uu K + Q_ux", build: build)
            Self.expectClose(outV, v, "V_xx", build: build)
            for i in 0 ..< nx { for j in 0 ..< nx { #expect(outV[i * nx + j] == outV[j * nx + i]) } }
        }
    }

    /// The reach problem (sim6, T = 50) solved with each build: the same optimum and iterations
    /// as with the baseline build (the builds differ only in rounding).
    @Test func theSolverReachesTheSameOptimumWithEveryBuild() throws {
        var results: [(Int32, ILQRSolver<RigidBodyDynamics, CostModelSum>.Result)] = []
        for build in Self.builds {
            let (solver, x0, _, _) = try ILQRReachTests.reachSolver()
            solver.options.kernelBuild = Int(build)
            results.append((build, x0.withUnsafeBufferPointer { solver.solve(from: $0.baseAddress!) }))
        }
        let base = try #require(results.first { $0.0 == CRiccati_buildBaseline }?.1)
        #expect(base.status == .converged)
        for (build, r) in results {
            #expect(r.status == base.status && r.iterations == base.iterations, "build \(build): \(r) vs \(base)")
            #expect(abs(r.cost - base.cost) <= 1e-9 * base.cost, "build \(build): \(r.cost) vs \(base.cost)")
        }
    }
}

/// `RigidBodyDynamics.linearize(record:)` (derivatives from the step's acceleration,
/// `abaDerivatives(ddq:)`: no second ABA) against the plain `linearize` (`abaDerivatives(tau:)`)
/// at the same points.
@Suite struct RecordedStepLinearizationTests {
    @Test func matchesThePlainLinearization() throws {
        let model = try PlanningDerivativeTests.sim6()
        let dynamics = RigidBodyDynamics(model: model, dt: 0.01)
        #expect(dynamics.stepRecordCount == model.dof)
        var ws = dynamics.makeWorkspace()
        let n = model.dof, nx = 2 * n
        var g = RiccatiKernelTests.Numbers(state: 7)
        for _ in 0 ..< 5 {
            let x = (0 ..< nx).map { _ in 1.5 * g.next() }, u = (0 ..< n).map { _ in 20 * g.next() }
            var record = [Double](repeating: .nan, count: n), stepped = [Double](repeating: .nan, count: nx)
            #expect(dynamics.step(&ws, x: x, u: u, next: &stepped, record: &record))
            var next1 = stepped, fx1 = [Double](repeating: .nan, count: nx * nx), fu1 = [Double](repeating: .nan, count: nx * n)
            var next2 = stepped, fx2 = fx1, fu2 = fu1
            #expect(dynamics.linearize(&ws, x: x, u: u, next: &next1, fx: &fx1, fu: &fu1))
            #expect(dynamics.linearize(&ws, x: x, u: u, record: record, next: &next2, fx: &fx2, fu: &fu2))
            RiccatiKernelTests.expectClose(next2, next1, "next", build: -1)
            RiccatiKernelTests.expectClose(next2, stepped, "next vs step", build: -1)
            // Both are the analytic derivatives; they differ only in rounding (M⁻¹ by another route).
            let scale = max(1, fx1.map(abs).max()!, fu1.map(abs).max()!)
            #expect(zip(fx1, fx2).allSatisfy { abs($0 - $1) <= 1e-10 * scale }, "fx")
            #expect(zip(fu1, fu2).allSatisfy { abs($0 - $1) <= 1e-10 * scale }, "fu")
        }
    }
}
