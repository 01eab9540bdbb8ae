import LinearAlgebra

/// A URDF file as written, after syntax and consistency checks but before it becomes a
/// `RobotModel`. Lengths in m, angles in rad, masses in kg, inertias in kg·m², efforts in N·m (N for
/// prismatic joints), velocities in rad/s (m/s).
///
/// Invariants established by `URDFParser.parse`: link and joint names are unique; every joint's
/// parent and child name a link; every link is the child of at most one joint; exactly one link
/// (the root) is no joint's child; the joint graph has no cycle; every number is finite; masses are
/// ≥ 0; the inertia of a massive link is positive definite or zero (a point mass); joint axes have
/// unit length; a `<mimic>` sits on a moving joint and names a moving joint that mimics no other.
public struct URDFDescription: Sendable, Equatable {
    /// The `name` attribute of `<robot>`.
    public var name: String
    /// `<link>` elements in document order.
    public var links: [URDFLink]
    /// `<joint>` elements in document order.
    public var joints: [URDFJoint]
    /// Reflected rotor inertia per moving joint (kg·m² or kg), from robotd's extension block
    /// `<robotd><joint name="…" armature="…"/></robotd>`, which other URDF tools ignore. It adds
    /// to the joint's diagonal of the mass matrix, like MuJoCo's and Pinocchio's `armature`.
    public var armature: [String: Double]

    public init(name: String, links: [URDFLink], joints: [URDFJoint], armature: [String: Double] = [:]) {
        self.name = name
        self.links = links
        self.joints = joints
        self.armature = armature
    }
}

/// An `<origin xyz="…" rpy="…"/>`: translation in m, fixed-axis roll-pitch-yaw in rad.
public struct URDFPose: Sendable, Equatable {
    public var xyz: Vector3
    public var rpy: Vector3

    public init(xyz: Vector3 = .zero, rpy: Vector3 = .zero) {
        self.xyz = xyz
        self.rpy = rpy
    }

    public static let identity = URDFPose()
}

/// A link's `<inertial>`: the centre-of-mass frame `origin` relative to the link frame, the mass,
/// and the inertia tensor about the centre of mass expressed in that (possibly rotated) frame.
public struct URDFInertial: Sendable, Equatable {
    public var origin: URDFPose
    public var mass: Double
    public var ixx: Double, ixy: Double, ixz: Double, iyy: Double, iyz: Double, izz: Double

    public init(
        origin: URDFPose = .identity, mass: Double,
        ixx: Double, ixy: Double, ixz: Double, iyy: Double, iyz: Double, izz: Double
    ) {
        self.origin = origin
        self.mass = mass
        self.ixx = ixx; self.ixy = ixy; self.ixz = ixz
        self.iyy = iyy; self.iyz = iyz; self.izz = izz
    }

    /// The inertia tensor as a symmetric 3×3 matrix in the inertial frame.
    public var tensor: Matrix3 { .symmetric(xx: ixx, xy: ixy, xz: ixz, yy: iyy, yz: iyz, zz: izz) }
}

/// A `<link>`. Visual and collision geometry are ignored.
public struct URDFLink: Sendable, Equatable {
    public var name: String
    /// `nil` when the link has no `<inertial>` (a massless frame).
    public var inertial: URDFInertial?
    /// 1-based line of the `<link>` tag in the source, 0 when built in code.
    public var line: Int

    public init(name: String, inertial: URDFInertial? = nil, line: Int = 0) {
        self.name = name
        self.inertial = inertial
        self.line = line
    }
}

/// The joint types robotd supports. `floating` and `planar` are rejected by the parser.
public enum URDFJointType: String, Sendable, Equatable, CaseIterable {
    case revolute
    case continuous
    case prismatic
    case fixed
}

/// A joint's `<limit>`: position bounds (rad or m; ±∞ for continuous joints), velocity bound
/// (rad/s or m/s) and effort bound (N·m or N).
public struct URDFLimits: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var velocity: Double
    public var effort: Double

    public init(lower: Double, upper: Double, velocity: Double, effort: Double) {
        self.lower = lower
        self.upper = upper
        self.velocity = velocity
        self.effort = effort
    }
}

/// A joint's `<dynamics>`: viscous damping (N·m·s/rad or N·s/m) and Coulomb friction (N·m or N).
public struct URDFDynamics: Sendable, Equatable {
    public var damping: Double
    public var friction: Double

    public init(damping: Double = 0, friction: Double = 0) {
        self.damping = damping
        self.friction = friction
    }

    public static let none = URDFDynamics()
}

/// A joint's `<mimic joint="leader" multiplier="m" offset="c"/>`: the joint is not a degree of
/// freedom but follows its leader, q = m·q_leader + c (rad or m). URDF's defaults are m = 1, c = 0.
public struct URDFMimic: Sendable, Equatable {
    /// Name of the leader joint: a revolute, continuous or prismatic joint that mimics no other.
    public var joint: String
    public var multiplier: Double
    public var offset: Double
    /// 1-based line of the `<mimic>` tag in the source, 0 when built in code.
    public var line: Int

    public init(joint: String, multiplier: Double = 1, offset: Double = 0, line: Int = 0) {
        self.joint = joint
        self.multiplier = multiplier
        self.offset = offset
        self.line = line
    }
}

/// A `<joint>`. The child link's frame coincides with the joint frame, which sits at `origin` in
/// the parent link's frame; `axis` is a unit vector in the joint frame.
public struct URDFJoint: Sendable, Equatable {
    public var name: String
    public var type: URDFJointType
    public var parent: String
    public var child: String
    public var origin: URDFPose
    /// Unit vector (normalised by the parser); URDF's default is (1, 0, 0).
    public var axis: Vector3
    /// Required for revolute and prismatic joints; for continuous joints lower/upper are ∓∞ and
    /// velocity/effort come from `<limit>` when present, else +∞; `nil` for fixed joints.
    public var limits: URDFLimits?
    public var dynamics: URDFDynamics
    /// The joint's `<mimic>`, `nil` for a joint that is its own degree of freedom.
    public var mimic: URDFMimic?
    /// 1-based line of the `<joint>` tag in the source, 0 when built in code.
    public var line: Int

    public init(
        name: String, type: URDFJointType, parent: String, child: String,
        origin: URDFPose = .identity, axis: Vector3 = .unitX, limits: URDFLimits? = nil,
        dynamics: URDFDynamics = .none, mimic: URDFMimic? = nil, line: Int = 0
    ) {
        self.name = name
        self.type = type
        self.parent = parent
        self.child = child
        self.origin = origin
        self.axis = axis
        self.limits = limits
        self.dynamics = dynamics
        self.mimic = mimic
        self.line = line
    }
}
