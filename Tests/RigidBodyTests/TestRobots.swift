import LinearAlgebra
import RigidBody

/// Uniform draws for the dynamics tests, from the shared seeded generator so every run sees the
/// same "random" states.
extension SplitMix64 {
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { Double.random(in: lo ..< hi, using: &self) }
    mutating func vector(_ n: Int, _ lo: Double, _ hi: Double) -> [Double] { (0 ..< n).map { _ in uniform(lo, hi) } }
    mutating func vector3(_ lo: Double, _ hi: Double) -> Vector3 { Vector3(uniform(lo, hi), uniform(lo, hi), uniform(lo, hi)) }
}

/// Robots built in code so that the dynamics tests do not depend on the URDF parser.
enum TestRobots {
    /// A random but physical inertial: box-like principal moments (so the triangle inequality
    /// holds) rotated by a random rpy, with an offset centre of mass.
    static func inertial(_ rng: inout SplitMix64, mass: Double) -> URDFInertial {
        let a = rng.uniform(0.05, 0.3), b = rng.uniform(0.05, 0.3), c = rng.uniform(0.05, 0.3)
        let ixx = mass * (b * b + c * c) / 12, iyy = mass * (a * a + c * c) / 12, izz = mass * (a * a + b * b) / 12
        let r = Matrix3.rpy(rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1))
        let t = r * Matrix3.diagonal(Vector3(ixx, iyy, izz)) * r.transposed
        return URDFInertial(
            origin: URDFPose(xyz: rng.vector3(-0.1, 0.1), rpy: .zero), mass: mass,
            ixx: t.m00, ixy: t.m01, ixz: t.m02, iyy: t.m11, iyz: t.m12, izz: t.m22
        )
    }

    static func limits() -> URDFLimits { URDFLimits(lower: -3, upper: 3, velocity: 3, effort: 100) }

    /// A 6-joint serial chain with random origins and axes, one prismatic joint, and a fixed
    /// tool link carrying extra mass (exercises merging across fixed joints).
    static func randomChain(seed: UInt64 = 1) -> URDFDescription {
        var rng = SplitMix64(seed: seed)
        var links = [URDFLink(name: "base_link", inertial: inertial(&rng, mass: 4))]
        var joints: [URDFJoint] = []
        for k in 1 ... 6 {
            links.append(URDFLink(name: "link\(k)", inertial: inertial(&rng, mass: rng.uniform(0.5, 3))))
            let axis = rng.vector3(-1, 1)
            joints.append(URDFJoint(
                name: "joint\(k)", type: k == 3 ? .prismatic : .revolute,
                parent: k == 1 ? "base_link" : "link\(k - 1)", child: "link\(k)",
                origin: URDFPose(xyz: rng.vector3(-0.3, 0.3), rpy: rng.vector3(-1.5, 1.5)),
                axis: axis / axis.norm, limits: limits(), dynamics: URDFDynamics(damping: 0.1, friction: 0.2)
            ))
        }
        links.append(URDFLink(name: "tool", inertial: inertial(&rng, mass: 0.4)))
        joints.append(URDFJoint(
            name: "tool_joint", type: .fixed, parent: "link6", child: "tool",
            origin: URDFPose(xyz: Vector3(0, 0, 0.1), rpy: Vector3(0.3, 0, 0))
        ))
        // Armature on two joints exercises the rotor-inertia terms of RNEA, CRBA and ABA.
        return URDFDescription(name: "random_chain", links: links, joints: joints, armature: ["joint2": 0.05, "joint5": 0.02])
    }

    /// A tree: a trunk joint with two 2-joint branches (joints on different branches must not
    /// couple in M), declared in an order that differs from depth-first.
    static func branchedTree(seed: UInt64 = 7) -> URDFDescription {
        var rng = SplitMix64(seed: seed)
        let names = ["base", "trunk", "left1", "left2", "right1", "right2"]
        let links = names.map { URDFLink(name: $0, inertial: inertial(&rng, mass: rng.uniform(0.5, 2))) }
        func joint(_ name: String, _ parent: String, _ child: String) -> URDFJoint {
            let axis = rng.vector3(-1, 1)
            return URDFJoint(
                name: name, type: .revolute, parent: parent, child: child,
                origin: URDFPose(xyz: rng.vector3(-0.3, 0.3), rpy: rng.vector3(-1, 1)),
                axis: axis / axis.norm, limits: limits()
            )
        }
        let joints = [
            joint("j_trunk", "base", "trunk"),
            joint("j_right1", "trunk", "right1"),
            joint("j_left1", "trunk", "left1"),
            joint("j_right2", "right1", "right2"),
            joint("j_left2", "left1", "left2"),
        ]
        return URDFDescription(name: "tree", links: links, joints: joints)
    }

    /// A planar 2-link arm in the x–z plane rotating about y, with point-like links of length
    /// l1, l2 and masses at the link ends (tiny isotropic inertia keeps them positive definite).
    static func planarTwoLink(l1: Double, l2: Double, m1: Double = 1, m2: Double = 1) -> URDFDescription {
        let tiny = 1e-6
        func pointMass(_ m: Double, at x: Double) -> URDFInertial {
            URDFInertial(origin: URDFPose(xyz: Vector3(x, 0, 0)), mass: m, ixx: tiny, ixy: 0, ixz: 0, iyy: tiny, iyz: 0, izz: tiny)
        }
        return URDFDescription(
            name: "planar2",
            links: [
                URDFLink(name: "base"),
                URDFLink(name: "upper", inertial: pointMass(m1, at: l1)),
                URDFLink(name: "lower", inertial: pointMass(m2, at: l2)),
                URDFLink(name: "tip"),
            ],
            joints: [
                URDFJoint(name: "shoulder", type: .continuous, parent: "base", child: "upper", axis: .unitY),
                URDFJoint(name: "elbow", type: .continuous, parent: "upper", child: "lower",
                          origin: URDFPose(xyz: Vector3(l1, 0, 0)), axis: .unitY),
                URDFJoint(name: "tip_joint", type: .fixed, parent: "lower", child: "tip",
                          origin: URDFPose(xyz: Vector3(l2, 0, 0))),
            ]
        )
    }

    /// A 3-joint arm with a two-finger gripper: `finger_right` mimics `finger_left`
    /// (q = −1.3·q_left + 0.05) and carries a `tip` joint of its own (a degree of freedom below a
    /// follower); `slider`, a prismatic follower on the hand, mimics the revolute `joint2`. Point
    /// masses (zero inertia tensors) on the left finger and on a 1e-9 kg dummy frame, damping,
    /// friction and armature on a follower.
    static func mimicGripper(seed: UInt64 = 11) -> URDFDescription {
        var rng = SplitMix64(seed: seed)
        func pointMass(_ mass: Double, at xyz: Vector3) -> URDFInertial {
            URDFInertial(origin: URDFPose(xyz: xyz), mass: mass, ixx: 0, ixy: 0, ixz: 0, iyy: 0, iyz: 0, izz: 0)
        }
        var links = [URDFLink(name: "base_link", inertial: inertial(&rng, mass: 2))]
        var joints: [URDFJoint] = []
        for k in 1 ... 3 {
            links.append(URDFLink(name: "link\(k)", inertial: inertial(&rng, mass: rng.uniform(0.5, 2))))
            let axis = rng.vector3(-1, 1)
            joints.append(URDFJoint(
                name: "joint\(k)", type: .revolute, parent: k == 1 ? "base_link" : "link\(k - 1)", child: "link\(k)",
                origin: URDFPose(xyz: rng.vector3(-0.3, 0.3), rpy: rng.vector3(-1.5, 1.5)),
                axis: axis / axis.norm, limits: limits(), dynamics: URDFDynamics(damping: 0.1, friction: 0.2)
            ))
        }
        links += [
            URDFLink(name: "hand", inertial: pointMass(0.3, at: Vector3(0.01, 0.02, 0.05))),
            URDFLink(name: "hand_frame", inertial: pointMass(1e-9, at: .zero)),
            URDFLink(name: "left", inertial: pointMass(0.4, at: Vector3(0.05, 0.08, 0.1))),
            URDFLink(name: "right", inertial: inertial(&rng, mass: 0.5)),
            URDFLink(name: "right_pad"),
            URDFLink(name: "tip", inertial: inertial(&rng, mass: 0.3)),
            URDFLink(name: "slide", inertial: inertial(&rng, mass: 0.1)),
        ]
        func axis() -> Vector3 { let a = rng.vector3(-1, 1); return a / a.norm }
        joints += [
            URDFJoint(name: "hand_joint", type: .fixed, parent: "link3", child: "hand", origin: URDFPose(xyz: Vector3(0, 0, 0.1))),
            URDFJoint(name: "hand_frame_joint", type: .fixed, parent: "hand", child: "hand_frame", origin: URDFPose(xyz: Vector3(0, 0, 0.08))),
            URDFJoint(
                name: "finger_left", type: .revolute, parent: "hand", child: "left",
                origin: URDFPose(xyz: Vector3(0, 0.02, 0.06), rpy: rng.vector3(-1, 1)), axis: axis(), limits: limits()
            ),
            URDFJoint(
                name: "finger_right", type: .revolute, parent: "hand", child: "right",
                origin: URDFPose(xyz: Vector3(0, -0.02, 0.06), rpy: rng.vector3(-1, 1)), axis: axis(), limits: limits(),
                dynamics: URDFDynamics(damping: 0.2, friction: 0.1), mimic: URDFMimic(joint: "finger_left", multiplier: -1.3, offset: 0.05)
            ),
            URDFJoint(name: "right_pad_joint", type: .fixed, parent: "right", child: "right_pad", origin: URDFPose(xyz: Vector3(0.01, 0, 0.05))),
            URDFJoint(
                name: "tip", type: .revolute, parent: "right", child: "tip",
                origin: URDFPose(xyz: Vector3(0, 0, 0.04), rpy: rng.vector3(-1, 1)), axis: axis(), limits: limits()
            ),
            URDFJoint(
                name: "slider", type: .prismatic, parent: "hand", child: "slide", origin: URDFPose(xyz: rng.vector3(-0.05, 0.05)),
                axis: axis(), limits: limits(), mimic: URDFMimic(joint: "joint2", multiplier: 0.1, offset: -0.02)
            ),
        ]
        return URDFDescription(name: "mimic_gripper", links: links, joints: joints, armature: ["finger_right": 0.01, "joint1": 0.01])
    }

    static var all: [(String, URDFDescription)] {
        [("random_chain", randomChain()), ("branched_tree", branchedTree()), ("mimic_gripper", mimicGripper())]
    }
}

func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }

/// ∞ when the lengths differ (an oracle's reply may lack values): the check fails, not the process.
func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
