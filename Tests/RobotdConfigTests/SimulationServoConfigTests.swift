import Foundation
import Testing
@testable import RobotdConfig

/// `driver.simulation.command_mode` and `driver.simulation.servo`: decoded, defaulted, and
/// refused with the key path and line like every other key; configs/so101-sim.yaml uses them.
@Suite struct SimulationServoConfigTests {
    static func simulation(_ yaml: String) throws -> DaemonConfiguration.Simulation {
        let config = try ConfigLoader.parse(yaml, file: "test.yaml", baseDirectory: nil)
        guard case let .simulation(sim) = config.driver else { throw ConfigError(.invalidValue, keyPath: "driver", file: nil, line: nil, message: "not simulation") }
        return sim
    }

    @Test func defaultsAreTorqueModeAndTheDerivedServo() throws {
        let sim = try Self.simulation("")
        #expect(sim.commandMode == .torque)
        #expect(sim.servo == DaemonConfiguration.Simulation.Servo())
        #expect(sim.servo.kp == nil && sim.servo.kd == nil && sim.servo.torqueLimit == nil)
        #expect(try Self.simulation("driver: {simulation: {servo: {}}}").servo == DaemonConfiguration.Simulation.Servo())
        #expect(try Self.simulation("driver: {simulation: {servo: null, command_mode: null}}").commandMode == .torque)
    }

    @Test func decodesModeAndServoAsOneNumberOrOnePerJoint() throws {
        let sim = try Self.simulation("""
            driver:
              simulation:
                command_mode: position
                servo:
                  kp: [29, 29, 20, 10, 5, 5.5]
                  kd: 0
                  torque_limit: 1.45
            """)
        #expect(sim.commandMode == .position)
        #expect(sim.servo.kp == .perJoint([29, 29, 20, 10, 5, 5.5]))
        #expect(sim.servo.kd == .uniform(0))
        #expect(sim.servo.torqueLimit == .uniform(1.45))
    }

    @Test func badValuesNameTheKeyAndLine() {
        func expectError(_ yaml: String, _ code: ConfigError.Code, keyPath: String, line: Int, messageContains: String? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                let config = try ConfigLoader.parse(yaml, file: "test.yaml", baseDirectory: nil)
                Issue.record("expected an error, decoded \(config)", sourceLocation: sourceLocation)
            } catch {
                #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
                #expect(error.keyPath == keyPath, "\(error)", sourceLocation: sourceLocation)
                #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
                if let messageContains { #expect(error.message.contains(messageContains), "\(error)", sourceLocation: sourceLocation) }
            }
        }
        expectError("driver:\n  simulation:\n    command_mode: velocity\n", .invalidValue,
                    keyPath: "driver.simulation.command_mode", line: 3, messageContains: "torque, position")
        expectError("driver:\n  simulation:\n    command_mode: 1\n", .invalidValue, keyPath: "driver.simulation.command_mode", line: 3)
        expectError("driver:\n  simulation:\n    servo:\n      kp: 0\n", .outOfRange, keyPath: "driver.simulation.servo.kp", line: 4,
                    messageContains: "N·m/rad")
        expectError("driver:\n  simulation:\n    servo:\n      kd: -1\n", .outOfRange, keyPath: "driver.simulation.servo.kd", line: 4,
                    messageContains: "N·m·s/rad")
        expectError("driver:\n  simulation:\n    servo:\n      torque_limit: [1, 2, 1e999]\n", .outOfRange,
                    keyPath: "driver.simulation.servo.torque_limit[2]", line: 4)
        expectError("driver:\n  simulation:\n    servo:\n      torque_limit: \"2\"\n", .wrongType,
                    keyPath: "driver.simulation.servo.torque_limit", line: 4)
        expectError("driver:\n  simulation:\n    servo:\n      kp: []\n", .invalidValue, keyPath: "driver.simulation.servo.kp", line: 4)
        expectError("driver:\n  simulation:\n    servo:\n      ki: 1\n", .unknownKey, keyPath: "driver.simulation.servo.ki", line: 4,
                    messageContains: "kp, kd, torque_limit")
        expectError("driver:\n  simulation:\n    servo: 5\n", .wrongType, keyPath: "driver.simulation.servo", line: 3)
    }

    /// The shipped SO-101 simulation: position servos with the derived gains, at 250 Hz.
    @Test func so101SimDecodes() throws {
        let path = ConfigLoaderTests.repoRoot.appendingPathComponent("configs/so101-sim.yaml").path
        let config = try ConfigLoader.load(path: path)
        guard case let .simulation(sim) = config.driver else {
            Issue.record("so101-sim.yaml simulates")
            return
        }
        #expect(sim.commandMode == .position && sim.servo == DaemonConfiguration.Simulation.Servo())
        #expect(config.robot.urdf.hasSuffix("hardware/robots/so101/robot.urdf") && config.robot.name == "so101")
        #expect(config.loop.rateHz == 250 && config.mpc.enabled && config.mpc.frame == "gripper_frame")
        #expect(config.learning.enabled == false)
    }
}
