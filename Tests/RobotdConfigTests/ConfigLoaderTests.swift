import Foundation
import Testing
@testable import RobotdConfig

@Suite struct ConfigLoaderTests {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Parses `yaml` as `test.yaml` and returns the error it must raise.
    func failure(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
        do {
            let config = try ConfigLoader.parse(yaml, file: "test.yaml", baseDirectory: nil)
            Issue.record("expected an error, decoded \(config)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    func expectError(
        _ yaml: String, _ code: ConfigError.Code, keyPath: String, line: Int?, messageContains: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error = failure(yaml, sourceLocation: sourceLocation) else { return }
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.keyPath == keyPath, "\(error)", sourceLocation: sourceLocation)
        #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
        #expect(error.file == "test.yaml", sourceLocation: sourceLocation)
        if let messageContains {
            #expect(error.message.contains(messageContains), "\(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: shipped and default configurations

    @Test func shippedSimConfigDecodesToExpectedValues() throws {
        let path = Self.repoRoot.appendingPathComponent("configs/sim.yaml").path
        let config = try ConfigLoader.load(path: path)

        #expect(config.robot.urdf == Self.repoRoot.appendingPathComponent("configs").path + "/../hardware/robots/sim6/robot.urdf")
        #expect(config.robot.name == "sim6")
        #expect(config.driver == .simulation(DaemonConfiguration.Simulation()))
        // The shipped loop is pinned (auto) with a 50 µs early wake; the rest are the defaults.
        var loop = config.loop
        #expect(loop.cpuAffinityIsAuto && loop.earlyWake == 0.00005)
        #expect(loop.cpuAffinity == DaemonConfiguration.Loop.automaticCPU(allowed: ConfigReader.allowedCPUs(), avoiding: nil))
        (loop.cpuAffinity, loop.cpuAffinityIsAuto, loop.earlyWake) = (nil, false, 0)
        #expect(loop == DaemonConfiguration.Loop())
        #expect(config.loop.rateHz == 1000)
        #expect(config.loop.period == 0.001)
        #expect(config.control == DaemonConfiguration.Control())
        #expect(config.limits == DaemonConfiguration.Limits())
        #expect(config.socket.mode == 0o660)
        #expect(config.socket == DaemonConfiguration.Socket())
        #expect(config.dataDirectory == "./data")
        #expect(config.logging == DaemonConfiguration.Logging())
    }

    /// sim.yaml spells out the defaults; if a default changes, the shipped file must follow. It
    /// differs in the robot and in the loop's CPU placement (pinned, `auto`, with a 50 µs early
    /// wake: a deployment's choice, not a default that would pin every configuration's loop).
    @Test func shippedSimConfigEqualsDefaultsExceptRobot() throws {
        let path = Self.repoRoot.appendingPathComponent("configs/sim.yaml").path
        var config = try ConfigLoader.load(path: path)
        config.robot = DaemonConfiguration.Robot()
        (config.loop.cpuAffinity, config.loop.cpuAffinityIsAuto, config.loop.earlyWake) = (nil, false, 0)
        #expect(config == DaemonConfiguration())
    }

    @Test(arguments: ["", "\n", "# only a comment\n", "---\n", "~\n"])
    func emptyFileGivesDefaults(_ yaml: String) throws {
        let config = try ConfigLoader.parse(yaml, file: nil, baseDirectory: "/etc/robotd")
        #expect(config == DaemonConfiguration())
        #expect(config.robot.urdf == "hardware/robots/sim6/robot.urdf")
        #expect(config.loop.rtPriority == 80)
        #expect(config.loop.lockMemory)
        #expect(config.loop.catchUp == .skip)
        #expect(config.control.maxMoveVelocity == 0.5)
        #expect(config.logging.level == .info)
        #expect(config.logging.target == .auto)
    }

    @Test func emptySectionsGiveDefaults() throws {
        let config = try ConfigLoader.parse("robot:\nloop: {}\ncontrol:\n  hold:\n", file: nil, baseDirectory: nil)
        #expect(config == DaemonConfiguration())
    }

    @Test func everyKeyDecodes() throws {
        let yaml = """
            robot:
              urdf: /opt/arm/arm.urdf
              name: bench arm
            driver:
              kind: simulation
              simulation:
                substeps: 10
                integrator: rk4
                seed: 18446744073709551615
                position_noise: 1e-4
                velocity_noise: 0.001
                payload_mass: 0.25
                payload_frame: tool
                payload_offset: [0, 0, 0.05]
                extra_friction: [0.1, 0.1, 0.05]
                extra_damping: 0.02
                initial_position: [0, -0.5, 1.0]
            loop:
              rate_hz: 500
              rt_priority: 90
              cpu_affinity: 3
              lock_memory: false
              overrun_fault_threshold: 3
              catch_up: burst
              flight_recorder_seconds: 0
              max_state_age: 0.02
              stale_state_fault_ticks: 4
            control:
              hold: {kp: [80, 80, 60], kd: 2}
              move: {kp: 120, kd: [4, 4, 3]}
              gravity_compensation: false
              max_move_velocity: 1.5
            limits:
              velocity_scale: 0.5
              effort_scale: 0.25
              slew_rate: 200
              joints:
                elbow: {lower: -1.5, upper: 1.5}
                wrist: {velocity: 2, effort: 1.5}
            socket:
              path: /run/robotd/robotd.sock
              group: robot
              mode: 0640
              observers: [alice, "@video"]
              operators: ["@robot"]
            data_directory: /var/lib/robotd
            logging:
              level: debug
              target: journald
            """
        let c = try ConfigLoader.parse(yaml, file: nil, baseDirectory: "/etc/robotd")
        #expect(c.robot.urdf == "/opt/arm/arm.urdf")
        #expect(c.robot.name == "bench arm")
        guard case let .simulation(sim) = c.driver else {
            Issue.record("expected simulation, got \(c.driver)")
            return
        }
        #expect(sim.substeps == 10)
        #expect(sim.integrator == .rk4)
        #expect(sim.seed == UInt64.max)
        #expect(sim.positionNoise == 1e-4)
        #expect(sim.velocityNoise == 0.001)
        #expect(sim.payloadMass == 0.25)
        #expect(sim.payloadFrame == "tool")
        #expect(sim.payloadOffset == [0, 0, 0.05])
        #expect(sim.extraFriction == .perJoint([0.1, 0.1, 0.05]))
        #expect(sim.extraDamping == .uniform(0.02))
        #expect(sim.initialPosition == [0, -0.5, 1.0])
        #expect(c.loop.rateHz == 500)
        #expect(c.loop.rtPriority == 90)
        #expect(c.loop.cpuAffinity == 3)
        #expect(!c.loop.lockMemory)
        #expect(c.loop.overrunFaultThreshold == 3)
        #expect(c.loop.catchUp == .burst)
        #expect(c.loop.flightRecorderSeconds == 0)
        #expect(c.loop.maxStateAge == 0.02)
        #expect(c.loop.staleStateFaultTicks == 4)
        #expect(c.control.hold == .init(kp: .perJoint([80, 80, 60]), kd: .uniform(2)))
        #expect(c.control.move == .init(kp: .uniform(120), kd: .perJoint([4, 4, 3])))
        #expect(!c.control.gravityCompensation)
        #expect(c.control.maxMoveVelocity == 1.5)
        #expect(c.limits.velocityScale == 0.5)
        #expect(c.limits.effortScale == 0.25)
        #expect(c.limits.slewRate == 200)
        #expect(c.limits.joints == [
            "elbow": .init(lower: -1.5, upper: 1.5),
            "wrist": .init(velocity: 2, effort: 1.5),
        ])
        #expect(c.socket.path == "/run/robotd/robotd.sock")
        #expect(c.socket.group == "robot")
        #expect(c.socket.mode == 0o640)
        #expect(c.socket.observers == ["alice", "@video"])
        #expect(c.socket.operators == ["@robot"])
        #expect(c.dataDirectory == "/var/lib/robotd")
        #expect(c.logging.level == .debug)
        #expect(c.logging.target == .journald)
    }

    @Test func servoBusDriversDecode() throws {
        let yaml = """
            driver:
              kind: feetech
              feetech:
                port: /dev/ttyACM0
                ids: [1, 2, 3, 4, 5, 6]
            """
        let c = try ConfigLoader.parse(yaml, file: nil, baseDirectory: nil)
        #expect(c.driver == .feetech(.init(port: "/dev/ttyACM0", baud: 1_000_000, ids: [1, 2, 3, 4, 5, 6])))
        #expect(c.driver.kind == .feetech)

        let dxl = try ConfigLoader.parse(
            "driver: {kind: dynamixel, dynamixel: {port: /dev/ttyUSB0, baud: 57600, ids: [7]}}", file: nil, baseDirectory: nil)
        #expect(dxl.driver == .dynamixel(.init(port: "/dev/ttyUSB0", baud: 57600, ids: [7])))
    }

    @Test func armIDNamesTheCalibrationFileAndMustBeAFileName() throws {
        let c = try ConfigLoader.parse("driver: {kind: feetech, feetech: {port: p, ids: [1], arm_id: so101-left_2}}", file: nil, baseDirectory: nil)
        guard case let .feetech(bus) = c.driver else { Issue.record("not feetech"); return }
        #expect(bus.armID == "so101-left_2")
        for bad in ["../x", ".hidden", "a/b", "ärm"] {
            expectError("driver:\n  kind: feetech\n  feetech:\n    port: p\n    ids: [1]\n    arm_id: \(bad)\n", .invalidValue,
                        keyPath: "driver.feetech.arm_id", line: 6, messageContains: "cannot name a file")
        }
    }

    @Test(arguments: [("0660", 0o660), ("\"0660\"", 0o660), ("660", 0o660), ("0o600", 0o600), ("'0777'", 0o777), ("0", 0)])
    func socketModeIsChmodOctal(_ written: String, _ expected: Int) throws {
        let c = try ConfigLoader.parse("socket:\n  mode: \(written)\n", file: nil, baseDirectory: nil)
        #expect(c.socket.mode == expected)
    }

    // MARK: paths

    @Test func relativeURDFResolvesAgainstConfigDirectory() throws {
        let yaml = "robot:\n  urdf: ../hardware/robots/sim6/robot.urdf\n"
        #expect(try ConfigLoader.parse(yaml, file: nil, baseDirectory: "/srv/robotd/configs").robot.urdf
            == "/srv/robotd/configs/../hardware/robots/sim6/robot.urdf")
        #expect(try ConfigLoader.parse("robot: {urdf: ./arm.urdf}", file: nil, baseDirectory: "configs").robot.urdf
            == "configs/arm.urdf")
        #expect(try ConfigLoader.parse("robot: {urdf: /abs/arm.urdf}", file: nil, baseDirectory: "configs").robot.urdf
            == "/abs/arm.urdf")
        #expect(try ConfigLoader.parse("robot: {urdf: arm.urdf}", file: nil, baseDirectory: nil).robot.urdf == "arm.urdf")
    }

    @Test func loadUsesTheFileDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("arm.yaml")
        try "robot:\n  urdf: arm.urdf\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: file.path).robot.urdf == dir.path + "/arm.urdf")
        #expect(ConfigLoader.directory(of: "sim.yaml") == nil)
        #expect(ConfigLoader.directory(of: "/sim.yaml") == "/")
        #expect(ConfigLoader.directory(of: "configs/sim.yaml") == "configs")
    }

    @Test func missingFileIsUnreadable() {
        #expect {
            try ConfigLoader.load(path: "/nonexistent/robotd.yaml")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.code == .unreadable && error.file == "/nonexistent/robotd.yaml"
                && error.description.hasPrefix("/nonexistent/robotd.yaml: cannot read")
        }
    }

    // MARK: errors: key path and line

    @Test func descriptionReadsLikeACompilerDiagnostic() {
        let error = failure("# robotd\nloop:\n  rate_hz: 0\n")
        #expect(error?.description == "test.yaml:3: loop.rate_hz: 0 is out of range 1…10000 Hz")
    }

    @Test func unknownTopLevelKey() {
        expectError("loop: {}\nlogin:\n  level: info\n", .unknownKey, keyPath: "login", line: 2,
                    messageContains: "did you mean logging?")
    }

    @Test func unknownNestedKey() {
        expectError(
            "loop:\n  rate_hz: 500\n  rat_hz: 1000\n", .unknownKey, keyPath: "loop.rat_hz", line: 3,
            messageContains: "expected one of rate_hz, rt_priority, cpu_affinity")
        expectError(
            "driver:\n  simulation:\n    substeps: 2\n    noise: 1\n", .unknownKey,
            keyPath: "driver.simulation.noise", line: 4)
        expectError(
            "limits:\n  joints:\n    elbow:\n      lower: -1\n      speed: 2\n", .unknownKey,
            keyPath: "limits.joints.elbow.speed", line: 5, messageContains: "lower, upper, velocity, effort")
    }

    @Test func wrongType() {
        expectError("loop:\n  rate_hz: fast\n", .wrongType, keyPath: "loop.rate_hz", line: 2,
                    messageContains: "expected an integer, found \"fast\"")
        expectError("loop:\n  rate_hz: \"1000\"\n", .wrongType, keyPath: "loop.rate_hz", line: 2)
        expectError("loop:\n  rate_hz: 1000.5\n", .wrongType, keyPath: "loop.rate_hz", line: 2,
                    messageContains: "found 1000.5")
        expectError("loop:\n\n  lock_memory: yes please\n", .wrongType, keyPath: "loop.lock_memory", line: 3,
                    messageContains: "expected a boolean")
        expectError("loop: 1000\n", .wrongType, keyPath: "loop", line: 1,
                    messageContains: "expected a mapping, found 1000")
        expectError("limits:\n  velocity_scale: [1]\n", .wrongType, keyPath: "limits.velocity_scale", line: 2,
                    messageContains: "expected a number, found a list")
        expectError("robot:\n  urdf: {path: x}\n", .wrongType, keyPath: "robot.urdf", line: 2)
        expectError("- a\n- b\n", .wrongType, keyPath: "", line: 1, messageContains: "expected a mapping")
        expectError("socket:\n  observers: alice\n", .wrongType, keyPath: "socket.observers", line: 2,
                    messageContains: "expected a list")
        expectError("socket:\n  mode: rw\n", .wrongType, keyPath: "socket.mode", line: 2)
        expectError("driver:\n  simulation:\n    seed: 0x10\n", .wrongType, keyPath: "driver.simulation.seed", line: 3)
    }

    @Test func outOfRange() {
        expectError("loop:\n  rate_hz: 0\n", .outOfRange, keyPath: "loop.rate_hz", line: 2,
                    messageContains: "0 is out of range 1…10000 Hz")
        expectError("loop:\n  rt_priority: 100\n", .outOfRange, keyPath: "loop.rt_priority", line: 2)
        expectError("loop:\n  cpu_affinity: -1\n", .outOfRange, keyPath: "loop.cpu_affinity", line: 2,
                    messageContains: "≥ 0")
        expectError("loop:\n  flight_recorder_seconds: 61\n", .outOfRange,
                    keyPath: "loop.flight_recorder_seconds", line: 2, messageContains: "0…60 s")
        expectError("loop:\n  max_state_age: 0\n", .outOfRange, keyPath: "loop.max_state_age", line: 2,
                    messageContains: "0.0001…10 s")
        expectError("loop:\n  stale_state_fault_ticks: 0\n", .outOfRange, keyPath: "loop.stale_state_fault_ticks", line: 2,
                    messageContains: "1…10000 ticks")
        expectError("limits:\n  velocity_scale: 0\n", .outOfRange, keyPath: "limits.velocity_scale", line: 2,
                    messageContains: "0 < x ≤ 1")
        expectError("limits:\n  effort_scale: 1.5\n", .outOfRange, keyPath: "limits.effort_scale", line: 2)
        expectError("control:\n  max_move_velocity: 0\n", .outOfRange, keyPath: "control.max_move_velocity",
                    line: 2, messageContains: "> 0 rad/s")
        expectError("driver:\n  simulation:\n    substeps: 101\n", .outOfRange,
                    keyPath: "driver.simulation.substeps", line: 3)
        expectError("driver:\n  simulation:\n    position_noise: -0.1\n", .outOfRange,
                    keyPath: "driver.simulation.position_noise", line: 3, messageContains: "≥ 0 rad")
        expectError("limits:\n  joints:\n    elbow:\n      velocity: 0\n", .outOfRange,
                    keyPath: "limits.joints.elbow.velocity", line: 4, messageContains: "> 0 rad/s")
        expectError("socket:\n  mode: \"1777\"\n", .outOfRange, keyPath: "socket.mode", line: 2)
        expectError("driver:\n  simulation:\n    seed: -1\n", .outOfRange, keyPath: "driver.simulation.seed", line: 3)
        expectError("loop:\n  rate_hz: 99999999999999999999999\n", .outOfRange, keyPath: "loop.rate_hz", line: 2)
    }

    @Test func duplicateKeys() {
        expectError("loop:\n  rate_hz: 500\n  rate_hz: 1000\n", .duplicateKey, keyPath: "loop.rate_hz", line: 3,
                    messageContains: "first on line 2")
        expectError("logging: {}\nloop: {}\nlogging:\n  level: info\n", .duplicateKey, keyPath: "logging", line: 3)
        expectError("limits:\n  joints:\n    elbow: {}\n    elbow: {effort: 1}\n", .duplicateKey,
                    keyPath: "limits.joints.elbow", line: 4)
    }

    @Test func badEnumValueListsAllowedValues() {
        expectError("logging:\n  level: verbose\n", .invalidValue, keyPath: "logging.level", line: 2,
                    messageContains: "\"verbose\" is not one of trace, debug, info, notice, warning, error, critical")
        expectError("driver:\n  kind: ur5\n", .invalidValue, keyPath: "driver.kind", line: 2,
                    messageContains: "simulation, dynamixel, feetech")
        expectError("loop:\n  catch_up: later\n", .invalidValue, keyPath: "loop.catch_up", line: 2,
                    messageContains: "skip, burst")
        expectError("driver:\n  simulation:\n    integrator: euler\n", .invalidValue,
                    keyPath: "driver.simulation.integrator", line: 3, messageContains: "semi_implicit_euler, rk4")
    }

    @Test func yamlSyntaxErrorReportsItsLine() {
        guard let error = failure("loop:\n  rate_hz: 1000\n  rt_priority: [80\nlogging: {}\n") else { return }
        #expect(error.code == .syntax)
        #expect(error.keyPath == "")
        #expect(error.line == 4, "\(error)")
        #expect(error.description.hasPrefix("test.yaml:4: invalid YAML"), "\(error)")

        guard let tab = failure("loop:\n  rate_hz: 1000\n\tlock_memory: true\n") else { return }
        #expect(tab.code == .syntax)
        #expect(tab.line == 3, "\(tab)")

        guard let indent = failure("loop:\n  rate_hz: 1000\n   rt_priority: 80\n") else { return }
        #expect(indent.code == .syntax)
        #expect(indent.line == 3, "\(indent)")
    }

    @Test func perJointListAndScalarForms() throws {
        let scalar = try ConfigLoader.parse("control:\n  hold:\n    kp: 40\n", file: nil, baseDirectory: nil)
        #expect(scalar.control.hold.kp == .uniform(40))
        #expect(scalar.control.hold.kp.values(count: 3) == [40, 40, 40])
        let list = try ConfigLoader.parse("control:\n  hold:\n    kp: [40, 30.5, 20]\n", file: nil, baseDirectory: nil)
        #expect(list.control.hold.kp == .perJoint([40, 30.5, 20]))
        #expect(list.control.hold.kp.values(count: 3) == [40, 30.5, 20])
        #expect(list.control.hold.kp.values(count: 6) == nil)

        expectError("control:\n  hold:\n    kp: [40, 30, 0]\n", .outOfRange, keyPath: "control.hold.kp[2]", line: 3,
                    messageContains: "> 0 N·m/rad")
        expectError("control:\n  move:\n    kd:\n      - 1\n      - -2\n", .outOfRange, keyPath: "control.move.kd[1]",
                    line: 5)
        expectError("control:\n  move:\n    kd:\n      - 1\n      - stiff\n", .wrongType, keyPath: "control.move.kd[1]",
                    line: 5, messageContains: "expected a number")
        expectError("control:\n  hold:\n    kp: []\n", .invalidValue, keyPath: "control.hold.kp", line: 3)
        expectError("control:\n  hold:\n    kp: high\n", .wrongType, keyPath: "control.hold.kp", line: 3,
                    messageContains: "a number or a list of numbers")
        expectError("driver:\n  simulation:\n    extra_friction: {elbow: 1}\n", .wrongType,
                    keyPath: "driver.simulation.extra_friction", line: 3)
    }

    // MARK: errors: cross-field rules

    @Test func driverSettingsMustMatchTheKind() {
        expectError("driver:\n  kind: simulation\n  feetech:\n    port: /dev/ttyACM0\n", .invalidValue,
                    keyPath: "driver.feetech", line: 3, messageContains: "driver.kind is simulation")
        expectError("driver:\n  kind: dynamixel\n  dynamixel:\n    ids: [1]\n", .missingKey,
                    keyPath: "driver.dynamixel.port", line: 4, messageContains: "when driver.kind is dynamixel")
        expectError("driver:\n  kind: dynamixel\n", .missingKey, keyPath: "driver.dynamixel.port", line: 2)
        expectError("driver:\n  kind: feetech\n  feetech:\n    port: /dev/ttyACM0\n", .missingKey,
                    keyPath: "driver.feetech.ids", line: 4)
        expectError("driver:\n  kind: feetech\n  feetech:\n    port: p\n    ids: [1]\n    baud: 100000\n",
                    .invalidValue, keyPath: "driver.feetech.baud", line: 6, messageContains: "1000000")
        expectError("driver:\n  kind: feetech\n  feetech:\n    port: p\n    ids: [1, 2, 1]\n",
                    .invalidValue, keyPath: "driver.feetech.ids[2]", line: 5, messageContains: "twice")
        expectError("driver:\n  kind: feetech\n  feetech:\n    port: p\n    ids: [1, 254]\n",
                    .outOfRange, keyPath: "driver.feetech.ids[1]", line: 5)
    }

    @Test func otherCrossFieldRules() {
        expectError("limits:\n  joints:\n    elbow:\n      lower: 1\n      upper: -1\n", .invalidValue,
                    keyPath: "limits.joints.elbow.upper", line: 5)
        expectError("driver:\n  simulation:\n    payload_offset: [0, 0]\n", .invalidValue,
                    keyPath: "driver.simulation.payload_offset", line: 3)
        expectError("socket:\n  operators: [alice, \"bob smith\"]\n", .invalidValue,
                    keyPath: "socket.operators[1]", line: 2)
        expectError("socket:\n  observers: [\"@\"]\n", .invalidValue, keyPath: "socket.observers[0]", line: 2)
    }

    @Test func errorsCompareByCode() {
        let a = ConfigError(.outOfRange, keyPath: "a", file: nil, line: 1, message: "x")
        let b = ConfigError(.outOfRange, keyPath: "b", file: "f", line: 9, message: "y")
        #expect(a == b)
        #expect(a != ConfigError(.wrongType, keyPath: "a", file: nil, line: 1, message: "x"))
        #expect(ConfigError(.syntax, keyPath: "", file: nil, line: nil, message: "m").description == "m")
        #expect(ConfigError(.syntax, keyPath: "", file: nil, line: 4, message: "m").description == "line 4: m")
    }
}

extension ConfigLoaderTests {
    @Test func learningKeysDecode() throws {
        let c = try ConfigLoader.parse("""
            learning:
              enabled: true
              max_disagreement: 0.01
              soft_disagreement: 0.001
              disagreement_weight: 5
              cpu_affinity: 0
              warm_start: false
              warm_start_epochs: 7
              input_noise: 0.2
              control_input: true
              derivatives: full
              disagreement_quantile: 0.95
              disagreement_factor: 8
              soft_disagreement_fraction: 0.25
              residual_bound_factor: 3
            """, file: "test.yaml", baseDirectory: nil)
        let l = c.learning
        #expect(l.disagreementQuantile == 0.95 && l.disagreementFactor == 8 && l.softDisagreementFraction == 0.25 && l.residualBoundFactor == 3)
        // The defaults gate and penalise a learned model: calibrated limit, soft penalty at half of it.
        let d = DaemonConfiguration.Learning()
        #expect(d.maxDisagreement == 0 && d.softDisagreementFraction > 0 && d.disagreementWeight > 0 && d.disagreementFactor >= 1)
        #expect(l.enabled && l.maxDisagreement == 0.01 && l.softDisagreement == 0.001 && l.disagreementWeight == 5)
        #expect(l.cpuAffinity == 0 && !l.warmStart && l.warmStartEpochs == 7 && l.inputNoise == 0.2 && l.controlInput)
        #expect(l.derivatives == .full)
        #expect(DaemonConfiguration.Learning().derivatives == .none)
    }

    @Test func theSoftDisagreementThresholdMustBeBelowTheHardOne() {
        expectError("learning: {max_disagreement: 0.01, soft_disagreement: 0.02}", .invalidValue,
                    keyPath: "learning.soft_disagreement", line: 1, messageContains: "below learning.max_disagreement")
        expectError("learning: {disagreement_quantile: 0.2}", .outOfRange, keyPath: "learning.disagreement_quantile", line: 1, messageContains: "0.5")
        expectError("learning: {residual_bound_factor: 0.5}", .outOfRange, keyPath: "learning.residual_bound_factor", line: 1, messageContains: "1")
        expectError("learning:\n  derivatives: some\n", .invalidValue, keyPath: "learning.derivatives", line: 2, messageContains: "position")
        expectError("loop: {cpu_affinity: 1}\nlearning:\n  cpu_affinity: 1\n", .invalidValue, keyPath: "learning.cpu_affinity", line: 3,
                    messageContains: "away from the control thread")
    }

    /// `auto`: the highest CPU of the mask other than the learner's, on two CPUs or more; none on one.
    @Test func automaticLoopCPU() {
        typealias Loop = DaemonConfiguration.Loop
        #expect(Loop.automaticCPU(allowed: [0, 1], avoiding: nil) == 1)
        #expect(Loop.automaticCPU(allowed: [0, 1, 2, 3], avoiding: nil) == 3)
        #expect(Loop.automaticCPU(allowed: [0, 1, 2, 3], avoiding: 3) == 2)
        #expect(Loop.automaticCPU(allowed: [2, 5, 9], avoiding: 0) == 9)
        #expect(Loop.automaticCPU(allowed: [4], avoiding: nil) == nil)
        #expect(Loop.automaticCPU(allowed: [0, 1], avoiding: 1) == 0)
        #expect(Loop.automaticCPU(allowed: [], avoiding: nil) == nil)
    }

    @Test func cpuAffinityAutoResolvesAgainstThisProcessAndTheLearner() throws {
        let allowed = ConfigReader.allowedCPUs()
        for yaml in ["loop: {cpu_affinity: auto}", "loop:\n  cpu_affinity: \"auto\"\n"] {
            let c = try ConfigLoader.parse(yaml, file: nil, baseDirectory: nil)
            #expect(c.loop.cpuAffinityIsAuto)
            #expect(c.loop.cpuAffinity == (allowed.count >= 2 ? allowed.max() : nil))
        }
        if allowed.count >= 2, let last = allowed.max() {
            let c = try ConfigLoader.parse("loop: {cpu_affinity: auto}\nlearning: {cpu_affinity: \(last)}", file: nil, baseDirectory: nil)
            #expect(c.loop.cpuAffinity != last && c.loop.cpuAffinity.map(allowed.contains) == true)
        }
        expectError("loop:\n  cpu_affinity: last\n", .wrongType, keyPath: "loop.cpu_affinity", line: 2, messageContains: "a CPU number or auto")
        expectError("loop:\n  cpu_affinity: 1.5\n", .wrongType, keyPath: "loop.cpu_affinity", line: 2, messageContains: "a CPU number or auto")
    }

    @Test func earlyWakeIsBoundedAndUnderHalfAPeriod() throws {
        #expect(try ConfigLoader.parse("loop: {early_wake: 0.0001}", file: nil, baseDirectory: nil).loop.earlyWake == 0.0001)
        #expect(DaemonConfiguration.Loop().earlyWake == 0)
        expectError("loop:\n  early_wake: 0.002\n", .outOfRange, keyPath: "loop.early_wake", line: 2, messageContains: "0.001")
        expectError("loop:\n  early_wake: -0.0001\n", .outOfRange, keyPath: "loop.early_wake", line: 2)
        expectError("loop:\n  rate_hz: 2000\n  early_wake: 0.0003\n", .outOfRange, keyPath: "loop.early_wake", line: 3,
                    messageContains: "half of the 2000 Hz period")
    }
}
