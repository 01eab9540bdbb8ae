import LinearAlgebra

/// A spatial motion vector (twist or spatial acceleration) expressed in some frame at its origin:
/// angular part ω (rad/s) and linear part v (m/s) of the point at the frame origin.
///
/// Ordering is Featherstone's (angular, linear); public Jacobians put linear rows first to match
/// Pinocchio, see `RobotModel.frameJacobian`.
/// - Note: Real-time safe: no allocation, no locks.
@frozen
public struct Motion: Hashable, Sendable {
    public var angular: Vector3
    public var linear: Vector3

    @inlinable @inline(__always)
    public init(angular: Vector3, linear: Vector3) {
        self.angular = angular
        self.linear = linear
    }

    public static let zero = Motion(angular: .zero, linear: .zero)

    @inlinable @inline(__always)
    public static func + (a: Motion, b: Motion) -> Motion {
        Motion(angular: a.angular + b.angular, linear: a.linear + b.linear)
    }
    @inlinable @inline(__always)
    public static func - (a: Motion, b: Motion) -> Motion {
        Motion(angular: a.angular - b.angular, linear: a.linear - b.linear)
    }
    @inlinable @inline(__always)
    public static prefix func - (a: Motion) -> Motion { Motion(angular: -a.angular, linear: -a.linear) }
    @inlinable @inline(__always)
    public static func * (s: Double, a: Motion) -> Motion { Motion(angular: s * a.angular, linear: s * a.linear) }
    @inlinable @inline(__always)
    public static func += (a: inout Motion, b: Motion) { a = a + b }

    /// Motion cross product (the Lie bracket ad_m):
    /// m × n = (ω × ω_n, ω × v_n + v × ω_n).
    @inlinable @inline(__always)
    public func cross(_ n: Motion) -> Motion {
        Motion(angular: angular.cross(n.angular), linear: angular.cross(n.linear) + linear.cross(n.angular))
    }

    /// Dual cross product acting on a force (−ad_mᵀ):
    /// m ×* f = (ω × n_f + v × f_f, ω × f_f).
    @inlinable @inline(__always)
    public func cross(_ f: Force) -> Force {
        Force(angular: angular.cross(f.angular) + linear.cross(f.linear), linear: angular.cross(f.linear))
    }

    /// Power pairing m · f = ω · n + v · f.
    @inlinable @inline(__always)
    public func dot(_ f: Force) -> Double { angular.dot(f.angular) + linear.dot(f.linear) }

    @inlinable public var isFinite: Bool { angular.isFinite && linear.isFinite }
}

/// A spatial force (wrench) expressed in some frame at its origin: moment n (N·m) about the origin
/// and force f (N).
/// - Note: Real-time safe: no allocation, no locks.
@frozen
public struct Force: Hashable, Sendable {
    public var angular: Vector3
    public var linear: Vector3

    @inlinable @inline(__always)
    public init(angular: Vector3, linear: Vector3) {
        self.angular = angular
        self.linear = linear
    }

    public static let zero = Force(angular: .zero, linear: .zero)

    @inlinable @inline(__always)
    public static func + (a: Force, b: Force) -> Force {
        Force(angular: a.angular + b.angular, linear: a.linear + b.linear)
    }
    @inlinable @inline(__always)
    public static func - (a: Force, b: Force) -> Force {
        Force(angular: a.angular - b.angular, linear: a.linear - b.linear)
    }
    @inlinable @inline(__always)
    public static func * (s: Double, a: Force) -> Force { Force(angular: s * a.angular, linear: s * a.linear) }
    @inlinable @inline(__always)
    public static func += (a: inout Force, b: Force) { a = a + b }

    /// f · m = n · ω + f · v.
    @inlinable @inline(__always)
    public func dot(_ m: Motion) -> Double { angular.dot(m.angular) + linear.dot(m.linear) }
}
