import Foundation
import LinearAlgebra
import RigidBody
import Testing

/// Every shipped robot against Pinocchio, the reference C++ rigid-body library (PyPI `pin`),
/// through `Tests/oracles/pinocchio_reference.py`.
@Suite struct PinocchioOracleTests {
    /// Agreement to 1e-9 relative to each quantity's magnitude: both sides are exact algorithms
    /// in double precision, so only rounding separates them (derivatives: 1e-7, as they pass
    /// through M⁻¹ whose condition number on the small arms reaches ~1e4).
    @Test(arguments: TestSupport.shippedRobots)
    func dynamicsMatchPinocchio(_ robot: String) throws {
        let path = TestSupport.urdfPath(robot)
        let model = try RobotModel(urdfText: String(contentsOfFile: path, encoding: .utf8), file: path)
        let n = model.dof
        let frame = model.frames.count - 1
        var rng = SplitMix64(seed: 2024)
        var states: [[String: [Double]]] = []
        for _ in 0 ..< 8 {
            let q = model.joints.map { j -> Double in
                let lo = j.lowerLimit.isFinite ? j.lowerLimit : -3, hi = j.upperLimit.isFinite ? j.upperLimit : 3
                return Double.random(in: lo ... hi, using: &rng)
            }
            let v = (0 ..< n).map { _ in Double.random(in: -2 ... 2, using: &rng) }
            let tau = model.joints.map { j in Double.random(in: -1 ... 1, using: &rng) * min(j.effortLimit, 50) }
            states.append(["q": q, "v": v, "tau": tau])
        }
        let request: [String: Any] = ["urdf": path, "frame": model.frames[frame].name, "states": states,
                                      "armature": model.joints.map(\.armature)]
        let input = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
        let result = try TestSupport.python("Tests/oracles/pinocchio_reference.py", [], stdin: input)
        try #require(result.status == 0, "pinocchio_reference.py failed: \(result.stderr)")
        let reply = try #require(try TestSupport.json(result.stdout) as? [String: Any])
        #expect(reply["joint_names"] as? [String] == model.joints.map(\.name), "joint order differs from Pinocchio's")
        #expect(abs(flatten(reply["total_mass"]).first! - model.totalMass) < 1e-9)
        let refs = try #require(reply["states"] as? [[String: Any]])
        var ws = model.makeWorkspace()
        var jac = [Double](repeating: 0, count: 6 * n)
        for (s, ref) in zip(states, refs) {
            let q = s["q"]!, v = s["v"]!, tau = s["tau"]!
            func check(_ ours: [Double], _ key: String, _ rel: Double = 1e-9, file: String = #fileID, line: Int = #line) {
                let theirs = flatten(ref[key])
                let tol = rel * max(1, theirs.reduce(0) { max($0, abs($1)) })
                let err = maxAbsDiff(ours, theirs)
                #expect(err <= tol, "\(robot) \(key): max error \(err) > \(tol)")
            }
            func rowMajor(_ colMajor: [Double], rows: Int) -> [Double] {
                let cols = colMajor.count / rows
                return (0 ..< rows).flatMap { r in (0 ..< cols).map { c in colMajor[c * rows + r] } }
            }
            model.aba(&ws, q: q, v: v, tau: tau)
            check(ws.ddq, "ddq")
            model.bias(&ws, q: q, v: v)
            check(ws.tau, "bias")
            model.crba(&ws, q: q)
            check(ws.massMatrix, "mass_matrix")
            let pose = model.framePose(ws, frame: frame)
            let refFrame = ref["frame"] as? [String: Any]
            #expect(maxAbsDiff(pose.translation.array, flatten(refFrame?["position"])) < 1e-12)
            #expect(maxAbsDiff(pose.rotation.rows.flatMap { $0 }, flatten(refFrame?["rotation"])) < 1e-12)
            model.frameJacobian(ws, frame: frame, into: &jac)
            check(rowMajor(jac, rows: 6), "jacobian")
            model.abaDerivatives(&ws, q: q, v: v, tau: tau)
            check(rowMajor(ws.ddqDq, rows: n), "daba_dq", 1e-7)
            check(rowMajor(ws.ddqDv, rows: n), "daba_dv", 1e-7)
            check(ws.massMatrixInverse, "daba_dtau", 1e-7)
            let ddq = ws.ddq
            model.rneaDerivatives(&ws, q: q, v: v, a: ddq)
            check(rowMajor(ws.tauDq, rows: n), "drnea_dq", 1e-8)
            check(rowMajor(ws.tauDv, rows: n), "drnea_dv", 1e-8)
        }
    }

    /// Point masses and mimic joints (Tests/RigidBodyTests/Fixtures) against Pinocchio through
    /// `Tests/oracles/pinocchio_reduced_reference.py`: the pose and Jacobian of every link frame,
    /// RNEA, bias, CRBA, ABA and the derivatives at random states, to the tolerances above.
    /// The reference for mimic joints is their definition on Pinocchio's tree (followers as free
    /// joints, reduced through q_full = G q + c); the script also checks that Pinocchio's native
    /// mimic model (≥ 3.4; no ABA) gives the same kinematics, RNEA and CRBA.
    @Test(arguments: TestSupport.fixtures)
    func wildDescriptionsMatchPinocchio(_ fixture: String) throws {
        let path = TestSupport.fixturePath(fixture)
        let model = try RobotModel(urdfText: String(contentsOfFile: path, encoding: .utf8), file: path)
        let n = model.dof
        #expect(fixture != "mimic_gripper" || (n == 6 && model.mimicJoints.map(\.name) == ["finger_right", "jaw_b_slide"]))
        var rng = SplitMix64(seed: 2025)
        var states: [[String: [Double]]] = []
        for _ in 0 ..< 8 {
            let q = model.joints.map { j in Double.random(in: j.lowerLimit ... j.upperLimit, using: &rng) }
            let v = (0 ..< n).map { _ in Double.random(in: -2 ... 2, using: &rng) }
            let a = (0 ..< n).map { _ in Double.random(in: -5 ... 5, using: &rng) }
            let tau = model.joints.map { j in Double.random(in: -1 ... 1, using: &rng) * min(j.effortLimit, 50) * 0.01 }
            states.append(["q": q, "v": v, "a": a, "tau": tau])
        }
        let request: [String: Any] = [
            "urdf": path, "joints": model.joints.map(\.name), "frames": model.frames.map(\.name), "states": states,
        ]
        let input = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
        let result = try TestSupport.python("Tests/oracles/pinocchio_reduced_reference.py", [], stdin: input)
        try #require(result.status == 0, "pinocchio_reduced_reference.py failed: \(result.stderr)")
        let reply = try #require(try TestSupport.json(result.stdout) as? [String: Any])
        #expect(abs(flatten(reply["total_mass"]).first! - model.totalMass) < 1e-12)
        if fixture == "mimic_gripper" { #expect(reply["mimic_model"] as? Bool == true, "Pinocchio without mimic support") }
        let refs = try #require(reply["states"] as? [[String: Any]])
        var ws = model.makeWorkspace()
        var jac = [Double](repeating: 0, count: 6 * n)
        func rowMajor(_ colMajor: [Double], rows: Int) -> [Double] {
            let cols = colMajor.count / rows
            return (0 ..< rows).flatMap { r in (0 ..< cols).map { c in colMajor[c * rows + r] } }
        }
        for (s, ref) in zip(states, refs) {
            let q = s["q"]!, v = s["v"]!, a = s["a"]!, tau = s["tau"]!
            func check(_ ours: [Double], _ theirs: Any?, _ key: String, _ rel: Double = 1e-9) {
                let theirs = flatten(theirs)
                let tol = rel * max(1, theirs.reduce(0) { max($0, abs($1)) })
                let err = maxAbsDiff(ours, theirs)
                #expect(err <= tol, "\(fixture) \(key): max error \(err) > \(tol)")
            }
            model.forwardKinematics(&ws, q: q)
            let refFrames = try #require(ref["frames"] as? [[String: Any]])
            try #require(refFrames.count == model.frames.count)
            for (f, refFrame) in zip(model.frames.indices, refFrames) {
                let pose = model.framePose(ws, frame: f)
                let name = model.frames[f].name
                check(pose.translation.array, refFrame["position"], "position of \(name)", 1e-12)
                check(pose.rotation.rows.flatMap { $0 }, refFrame["rotation"], "rotation of \(name)", 1e-12)
                model.frameJacobian(ws, frame: f, into: &jac)
                check(rowMajor(jac, rows: 6), refFrame["jacobian"], "jacobian of \(name)")
            }
            model.rnea(&ws, q: q, v: v, a: a)
            check(ws.tau, ref["rnea"], "rnea")
            model.bias(&ws, q: q, v: v)
            check(ws.tau, ref["bias"], "bias")
            model.crba(&ws, q: q)
            check(ws.massMatrix, ref["mass_matrix"], "mass_matrix")
            model.aba(&ws, q: q, v: v, tau: tau)
            check(ws.ddq, ref["ddq"], "ddq")
            #expect(model.abaDerivatives(&ws, q: q, v: v, tau: tau))
            check(rowMajor(ws.ddqDq, rows: n), ref["daba_dq"], "daba_dq", 1e-7)
            check(rowMajor(ws.ddqDv, rows: n), ref["daba_dv"], "daba_dv", 1e-7)
            check(ws.massMatrixInverse, ref["daba_dtau"], "daba_dtau", 1e-7)
            let ddq = ws.ddq
            model.rneaDerivatives(&ws, q: q, v: v, a: ddq)
            check(rowMajor(ws.tauDq, rows: n), ref["drnea_dq"], "drnea_dq", 1e-8)
            check(rowMajor(ws.tauDv, rows: n), ref["drnea_dv"], "drnea_dv", 1e-8)
        }
    }

    /// The URDFs are plain URDF that other tools load too (docs/architecture.md §4).
    @Test func shippedURDFsLoadInPinocchioAndMuJoCo() throws {
        let paths = TestSupport.shippedRobots.map(TestSupport.urdfPath)
        let result = try TestSupport.python("Tests/oracles/check_urdf_loads.py", paths)
        #expect(result.status == 0, "check_urdf_loads.py: \(result.stdout) \(result.stderr)")
        for path in paths {
            let model = try RobotModel(urdfText: String(contentsOfFile: path, encoding: .utf8), file: path)
            #expect(result.stdout.contains(model.name) || result.stdout.contains(path))
        }
    }
}
