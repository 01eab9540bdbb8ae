import LinearAlgebra

/// An immutable kinematic tree built from a URDF: the moving joints in depth-first order (parents
/// before children, every subtree contiguous), their bodies (links merged across fixed joints) and
/// every link as a named frame. Fixed base; q and v have one entry per moving joint (`dof`).
///
/// Scratch lives in a `RobotWorkspace` from `makeWorkspace()`; every algorithm writes into it and
/// none allocates.
public struct RobotModel: Sendable {
    /// One moving joint, as the rest of robotd sees it.
    public struct Joint: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable {
            case revolute
            case prismatic
        }
        public var name: String
        public var kind: Kind
        /// URDF `continuous`: a revolute joint without position limits.
        public var isContinuous: Bool
        /// Index of the parent moving joint, or −1 when the joint hangs off the fixed base.
        public var parent: Int
        /// The link this joint moves (its URDF child).
        public var childLink: String
        /// Lower/upper position limit (rad or m; ∓∞ when unlimited).
        public var lowerLimit: Double
        public var upperLimit: Double
        /// Velocity limit (rad/s or m/s; +∞ when absent).
        public var velocityLimit: Double
        /// Effort limit (N·m or N; +∞ when absent).
        public var effortLimit: Double
        /// Viscous damping (N·m·s/rad or N·s/m).
        public var damping: Double
        /// Coulomb friction (N·m or N).
        public var friction: Double
        /// Reflected rotor inertia (kg·m² or kg), added to M's diagonal.
        public var armature: Double
    }

    /// A named frame rigidly attached to a joint's body (or to the base when `joint` is −1).
    public struct Frame: Sendable, Equatable {
        public var name: String
        public var joint: Int
        /// Pose of the frame in the joint frame.
        public var placement: Transform
    }

    public let name: String
    /// Number of moving joints = nq = nv.
    public let dof: Int
    public private(set) var joints: [Joint]
    /// Every URDF link, in document order.
    public let frames: [Frame]
    /// Gravity acceleration in the base frame (m/s²).
    public let gravity: Vector3
    /// Total mass of the moving bodies and of the base (kg).
    public private(set) var totalMass: Double
    /// Mass rigidly attached to the base (kg); it does not enter the dynamics.
    public let baseMass: Double

    // Hot-path data as parallel arrays of trivial types: reading them retains nothing.
    /// parent[i] < i, −1 for the base.
    @usableFromInline let parents: [Int]
    /// subtreeEnd[i]: one past the last joint of i's subtree (subtree = i ..< subtreeEnd[i]).
    @usableFromInline let subtreeEnd: [Int]
    /// Pose of joint i's frame at q_i = 0 in its parent joint's frame.
    @usableFromInline let placements: [Transform]
    /// Unit joint axis in the joint frame.
    @usableFromInline let axes: [Vector3]
    @usableFromInline let isPrismatic: [Bool]
    /// Motion subspace S_i in the joint frame: (axis, 0) revolute, (0, axis) prismatic.
    @usableFromInline let subspaces: [Motion]
    /// Body inertia of joint i (links merged across fixed joints), in joint i's frame.
    @usableFromInline var inertias: [SpatialInertia]
    @usableFromInline var dampings: [Double]
    @usableFromInline var frictions: [Double]
    /// Reflected rotor inertia per joint: M_ii += armature_i, τ_i += armature_i · q̈_i.
    @usableFromInline var armatures: [Double]

    /// Builds the model from a parsed URDF.
    /// - Parameters:
    ///   - urdf: a description that passed `URDFParser.parse`.
    ///   - gravity: base-frame gravity, default (0, 0, −9.81) m/s².
    /// - Throws: `URDFError` when the tree has no moving joint or a joint moves no mass (its
    ///   subtree is massless, which makes the mass matrix singular).
    public init(urdf: URDFDescription, gravity: Vector3 = Vector3(0, 0, -9.81)) throws(URDFError) {
        var childJoints: [String: [Int]] = [:]
        var isChild = Set<String>()
        for (k, j) in urdf.joints.enumerated() {
            childJoints[j.parent, default: []].append(k)
            isChild.insert(j.child)
        }
        let linkByName = Dictionary(urdf.links.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        guard let root = urdf.links.first(where: { !isChild.contains($0.name) }) else {
            throw URDFError(.noRoot, element: "robot \"\(urdf.name)\"", line: 0, message: "every link has a parent joint")
        }

        var joints: [Joint] = []
        var parents: [Int] = [], placements: [Transform] = [], axes: [Vector3] = []
        var prismatic: [Bool] = [], inertias: [SpatialInertia] = []
        var frames: [String: Frame] = [:]
        var baseMass = 0.0
        var subtreeEnd: [Int] = []

        func linkInertia(_ name: String) -> SpatialInertia {
            guard let inertial = linkByName[name]?.inertial, inertial.mass > 0 || inertial.tensor != .zero else {
                return .zero
            }
            let com = Transform(xyz: inertial.origin.xyz, rpy: inertial.origin.rpy)
            return SpatialInertia(
                mass: inertial.mass, centerOfMass: com.translation,
                rotationalInertia: com.rotation * inertial.tensor * com.rotation.transposed
            )
        }

        // Depth-first walk on an explicit stack (a chain of thousands of links must not cost
        // thousands of call frames). A link's child joints are visited in document order, each
        // joint's subtree before the next joint; `.endSubtree` runs once a moving joint's subtree is
        // done. `body` is the moving joint whose body a link belongs to (−1: base), `pose` the link
        // frame in that joint's frame.
        enum Step {
            case link(String, body: Int, pose: Transform)
            case joint(Int, body: Int, pose: Transform)
            case endSubtree(Int)
        }
        var pending: [Step] = [.link(root.name, body: -1, pose: .identity)]
        while let step = pending.popLast() {
            switch step {
            case let .link(link, body, pose):
                frames[link] = Frame(name: link, joint: body, placement: pose)
                let y = linkInertia(link).transformed(by: pose)
                if body >= 0 { inertias[body] += y } else { baseMass += y.mass }
                for k in (childJoints[link] ?? []).reversed() {
                    pending.append(.joint(k, body: body, pose: pose))
                }
            case let .joint(k, body, pose):
                let uj = urdf.joints[k]
                let origin = pose * Transform(xyz: uj.origin.xyz, rpy: uj.origin.rpy)
                if uj.type == .fixed {
                    pending.append(.link(uj.child, body: body, pose: origin))
                    continue
                }
                let index = joints.count
                let lim = uj.limits
                joints.append(Joint(
                    name: uj.name, kind: uj.type == .prismatic ? .prismatic : .revolute,
                    isContinuous: uj.type == .continuous, parent: body, childLink: uj.child,
                    lowerLimit: uj.type == .continuous ? -.infinity : (lim?.lower ?? -.infinity),
                    upperLimit: uj.type == .continuous ? .infinity : (lim?.upper ?? .infinity),
                    velocityLimit: lim?.velocity ?? .infinity, effortLimit: lim?.effort ?? .infinity,
                    damping: uj.dynamics.damping, friction: uj.dynamics.friction,
                    armature: urdf.armature[uj.name] ?? 0
                ))
                parents.append(body)
                placements.append(origin)
                axes.append(uj.axis)
                prismatic.append(uj.type == .prismatic)
                inertias.append(.zero)
                subtreeEnd.append(index + 1)
                pending.append(.endSubtree(index))
                pending.append(.link(uj.child, body: index, pose: .identity))
            case let .endSubtree(index):
                subtreeEnd[index] = joints.count
            }
        }

        guard !joints.isEmpty else {
            throw URDFError(.noMovingJoint, element: "robot \"\(urdf.name)\"", line: 0, message: "the robot has no revolute, continuous or prismatic joint")
        }
        for i in joints.indices {
            var subtreeMass = 0.0, subtreeInertia = 0.0
            for k in i ..< subtreeEnd[i] {
                subtreeMass += inertias[k].mass
                subtreeInertia += inertias[k].rotationalInertia.trace
            }
            if subtreeMass <= 0 && (prismatic[i] || subtreeInertia <= 0) && (urdf.armature[joints[i].name] ?? 0) <= 0 {
                let line = urdf.joints.first(where: { $0.name == joints[i].name })?.line ?? 0
                throw URDFError(.masslessJoint, element: "joint \"\(joints[i].name)\"", line: line, message: "moves no mass or inertia (its mass matrix row would be zero)")
            }
        }

        self.name = urdf.name
        self.dof = joints.count
        self.joints = joints
        self.frames = urdf.links.compactMap { frames[$0.name] }
        self.gravity = gravity
        self.baseMass = baseMass
        self.totalMass = baseMass + inertias.reduce(0) { $0 + $1.mass }
        self.parents = parents
        self.subtreeEnd = subtreeEnd
        self.placements = placements
        self.axes = axes
        self.isPrismatic = prismatic
        self.subspaces = zip(axes, prismatic).map { a, p in
            p ? Motion(angular: .zero, linear: a) : Motion(angular: a, linear: .zero)
        }
        self.inertias = inertias
        self.dampings = joints.map(\.damping)
        self.frictions = joints.map(\.friction)
        self.armatures = joints.map(\.armature)
    }

    /// Parses URDF text and builds the model.
    /// - Throws: `URDFError` naming the element, file and line.
    public init(urdfText: String, file: String? = nil, gravity: Vector3 = Vector3(0, 0, -9.81)) throws(URDFError) {
        let description = try URDFParser.parse(urdfText, file: file)
        do {
            try self.init(urdf: description, gravity: gravity)
        } catch {
            var located = error
            located.file = file
            throw located
        }
    }

    /// Scratch for every algorithm of this model, allocated once.
    public func makeWorkspace() -> RobotWorkspace { RobotWorkspace(dof: dof) }

    /// Index of the frame named `name` (a URDF link name).
    public func frameIndex(named name: String) -> Int? { frames.firstIndex { $0.name == name } }

    /// Index of the moving joint named `name`.
    public func jointIndex(named name: String) -> Int? { joints.firstIndex { $0.name == name } }

    /// The same robot carrying an extra point mass `mass` (kg) at `offset` (m) in frame `frame`
    /// (e.g. a payload in the gripper), for simulating a plant the nominal model does not know.
    public func addingPayload(mass: Double, frame: Int, offset: Vector3 = .zero) -> RobotModel {
        precondition(mass >= 0 && mass.isFinite, "payload mass must be finite and ≥ 0")
        var copy = self
        let f = frames[frame]
        let point = SpatialInertia(mass: mass, centerOfMass: f.placement.act(point: offset), rotationalInertia: .zero)
        if f.joint >= 0 { copy.inertias[f.joint] += point }
        copy.totalMass += mass
        return copy
    }

    /// The same robot with joint damping and Coulomb friction changed, e.g. to give a simulated
    /// plant friction its nominal model lacks. Arrays have one entry per joint.
    public func withJointDissipation(damping: [Double], friction: [Double]) -> RobotModel {
        precondition(damping.count == dof && friction.count == dof, "one damping and one friction value per joint")
        precondition((damping + friction).allSatisfy { $0 >= 0 && $0.isFinite }, "damping and friction must be finite and ≥ 0")
        var copy = self
        copy.dampings = damping
        copy.frictions = friction
        for i in 0 ..< dof {
            copy.joints[i].damping = damping[i]
            copy.joints[i].friction = friction[i]
        }
        return copy
    }

    /// Body inertia of joint `i` in its frame (links merged across fixed joints).
    public func bodyInertia(_ i: Int) -> SpatialInertia { inertias[i] }

    /// Pose of joint `i`'s frame relative to its parent for joint position `qi`:
    /// ^λM_i = placement_i · M_J(q_i), with M_J a rotation about (or a translation along) the axis.
    @inline(__always)
    func jointPose(_ i: Int, _ qi: Double) -> Transform {
        let t = placements[i]
        if isPrismatic[i] {
            return Transform(rotation: t.rotation, translation: t.translation + t.rotation * (qi * axes[i]))
        }
        return Transform(rotation: t.rotation * Matrix3.rotation(axis: axes[i], angle: qi), translation: t.translation)
    }
}
