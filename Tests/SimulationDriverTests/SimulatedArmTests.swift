import AllocationCounter
import Foundation
import LinearAlgebra
import RigidBody
import RobotInterface
import SimulationDriver
import Testing

/// The simulated arm, checked against the dynamics it claims to simulate.
@Suite struct SimulatedArmTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func sim6() throws -> RobotModel {
        let path = repoRoot.appendingPathComponent("hardware/robots/sim6/robot.urdf").path
        return try RobotModel(urdfText: String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    static func arm(_ model: RobotModel, _ edit: (inout SimulatedArm.Configuration) -> Void = { _ in }) throws -> SimulatedArm {
        var c = SimulatedArm.Configuration()
        c.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        edit(&c)
        var arm = try SimulatedArm(model: model, configuration: c)
        try arm.configure()
        return arm
    }

    /// Torque mode with the exact gravity torque of the plant (RNEA at v = 0) holds the arm
    /// still: any drift would mean the simulator and the dynamics disagree.
    @Test func exactGravityCompensationHoldsStill() throws {
        let model = try Self.sim6()
        var arm = try Self.arm(model) { $0.extraFriction = [] }
        try arm.activate(mode: .torque)
        var ws = model.makeWorkspace()
        var state = JointState(dof: model.dof)
        var cmd = JointCommand(mode: .torque, dof: model.dof)
        let zero = [Double](repeating: 0, count: model.dof)
        let q0 = arm.position
        for _ in 0 ..< 500 {
            try arm.read(into: &state)
            model.bias(&ws, q: state.position, v: zero)
            cmd.values = ws.tau
            try arm.write(cmd)
        }
        #expect(maxAbsDiff(arm.position, q0) < 1e-6)
    }

    /// Without compensation the same arm falls: the test above is not vacuous.
    @Test func uncompensatedArmFalls() throws {
        let model = try Self.sim6()
        var arm = try Self.arm(model)
        var state = JointState(dof: model.dof)
        for _ in 0 ..< 200 { try arm.read(into: &state) }
        #expect(maxAbs(arm.velocity) > 0.1)
    }

    /// A limp joint (a servo bus's torque off) moves under gravity while the servoed joints
    /// hold, and its limp damping slows the fall to a terminal-velocity drift: the terminal speed
    /// of a joint whose gravity torque g meets damping d is about g/d.
    @Test func limpJointSinksWhileTheOthersHold() throws {
        let model = try Self.sim6()
        func run(damping: Double) throws -> SimulatedArm {
            var arm = try Self.arm(model) { $0.limpDamping = Array(repeating: damping, count: model.dof) }
            try arm.activate(mode: .position)
            arm.setLimp(1, true)
            var state = JointState(dof: model.dof)
            for _ in 0 ..< 300 { try arm.read(into: &state) }
            #expect(arm.appliedEffort[1] == 0)
            return arm
        }
        let free = try run(damping: 0), damped = try run(damping: 20)
        let start = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        for arm in [free, damped] {
            for i in [0, 2, 3, 4, 5] { #expect(abs(arm.position[i] - start[i]) < 0.05, "joint \(i) did not hold") }
        }
        #expect(abs(free.position[1] - start[1]) > 0.05, "the limp joint did not move")
        #expect(abs(damped.velocity[1]) < abs(free.velocity[1]) / 2, "limp damping did not slow the fall")
    }

    /// Position servo with gravity fed forward reaches its goal.
    @Test func positionServoReachesGoal() throws {
        let model = try Self.sim6()
        var arm = try Self.arm(model)
        try arm.activate(mode: .position)
        var ws = model.makeWorkspace()
        var state = JointState(dof: model.dof)
        var cmd = JointCommand(mode: .position, dof: model.dof)
        let goal = [0.3, -1.0, 0.8, -0.3, 0.2, 0.5]
        let zero = [Double](repeating: 0, count: model.dof)
        cmd.values = goal
        for _ in 0 ..< 3000 {
            try arm.read(into: &state)
            model.bias(&ws, q: state.position, v: zero)
            cmd.feedforwardEffort = ws.tau
            try arm.write(cmd)
        }
        #expect(maxAbsDiff(arm.position, goal) < 1e-3)
        #expect(maxAbs(arm.velocity) < 1e-2)
    }

    /// A payload m at the tool adds the holding torque Jᵀ(−m g) of a point mass: compare the
    /// effort the servo needs at steady state with and without it, against the Jacobian oracle.
    @Test func payloadAddsPointMassGravityTorque() throws {
        let model = try Self.sim6()
        let m = 1.0
        let tool = try #require(model.frameIndex(named: "tool0"))
        let plain = try Self.arm(model)
        let loaded = try Self.arm(model) { $0.payloadMass = m; $0.payloadFrame = "tool0" }
        let q = plain.position
        var ws = plain.plant.makeWorkspace()
        let zero = [Double](repeating: 0, count: model.dof)
        plain.plant.bias(&ws, q: q, v: zero)
        let tauPlain = ws.tau
        loaded.plant.bias(&ws, q: q, v: zero)
        let tauLoaded = ws.tau
        model.forwardKinematics(&ws, q: q)
        var jac = [Double](repeating: 0, count: 6 * model.dof)
        model.frameJacobian(ws, frame: tool, into: &jac)
        let g = model.gravity
        let expected = (0 ..< model.dof).map { j in -m * (jac[6 * j] * g.x + jac[6 * j + 1] * g.y + jac[6 * j + 2] * g.z) }
        #expect(maxAbsDiff(zip(tauLoaded, tauPlain).map { $0 - $1 }, expected) < 1e-9)
        #expect(abs(loaded.plant.totalMass - model.totalMass - m) < 1e-12)
    }

    @Test func sameSeedSameTrajectoryDifferentSeedDifferentNoise() throws {
        let model = try Self.sim6()
        func run(seed: UInt64) throws -> [Double] {
            var arm = try Self.arm(model) { $0.seed = seed; $0.positionNoise = 1e-3; $0.velocityNoise = 1e-2 }
            try arm.activate(mode: .position)
            var state = JointState(dof: model.dof)
            var cmd = JointCommand(mode: .position, dof: model.dof)
            var trace: [Double] = []
            for _ in 0 ..< 50 {
                try arm.read(into: &state)
                cmd.values = state.position
                try arm.write(cmd)
                trace += state.position
            }
            return trace
        }
        #expect(try run(seed: 3) == run(seed: 3))
        #expect(try run(seed: 3) != run(seed: 4))
    }

    /// Noise statistics: sample standard deviation of 20 000 readings at rest within 3 % of the
    /// configured σ (the standard error of a sample σ is σ/√(2N) ≈ 0.5 %).
    @Test func sensorNoiseHasConfiguredStandardDeviation() throws {
        let model = try Self.sim6()
        let sigma = 2e-3
        var arm = try Self.arm(model) { $0.positionNoise = sigma }
        var state = JointState(dof: model.dof)
        var samples: [Double] = []
        for _ in 0 ..< 20_000 / model.dof {
            try arm.read(into: &state)
            samples += zip(state.position, arm.position).map { $0 - $1 }
        }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let sd = (samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count - 1)).squareRoot()
        #expect(abs(sd - sigma) / sigma < 0.03)
        #expect(abs(mean) < 4 * sigma / Double(samples.count).squareRoot())
    }

    @Test func effortIsSaturatedAtTheLimit() throws {
        let model = try Self.sim6()
        var arm = try Self.arm(model)
        try arm.activate(mode: .torque)
        var cmd = JointCommand(mode: .torque, dof: model.dof)
        cmd.values = model.joints.map { 10 * $0.effortLimit }
        var state = JointState(dof: model.dof)
        try arm.read(into: &state)
        try arm.write(cmd)
        try arm.read(into: &state)
        #expect(state.effort == model.joints.map(\.effortLimit))
    }

    @Test func jointsStopAtTheirLimits() throws {
        let model = try Self.sim6()
        var arm = try Self.arm(model)
        try arm.activate(mode: .torque)
        var cmd = JointCommand(mode: .torque, dof: model.dof)
        cmd.values = model.joints.map(\.effortLimit)
        var state = JointState(dof: model.dof)
        for _ in 0 ..< 5000 {
            try arm.write(cmd)
            try arm.read(into: &state)
        }
        for i in 0 ..< model.dof {
            #expect(arm.position[i] <= model.joints[i].upperLimit + 1e-12)
        }
    }

    @Test func lifecycleAndBadCommandsAreErrorsNotCrashes() throws {
        let model = try Self.sim6()
        var arm = try SimulatedArm(model: model)
        var state = JointState(dof: model.dof)
        #expect(throws: DriverError(.notConfigured, "")) { try arm.read(into: &state) }
        try arm.configure()
        #expect(throws: DriverError(.notActive, "")) { try arm.write(JointCommand(mode: .torque, dof: model.dof)) }
        try arm.activate(mode: .position)
        #expect(throws: DriverError(.unsupportedMode, "")) { try arm.write(JointCommand(mode: .torque, dof: model.dof)) }
        #expect(throws: DriverError(.dimensionMismatch, "")) { try arm.write(JointCommand(mode: .position, dof: 2)) }
        var bad = JointCommand(mode: .position, dof: model.dof)
        bad.values[3] = .nan
        let before = arm.position
        #expect(throws: DriverError(.invalidCommand, "")) { try arm.write(bad) }
        #expect(arm.position == before, "a rejected command must not move the arm")
        var wrong = SimulatedArm.Configuration()
        wrong.extraFriction = [1, 2]
        #expect(throws: DriverError(.dimensionMismatch, "")) { _ = try SimulatedArm(model: model, configuration: wrong) }
    }

    @Test func readAndWriteDoNotAllocate() throws {
        let model = try Self.sim6()
        var arm = try Self.arm(model) { $0.positionNoise = 1e-3 }
        try arm.activate(mode: .position)
        var state = JointState(dof: model.dof)
        let cmd = JointCommand(mode: .position, values: arm.position.map { $0 }) // a copy: sharing the arm's buffer would make its first update copy
        try arm.read(into: &state)
        try arm.write(cmd)
        AllocationCounter_start()
        for _ in 0 ..< 100 {
            try arm.read(into: &state)
            try arm.write(cmd)
        }
        #expect(AllocationCounter_stop() == 0)
    }
}

func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }
func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) } }
