import Foundation
import LinearAlgebra
@testable import RigidBody
import Testing

/// The world-frame kernels (RobotModel+WorldFrame.swift: CRBA, ABA and the one-sweep RNEA
/// derivatives) against the joint-frame recursions they replaced, kept as references
/// (`crbaLocalKernel`, `abaLocalKernel`, `rneaKernel` + `rneaTreeDerivatives`), on the tree's coordinates of each
/// test robot (a chain with unaligned axes and prismatic joints, a branched tree, a mimic
/// gripper's tree) and on the three arms.
///
/// Both sides are exact algorithms in double precision that order their sums differently, so
/// they agree to rounding: 1e-10 relative to the largest entry (the entries here are ≤ ~1e3, the
/// rounding of a few hundred operations ~1e-13 of that).
@Suite struct WorldFrameKernelTests {
    static var cases: [String] { TestRobots.all.map(\.0) + ["sim6", "so101", "koch"] }

    static func model(_ name: String) throws -> RobotModel {
        if let description = TestRobots.all.first(where: { $0.0 == name })?.1 {
            return try RobotModel(urdf: description)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("hardware/robots/\(name)/robot.urdf").path
        return try RobotModel(urdfText: String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    static func expectClose(_ ours: [Double], _ reference: [Double], _ what: String) {
        let tol = 1e-10 * max(1, maxAbs(reference))
        let err = maxAbsDiff(ours, reference)
        #expect(err <= tol, "\(what): max difference \(err), tolerance \(tol)")
    }

    @Test(arguments: cases)
    func worldKernelsMatchJointFrameRecursions(_ name: String) throws {
        let model = try Self.model(name)
        let nt = model.treeCount
        var world = model.makeWorkspace(), local = model.makeWorkspace()
        var rng = SplitMix64(seed: 300)
        for _ in 0 ..< 8 {
            let q = rng.vector(nt, -2, 2), v = rng.vector(nt, -2, 2), a = rng.vector(nt, -5, 5)
            q.withUnsafeBufferPointer { q in
                v.withUnsafeBufferPointer { v in
                    a.withUnsafeBufferPointer { a in
                        model.rneaDerivativesWorldKernel(&world, q: q, v: v, a: a)
                        model.rneaKernel(&local, q: q, v: v, a: a)
                        model.rneaTreeDerivatives(&local, v: v)
                        model.crbaLocalKernel(&local)
                    }
                }
            }
            Self.expectClose(world.treeTau, local.treeTau, "\(name) τ")
            Self.expectClose(world.treeTauDq, local.treeTauDq, "\(name) ∂τ/∂q")
            Self.expectClose(world.treeTauDv, local.treeTauDv, "\(name) ∂τ/∂v")
            Self.expectClose(world.treeMassMatrix, local.treeMassMatrix, "\(name) M from the derivative sweep")
            for i in 0 ..< nt {
                let d = world.poses[i].translation - local.poses[i].translation
                #expect(d.dot(d) < 1e-24, "\(name) pose \(i)")
            }
            model.crbaWorldKernel(&world)
            Self.expectClose(world.treeMassMatrix, local.treeMassMatrix, "\(name) M from CRBA")
        }
    }

    /// ABA applies without mimic joints (the tree's coordinates are q's own).
    @Test(arguments: cases.filter { $0 != "mimic_gripper" })
    func worldABAMatchesJointFrameABA(_ name: String) throws {
        let model = try Self.model(name)
        #expect(model.treeCount == model.dof)
        let n = model.dof
        var world = model.makeWorkspace(), local = model.makeWorkspace()
        var rng = SplitMix64(seed: 301)
        for _ in 0 ..< 8 {
            let q = rng.vector(n, -2, 2), v = rng.vector(n, -2, 2), tau = rng.vector(n, -10, 10)
            q.withUnsafeBufferPointer { q in
                v.withUnsafeBufferPointer { v in
                    tau.withUnsafeBufferPointer { tau in
                        model.abaWorldKernel(&world, q: q, v: v, tau: tau)
                        model.abaLocalKernel(&local, q: q, v: v, tau: tau)
                    }
                }
            }
            Self.expectClose(world.ddq, local.ddq, "\(name) ddq")
            // The public CRBA (fused kinematics and world-frame sweep) against the joint-frame one.
            model.crba(&world, q: q)
            model.forwardKinematics(&local, q: q)
            model.crbaLocalKernel(&local)
            Self.expectClose(world.massMatrix, local.treeMassMatrix, "\(name) M")
        }
    }
}
