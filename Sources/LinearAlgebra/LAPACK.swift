import CLapack

/// Outcome of a factorisation or solve: numeric failures are values, not throws.
public enum FactorizationStatus: Sendable, Equatable {
    case success
    /// The leading minor of this order (1-based) is not positive: not positive definite.
    case notPositiveDefinite(minor: Int)
    /// The factor's diagonal element at this index (1-based) is exactly zero: singular.
    case singular(index: Int)
    /// LAPACK rejected argument number `n` (a programming error surfaced as a value).
    case invalidArgument(Int)

    static func from(_ info: Int32, positiveDefinite: Bool) -> FactorizationStatus {
        if info == 0 { return .success }
        if info < 0 { return .invalidArgument(Int(-info)) }
        return positiveDefinite ? .notPositiveDefinite(minor: Int(info)) : .singular(index: Int(info))
    }
}

/// LAPACKE column-major wrappers writing into caller-owned storage.
public enum LAPACK {
    /// Cholesky factorisation A = U ᵀU or L Lᵀ in place (only `triangle` is read and written).
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `LAPACKE_dpotrf_work`.
    public static func choleskyFactor(_ a: inout Matrix, triangle: Triangle = .lower) -> FactorizationStatus {
        precondition(a.isSquare, "Cholesky needs a square matrix")
        let n = BLAS.int32(a.rows), lda = BLAS.int32(a.leadingDimension)
        let info = a.withUnsafeMutableBufferPointer { p in
            LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, triangle.lapack, n, p.baseAddress, lda)
        }
        return .from(info, positiveDefinite: true)
    }

    /// Solves A X = B given A's Cholesky factor from `choleskyFactor` (same `triangle`);
    /// B is overwritten with X.
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `LAPACKE_dpotrs_work`.
    public static func choleskySolve(factor: Matrix, _ b: inout Matrix, triangle: Triangle = .lower) -> FactorizationStatus {
        precondition(factor.isSquare && b.rows == factor.rows, "Cholesky solve: shapes differ")
        let n = BLAS.int32(factor.rows), nrhs = BLAS.int32(b.columns)
        let lda = BLAS.int32(factor.leadingDimension), ldb = BLAS.int32(b.leadingDimension)
        let info = factor.withUnsafeBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, triangle.lapack, n, nrhs, pa.baseAddress, lda, pb.baseAddress, ldb)
            }
        }
        return .from(info, positiveDefinite: false)
    }

    /// Inverse of a symmetric positive-definite matrix from its Cholesky factor, in place; the
    /// result is mirrored to a full symmetric matrix.
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `LAPACKE_dpotri_work`.
    public static func choleskyInverse(_ factor: inout Matrix, triangle: Triangle = .lower) -> FactorizationStatus {
        let n = BLAS.int32(factor.rows), lda = BLAS.int32(factor.leadingDimension)
        let info = factor.withUnsafeMutableBufferPointer { p in
            LAPACKE_dpotri_work(LAPACK_COL_MAJOR, triangle.lapack, n, p.baseAddress, lda)
        }
        if info == 0 { BLAS.symmetrize(&factor, from: triangle) }
        return .from(info, positiveDefinite: false)
    }
}

/// Scratch for symmetric indefinite solves (Bunch–Kaufman, `dsysv`): the pivot indices and the
/// LAPACK work array, sized once so that solves on the hot path do not allocate.
public struct SymmetricSolveWorkspace: Sendable {
    public let dimension: Int
    var pivots: [Int32]
    var work: [Double]
    /// The factor of the last solve, (n × n).
    var factor: Matrix

    /// Queries LAPACK's optimal work size for `n` × `n` systems.
    /// - Warning: Not real-time safe (allocates).
    public init(dimension n: Int) {
        dimension = n
        pivots = Array(repeating: 0, count: max(1, n))
        factor = Matrix(rows: n, columns: n)
        var query = 0.0
        var a = 0.0, b = 0.0
        var ipiv: Int32 = 0
        _ = LAPACKE_dsysv_work(LAPACK_COL_MAJOR, Triangle.lower.lapack, BLAS.int32(n), 1, &a, BLAS.int32(max(1, n)), &ipiv, &b,
                               BLAS.int32(max(1, n)), &query, -1)
        work = Array(repeating: 0, count: max(1, Int(query)))
    }
}

extension LAPACK {
    /// Solves A X = B for symmetric (possibly indefinite) A; A is copied into the workspace's
    /// factor (A itself is untouched) and B is overwritten with X.
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `LAPACKE_dsysv_work`.
    public static func symmetricSolve(_ a: Matrix, _ b: inout Matrix, workspace ws: inout SymmetricSolveWorkspace, triangle: Triangle = .lower) -> FactorizationStatus {
        precondition(a.isSquare && a.rows == ws.dimension && b.rows == a.rows, "symmetric solve: shapes differ")
        ws.factor.copy(from: a)
        let n = BLAS.int32(a.rows), nrhs = BLAS.int32(b.columns), lwork = BLAS.int32(ws.work.count)
        let lda = BLAS.int32(a.leadingDimension), ldb = BLAS.int32(b.leadingDimension)
        let info = ws.factor.withUnsafeMutableBufferPointer { pa in
            ws.pivots.withUnsafeMutableBufferPointer { pp in
                ws.work.withUnsafeMutableBufferPointer { pw in
                    b.withUnsafeMutableBufferPointer { pb in
                        LAPACKE_dsysv_work(LAPACK_COL_MAJOR, triangle.lapack, n, nrhs, pa.baseAddress, lda, pp.baseAddress,
                                           pb.baseAddress, ldb, pw.baseAddress, lwork)
                    }
                }
            }
        }
        return .from(info, positiveDefinite: false)
    }
}
