import LinearAlgebra

extension URDFInertial {
    /// The principal moments of inertia (eigenvalues of `tensor`) in ascending order, kg·m².
    public var principalMoments: Vector3 { symmetricEigenvalues(tensor) }
}

/// Eigenvalues of a symmetric 3×3 matrix, ascending, by cyclic Jacobi rotations.
///
/// Jacobi rather than the closed-form trigonometric solution: the closed form loses about half
/// the digits of a nearly repeated eigenvalue pair (acos near ±1), which is exactly the case the
/// triangle-inequality check meets for rods and discs. Jacobi is accurate to a few ulps of ‖A‖
/// and converges in three or four sweeps at this size.
///
/// Each rotation zeroes a_pq with t = tan φ = sgn θ / (|θ| + √(θ² + 1)), θ = (a_qq − a_pp) / (2 a_pq):
/// a_pp −= t a_pq, a_qq += t a_pq, and the remaining row r mixes as
/// a_rp ← c a_rp − s a_rq, a_rq ← s a_rp + c a_rq with c = 1/√(t² + 1), s = t c.
func symmetricEigenvalues(_ m: Matrix3) -> Vector3 {
    var a00 = m.m00, a11 = m.m11, a22 = m.m22
    var a01 = m.m01, a02 = m.m02, a12 = m.m12

    func rotate(
        _ app: inout Double, _ aqq: inout Double, _ apq: inout Double, _ arp: inout Double, _ arq: inout Double
    ) {
        guard apq != 0 else { return }
        let theta = (aqq - app) / (2 * apq)
        // θ² overflows only when a_pq is negligible next to a_qq − a_pp; t = 0 then just drops it.
        let t = (theta < 0 ? -1.0 : 1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
        let c = 1 / (t * t + 1).squareRoot()
        let s = t * c
        app -= t * apq
        aqq += t * apq
        apq = 0
        let rp = arp, rq = arq
        arp = c * rp - s * rq
        arq = s * rp + c * rq
    }

    for _ in 0..<32 {
        let offDiagonal = a01 * a01 + a02 * a02 + a12 * a12
        let diagonal = a00 * a00 + a11 * a11 + a22 * a22
        if offDiagonal <= 1e-36 * diagonal { break }
        rotate(&a00, &a11, &a01, &a02, &a12)
        rotate(&a00, &a22, &a02, &a01, &a12)
        rotate(&a11, &a22, &a12, &a01, &a02)
    }

    var (l0, l1, l2) = (a00, a11, a22)
    if l0 > l1 { swap(&l0, &l1) }
    if l1 > l2 { swap(&l1, &l2) }
    if l0 > l1 { swap(&l0, &l1) }
    return Vector3(l0, l1, l2)
}
