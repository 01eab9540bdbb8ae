import AllocationCounter
import LinearAlgebra
import RealModule
import Testing

extension SplitMix64 {
    mutating func matrix(_ r: Int, _ c: Int) -> Matrix {
        Matrix(rows: r, columns: c, columnMajor: (0 ..< r * c).map { _ in Double.random(in: -1 ... 1, using: &self) })
    }
}

/// Naive triple loop: the oracle for BLAS.
func naiveProduct(_ a: Matrix, _ b: Matrix) -> Matrix {
    var c = Matrix(rows: a.rows, columns: b.columns)
    for i in 0 ..< a.rows { for j in 0 ..< b.columns { for k in 0 ..< a.columns { c[i, j] += a[i, k] * b[k, j] } } }
    return c
}

func maxAbsDiff(_ a: Matrix, _ b: Matrix) -> Double {
    precondition(a.rows == b.rows && a.columns == b.columns)
    return zip(a.storage, b.storage).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

@Suite struct BLASTests {
    init() { OpenBLAS.configureSingleThreaded() }

    @Test(arguments: [(Transpose.none, Transpose.none), (.transpose, .none), (.none, .transpose), (.transpose, .transpose)])
    func gemmMatchesNaiveProduct(_ ta: Transpose, _ tb: Transpose) {
        var rng = SplitMix64(seed: 1)
        let (m, k, n) = (5, 7, 3)
        let a = ta == .none ? rng.matrix(m, k) : rng.matrix(k, m)
        let b = tb == .none ? rng.matrix(k, n) : rng.matrix(n, k)
        var c = rng.matrix(m, n)
        let c0 = c
        BLAS.gemm(a, b, into: &c, transposeA: ta, transposeB: tb, alpha: 2, beta: 0.5)
        let opA = ta == .none ? a : a.transposed, opB = tb == .none ? b : b.transposed
        var expected = naiveProduct(opA, opB)
        for i in expected.storage.indices { expected.storage[i] = 2 * expected.storage[i] + 0.5 * c0.storage[i] }
        #expect(maxAbsDiff(c, expected) < 1e-13)
    }

    @Test(arguments: [Transpose.none, .transpose])
    func gemvMatchesNaiveProduct(_ t: Transpose) {
        var rng = SplitMix64(seed: 2)
        let a = rng.matrix(4, 6)
        let x = t == .none ? rng.matrix(6, 1) : rng.matrix(4, 1)
        var y = t == .none ? rng.matrix(4, 1) : rng.matrix(6, 1)
        let y0 = y
        BLAS.gemv(a, x, into: &y, transpose: t, alpha: -1, beta: 3)
        var expected = naiveProduct(t == .none ? a : a.transposed, x)
        for i in expected.storage.indices { expected.storage[i] = -expected.storage[i] + 3 * y0.storage[i] }
        #expect(maxAbsDiff(y, expected) < 1e-13)
    }

    @Test(arguments: [Triangle.upper, .lower])
    func syrkMatchesAAT(_ triangle: Triangle) {
        var rng = SplitMix64(seed: 3)
        let a = rng.matrix(4, 9)
        var c = Matrix(rows: 4, columns: 4)
        BLAS.syrk(a, into: &c, triangle: triangle)
        BLAS.symmetrize(&c, from: triangle)
        #expect(maxAbsDiff(c, naiveProduct(a, a.transposed)) < 1e-13)
        var d = Matrix(rows: 9, columns: 9)
        BLAS.syrk(a, into: &d, transpose: .transpose, triangle: triangle)
        BLAS.symmetrize(&d, from: triangle)
        #expect(maxAbsDiff(d, naiveProduct(a.transposed, a)) < 1e-13)
    }

    @Test func levelOneOperations() {
        var rng = SplitMix64(seed: 4)
        let x = rng.matrix(7, 1)
        var y = rng.matrix(7, 1)
        let y0 = y
        BLAS.axpy(2, x, &y)
        for i in 0 ..< 7 { #expect(abs(y.storage[i] - (y0.storage[i] + 2 * x.storage[i])) < 1e-15) }
        let dot = zip(x.storage, y0.storage).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(BLAS.dot(x, y0) - dot) < 1e-14)
        #expect(abs(BLAS.nrm2(x) - BLAS.dot(x, x).squareRoot()) < 1e-14)
        var z = x
        BLAS.scal(-3, &z)
        #expect(z.storage == x.storage.map { -3 * $0 })
    }

    @Test func inPlaceCallsDoNotAllocate() {
        var rng = SplitMix64(seed: 5)
        let a = rng.matrix(6, 6), b = rng.matrix(6, 6)
        var c = Matrix(rows: 6, columns: 6)
        var spd = naiveProduct(a, a.transposed)
        for i in 0 ..< 6 { spd[i, i] += 6 }
        var factor = spd
        var rhs = rng.matrix(6, 2)
        var ws = SymmetricSolveWorkspace(dimension: 6)
        // The first call of each routine may set up OpenBLAS/LAPACK internals; count from the second.
        for round in 0 ..< 11 {
            if round == 1 { AllocationCounter_start() }
            BLAS.gemm(a, b, into: &c)
            BLAS.syrk(a, into: &c)
            factor.copy(from: spd)
            _ = LAPACK.choleskyFactor(&factor)
            _ = LAPACK.choleskySolve(factor: factor, &rhs)
            _ = LAPACK.symmetricSolve(spd, &rhs, workspace: &ws)
        }
        #expect(AllocationCounter_stop() == 0)
    }
}

@Suite struct LAPACKTests {
    static func spd(_ n: Int, seed: UInt64) -> Matrix {
        var rng = SplitMix64(seed: seed)
        let a = rng.matrix(n, n)
        var m = naiveProduct(a, a.transposed)
        for i in 0 ..< n { m[i, i] += Double(n) }
        return m
    }

    @Test(arguments: [Triangle.lower, .upper])
    func choleskyReconstructsAndSolves(_ triangle: Triangle) {
        let a = Self.spd(6, seed: 10)
        var f = a
        #expect(LAPACK.choleskyFactor(&f, triangle: triangle) == .success)
        // Zero the unused triangle, then L Lᵀ (or Uᵀ U) must give back A.
        var t = f
        for j in 0 ..< 6 { for i in 0 ..< 6 where triangle == .lower ? i < j : i > j { t[i, j] = 0 } }
        let rebuilt = triangle == .lower ? naiveProduct(t, t.transposed) : naiveProduct(t.transposed, t)
        #expect(maxAbsDiff(rebuilt, a) < 1e-12)
        var rng = SplitMix64(seed: 11)
        let b = rng.matrix(6, 3)
        var x = b
        #expect(LAPACK.choleskySolve(factor: f, &x, triangle: triangle) == .success)
        #expect(maxAbsDiff(naiveProduct(a, x), b) < 1e-12)
        var inv = f
        #expect(LAPACK.choleskyInverse(&inv, triangle: triangle) == .success)
        #expect(maxAbsDiff(naiveProduct(a, inv), .identity(6)) < 1e-12)
    }

    @Test func notPositiveDefiniteIsReportedWithItsMinor() {
        // Leading 1×1 and 2×2 minors positive, 3×3 minor negative.
        var a = Matrix([[4, 2, 0], [2, 3, 0], [0, 0, -1]])
        #expect(LAPACK.choleskyFactor(&a) == .notPositiveDefinite(minor: 3))
    }

    @Test func symmetricIndefiniteSolve() {
        let a = Matrix([[1, 2, 3], [2, -4, 1], [3, 1, 0]])
        var rng = SplitMix64(seed: 12)
        let b = rng.matrix(3, 2)
        var x = b
        var ws = SymmetricSolveWorkspace(dimension: 3)
        #expect(LAPACK.symmetricSolve(a, &x, workspace: &ws) == .success)
        #expect(maxAbsDiff(naiveProduct(a, x), b) < 1e-12)
        var singular = x
        #expect(LAPACK.symmetricSolve(Matrix([[1, 1, 0], [1, 1, 0], [0, 0, 1]]), &singular, workspace: &ws) != .success)
    }
}

@Suite struct SmallMatrixTests {
    @Test func crossProductIdentities() {
        var rng = SplitMix64(seed: 20)
        for _ in 0 ..< 100 {
            let a = Vector3(.random(in: -1 ... 1, using: &rng), .random(in: -1 ... 1, using: &rng), .random(in: -1 ... 1, using: &rng))
            let b = Vector3(.random(in: -1 ... 1, using: &rng), .random(in: -1 ... 1, using: &rng), .random(in: -1 ... 1, using: &rng))
            let c = a.cross(b)
            #expect(abs(c.dot(a)) < 1e-15 && abs(c.dot(b)) < 1e-15)
            // Lagrange: |a × b|² = |a|²|b|² − (a·b)².
            #expect(abs(c.squaredNorm - (a.squaredNorm * b.squaredNorm - a.dot(b) * a.dot(b))) < 1e-14)
            #expect(Matrix3.skew(a) * b == c)
        }
    }

    @Test func rotationsAreOrthonormalAndComposeLikeURDF() {
        var rng = SplitMix64(seed: 21)
        for _ in 0 ..< 100 {
            let (r, p, y) = (Double.random(in: -3 ... 3, using: &rng), Double.random(in: -1.5 ... 1.5, using: &rng), Double.random(in: -3 ... 3, using: &rng))
            let m = Matrix3.rpy(r, p, y)
            let composed = Matrix3.rotation(axis: .unitZ, angle: y) * Matrix3.rotation(axis: .unitY, angle: p) * Matrix3.rotation(axis: .unitX, angle: r)
            let rows = m.rows.flatMap { $0 }, expected = composed.rows.flatMap { $0 }
            #expect(zip(rows, expected).allSatisfy { abs($0 - $1) < 1e-14 })
            let rrt = (m * m.transposed).rows.flatMap { $0 }
            #expect(zip(rrt, Matrix3.identity.rows.flatMap { $0 }).allSatisfy { abs($0 - $1) < 1e-14 })
            #expect(abs(m.determinant - 1) < 1e-14)
        }
    }

    /// Rodrigues for a known case: 90° about z maps x to y.
    @Test func rodriguesKnownAngle() {
        let r = Matrix3.rotation(axis: .unitZ, angle: .pi / 2)
        let v = r * .unitX
        #expect(abs(v.x) < 1e-15 && abs(v.y - 1) < 1e-15 && abs(v.z) < 1e-15)
        let axis = Vector3(1, 1, 1) / Vector3(1, 1, 1).norm
        let third = Matrix3.rotation(axis: axis, angle: 2 * .pi / 3)
        let w = third * .unitX
        #expect(abs(w.y - 1) < 1e-14, "120° about (1,1,1) cycles x → y")
    }
}

/// Which OpenBLAS core robotd forces (`OPENBLAS_CORETYPE`) for a CPU's features and the core
/// OpenBLAS chose on its own: only ever a stronger one than OpenBLAS's, never one the CPU lacks.
@Suite struct OpenBLASCoreTypeTests {
    typealias F = OpenBLAS.CPUFeatures
    static let avx512: F = [.avx2, .fma, .avx512f, .avx512bw, .avx512vl, .avx512dq]

    @Test(arguments: [
        // The Xeon: AVX-512 without BF16, OpenBLAS 0.3.21 fell back to Prescott.
        (avx512, "Prescott", "SkylakeX"),
        (avx512.union(.avx512bf16), "Prescott", "Cooperlake"),
        (avx512.union([.avx512bf16, .amd]), "Prescott", "Cooperlake"),  // Zen 4
        (avx512.union(.amd), "Zen", "SkylakeX"),
        (avx512, "Haswell", "SkylakeX"),
        (avx512, "Sandybridge", "SkylakeX"),
        (F([.avx2, .fma]), "Prescott", "Haswell"),
        (F([.avx2, .fma, .amd]), "Prescott", "Zen"),
        (F([.avx2, .fma]), "Nehalem", "Haswell"),
    ] as [(F, String, String)])
    func forcesTheCoreTheCPURunsWhenOpenBLASChoseAWeakerOne(_ features: F, _ chosen: String, _ expected: String) {
        #expect(OpenBLAS.coreTypeToForce(features: features, chosenCore: chosen) == expected)
    }

    @Test(arguments: [
        (avx512.union(.avx512bf16), "Cooperlake"),  // this machine: OpenBLAS knows it
        (avx512, "SkylakeX"),
        (avx512, "SapphireRapids"),  // stronger than what we would force: keep it
        (avx512, "cooperlake"),  // names compare case-insensitively
        (F([.avx2, .fma]), "Haswell"),
        (F([.avx2, .fma, .amd]), "Zen"),
        (F([.avx2, .fma]), "SkylakeX"),  // never downgrade
        (F([.avx2]), "Prescott"),  // AVX2 without FMA: no core to force
        (F([.avx512f, .avx2, .fma]).subtracting(.fma), "Prescott"),
        (F(), "Prescott"),  // baseline x86-64, or another architecture
        (F(), "armv8"),
    ] as [(F, String)])
    func leavesOpenBLASsChoiceOtherwise(_ features: F, _ chosen: String) {
        #expect(OpenBLAS.coreTypeToForce(features: features, chosenCore: chosen) == nil)
    }

    /// `openblas_get_corename` answers with a name.
    @Test func theCoreNameIsReported() {
        #expect(!OpenBLAS.coreName.isEmpty && OpenBLAS.coreName != "unknown")
    }
}
