import LinearAlgebra

/// The spatial inertia of a rigid body, expressed in a frame: mass m (kg), centre of mass c (m, in
/// the frame) and rotational inertia I_c about the centre of mass (kg·m², frame axes).
///
/// As a 6×6 matrix in (angular, linear) order: [[I_c + m ĉ ĉᵀ, m ĉ], [m ĉᵀ, m 1]].
/// - Note: Real-time safe: no allocation, no locks.
@frozen
public struct SpatialInertia: Hashable, Sendable {
    public var mass: Double
    public var centerOfMass: Vector3
    public var rotationalInertia: Matrix3

    @inlinable
    public init(mass: Double, centerOfMass: Vector3, rotationalInertia: Matrix3) {
        self.mass = mass
        self.centerOfMass = centerOfMass
        self.rotationalInertia = rotationalInertia
    }

    public static let zero = SpatialInertia(mass: 0, centerOfMass: .zero, rotationalInertia: .zero)

    /// Momentum of a body moving with twist m: linear h = m (v − c × ω), angular = I_c ω + c × h.
    @inlinable @inline(__always)
    public static func * (y: SpatialInertia, m: Motion) -> Force {
        let lin = y.mass * (m.linear - y.centerOfMass.cross(m.angular))
        return Force(angular: y.rotationalInertia * m.angular + y.centerOfMass.cross(lin), linear: lin)
    }

    /// The same body expressed in the parent frame of `t`: c' = R c + p, I_c' = R I_c Rᵀ.
    @inlinable @inline(__always)
    public func transformed(by t: Transform) -> SpatialInertia {
        SpatialInertia(
            mass: mass,
            centerOfMass: t.act(point: centerOfMass),
            rotationalInertia: t.rotation * rotationalInertia * t.rotation.transposed
        )
    }

    /// Sum of two bodies rigidly joined. The combined centre of mass is the mass-weighted mean and
    /// each rotational inertia moves to it by the parallel-axis theorem:
    /// I = Σ I_k + m_k (‖d_k‖² 1 − d_k d_kᵀ), d_k = c_k − c.
    @inlinable
    public static func + (a: SpatialInertia, b: SpatialInertia) -> SpatialInertia {
        let m = a.mass + b.mass
        guard m > 0 else { return SpatialInertia(mass: 0, centerOfMass: .zero, rotationalInertia: a.rotationalInertia + b.rotationalInertia) }
        let c = (a.mass * a.centerOfMass + b.mass * b.centerOfMass) / m
        return SpatialInertia(
            mass: m, centerOfMass: c,
            rotationalInertia: a.rotationalInertia + b.rotationalInertia
                + parallelAxis(mass: a.mass, offset: a.centerOfMass - c)
                + parallelAxis(mass: b.mass, offset: b.centerOfMass - c)
        )
    }

    @inlinable @inline(__always)
    public static func += (a: inout SpatialInertia, b: SpatialInertia) { a = a + b }

    /// m (‖d‖² 1 − d dᵀ) = −m [d]×².
    @inlinable @inline(__always)
    static func parallelAxis(mass: Double, offset d: Vector3) -> Matrix3 {
        let s = Matrix3.skew(d)
        return (-mass) * (s * s)
    }

    /// The 6×6 form, for algorithms (ABA) whose inertias stop being rigid-body inertias.
    @inlinable @inline(__always)
    public var matrix: SpatialMatrix {
        let cx = Matrix3.skew(centerOfMass)
        let mcx = mass * cx
        return SpatialMatrix(
            a: rotationalInertia - mcx * cx, b: mcx, c: .diagonal(Vector3(mass, mass, mass))
        )
    }
}

/// A symmetric 6×6 matrix mapping motions to forces, in 3×3 blocks (angular, linear order):
/// [[A, B], [Bᵀ, C]] with A and C symmetric. ABA's articulated-body inertias are of this form.
/// - Note: Real-time safe: no allocation, no locks.
@frozen
public struct SpatialMatrix: Hashable, Sendable {
    public var a: Matrix3
    public var b: Matrix3
    public var c: Matrix3

    @inlinable @inline(__always)
    public init(a: Matrix3, b: Matrix3, c: Matrix3) {
        self.a = a
        self.b = b
        self.c = c
    }

    public static let zero = SpatialMatrix(a: .zero, b: .zero, c: .zero)

    /// (n, f) = (A ω + B v, Bᵀ ω + C v).
    @inlinable @inline(__always)
    public static func * (y: SpatialMatrix, m: Motion) -> Force {
        Force(
            angular: y.a * m.angular + y.b * m.linear,
            linear: y.b.transposeTimes(m.angular) + y.c * m.linear
        )
    }

    @inlinable @inline(__always)
    public static func + (x: SpatialMatrix, y: SpatialMatrix) -> SpatialMatrix {
        SpatialMatrix(a: x.a + y.a, b: x.b + y.b, c: x.c + y.c)
    }

    @inlinable @inline(__always)
    public static func += (x: inout SpatialMatrix, y: SpatialMatrix) { x = x + y }

    /// Y − s · u uᵀ for a force-space vector u (ABA's articulated-inertia update, s = 1/D).
    @inlinable @inline(__always)
    public func subtractingOuterProduct(_ u: Force, scale s: Double) -> SpatialMatrix {
        SpatialMatrix(
            a: a - s * outer(u.angular, u.angular),
            b: b - s * outer(u.angular, u.linear),
            c: c - s * outer(u.linear, u.linear)
        )
    }

    @inlinable @inline(__always)
    func outer(_ x: Vector3, _ y: Vector3) -> Matrix3 {
        Matrix3(
            x.x * y.x, x.x * y.y, x.x * y.z,
            x.y * y.x, x.y * y.y, x.y * y.z,
            x.z * y.x, x.z * y.y, x.z * y.z
        )
    }

    /// The same inertia expressed in the parent frame of `t` (child-to-parent pose R, p):
    /// Y' = X⁻ᵀ Y X⁻¹. After rotating the blocks (A, B, C → R A Rᵀ, R B Rᵀ, R C Rᵀ), moving the
    /// reference point by p gives A' = A + p̂ Bᵀ − B p̂ − p̂ C p̂, B' = B + p̂ C, C' = C.
    @inlinable @inline(__always)
    public func transformed(by t: Transform) -> SpatialMatrix {
        let r = t.rotation, rt = r.transposed
        let ra = r * a * rt, rb = r * b * rt, rc = r * c * rt
        let px = Matrix3.skew(t.translation)
        let pxc = px * rc
        return SpatialMatrix(
            a: ra + px * rb.transposed - rb * px - pxc * px,
            b: rb + pxc,
            c: rc
        )
    }
}
