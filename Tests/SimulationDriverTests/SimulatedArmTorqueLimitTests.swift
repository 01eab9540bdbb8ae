import RigidBody
import RobotInterface
import SimulationDriver
import Testing

/// `Configuration.torqueLimit` (`driver.simulation.servo.torque_limit`): the motor's limit in
/// every mode, instead of the URDF's effort limit; servo settings that cannot be a motor's are
/// refused when the arm is made.
@Suite struct SimulatedArmTorqueLimitTests {
    @Test func theConfiguredLimitCapsTorqueAndPositionModes() throws {
        let model = try SimulatedArmTests.sim6()
        for mode in [CommandMode.torque, .position] {
            var arm = try SimulatedArmTests.arm(model) { $0.torqueLimit = Array(repeating: 1.5, count: 6) }
            #expect(arm.torqueLimits == Array(repeating: 1.5, count: 6))
            try arm.activate(mode: mode)
            var state = JointState(dof: 6)
            try arm.read(into: &state)
            // 500 N·m, or a goal 2 rad away: far beyond 1.5 N·m either way.
            var command = JointCommand(mode: mode, dof: 6)
            for i in 0 ..< 6 { command.values[i] = mode == .torque ? 500 : state.position[i] + 2 }
            try arm.write(command)
            for _ in 0 ..< 3 {
                try arm.read(into: &state)
                for i in 0 ..< 6 { #expect(abs(arm.appliedEffort[i]) <= 1.5 + 1e-9, "\(mode) joint \(i): \(arm.appliedEffort[i]) N·m") }
            }
            #expect((0 ..< 6).contains { abs(arm.appliedEffort[$0]) > 1.4 }, "\(mode): the motors saturate at the limit")
        }
        let urdf = try SimulatedArmTests.arm(model)
        #expect(urdf.torqueLimits == model.joints.map(\.effortLimit))
    }

    @Test func impossibleServoSettingsAreRefused() throws {
        let model = try SimulatedArmTests.sim6()
        let cases: [(String, (inout SimulatedArm.Configuration) -> Void, DriverError.Code)] = [
            ("negative limit", { $0.torqueLimit = [1, 1, 1, -1, 1, 1] }, .invalidCommand),
            ("NaN gain", { $0.positionGain = [1, 1, .nan, 1, 1, 1] }, .invalidCommand),
            ("infinite damping", { $0.dampingGain = Array(repeating: .infinity, count: 6) }, .invalidCommand),
            ("two limits for six joints", { $0.torqueLimit = [1, 1] }, .dimensionMismatch),
        ]
        for (name, edit, code) in cases {
            var c = SimulatedArm.Configuration()
            edit(&c)
            do {
                _ = try SimulatedArm(model: model, configuration: c)
                Issue.record("\(name): accepted")
            } catch {
                #expect(error.code == code, "\(name): \(error)")
            }
        }
    }
}
