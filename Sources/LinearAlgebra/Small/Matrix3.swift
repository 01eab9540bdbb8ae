import RealModule

/// A 3×3 matrix in plain Swift, stored by rows (`m[row][col]` = `mRC`).
///
/// Rotations are `Matrix3` values with `R · Rᵀ = I`, det = +1; `R * v` maps a vector from the
/// rotated frame into the reference frame.
/// - Note: Real-time safe: no allocation, no locks.
@frozen
public struct Matrix3: Hashable, Sendable, CustomStringConvertible {
    public var m00, m01, m02: Double
    public var m10, m11, m12: Double
    public var m20, m21, m22: Double

    @inlinable @inline(__always)
    public init(
        _ m00: Double, _ m01: Double, _ m02: Double,
        _ m10: Double, _ m11: Double, _ m12: Double,
        _ m20: Double, _ m21: Double, _ m22: Double
    ) {
        self.m00 = m00; self.m01 = m01; self.m02 = m02
        self.m10 = m10; self.m11 = m11; self.m12 = m12
        self.m20 = m20; self.m21 = m21; self.m22 = m22
    }

    /// The matrix whose rows are `r0`, `r1`, `r2`.
    @inlinable
    public init(rows r0: Vector3, _ r1: Vector3, _ r2: Vector3) {
        self.init(r0.x, r0.y, r0.z, r1.x, r1.y, r1.z, r2.x, r2.y, r2.z)
    }

    /// The matrix whose columns are `c0`, `c1`, `c2`.
    @inlinable
    public init(columns c0: Vector3, _ c1: Vector3, _ c2: Vector3) {
        self.init(c0.x, c1.x, c2.x, c0.y, c1.y, c2.y, c0.z, c1.z, c2.z)
    }

    public static let identity = Matrix3(1, 0, 0, 0, 1, 0, 0, 0, 1)
    public static let zero = Matrix3(0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// diag(d)
    @inlinable
    public static func diagonal(_ d: Vector3) -> Matrix3 { Matrix3(d.x, 0, 0, 0, d.y, 0, 0, 0, d.z) }

    /// The symmetric matrix [[xx xy xz] [xy yy yz] [xz yz zz]] (URDF inertia layout).
    @inlinable
    public static func symmetric(xx: Double, xy: Double, xz: Double, yy: Double, yz: Double, zz: Double) -> Matrix3 {
        Matrix3(xx, xy, xz, xy, yy, yz, xz, yz, zz)
    }

    /// [v]× such that [v]× w = v × w.
    @inlinable @inline(__always)
    public static func skew(_ v: Vector3) -> Matrix3 { Matrix3(0, -v.z, v.y, v.z, 0, -v.x, -v.y, v.x, 0) }

    /// Rotation of `angle` radians about the unit vector `axis` (Rodrigues):
    /// R = I + sin θ [a]× + (1 − cos θ) [a]×².
    @inlinable @inline(__always)
    public static func rotation(axis a: Vector3, angle: Double) -> Matrix3 {
        let s = Double.sin(angle), c = Double.cos(angle), t = 1 - c
        return Matrix3(
            t * a.x * a.x + c, t * a.x * a.y - s * a.z, t * a.x * a.z + s * a.y,
            t * a.x * a.y + s * a.z, t * a.y * a.y + c, t * a.y * a.z - s * a.x,
            t * a.x * a.z - s * a.y, t * a.y * a.z + s * a.x, t * a.z * a.z + c
        )
    }

    /// URDF's fixed-axis roll-pitch-yaw: R = Rz(yaw) · Ry(pitch) · Rx(roll).
    @inlinable
    public static func rpy(_ roll: Double, _ pitch: Double, _ yaw: Double) -> Matrix3 {
        let cr = Double.cos(roll), sr = Double.sin(roll), cp = Double.cos(pitch), sp = Double.sin(pitch)
        let cy = Double.cos(yaw), sy = Double.sin(yaw)
        return Matrix3(
            cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr,
            sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr,
            -sp, cp * sr, cp * cr
        )
    }

    @inlinable public var row0: Vector3 { Vector3(m00, m01, m02) }
    @inlinable public var row1: Vector3 { Vector3(m10, m11, m12) }
    @inlinable public var row2: Vector3 { Vector3(m20, m21, m22) }
    @inlinable public var column0: Vector3 { Vector3(m00, m10, m20) }
    @inlinable public var column1: Vector3 { Vector3(m01, m11, m21) }
    @inlinable public var column2: Vector3 { Vector3(m02, m12, m22) }

    @inlinable @inline(__always)
    public var transposed: Matrix3 { Matrix3(m00, m10, m20, m01, m11, m21, m02, m12, m22) }

    @inlinable public var trace: Double { m00 + m11 + m22 }

    @inlinable
    public var determinant: Double {
        m00 * (m11 * m22 - m12 * m21) - m01 * (m10 * m22 - m12 * m20) + m02 * (m10 * m21 - m11 * m20)
    }

    @inlinable public var isFinite: Bool { row0.isFinite && row1.isFinite && row2.isFinite }

    /// A · v
    @inlinable @inline(__always)
    public static func * (a: Matrix3, v: Vector3) -> Vector3 {
        Vector3(
            a.m00 * v.x + a.m01 * v.y + a.m02 * v.z,
            a.m10 * v.x + a.m11 * v.y + a.m12 * v.z,
            a.m20 * v.x + a.m21 * v.y + a.m22 * v.z
        )
    }

    /// Aᵀ · v without forming Aᵀ.
    @inlinable @inline(__always)
    public func transposeTimes(_ v: Vector3) -> Vector3 {
        Vector3(
            m00 * v.x + m10 * v.y + m20 * v.z,
            m01 * v.x + m11 * v.y + m21 * v.z,
            m02 * v.x + m12 * v.y + m22 * v.z
        )
    }

    /// A · B
    @inlinable @inline(__always)
    public static func * (a: Matrix3, b: Matrix3) -> Matrix3 {
        Matrix3(columns: a * b.column0, a * b.column1, a * b.column2)
    }

    @inlinable @inline(__always)
    public static func + (a: Matrix3, b: Matrix3) -> Matrix3 {
        Matrix3(
            a.m00 + b.m00, a.m01 + b.m01, a.m02 + b.m02,
            a.m10 + b.m10, a.m11 + b.m11, a.m12 + b.m12,
            a.m20 + b.m20, a.m21 + b.m21, a.m22 + b.m22
        )
    }

    @inlinable @inline(__always)
    public static func - (a: Matrix3, b: Matrix3) -> Matrix3 {
        Matrix3(
            a.m00 - b.m00, a.m01 - b.m01, a.m02 - b.m02,
            a.m10 - b.m10, a.m11 - b.m11, a.m12 - b.m12,
            a.m20 - b.m20, a.m21 - b.m21, a.m22 - b.m22
        )
    }

    @inlinable @inline(__always)
    public static func * (s: Double, a: Matrix3) -> Matrix3 {
        Matrix3(
            s * a.m00, s * a.m01, s * a.m02,
            s * a.m10, s * a.m11, s * a.m12,
            s * a.m20, s * a.m21, s * a.m22
        )
    }

    @inlinable @inline(__always)
    public static func += (a: inout Matrix3, b: Matrix3) { a = a + b }

    @inlinable
    public subscript(row: Int, column: Int) -> Double {
        switch (row, column) {
        case (0, 0): return m00
        case (0, 1): return m01
        case (0, 2): return m02
        case (1, 0): return m10
        case (1, 1): return m11
        case (1, 2): return m12
        case (2, 0): return m20
        case (2, 1): return m21
        default: return m22
        }
    }

    /// Row-major nested arrays, for printing and JSON.
    public var rows: [[Double]] { [row0.array, row1.array, row2.array] }

    public var description: String { "\(rows)" }
}
