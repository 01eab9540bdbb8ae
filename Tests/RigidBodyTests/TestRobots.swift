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

    static var all: [(String, URDFDescription)] {
        [("random_chain", randomChain()), ("branched_tree", branchedTree())]
    }
}

func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }

/// ∞ when the lengths differ (an oracle's reply may lack values): the check fails, not the process.
func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
