import LinearAlgebra
import RealModule

/// An immutable kinematic tree built from a URDF: the moving joints in depth-first order (parents
/// before children, every subtree contiguous), their bodies (links merged across fixed joints) and
/// every link as a named frame. Fixed base; q and v have one entry per moving joint that is its own
/// degree of freedom (`dof`).
///
/// Mimic joints (`<mimic joint="l" multiplier="m" offset="c"/>`) are bodies of the tree but not
/// degrees of freedom: follower t moves as q_t = m·q_l + c, v_t = m·v_l, a_t = m·a_l. Internally
/// every algorithm runs on the tree's coordinates q_tree = G q + c, where G (treeCount × dof) has
/// G[t, coordinate_t] = multiplier_t, and returns the reduced quantities
///   τ = Gᵀ τ_tree,  M = Gᵀ M_tree G,  J = J_tree G,  ∂τ/∂q = Gᵀ ∂τ_tree/∂q_tree G,
/// which is how Pinocchio (mimic joints) and MuJoCo (a joint equality constraint) define them.
/// Without mimic joints G is the identity and the tree is q's own.
///
/// Scratch lives in a `RobotWorkspace` from `makeWorkspace()`; every algorithm writes into it and
/// none allocates.
public struct RobotModel: Sendable {
    /// One moving joint that is a degree of freedom, as the rest of robotd sees it.
    public struct Joint: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable {
            case revolute
            case prismatic
        }
        public var name: String
        public var kind: Kind
        /// URDF `continuous`: a revolute joint without position limits.
        public var isContinuous: Bool
        /// Index of the nearest ancestor joint that is a degree of freedom, or −1 when there is
        /// none between this joint and the fixed base.
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
        /// Viscous damping (N·m·s/rad or N·s/m), including m²·b_f of each follower f that mimics
        /// this joint with multiplier m (the follower's damping torque −b_f·v_f acts on the
        /// leader through m).
        public var damping: Double
        /// Coulomb friction (N·m or N), including |m|·F_f of each follower f.
        public var friction: Double
        /// Reflected rotor inertia (kg·m² or kg), added to M's diagonal.
        public var armature: Double
    }

    /// A joint that follows another (URDF `<mimic>`): q = multiplier·q_leader + offset. It moves
    /// its bodies but is not in q, v, τ or `joints`. Its own `<limit>` is not enforced: the
    /// leader's limits bound the motion, as in Pinocchio.
    public struct MimicJoint: Sendable, Equatable {
        public var name: String
        public var kind: Joint.Kind
        /// Index in `joints` (and in q) of the leader.
        public var leader: Int
        /// m in q = m·q_leader + c (dimensionless, or m/rad and rad/m between kinds).
        public var multiplier: Double
        /// c in q = m·q_leader + c (rad or m).
        public var offset: Double
        /// The link this joint moves (its URDF child).
        public var childLink: String
    }

    /// A named frame rigidly attached to a body of the tree (or to the base).
    public struct Frame: Sendable, Equatable {
        public var name: String
        /// Index in `joints` of the degree of freedom that drives the frame's body joint: the
        /// body's own joint, or its leader when the body's joint is a mimic joint; −1 for the base.
        public var joint: Int
        /// Index of the body in the tree (moving joints including mimic followers, depth-first
        /// order, the index into `RobotWorkspace.poses`); −1 for the base.
        public var body: Int
        /// Pose of the frame in the body's joint frame.
        public var placement: Transform
    }

    public let name: String
    /// Number of moving joints that are degrees of freedom = nq = nv.
    public let dof: Int
    public private(set) var joints: [Joint]
    /// Joints that follow a leader (URDF `<mimic>`), in depth-first order.
    public let mimicJoints: [MimicJoint]
    /// Every URDF link, in document order.
    public let frames: [Frame]
    /// Gravity acceleration in the base frame (m/s²).
    public let gravity: Vector3
    /// Total mass of the moving bodies and of the base (kg).
    public private(set) var totalMass: Double
    /// Mass rigidly attached to the base (kg); it does not enter the dynamics.
    public let baseMass: Double

    /// Number of moving joints of the tree, degrees of freedom and mimic followers together.
    public let treeCount: Int

    // Hot-path data as parallel arrays of trivial types: reading them retains nothing.
    // Per tree joint (treeCount entries, depth-first order):
    /// parent[i] < i, −1 for the base.
    @usableFromInline let parents: [Int]
    /// subtreeEnd[i]: one past the last joint of i's subtree (subtree = i ..< subtreeEnd[i]).
    @usableFromInline let subtreeEnd: [Int]
    /// Pose of joint i's frame at q_i = 0 in its parent joint's frame.
    @usableFromInline let placements: [Transform]
    /// Unit joint axis in the joint frame.
    @usableFromInline let axes: [Vector3]
    @usableFromInline let isPrismatic: [Bool]
    /// Revolute joints about exactly +x, +y or +z (1, 2, 3; 0 otherwise): `jointPose` rotates
    /// two columns of the placement instead of forming and multiplying a general rotation.
    @usableFromInline let principalAxes: [UInt8]
    /// Motion subspace S_i in the joint frame: (axis, 0) revolute, (0, axis) prismatic.
    @usableFromInline let subspaces: [Motion]
    /// Body inertia of joint i (links merged across fixed joints), in joint i's frame.
    @usableFromInline var inertias: [SpatialInertia]
    /// Reflected rotor inertia per tree joint: M_tree,ii += armature_i, τ_i += armature_i · q̈_i.
    @usableFromInline var armatures: [Double]
    /// The map q → q_tree: q_tree[i] = multipliers[i]·q[coordinates[i]] + offsets[i]; for a
    /// degree of freedom multiplier 1 and offset 0. Row i of G is multipliers[i] at column
    /// coordinates[i].
    @usableFromInline let coordinates: [Int]
    @usableFromInline let multipliers: [Double]
    @usableFromInline let offsets: [Double]
    /// Whether any tree joint is a mimic follower (G ≠ I); without, q is q_tree.
    @usableFromInline let hasMimic: Bool
    // Per degree of freedom (dof entries):
    /// treeIndices[j]: the tree joint of degree of freedom j.
    @usableFromInline let treeIndices: [Int]
    @usableFromInline var dampings: [Double]
    @usableFromInline var frictions: [Double]

    /// Builds the model from a parsed URDF.
    /// - Parameters:
    ///   - urdf: a description that passed `URDFParser.parse`.
    ///   - gravity: base-frame gravity, default (0, 0, −9.81) m/s².
    /// - Throws: `URDFError` when the tree has no degree of freedom (`noMovingJoint`), a mimic
    ///   joint's leader is not a degree of freedom (`invalidMimic`), or the joint-space mass
    ///   matrix is singular: a joint moves no mass or inertia (`masslessJoint`; e.g. its subtree
    ///   is massless, or is point masses on its axis) or none that the joints below it cannot move
    ///   on their own (`singularMassMatrix`). The mass matrix is checked at q = 0 and at three
    ///   configurations drawn inside the limits, which finds every singularity that holds at all
    ///   configurations; one confined to isolated configurations (two point masses and two
    ///   crossing wrist axes can line up) shows at run time as a non-finite acceleration, which
    ///   the loop faults on.
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

        // Per tree joint: the URDF joint it is, and the arrays of the hot path.
        var treeJoints: [Int] = []
        var parents: [Int] = [], placements: [Transform] = [], axes: [Vector3] = []
        var prismatic: [Bool] = [], inertias: [SpatialInertia] = []
        var bodies: [String: (body: Int, placement: Transform)] = [:]
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
                bodies[link] = (body, pose)
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
                let index = treeJoints.count
                treeJoints.append(k)
                parents.append(body)
                placements.append(origin)
                axes.append(uj.axis)
                prismatic.append(uj.type == .prismatic)
                inertias.append(.zero)
                subtreeEnd.append(index + 1)
                pending.append(.endSubtree(index))
                pending.append(.link(uj.child, body: index, pose: .identity))
            case let .endSubtree(index):
                subtreeEnd[index] = treeJoints.count
            }
        }

        // Degrees of freedom are the tree joints without <mimic>, in tree order; q_tree = G q + c.
        let nt = treeJoints.count
        var dofOfTree = [Int](repeating: -1, count: nt)
        var treeIndices: [Int] = []
        for t in 0 ..< nt where urdf.joints[treeJoints[t]].mimic == nil {
            dofOfTree[t] = treeIndices.count
            treeIndices.append(t)
        }
        guard !treeIndices.isEmpty else {
            throw URDFError(.noMovingJoint, element: "robot \"\(urdf.name)\"", line: 0, message: "the robot has no revolute, continuous or prismatic joint that mimics no other")
        }
        let treeIndexByName = Dictionary((0 ..< nt).map { (urdf.joints[treeJoints[$0]].name, $0) }, uniquingKeysWith: { a, _ in a })
        var coordinates = dofOfTree, multipliers = [Double](repeating: 1, count: nt), offsets = [Double](repeating: 0, count: nt)
        for t in 0 ..< nt {
            let uj = urdf.joints[treeJoints[t]]
            guard let mimic = uj.mimic else { continue }
            // The parser establishes this; a description built in code may not.
            guard let leader = treeIndexByName[mimic.joint], dofOfTree[leader] >= 0, mimic.multiplier.isFinite, mimic.offset.isFinite else {
                throw URDFError(
                    .invalidMimic, element: "joint \"\(uj.name)\"", line: mimic.line,
                    message: "<mimic> needs a moving leader joint that mimics no other and a finite multiplier and offset (joint \"\(mimic.joint)\", multiplier \(mimic.multiplier), offset \(mimic.offset))"
                )
            }
            coordinates[t] = dofOfTree[leader]
            multipliers[t] = mimic.multiplier
            offsets[t] = mimic.offset
        }

        func kind(_ t: Int) -> Joint.Kind { prismatic[t] ? .prismatic : .revolute }
        var joints: [Joint] = []
        for t in treeIndices {
            let uj = urdf.joints[treeJoints[t]]
            var parent = parents[t]
            while parent >= 0 && dofOfTree[parent] < 0 { parent = parents[parent] }
            let lim = uj.limits
            joints.append(Joint(
                name: uj.name, kind: kind(t),
                isContinuous: uj.type == .continuous, parent: parent >= 0 ? dofOfTree[parent] : -1, childLink: uj.child,
                lowerLimit: uj.type == .continuous ? -.infinity : (lim?.lower ?? -.infinity),
                upperLimit: uj.type == .continuous ? .infinity : (lim?.upper ?? .infinity),
                velocityLimit: lim?.velocity ?? .infinity, effortLimit: lim?.effort ?? .infinity,
                damping: uj.dynamics.damping, friction: uj.dynamics.friction,
                armature: urdf.armature[uj.name] ?? 0
            ))
        }
        var mimicJoints: [MimicJoint] = []
        for t in 0 ..< nt where dofOfTree[t] < 0 {
            let uj = urdf.joints[treeJoints[t]]
            let m = multipliers[t]
            // The follower's dissipation seen from the leader: τ_l = m·τ_f with v_f = m·v_l.
            joints[coordinates[t]].damping += m * m * uj.dynamics.damping
            joints[coordinates[t]].friction += abs(m) * uj.dynamics.friction
            mimicJoints.append(MimicJoint(
                name: uj.name, kind: kind(t), leader: coordinates[t], multiplier: m, offset: offsets[t], childLink: uj.child
            ))
        }

        self.name = urdf.name
        self.dof = joints.count
        self.treeCount = nt
        self.joints = joints
        self.mimicJoints = mimicJoints
        self.frames = urdf.links.compactMap { link in
            bodies[link.name].map { b in
                Frame(name: link.name, joint: b.body >= 0 ? coordinates[b.body] : -1, body: b.body, placement: b.placement)
            }
        }
        self.gravity = gravity
        self.baseMass = baseMass
        self.totalMass = baseMass + inertias.reduce(0) { $0 + $1.mass }
        self.parents = parents
        self.subtreeEnd = subtreeEnd
        self.placements = placements
        self.axes = axes
        self.isPrismatic = prismatic
        self.principalAxes = zip(axes, prismatic).map { a, p in
            guard !p else { return 0 }
            switch (a.x, a.y, a.z) {
            case (1, 0, 0): return 1
            case (0, 1, 0): return 2
            case (0, 0, 1): return 3
            default: return 0
            }
        }
        self.subspaces = zip(axes, prismatic).map { a, p in
            p ? Motion(angular: .zero, linear: a) : Motion(angular: a, linear: .zero)
        }
        self.inertias = inertias
        self.armatures = treeJoints.map { urdf.armature[urdf.joints[$0].name] ?? 0 }
        self.coordinates = coordinates
        self.multipliers = multipliers
        self.offsets = offsets
        self.hasMimic = nt != joints.count
        self.treeIndices = treeIndices
        self.dampings = joints.map(\.damping)
        self.frictions = joints.map(\.friction)

        try checkMassMatrix(lines: Dictionary(urdf.joints.map { ($0.name, $0.line) }, uniquingKeysWith: { a, _ in a }))
    }

    /// Throws unless M(q) is numerically positive definite at q = 0 and at three configurations
    /// drawn (deterministically) inside the limits.
    ///
    /// Eliminating M from the last joint to the first (M = Lᵀ D L, leaves before their parents)
    /// leaves as pivot D_i the inertia joint i feels with every joint after it free; on a tree
    /// without mimic joints that is ABA's D_i = S_iᵀ I^A_i S_i, computed in O(n) by ABA's
    /// articulated-inertia pass (a chain of 10 000 joints built in code must not cost n³ or n²
    /// memory). With mimic joints the pivots come from the dense reduced M (n³/3, arm-sized).
    /// D_i ≈ 0 names the joint whose motion moves nothing the joints below it could not move alone.
    func checkMassMatrix(lines: [String: Int]) throws(URDFError) {
        let n = dof
        var q = [Double](repeating: 0, count: n)
        var pivots = [Double](repeating: 0, count: n), diagonal = [Double](repeating: 0, count: n)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for sample in 0 ..< 4 {
            if sample > 0 {
                for j in 0 ..< n {
                    // SplitMix64: a fixed sequence, so the check is the same on every run.
                    state &+= 0x9E37_79B9_7F4A_7C15
                    var z = state
                    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                    let u = Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
                    let fallback = joints[j].kind == .prismatic ? 1.0 : Double.pi
                    let lo = joints[j].lowerLimit.isFinite ? joints[j].lowerLimit : -fallback
                    let hi = joints[j].upperLimit.isFinite ? joints[j].upperLimit : fallback
                    q[j] = lo + u * (hi - lo)
                }
            }
            if hasMimic {
                reducedPivots(q: q, pivots: &pivots, diagonal: &diagonal)
            } else {
                articulatedPivots(q: q, pivots: &pivots, diagonal: &diagonal)
            }
            let largest = diagonal.reduce(0) { max($0, $1) }
            for i in stride(from: n - 1, through: 0, by: -1) {
                let d = pivots[i]
                // Rounding leaves D_i of a singular M at ~1e-16 of the entries it came from.
                if d > 1e-9 * diagonal[i] && d > 1e-12 * largest && d.isFinite { continue }
                let name = joints[i].name
                let at = sample == 0 ? "q = 0" : "q = [\(q.map { "\($0)" }.joined(separator: ", "))]"
                if !(diagonal[i] > 1e-12 * largest) {
                    throw URDFError(
                        .masslessJoint, element: "joint \"\(name)\"", line: lines[name] ?? 0,
                        message: "moves no mass or inertia at \(at) (its mass-matrix row is zero: the bodies it moves are massless, or point masses on its axis)"
                    )
                }
                throw URDFError(
                    .singularMassMatrix, element: "joint \"\(name)\"", line: lines[name] ?? 0,
                    message: "moves no inertia that the joints below it cannot move on their own at \(at) "
                        + "(pivot \(d) of mass-matrix entry \(diagonal[i]) kg·m²): the mass matrix is singular"
                )
            }
        }
    }

    /// Without mimic joints (q is the tree's): M_ii = S_iᵀ I^c_i S_i + armature_i from composite
    /// inertias and D_i = S_iᵀ I^A_i S_i + armature_i from ABA's articulated inertias, O(n). Once a
    /// pivot is not positive the pivots of its ancestors are meaningless; the caller stops at the
    /// first (highest-index) bad one.
    private func articulatedPivots(q: [Double], pivots: inout [Double], diagonal: inout [Double]) {
        let n = treeCount
        let x = (0 ..< n).map { jointPose($0, q[$0]) }
        var composite = inertias
        var articulated = inertias.map(\.matrix)
        for i in stride(from: n - 1, through: 0, by: -1) {
            let s = subspaces[i]
            diagonal[i] = s.dot(composite[i] * s) + armatures[i]
            let u = articulated[i] * s
            let d = s.dot(u) + armatures[i]
            pivots[i] = d
            let p = parents[i]
            guard p >= 0 else { continue }
            composite[p] += composite[i].transformed(by: x[i])
            if d > 0 { articulated[p] += articulated[i].subtractingOuterProduct(u, scale: 1 / d).transformed(by: x[i]) }
        }
    }

    /// With mimic joints: the reduced M = Gᵀ M_tree G by CRBA, then the leaves-first elimination.
    private func reducedPivots(q: [Double], pivots: inout [Double], diagonal: inout [Double]) {
        let n = dof
        var ws = makeWorkspace()
        crba(&ws, q: q)
        var m = ws.massMatrix
        for i in 0 ..< n { diagonal[i] = m[i * n + i] }
        for i in stride(from: n - 1, through: 0, by: -1) {
            let d = m[i * n + i]
            pivots[i] = d
            guard d > 0 else { continue }
            for a in 0 ..< i {
                let f = m[i * n + a] / d
                for b in 0 ... a {
                    m[b * n + a] -= f * m[i * n + b]
                    m[a * n + b] = m[b * n + a]
                }
            }
        }
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
    public func makeWorkspace() -> RobotWorkspace { RobotWorkspace(dof: dof, treeCount: treeCount) }

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
        if f.body >= 0 { copy.inertias[f.body] += point }
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

    /// Body inertia of joint `i` (an index into `joints`) in its frame (links merged across fixed
    /// joints; the bodies of mimic followers are not included).
    public func bodyInertia(_ i: Int) -> SpatialInertia { inertias[treeIndices[i]] }

    /// Pose of tree joint `i`'s frame relative to its parent for joint position `qi`:
    /// ^λM_i = placement_i · M_J(q_i), with M_J a rotation about (or a translation along) the axis.
    /// About a principal axis, R · R_z(q) (say) only mixes R's first two columns:
    /// (c r₀ + s r₁, −s r₀ + c r₁, r₂), likewise for x (columns 1, 2) and y (columns 2, 0).
    @inline(__always)
    func jointPose(_ i: Int, _ qi: Double) -> Transform {
        let t = placements[i]
        if isPrismatic[i] {
            return Transform(rotation: t.rotation, translation: t.translation + t.rotation * (qi * axes[i]))
        }
        let r = t.rotation
        switch principalAxes[i] {
        case 3:
            let s = Double.sin(qi), c = Double.cos(qi)
            return Transform(rotation: Matrix3(
                c * r.m00 + s * r.m01, c * r.m01 - s * r.m00, r.m02,
                c * r.m10 + s * r.m11, c * r.m11 - s * r.m10, r.m12,
                c * r.m20 + s * r.m21, c * r.m21 - s * r.m20, r.m22
            ), translation: t.translation)
        case 2:
            let s = Double.sin(qi), c = Double.cos(qi)
            return Transform(rotation: Matrix3(
                c * r.m00 - s * r.m02, r.m01, s * r.m00 + c * r.m02,
                c * r.m10 - s * r.m12, r.m11, s * r.m10 + c * r.m12,
                c * r.m20 - s * r.m22, r.m21, s * r.m20 + c * r.m22
            ), translation: t.translation)
        case 1:
            let s = Double.sin(qi), c = Double.cos(qi)
            return Transform(rotation: Matrix3(
                r.m00, c * r.m01 + s * r.m02, c * r.m02 - s * r.m01,
                r.m10, c * r.m11 + s * r.m12, c * r.m12 - s * r.m11,
                r.m20, c * r.m21 + s * r.m22, c * r.m22 - s * r.m21
            ), translation: t.translation)
        default:
            return Transform(rotation: r * Matrix3.rotation(axis: axes[i], angle: qi), translation: t.translation)
        }
    }
}
