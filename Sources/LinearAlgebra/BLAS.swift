import CLapack

/// Whether BLAS reads a matrix as stored or transposed.
public enum Transpose: Sendable {
    case none
    case transpose

    /// The corresponding C constants are `CblasNoTrans` and `CblasTrans`.
    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// Which triangle of a symmetric matrix BLAS/LAPACK read or write.
public enum Triangle: Sendable {
    case upper
    case lower

    /// The corresponding C constants are `CblasUpper` and `CblasLower`.
    var cblas: CBLAS_UPLO { self == .upper ? CblasUpper : CblasLower }
    /// LAPACK's 'U' / 'L'.
    var lapack: CChar { self == .upper ? CChar(UInt8(ascii: "U")) : CChar(UInt8(ascii: "L")) }
}

/// In-place BLAS level-1/2/3 on `Matrix`. Every call writes into an existing destination and
/// allocates nothing when the destination is uniquely owned. Shape errors are programmer errors
/// (`precondition`).
public enum BLAS {
    @inline(__always)
    static func int32(_ x: Int) -> Int32 {
        guard let v = Int32(exactly: x) else { preconditionFailure("dimension \(x) exceeds BLAS's 32-bit range") }
        return v
    }

    /// C ← α op(A) op(B) + β C.
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `cblas_dgemm`.
    public static func gemm(
        _ a: Matrix, _ b: Matrix, into c: inout Matrix, transposeA transA: Transpose = .none,
        transposeB transB: Transpose = .none, alpha: Double = 1, beta: Double = 0
    ) {
        let m = transA == .none ? a.rows : a.columns
        let k = transA == .none ? a.columns : a.rows
        let kb = transB == .none ? b.rows : b.columns
        let n = transB == .none ? b.columns : b.rows
        precondition(k == kb && c.rows == m && c.columns == n, "gemm: op(A) is \(m)×\(k), op(B) is \(kb)×\(n), C is \(c.rows)×\(c.columns)")
        guard m > 0, n > 0 else { return }
        let lda = int32(a.leadingDimension), ldb = int32(b.leadingDimension), ldc = int32(c.leadingDimension)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_dgemm(CblasColMajor, transA.cblas, transB.cblas, int32(m), int32(n), int32(k),
                                alpha, pa.baseAddress, lda, pb.baseAddress, ldb, beta, pc.baseAddress, ldc)
                }
            }
        }
    }

    /// y ← α op(A) x + β y for column vectors x and y.
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `cblas_dgemv`.
    public static func gemv(_ a: Matrix, _ x: Matrix, into y: inout Matrix, transpose trans: Transpose = .none, alpha: Double = 1, beta: Double = 0) {
        let m = trans == .none ? a.rows : a.columns, n = trans == .none ? a.columns : a.rows
        precondition(x.columns == 1 && y.columns == 1 && x.rows == n && y.rows == m, "gemv: op(A) is \(m)×\(n), x has \(x.rows), y has \(y.rows)")
        guard a.rows > 0, a.columns > 0 else { return }
        a.withUnsafeBufferPointer { pa in
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in
                    cblas_dgemv(CblasColMajor, trans.cblas, int32(a.rows), int32(a.columns), alpha, pa.baseAddress,
                                int32(a.leadingDimension), px.baseAddress, 1, beta, py.baseAddress, 1)
                }
            }
        }
    }

    /// C ← α A Aᵀ + β C (or α Aᵀ A + β C with `.transpose`), writing only `triangle` of C;
    /// `symmetrize` mirrors it afterwards.
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `cblas_dsyrk`.
    public static func syrk(_ a: Matrix, into c: inout Matrix, transpose trans: Transpose = .none, triangle: Triangle = .upper, alpha: Double = 1, beta: Double = 0) {
        let n = trans == .none ? a.rows : a.columns, k = trans == .none ? a.columns : a.rows
        precondition(c.rows == n && c.columns == n, "syrk: C must be \(n)×\(n)")
        guard n > 0 else { return }
        let ldc = int32(c.leadingDimension)
        a.withUnsafeBufferPointer { pa in
            c.withUnsafeMutableBufferPointer { pc in
                cblas_dsyrk(CblasColMajor, triangle.cblas, trans.cblas, int32(n), int32(k), alpha, pa.baseAddress,
                            int32(a.leadingDimension), beta, pc.baseAddress, ldc)
            }
        }
    }

    /// Copies `triangle` of a square matrix onto the other one.
    /// - Note: Real-time safe: no allocation, no locks.
    public static func symmetrize(_ c: inout Matrix, from triangle: Triangle = .upper) {
        precondition(c.isSquare, "symmetrize needs a square matrix")
        let n = c.rows
        for j in 0 ..< n {
            for i in 0 ..< j {
                if triangle == .upper { c.storage[i * n + j] = c.storage[j * n + i] } else { c.storage[j * n + i] = c.storage[i * n + j] }
            }
        }
    }

    /// y ← α x + y (all elements, any shape).
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `cblas_daxpy`.
    public static func axpy(_ alpha: Double, _ x: Matrix, _ y: inout Matrix) {
        precondition(x.storage.count == y.storage.count, "axpy: sizes differ")
        let n = int32(x.storage.count)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in cblas_daxpy(n, alpha, px.baseAddress, 1, py.baseAddress, 1) }
        }
    }

    /// x · y over all elements.
    /// The corresponding C function is `cblas_ddot`.
    public static func dot(_ x: Matrix, _ y: Matrix) -> Double {
        precondition(x.storage.count == y.storage.count, "dot: sizes differ")
        return x.withUnsafeBufferPointer { px in
            y.withUnsafeBufferPointer { py in cblas_ddot(int32(x.storage.count), px.baseAddress, 1, py.baseAddress, 1) }
        }
    }

    /// Euclidean (Frobenius) norm.
    /// The corresponding C function is `cblas_dnrm2`.
    public static func nrm2(_ x: Matrix) -> Double {
        x.withUnsafeBufferPointer { cblas_dnrm2(int32(x.storage.count), $0.baseAddress, 1) }
    }

    /// x ← α x.
    /// The corresponding C function is `cblas_dscal`.
    public static func scal(_ alpha: Double, _ x: inout Matrix) {
        let n = int32(x.storage.count)
        x.withUnsafeMutableBufferPointer { cblas_dscal(n, alpha, $0.baseAddress, 1) }
    }
}

/// Single-precision BLAS on raw row-major buffers, for neural networks (weights in PyTorch's
/// `nn.Linear` layout: out × in, row-major).
public enum SBLAS {
    /// C (m × n) ← α op(A) op(B) + β C, all row-major; op(A) is m × k, op(B) k × n.
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `cblas_sgemm`.
    public static func gemm(m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, transA: Bool = false,
                            b: UnsafePointer<Float>, transB: Bool = false, beta: Float = 0, c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    BLAS.int32(m), BLAS.int32(n), BLAS.int32(k), alpha, a, BLAS.int32(transA ? m : k),
                    b, BLAS.int32(transB ? k : n), beta, c, BLAS.int32(n))
    }
}
