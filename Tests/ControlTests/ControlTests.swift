import AllocationCounter
import Control
import Foundation
import RigidBody
import RobotInterface
import SimulationDriver
import Testing

@Suite struct MinimumJerkTrajectoryTests {
    /// Velocity and acceleration are the time derivatives of position (central differences),
    /// the ends are at rest, and the peak speed is 1.875 Δ/T at the midpoint.
    @Test func derivativesBoundaryConditionsAndPeakSpeed() {
        var traj = MinimumJerkTrajectory(dof: 2)
        let start = [0.2, -1.0], goal = [1.2, 0.5], duration = 1.7
        traj.set(start: start, goal: goal, duration: duration)
        var q = [0.0, 0], v = [0.0, 0], a = [0.0, 0], qp = q, qm = q, vp = v, vm = v
        let h = 1e-6
        for t in stride(from: 0.05, to: duration - 0.05, by: 0.1) {
            traj.sample(at: t, position: &q, velocity: &v, acceleration: &a)
            traj.sample(at: t + h, position: &qp, velocity: &vp, acceleration: &a)
            traj.sample(at: t - h, position: &qm, velocity: &vm, acceleration: &a)
            let aNow: [Double] = { var x = [0.0, 0], y = x, z = x; traj.sample(at: t, position: &x, velocity: &y, acceleration: &z); return z }()
            for i in 0 ..< 2 {
                #expect(abs((qp[i] - qm[i]) / (2 * h) - v[i]) < 1e-6)
                #expect(abs((vp[i] - vm[i]) / (2 * h) - aNow[i]) < 1e-5)
            }
        }
        traj.sample(at: 0, position: &q, velocity: &v, acceleration: &a)
        #expect(q == start && v == [0, 0] && a == [0, 0])
        traj.sample(at: duration, position: &q, velocity: &v, acceleration: &a)
        #expect(q == goal && v == [0, 0])
        traj.sample(at: duration / 2, position: &q, velocity: &v, acceleration: &a)
        #expect(abs(v[1] - 1.875 * 1.5 / duration) < 1e-12)
    }

    @Test func durationRespectsSpeedLimits() {
        let t = MinimumJerkTrajectory.duration(from: [0, 0], to: [1, -2], maxVelocity: [1, 1])
        #expect(abs(t - 3.75) < 1e-12)
        #expect(MinimumJerkTrajectory.duration(from: [0], to: [0], maxVelocity: [1], minimum: 0.2) == 0.2)
    }
}

@Suite struct CommandLimiterTests {
    static let limits = JointLimits(lower: [-1, -2], upper: [1, 2], velocity: [0.5, 1], effort: [10, 5], slewRate: 100)

    static func state(q: [Double], v: [Double] = [0, 0], effort: [Double] = [0, 0]) -> JointState {
        var s = JointState(dof: 2)
        s.position = q
        s.velocity = v
        s.effort = effort
        return s
    }

    @Test func torqueIsClampedAndSlewLimited() {
        var limiter = CommandLimiter(limits: Self.limits)
        let s = Self.state(q: [0, 0])
        limiter.reset(from: s)
        var cmd = JointCommand(mode: .torque, values: [50, -50])
        limiter.limit(&cmd, state: s, dt: 0.01)
        #expect(cmd.values == [1, -1], "slew 100 N·m/s × 10 ms")
        for _ in 0 ..< 100 {
            cmd.values = [50, -50]
            limiter.limit(&cmd, state: s, dt: 0.01)
        }
        #expect(cmd.values == [10, -5], "effort limits")
    }

    @Test func torqueThatPushesPastALimitIsRemoved() {
        var limiter = CommandLimiter(limits: Self.limits)
        let s = Self.state(q: [1.0, 0])
        limiter.reset(from: Self.state(q: [1.0, 0], effort: [3, 3]))
        var cmd = JointCommand(mode: .torque, values: [3, 3])
        limiter.limit(&cmd, state: s, dt: 0.001)
        #expect(cmd.values == [0, 3], "joint 0 at its upper limit")
        cmd.values = [-3, -3]
        limiter.reset(from: Self.state(q: [1.0, 0], effort: [-3, -3]))
        limiter.limit(&cmd, state: s, dt: 0.001)
        #expect(cmd.values == [-3, -3], "pulling back is allowed")
    }

    /// Above its velocity limit a joint is braked, not merely left unpushed: a braking torque
    /// proportional to the excess (full effort at 10 % over), against any push and past the slew
    /// limit, in either direction; below the limit the command is untouched.
    @Test func torqueBrakesAJointAboveItsVelocityLimit() {
        var limiter = CommandLimiter(limits: Self.limits)
        // Joint 0: limit 0.5 rad/s, 10 N·m; joint 1: 1 rad/s, 5 N·m.
        limiter.reset(from: Self.state(q: [0, 0], effort: [10, 5]))
        var cmd = JointCommand(mode: .torque, values: [10, 5])
        limiter.limit(&cmd, state: Self.state(q: [0, 0], v: [0.525, 2]), dt: 0.001)
        // 5 % over → half effort against the motion; 100 % over → full effort.
        #expect(abs(cmd.values[0] - -5) < 1e-9 && cmd.values[1] == -5, "\(cmd.values)")
        limiter.reset(from: Self.state(q: [0, 0], effort: [-10, -5]))
        cmd.values = [-10, 0]
        limiter.limit(&cmd, state: Self.state(q: [0, 0], v: [-0.55, -1.01]), dt: 0.001)
        #expect(cmd.values[0] == 10 && abs(cmd.values[1] - 0.5) < 1e-9, "\(cmd.values)")
        // A controller already braking harder keeps its command.
        limiter.reset(from: Self.state(q: [0, 0], effort: [-10, -5]))
        cmd.values = [-10, -5]
        limiter.limit(&cmd, state: Self.state(q: [0, 0], v: [0.51, 1.01]), dt: 0.001)
        #expect(cmd.values == [-10, -5])
        // At or below the limit nothing changes.
        limiter.reset(from: Self.state(q: [0, 0], effort: [3, 3]))
        cmd.values = [3, 3]
        limiter.limit(&cmd, state: Self.state(q: [0, 0], v: [0.5, -1]), dt: 0.001)
        #expect(cmd.values == [3, 3])
    }

    @Test func positionGoalApproachesAtTheSpeedLimitFromTheMeasuredPose() {
        var limiter = CommandLimiter(limits: Self.limits)
        let s = Self.state(q: [0.2, -0.3])
        limiter.reset(from: s)
        var cmd = JointCommand(mode: .position, values: [5, -5])
        limiter.limit(&cmd, state: s, dt: 0.1)
        #expect(abs(cmd.values[0] - 0.25) < 1e-12 && abs(cmd.values[1] - -0.4) < 1e-12)
        for _ in 0 ..< 100 {
            cmd.values = [5, -5]
            limiter.limit(&cmd, state: s, dt: 0.1)
        }
        #expect(cmd.values == [1, -2], "clamped into the position range")
    }

    @Test func velocityOutOfRangeIsZeroed() {
        var limiter = CommandLimiter(limits: Self.limits)
        var cmd = JointCommand(mode: .velocity, values: [3, 3])
        limiter.limit(&cmd, state: Self.state(q: [0, 2]), dt: 0.001)
        #expect(cmd.values == [0.5, 0])
    }
}

@Suite struct JointPDControllerTests {
    static func sim6() throws -> RobotModel {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("hardware/robots/sim6/robot.urdf").path
        return try RobotModel(urdfText: String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    /// The whole hold/move chain on the simulated arm: minimum-jerk reference → PD + gravity →
    /// limiter → driver, in torque and in position mode. The arm ends at the goal, at rest, and
    /// the loop allocates nothing.
    /// Without Coulomb friction (which can hold a joint wherever the PD torque stays below it),
    /// the arm must settle on the goal.
    @Test(arguments: [CommandMode.torque, .position])
    func moveReachesGoalOnSimulatedArm(_ mode: CommandMode) throws {
        let nominal = try Self.sim6()
        let model = nominal.withJointDissipation(damping: nominal.joints.map(\.damping), friction: Array(repeating: 0, count: nominal.dof))
        let n = model.dof
        var config = SimulatedArm.Configuration()
        config.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        var arm = try SimulatedArm(model: model, configuration: config)
        try arm.configure()
        try arm.activate(mode: mode)
        var controller = JointPDController(model: model)
        var limiter = CommandLimiter(limits: JointLimits(model: model))
        var state = JointState(dof: n)
        try arm.read(into: &state)
        limiter.reset(from: state)
        let goal = [0.5, -0.8, 0.6, -0.2, 0.1, 0.4]
        var traj = MinimumJerkTrajectory(dof: n)
        traj.set(start: state.position, goal: goal, duration: MinimumJerkTrajectory.duration(from: state.position, to: goal, maxVelocity: Array(repeating: 0.8, count: n)))
        var qd = goal, vd = goal, ad = goal
        var cmd = JointCommand(mode: mode, dof: n)
        let dt = config.period
        let ticks = Int((traj.duration + 1.0) / dt)
        var allocations: UInt64 = 0
        for k in 0 ..< ticks {
            if k == 10 { AllocationCounter_start() }
            try arm.read(into: &state)
            traj.sample(at: Double(k) * dt, position: &qd, velocity: &vd, acceleration: &ad)
            controller.compute(&cmd, desiredPosition: qd, desiredVelocity: vd, state: state)
            limiter.limit(&cmd, state: state, dt: dt)
            try arm.write(cmd)
            if k == ticks - 1 { allocations = AllocationCounter_stop() }
        }
        for i in 0 ..< n {
            #expect(abs(arm.position[i] - goal[i]) < 1e-3, "joint \(i): error \(arm.position[i] - goal[i])")
        }
        #expect(arm.velocity.allSatisfy { abs($0) < 1e-2 })
        #expect(allocations == 0)
    }
}
