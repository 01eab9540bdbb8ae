import Foundation
import LinearAlgebra
import RigidBody
import Testing

/// `InverseKinematics` against oracles: forward kinematics of the solution reaches a reachable
/// target (one made by FK of a configuration inside the limits); an unreachable one still gets a
/// solution inside the limits; the Jacobian the step uses matches finite differences of FK, and
/// one step moves the frame by what the Jacobian predicts.
@Suite struct InverseKinematicsTests {
    static func sim6() throws -> RobotModel {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("hardware/robots/sim6/robot.urdf").path
        return try RobotModel(urdfText: String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    static func pose(_ model: RobotModel, _ q: [Double], frame: Int) -> Transform {
        var ws = model.makeWorkspace()
        model.forwardKinematics(&ws, q: q)
        return model.framePose(ws, frame: frame)
    }

    /// Random reachable targets, seeds 0.3 rad away per joint: position alone, and with the
    /// orientation; the solution's FK is within 1e-4 m (and 1e-4 rad) and inside the limits.
    @Test(arguments: [false, true])
    func reachesReachableTargets(withOrientation: Bool) throws {
        let model = try Self.sim6()
        let frame = model.frames.count - 1
        // Limits narrower than sim6's ±2π so that the clamp is exercised.
        let lower = [-2.5, -2.5, -2.5, -2.5, -2.5, -2.5], upper = [2.5, 2.5, 2.5, 2.5, 2.5, 2.5]
        var options = InverseKinematics.Options()
        options.iterations = 200
        var ik = InverseKinematics(model: model, frame: frame, lower: lower, upper: upper, options: options)
        var rng = SplitMix64(seed: 16)
        var failures = 0
        for _ in 0 ..< 30 {
            let qStar = (0 ..< 6).map { i in lower[i] + 0.2 + (upper[i] - lower[i] - 0.4) * rng.nextUnit() }
            let target = Self.pose(model, qStar, frame: frame)
            let seed = (0 ..< 6).map { i in qStar[i] + 0.6 * (rng.nextUnit() - 0.5) }
            let solution = ik.solve(position: target.translation, orientation: withOrientation ? target.rotation : nil, seed: seed)
            for i in 0 ..< 6 { #expect(solution.q[i] >= lower[i] && solution.q[i] <= upper[i]) }
            let reached = Self.pose(model, solution.q, frame: frame)
            let error = (reached.translation - target.translation).norm
            let angle = InverseKinematics.rotationVector(target.rotation * reached.rotation.transposed).norm
            if error > 1e-4 || (withOrientation && angle > 1e-4) || !solution.converged { failures += 1 }
            #expect(abs(solution.positionError - error) < 1e-12)
        }
        #expect(failures == 0, "\(failures) of 30 targets not reached")
    }

    /// A stream of nearby targets (1 mm apart), each warm-started from the previous solution,
    /// converges in a few iterations each.
    @Test func warmStartedStreamConvergesInAFewIterations() throws {
        let model = try Self.sim6()
        let frame = model.frames.count - 1
        var options = InverseKinematics.Options()
        options.iterations = 10
        options.tolerance = 1e-5
        var ik = InverseKinematics(model: model, frame: frame, options: options)
        var q: [Double] = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        let start = Self.pose(model, q, frame: frame).translation
        for k in 1 ... 100 {
            let target = start + Vector3(0.001 * Double(k), 0.0005 * Double(k), 0)
            let s = ik.solve(position: target, seed: q)
            #expect(s.converged && s.iterations <= 4, "step \(k): \(s.iterations) iterations, error \(s.positionError)")
            q = s.q
        }
    }

    /// Out of reach (twice the reach away), and reachable only past narrowed limits: the solution
    /// stays inside the limits, is finite, and says it did not converge.
    @Test func unreachableTargetsStayInsideTheLimits() throws {
        let model = try Self.sim6()
        let frame = model.frames.count - 1
        var ik = InverseKinematics(model: model, frame: frame)
        let far = ik.base + Vector3(2 * ik.reach, 0, 0)
        let s = ik.solve(position: far, seed: [0, -1.2, 1.0, -0.5, 0.4, 0.1])
        #expect(!s.converged && s.q.allSatisfy { $0.isFinite })
        for i in 0 ..< 6 { #expect(s.q[i] >= model.joints[i].lowerLimit && s.q[i] <= model.joints[i].upperLimit) }
        #expect(s.positionError >= ik.reach * 0.99)

        let lower = [-0.3, -1.5, 0.8, -0.7, 0.2, -0.1], upper = [0.3, -0.9, 1.2, -0.3, 0.6, 0.3]
        var narrow = InverseKinematics(model: model, frame: frame, lower: lower, upper: upper)
        let outside = Self.pose(model, [1.5, -0.2, 2.0, 1.0, -1.0, 1.0], frame: frame)
        let n = narrow.solve(position: outside.translation, orientation: outside.rotation, seed: [0, -1.2, 1.0, -0.5, 0.4, 0.1])
        #expect(!n.converged)
        for i in 0 ..< 6 { #expect(n.q[i] >= lower[i] && n.q[i] <= upper[i], "joint \(i): \(n.q[i])") }
        // NaN in the seed is replaced, not propagated.
        let nan = narrow.solve(position: outside.translation, seed: [.nan, -1.2, 1.0, -0.5, 0.4, 0.1])
        #expect(nan.q.allSatisfy { $0.isFinite })
    }

    /// The Jacobian columns the step uses match central differences of FK (position, and the
    /// rotation vector of R(q + h e_j) R(q − h e_j)ᵀ / 2h); one damped step towards a target 0.1 mm
    /// away moves the frame by what J Δq predicts, leaving a second-order residual.
    @Test func jacobianStepMatchesFiniteDifferences() throws {
        let model = try Self.sim6()
        let frame = model.frames.count - 1
        var rng = SplitMix64(seed: 5)
        for _ in 0 ..< 10 {
            let q = (0 ..< 6).map { _ in 2 * rng.nextUnit() - 1 }
            var ws = model.makeWorkspace()
            model.forwardKinematics(&ws, q: q)
            var jacobian = [Double](repeating: 0, count: 36)
            model.frameJacobian(ws, frame: frame, into: &jacobian)
            let h = 1e-6
            for j in 0 ..< 6 {
                var plus = q, minus = q
                plus[j] += h; minus[j] -= h
                let a = Self.pose(model, plus, frame: frame), b = Self.pose(model, minus, frame: frame)
                let dp = (a.translation - b.translation) / (2 * h)
                let dw = InverseKinematics.rotationVector(a.rotation * b.rotation.transposed) / (2 * h)
                for (r, x) in [dp.x, dp.y, dp.z, dw.x, dw.y, dw.z].enumerated() {
                    #expect(abs(jacobian[6 * j + r] - x) < 1e-6, "J[\(r), \(j)] = \(jacobian[6 * j + r]), FD \(x)")
                }
            }
            var options = InverseKinematics.Options()
            options.iterations = 1
            options.damping = 1e-6
            var ik = InverseKinematics(model: model, frame: frame, options: options)
            let p0 = Self.pose(model, q, frame: frame).translation
            let delta = Vector3(1e-4, -0.5e-4, 0.7e-4)
            let s = ik.solve(position: p0 + delta, seed: q)
            // J Δq = e for a full-rank J (λ → 0); FK's change is that plus O(|Δq|²).
            #expect(s.positionError < 1e-2 * delta.norm, "residual \(s.positionError) after one step of \(delta.norm)")
        }
    }

    /// log R against rotations built from an axis and an angle, up to π.
    @Test func rotationVectorInvertsAxisAngle() {
        var rng = SplitMix64(seed: 3)
        for angle in [0, 1e-9, 1e-4, 0.5, 2, 3.1, Double.pi - 1e-6, Double.pi] {
            let a = Vector3(rng.nextUnit() - 0.5, rng.nextUnit() - 0.5, rng.nextUnit() - 0.5)
            let axis = a / a.norm
            let r = InverseKinematics.rotationVector(Matrix3.rotation(axis: axis, angle: angle))
            let expected = angle * axis
            // At π the axis' sign is free.
            let error = min((r - expected).norm, angle > 3.14 ? (r + expected).norm : .infinity)
            #expect(error < 1e-7, "angle \(angle): \(r) vs \(expected)")
        }
    }
}
