import LinearAlgebra

/// A rigid transform (an element of SE(3)): the pose of a child frame in a parent frame, so that
/// a point maps as x_parent = R · x_child + p.
///
/// `act` expresses child-frame spatial quantities in the parent frame; `actInverse` goes back.
/// - Note: Real-time safe: no allocation, no locks.
@frozen
public struct Transform: Hashable, Sendable {
    public var rotation: Matrix3
    public var translation: Vector3

    @inlinable @inline(__always)
    public init(rotation: Matrix3 = .identity, translation: Vector3 = .zero) {
        self.rotation = rotation
        self.translation = translation
    }

    public static let identity = Transform()

    /// URDF `<origin xyz rpy>`.
    @inlinable
    public init(xyz: Vector3, rpy: Vector3) {
        self.init(rotation: .rpy(rpy.x, rpy.y, rpy.z), translation: xyz)
    }

    /// Composition: (a * b) maps b's child frame into a's parent frame.
    @inlinable @inline(__always)
    public static func * (a: Transform, b: Transform) -> Transform {
        Transform(rotation: a.rotation * b.rotation, translation: a.rotation * b.translation + a.translation)
    }

    @inlinable
    public var inverse: Transform {
        let rt = rotation.transposed
        return Transform(rotation: rt, translation: -(rt * translation))
    }

    /// x_parent = R x + p.
    @inlinable @inline(__always)
    public func act(point x: Vector3) -> Vector3 { rotation * x + translation }

    /// Motion in the parent frame: ω' = R ω, v' = R v + p × ω'.
    @inlinable @inline(__always)
    public func act(_ m: Motion) -> Motion {
        let w = rotation * m.angular
        return Motion(angular: w, linear: rotation * m.linear + translation.cross(w))
    }

    /// Motion in the child frame: ω' = Rᵀ ω, v' = Rᵀ (v − p × ω).
    @inlinable @inline(__always)
    public func actInverse(_ m: Motion) -> Motion {
        Motion(
            angular: rotation.transposeTimes(m.angular),
            linear: rotation.transposeTimes(m.linear - translation.cross(m.angular))
        )
    }

    /// Force in the parent frame: f' = R f, n' = R n + p × f'.
    @inlinable @inline(__always)
    public func act(_ f: Force) -> Force {
        let lin = rotation * f.linear
        return Force(angular: rotation * f.angular + translation.cross(lin), linear: lin)
    }

    /// Force in the child frame: f' = Rᵀ f, n' = Rᵀ (n − p × f).
    @inlinable @inline(__always)
    public func actInverse(_ f: Force) -> Force {
        Force(
            angular: rotation.transposeTimes(f.angular - translation.cross(f.linear)),
            linear: rotation.transposeTimes(f.linear)
        )
    }

    @inlinable public var isFinite: Bool { rotation.isFinite && translation.isFinite }
}
