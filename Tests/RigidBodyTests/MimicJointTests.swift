import LinearAlgebra
import RigidBody
import Testing

/// Mimic joints against their definition: the same tree with every follower made a free joint
/// (the "full" model), reduced through q_full = G q + c. Pinocchio is the external oracle
/// (PinocchioOracleTests); this one needs no Python and covers every algorithm and the
/// integrator's inputs.
@Suite struct MimicJointTests {
    static let urdf = TestRobots.mimicGripper()

    /// The full model, its G (column-major, full.dof × dof) and c.
    static func fullModel(_ model: RobotModel) throws -> (RobotModel, g: [Double], c: [Double]) {
        var free = urdf
        for k in free.joints.indices { free.joints[k].mimic = nil }
        let full = try RobotModel(urdf: free)
        let n = model.dof, nf = full.dof
        var g = [Double](repeating: 0, count: nf * n), c = [Double](repeating: 0, count: nf)
        for (r, joint) in full.joints.enumerated() {
            if let j = model.jointIndex(named: joint.name) {
                g[j * nf + r] = 1
            } else {
                let mimic = try #require(model.mimicJoints.first { $0.name == joint.name })
                g[mimic.leader * nf + r] = mimic.multiplier
                c[r] = mimic.offset
            }
        }
        return (full, g, c)
    }

    /// (rows × inner) · (inner × cols), column-major.
    static func product(_ a: [Double], _ b: [Double], rows: Int, inner: Int, cols: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * cols)
        for c in 0 ..< cols { for k in 0 ..< inner { for r in 0 ..< rows { out[c * rows + r] += a[k * rows + r] * b[c * inner + k] } } }
        return out
    }

    static func transpose(_ a: [Double], rows: Int, cols: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * cols)
        for c in 0 ..< cols { for r in 0 ..< rows { out[r * cols + c] = a[c * rows + r] } }
        return out
    }

    @Test func followersAreNotDegreesOfFreedom() throws {
        let model = try RobotModel(urdf: Self.urdf)
        #expect(model.joints.map(\.name) == ["joint1", "joint2", "joint3", "finger_left", "tip"])
        #expect(model.dof == 5 && model.treeCount == 7)
        #expect(model.mimicJoints.map(\.name) == ["finger_right", "slider"])
        let right = model.mimicJoints[0], slider = model.mimicJoints[1]
        #expect(right.leader == 3 && right.multiplier == -1.3 && right.offset == 0.05 && right.kind == .revolute)
        #expect(slider.leader == 1 && slider.multiplier == 0.1 && slider.offset == -0.02 && slider.kind == .prismatic)
        // tip hangs below finger_right, a follower: its nearest degree-of-freedom ancestor is joint3.
        #expect(model.joints[4].parent == 2)
        // The follower's damping and friction act on the leader through the multiplier.
        #expect(abs(model.joints[3].damping - 1.69 * 0.2) < 1e-15)
        #expect(abs(model.joints[3].friction - 1.3 * 0.1) < 1e-15)
        // Frames on a follower's body name its leader as their joint and the follower as their body.
        let pad = try #require(model.frames.first { $0.name == "right_pad" })
        let right_ = try #require(model.frames.first { $0.name == "right" })
        #expect(pad.joint == 3 && pad.body == right_.body && pad.body != model.frames.first { $0.name == "left" }?.body)
        #expect(model.makeWorkspace().poses.count == 7)
    }

    @Test func everyAlgorithmIsTheReducedFullModel() throws {
        let model = try RobotModel(urdf: Self.urdf)
        let (full, g, c) = try Self.fullModel(model)
        let n = model.dof, nf = full.dof
        let gt = Self.transpose(g, rows: nf, cols: n)
        var ws = model.makeWorkspace(), wf = full.makeWorkspace()
        var jac = [Double](repeating: 0, count: 6 * n), jacFull = [Double](repeating: 0, count: 6 * nf)
        var rng = SplitMix64(seed: 31)
        for _ in 0 ..< 5 {
            let q = rng.vector(n, -2, 2), v = rng.vector(n, -2, 2), a = rng.vector(n, -3, 3), tau = rng.vector(n, -5, 5)
            let qf = zip(Self.product(g, q, rows: nf, inner: n, cols: 1), c).map { $0 + $1 }
            let vf = Self.product(g, v, rows: nf, inner: n, cols: 1), af = Self.product(g, a, rows: nf, inner: n, cols: 1)

            model.forwardKinematics(&ws, q: q)
            full.forwardKinematics(&wf, q: qf)
            for f in model.frames.indices {
                let p = model.framePose(ws, frame: f), pf = full.framePose(wf, frame: f)
                #expect((p.translation - pf.translation).norm < 1e-14, "frame \(model.frames[f].name)")
                model.frameJacobian(ws, frame: f, into: &jac)
                full.frameJacobian(wf, frame: f, into: &jacFull)
                #expect(maxAbsDiff(jac, Self.product(jacFull, g, rows: 6, inner: nf, cols: n)) < 1e-13, "J of \(model.frames[f].name)")
            }

            model.rnea(&ws, q: q, v: v, a: a)
            full.rnea(&wf, q: qf, v: vf, a: af)
            #expect(maxAbsDiff(ws.tau, Self.product(gt, wf.tau, rows: n, inner: nf, cols: 1)) < 1e-12, "τ = Gᵀ τ_full")

            model.crba(&ws, q: q)
            full.crba(&wf, q: qf)
            let mReduced = Self.product(gt, Self.product(wf.massMatrix, g, rows: nf, inner: nf, cols: n), rows: n, inner: nf, cols: n)
            #expect(maxAbsDiff(ws.massMatrix, mReduced) < 1e-13, "M = Gᵀ M_full G")

            model.rneaDerivatives(&ws, q: q, v: v, a: a)
            full.rneaDerivatives(&wf, q: qf, v: vf, a: af)
            for (ours, theirs, what) in [(ws.tauDq, wf.tauDq, "∂τ/∂q"), (ws.tauDv, wf.tauDv, "∂τ/∂v")] {
                let reduced = Self.product(gt, Self.product(theirs, g, rows: nf, inner: nf, cols: n), rows: n, inner: nf, cols: n)
                #expect(maxAbsDiff(ours, reduced) < 1e-11 * max(1, maxAbs(reduced)), "\(what) = Gᵀ (\(what))_full G")
            }

            // Forward dynamics: M ddq + b = τ with the reduced M and b (the definition).
            model.aba(&ws, q: q, v: v, tau: tau)
            let ddq = ws.ddq
            full.bias(&wf, q: qf, v: vf)
            let b = Self.product(gt, wf.tau, rows: n, inner: nf, cols: 1)
            let lhs = zip(Self.product(mReduced, ddq, rows: n, inner: n, cols: 1), b).map { $0 + $1 }
            #expect(maxAbsDiff(lhs, tau) < 1e-10, "Gᵀ M G ddq + Gᵀ b ≠ τ")

            let e = model.energy(&ws, q: q, v: v), ef = full.energy(&wf, q: qf, v: vf)
            #expect(abs(e.kinetic - ef.kinetic) < 1e-12 && abs(e.potential - ef.potential) < 1e-12)
        }
    }

    /// The integrator works in q: followers move with their leaders, never on their own.
    @Test func simulationKeepsFollowersOnTheirLeaders() throws {
        let model = try RobotModel(urdf: Self.urdf)
        var iw = model.makeIntegratorWorkspace()
        var q = [0.1, -0.2, 0.3, 0.2, -0.1], v = [Double](repeating: 0, count: model.dof)
        for _ in 0 ..< 500 {
            model.step(&iw, q: &q, v: &v, tau: [Double](repeating: 0.05, count: model.dof), dt: 1e-3)
        }
        #expect(q.allSatisfy(\.isFinite) && v.allSatisfy(\.isFinite))
        // The right finger's frame is where q_right = −1.3·q_left + 0.05 puts it.
        var free = Self.urdf
        for k in free.joints.indices { free.joints[k].mimic = nil }
        let full = try RobotModel(urdf: free)
        var qf = [Double](repeating: 0, count: full.dof)
        for (r, joint) in full.joints.enumerated() {
            if let j = model.jointIndex(named: joint.name) { qf[r] = q[j] }
        }
        qf[full.jointIndex(named: "finger_right")!] = -1.3 * q[3] + 0.05
        qf[full.jointIndex(named: "slider")!] = 0.1 * q[1] - 0.02
        var ws = model.makeWorkspace(), wf = full.makeWorkspace()
        model.forwardKinematics(&ws, q: q)
        full.forwardKinematics(&wf, q: qf)
        let pad = try #require(model.frameIndex(named: "right_pad"))
        #expect((model.framePose(ws, frame: pad).translation - full.framePose(wf, frame: pad).translation).norm < 1e-14)
    }

    @Test func descriptionsBuiltInCodeAreCheckedToo() throws {
        var urdf = Self.urdf
        let k = try #require(urdf.joints.firstIndex { $0.name == "slider" })
        urdf.joints[k].mimic = URDFMimic(joint: "finger_right", line: 12)
        do throws(URDFError) {
            _ = try RobotModel(urdf: urdf)
            Issue.record("a mimic of a mimic was accepted")
        } catch {
            #expect(error.code == .invalidMimic && error.element == #"joint "slider""# && error.line == 12, "\(error)")
        }
    }
}
