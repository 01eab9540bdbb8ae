/// A 3-vector in plain Swift: at this size a BLAS call costs more than the arithmetic.
///
/// - Note: Real-time safe: no allocation, no locks.
@frozen
public struct Vector3: Hashable, Sendable, CustomStringConvertible {
    public var x: Double
    public var y: Double
    public var z: Double

    @inlinable @inline(__always)
    public init(_ x: Double, _ y: Double, _ z: Double) {
        self.x = x
        self.y = y
        self.z = z
    }

    public static let zero = Vector3(0, 0, 0)
    public static let unitX = Vector3(1, 0, 0)
    public static let unitY = Vector3(0, 1, 0)
    public static let unitZ = Vector3(0, 0, 1)

    @inlinable @inline(__always)
    public static func + (a: Vector3, b: Vector3) -> Vector3 { Vector3(a.x + b.x, a.y + b.y, a.z + b.z) }
    @inlinable @inline(__always)
    public static func - (a: Vector3, b: Vector3) -> Vector3 { Vector3(a.x - b.x, a.y - b.y, a.z - b.z) }
    @inlinable @inline(__always)
    public static prefix func - (a: Vector3) -> Vector3 { Vector3(-a.x, -a.y, -a.z) }
    @inlinable @inline(__always)
    public static func * (s: Double, a: Vector3) -> Vector3 { Vector3(s * a.x, s * a.y, s * a.z) }
    @inlinable @inline(__always)
    public static func * (a: Vector3, s: Double) -> Vector3 { Vector3(s * a.x, s * a.y, s * a.z) }
    @inlinable @inline(__always)
    public static func / (a: Vector3, s: Double) -> Vector3 { Vector3(a.x / s, a.y / s, a.z / s) }
    @inlinable @inline(__always)
    public static func += (a: inout Vector3, b: Vector3) { a = a + b }
    @inlinable @inline(__always)
    public static func -= (a: inout Vector3, b: Vector3) { a = a - b }

    /// a · b
    @inlinable @inline(__always)
    public func dot(_ b: Vector3) -> Double { x * b.x + y * b.y + z * b.z }

    /// a × b
    @inlinable @inline(__always)
    public func cross(_ b: Vector3) -> Vector3 {
        Vector3(y * b.z - z * b.y, z * b.x - x * b.z, x * b.y - y * b.x)
    }

    @inlinable public var squaredNorm: Double { dot(self) }
    @inlinable public var norm: Double { squaredNorm.squareRoot() }

    /// Whether every component is finite (not NaN, not ±Inf).
    @inlinable public var isFinite: Bool { x.isFinite && y.isFinite && z.isFinite }

    @inlinable
    public subscript(i: Int) -> Double {
        get {
            switch i {
            case 0: return x
            case 1: return y
            default:
                assert(i == 2, "Vector3 index out of range")
                return z
            }
        }
        set {
            switch i {
            case 0: x = newValue
            case 1: y = newValue
            default:
                assert(i == 2, "Vector3 index out of range")
                z = newValue
            }
        }
    }

    public var array: [Double] { [x, y, z] }

    public var description: String { "(\(x), \(y), \(z))" }
}
