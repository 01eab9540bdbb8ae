import LinearAlgebra
@testable import Planning
import RigidBody
import Testing

/// The reaching task without a thread: what each target does to the cost, the integral bias and
/// the minimum-jerk reference, each against its closed form.
@Suite struct ReachTaskTests {
    static let x0 = [0, -1.2, 1.0, -0.5, 0.4, 0.1] + Array(repeating: 0.0, count: 6)

    /// 50 nodes of 10 ms, re-planned every 10 ms, the daemon's default weights.
    static func task() throws -> ReachTask {
        let model = try PlanningDerivativeTests.sim6()
        return ReachTask(model: model, frame: try #require(model.frameIndex(named: "tool0")), weights: ReachWeights(), horizon: 50, dt: 0.01,
                         replanPeriod: 0.01)
    }

    /// s(τ) = 10τ³ − 15τ⁴ + 6τ⁵: s(0) = 0, s(1) = 1 with zero velocity and acceleration at both
    /// ends, s(½) = ½ with the peak velocity 15/8 there, and increasing in between.
    @Test func minimumJerkHasItsBoundaryConditionsAndMidpoint() {
        let s = ReachTask.minimumJerk
        #expect(s(0) == 0 && s(1) == 1 && s(0.5) == 0.5)
        let h = 1e-4
        for tau in [0.0, 1.0] {
            let velocity = (s(tau + h) - s(tau - h)) / (2 * h)
            let acceleration = (s(tau + h) - 2 * s(tau) + s(tau - h)) / (h * h)
            #expect(abs(velocity) < 1e-6 && abs(acceleration) < 1e-6, "τ = \(tau): s' = \(velocity), s'' = \(acceleration)")
        }
        #expect(abs((s(0.5 + h) - s(0.5 - h)) / (2 * h) - 15.0 / 8) < 1e-7)
        for k in 0 ..< 100 { #expect(s(Double(k + 1) / 100) > s(Double(k) / 100)) }
    }

    /// The progress is s(τ) with τ = (t + T·dt − t_set)/duration clamped to [0, 1]: the profile
    /// evaluated at the end of the horizon; 1 without a duration.
    @Test func progressIsTheMinimumJerkProfileAtTheHorizonsEnd() throws {
        let task = try Self.task()
        let goal = ReachTask.Goal(target: .joints(Array(Self.x0.prefix(6))), duration: 2, setAt: 1)
        // T·dt = 0.5 s: τ = (t − 0.5)/2.
        #expect(task.progress(goal, time: 0) == 0)
        #expect(task.progress(goal, time: 0.5) == 0)
        #expect(task.progress(goal, time: 1.5) == 0.5)
        #expect(task.progress(goal, time: 1.0) == ReachTask.minimumJerk(0.25))
        #expect(task.progress(goal, time: 2.5) == 1)
        #expect(task.progress(goal, time: 9) == 1)
        #expect(task.progress(ReachTask.Goal(target: goal.target, duration: nil, setAt: 1), time: 0) == 1)
        #expect(task.progress(ReachTask.Goal(target: goal.target, duration: 0, setAt: 1), time: 0) == 1)
    }

    /// With a duration, a pose target's reference slides from the start along the profile, and
    /// a joint target's likewise; no bias integrates before the reference arrives.
    @Test func theReferenceSlidesFromTheStartToTheTarget() throws {
        var task = try Self.task()
        var cost = task.makeCost()
        let start = Vector3(0.3, 0.1, 0.5), target = Vector3(0.5, 0.3, 0.3)
        let pose = ReachTask.Goal(target: .pose(position: target, orientation: nil), duration: 2, setAt: 1, startPosition: start)
        task.update(&cost, goal: pose, time: 1.5, state: Self.x0, planningModel: .nominal)
        let mid = start + 0.5 * (target - start)
        #expect(cost.frameTarget == mid, "\(cost.frameTarget) vs \(mid)")
        #expect(task.positionBias == [.zero, .zero])
        let q0 = Array(Self.x0.prefix(6)), qStar = q0.map { $0 + 0.4 }
        let joints = ReachTask.Goal(target: .joints(qStar), duration: 2, setAt: 1, startJoints: q0)
        task.update(&cost, goal: joints, time: 1.5, state: Self.x0, planningModel: .nominal)
        for i in 0 ..< 6 {
            #expect(abs(cost.stateReference[i] - (q0[i] + 0.2)) < 1e-15)
            #expect(cost.stateReference[6 + i] == 0)
        }
    }

    /// Offset-free MPC: against a constant offset e inside the zone the bias grows by
    /// gain·period·e per re-plan (a ramp), and saturates at the clamp along e; only the
    /// planning model's own bias integrates; the cost aims at target + bias; a new learned model
    /// and a new target restart it; outside the zone nothing integrates.
    @Test func theIntegralBiasRampsAgainstAConstantOffsetAndSaturates() throws {
        var task = try Self.task()
        var cost = task.makeCost()
        let p0 = task.framePosition(Self.x0)
        let e = Vector3(0.01, -0.005, 0.002)
        let goal = ReachTask.Goal(target: .pose(position: p0 + e, orientation: nil))
        let step = ReachTask.biasGain * 0.01
        for k in 1 ... 10 {
            task.update(&cost, goal: goal, time: 0.01 * Double(k), state: Self.x0, planningModel: .nominal)
            let expected = (Double(k) * step) * e
            let d = task.positionBias[0] - expected
            #expect(d.dot(d).squareRoot() < 1e-15, "re-plan \(k): \(task.positionBias[0]) vs \(expected)")
            let aim = cost.frameTarget - (p0 + e + expected)
            #expect(aim.dot(aim).squareRoot() < 1e-15)
        }
        #expect(task.positionBias[1] == .zero)
        for _ in 0 ..< 300 { task.update(&cost, goal: goal, time: 1, state: Self.x0, planningModel: .nominal) }
        let b = task.positionBias[0], norm = b.dot(b).squareRoot(), unit = (1 / e.dot(e).squareRoot()) * e
        #expect(abs(norm - ReachTask.biasLimit) < 1e-15)
        #expect(((1 / norm) * b - unit).dot((1 / norm) * b - unit) < 1e-24)
        // The learned model's bias integrates on its own; re-aiming switches between them.
        task.update(&cost, goal: goal, time: 1, state: Self.x0, planningModel: .learned)
        #expect((task.positionBias[1] - step * e).dot(task.positionBias[1] - step * e) < 1e-30)
        #expect(task.positionBias[0] == b)
        task.aim(&cost, target: goal.target, planningModel: .nominal)
        #expect(cost.frameTarget == p0 + e + b)
        task.resetLearnedBias()
        #expect(task.positionBias == [b, .zero])
        // A new target restarts both; an offset outside the zone does not integrate.
        let far = ReachTask.Goal(target: .pose(position: p0 + Vector3(0.1, 0, 0), orientation: nil))
        task.update(&cost, goal: far, time: 1, state: Self.x0, planningModel: .nominal)
        #expect(task.positionBias == [.zero, .zero])
        #expect(cost.frameTarget == p0 + Vector3(0.1, 0, 0))
    }

    /// The joint bias: per joint, the same ramp and a clamp of ±`biasLimit`; a joint outside
    /// the zone keeps none.
    @Test func theJointBiasRampsPerJointAndClamps() throws {
        var task = try Self.task()
        var cost = task.makeCost()
        let offsets = [0.01, -0.02, 0.001, 0.1, -0.04, 0]
        let qStar = (0 ..< 6).map { Self.x0[$0] + offsets[$0] }
        let goal = ReachTask.Goal(target: .joints(qStar))
        let step = ReachTask.biasGain * 0.01
        for k in 1 ... 200 {
            task.update(&cost, goal: goal, time: 0, state: Self.x0, planningModel: .nominal)
            for i in 0 ..< 6 {
                let expected = abs(offsets[i]) < ReachTask.biasZone ? min(max(Double(k) * step * offsets[i], -ReachTask.biasLimit), ReachTask.biasLimit) : 0
                #expect(abs(task.jointBias[0][i] - expected) < 1e-14, "re-plan \(k) joint \(i): \(task.jointBias[0][i]) vs \(expected)")
                #expect(abs(cost.stateReference[i] - (qStar[i] + task.jointBias[0][i])) < 1e-15)
            }
        }
        #expect(task.jointBias[0][1] == -ReachTask.biasLimit && task.jointBias[0][3] == 0)
        #expect(task.jointBias[1] == Array(repeating: 0, count: 6))
    }

    /// Which terms each kind of target uses, with which weights (`ReachTask`'s table), and the
    /// references they read.
    @Test func eachTargetSetsItsTermsWeightsAndReferences() throws {
        var task = try Self.task()
        var cost = task.makeCost()
        let w = ReachWeights()
        #expect(cost.terms.map(\.name) == ReachTask.termNames)
        func weights(_ name: String) -> [Double] { [cost[name].running, cost[name].terminal] }
        let x = Self.x0.enumerated().map { $1 + 0.01 * Double($0) }
        let p = Vector3(0.5, 0.35, 0.3)
        task.update(&cost, goal: ReachTask.Goal(target: .pose(position: p, orientation: nil)), time: 0, state: x, planningModel: .nominal)
        #expect(weights("frame_translation") == [w.runningFrame, w.terminalFrame])
        #expect(weights("frame_orientation") == [0, 0])
        #expect(weights("state") == [w.runningState, 0])
        #expect(cost["state"].activation.weights == Array(repeating: 1, count: 12))
        #expect(cost.stateReference == Array(x.prefix(6)) + Array(repeating: 0, count: 6))
        #expect(weights("terminal_velocity") == [0, w.terminalVelocity])
        #expect(weights("joint_limits") == [w.jointLimitBarrier, w.jointLimitBarrier])
        #expect(weights("control") == [w.runningControl, 0])
        #expect(weights("disagreement") == [0, 0])
        #expect(cost.frameTarget == p && cost.frameTargets.isEmpty)
        #expect(task.terminalGoal(cost, target: .pose(position: p, orientation: nil)) == p)

        let q = [0.5, 0.5, 0.5, 0.5] as [Double]   // w x y z: 120° about (1, 1, 1)
        task.update(&cost, goal: ReachTask.Goal(target: .pose(position: p, orientation: q)), time: 0, state: x, planningModel: .nominal)
        #expect(weights("frame_orientation") == [w.runningOrientation, w.terminalOrientation])
        #expect(cost.frameRotation == Matrix3(0, 0, 1, 1, 0, 0, 0, 1, 0))

        let qStar = [0.1, -1, 0.8, -0.4, 0.3, 0]
        task.update(&cost, goal: ReachTask.Goal(target: .joints(qStar)), time: 0, state: x, planningModel: .nominal)
        #expect(weights("frame_translation") == [0, 0] && weights("frame_orientation") == [0, 0])
        #expect(weights("state") == [w.runningJoint, w.terminalJoint])
        #expect(cost["state"].activation.weights == Array(repeating: 1, count: 6) + Array(repeating: w.runningState / w.runningJoint, count: 6))
        #expect(cost.stateReference == qStar + Array(repeating: 0, count: 6))
        #expect(weights("terminal_velocity") == [0, w.terminalVelocity])
        #expect(task.terminalGoal(cost, target: .joints(qStar)) == nil)

        let path = ReferencePath.circle(center: Vector3(0.45, 0.3, 0.3), radius: 0.05, a: .unitX, b: .unitY, period: 2)
        task.update(&cost, goal: ReachTask.Goal(target: .path(path), setAt: 0.25), time: 1, state: x, planningModel: .nominal)
        #expect(weights("frame_translation") == [w.pathFrame, w.terminalFrame])
        #expect(weights("terminal_velocity") == [0, 0] && weights("state") == [w.runningState, 0])
        #expect(cost["state"].activation.weights == Array(repeating: 1, count: 12))
        #expect(cost.frameTargets == (0 ... 50).map { path.position(at: 0.75 + Double($0) * 0.01) })
        #expect(task.terminalGoal(cost, target: .path(path)) == path.position(at: 0.75 + Double(50) * 0.01))

        ReachTask.setDisagreementPenalty(&cost, threshold: 0.2, weight: 7)
        #expect(weights("disagreement") == [7, 0] && cost.disagreementThreshold == 0.2)
    }
}
