import Control
import ControlProtocol
import ControlRuntime
import Foundation
import Logging
import Platform
import RigidBody
import RobotInterface
import RobotdConfig
import ServoDriver
import ServoProtocol

/// The servo-bus arms (`driver.kind: feetech | dynamixel`): the calibration, the driver's
/// options from the configuration, the connected driver, and the loop over it in position mode.
extension DaemonAssembly {
    /// The calibration file a servo configuration uses: `driver.*.calibration`, else
    /// `<data_directory>/calibration/<arm_id>.json` (`arm_id` defaults to the robot's name). The
    /// one rule for the daemon, which reads it, and `robotd calibrate`, which writes it.
    /// - Parameter armID: an arm id chosen on the command line, over the configuration's.
    public static func calibrationPath(_ config: DaemonConfiguration, bus: DaemonConfiguration.SerialBus, model: RobotModel,
                                       armID chosen: String? = nil) -> String {
        if chosen == nil, let path = bus.calibration { return path }
        return CalibrationFile.path(dataDirectory: config.dataDirectory, arm: chosen ?? armID(config, bus: bus, model: model))
    }

    public static func armID(_ config: DaemonConfiguration, bus: DaemonConfiguration.SerialBus, model: RobotModel) -> String {
        bus.armID ?? config.robot.name ?? model.name
    }

    /// The driver's options from the configuration and a calibration.
    /// - Throws: `Failure` naming the key whose value does not fit the robot.
    /// - Parameters:
    ///   - busKind: the bus's protocol (the follower's `driver.kind`, or a leader arm's);
    ///     `section`: the configuration key its settings are under, for errors.
    public static func servoOptions(_ config: DaemonConfiguration, bus: DaemonConfiguration.SerialBus, model: RobotModel,
                                    calibration: ArmCalibration, busKind: DaemonConfiguration.Driver.Kind? = nil,
                                    section: String? = nil) throws -> ServoArmOptions {
        let busKind = busKind ?? config.driver.kind
        let kind = section ?? "driver.\(busKind.rawValue)"
        guard bus.ids.count == model.dof else {
            throw Failure("\(kind).ids: \(bus.ids.count) servo ids for \(model.dof) joints (\(model.joints.map(\.name).joined(separator: ", ")))")
        }
        var o = ServoArmOptions(busProtocol: busKind == .dynamixel ? .dynamixel : .feetech, port: bus.port, baud: bus.baud,
                                ids: bus.ids.map { UInt8($0) }, jointNames: model.joints.map(\.name),
                                robotName: config.robot.name ?? model.name, calibration: calibration)
        o.busRateHz = bus.busRateHz
        o.positionMode = bus.positionMode == .currentPosition ? .currentBasedPosition : .position
        o.profileVelocity = bus.profileVelocity
        o.profileAcceleration = bus.profileAcceleration
        if let p = bus.positionP { o.positionP = try perJoint(p, "\(kind).position_p", model).map { Int($0.rounded()) } }
        if let d = bus.positionD { o.positionD = try perJoint(d, "\(kind).position_d", model).map { Int($0.rounded()) } }
        if let t = bus.torqueLimit { o.torqueLimit = try perJoint(t, "\(kind).torque_limit", model) }
        o.maxGoalStep = bus.maxGoalStep
        o.softLimitMargin = Int((bus.softLimitMargin / (2 * Double.pi) * Double(ArmCalibration.countsPerRevolution)).rounded(.up))
        o.failedCyclesToFault = bus.failedCyclesToFault
        o.retriesPerCycle = bus.retries
        o.safeState = bus.safeState == .hold ? .hold : .torqueOff
        o.effortLimits = model.joints.map(\.effortLimit)
        let stiffness = try bus.feedforwardStiffness.map { try perJoint($0, "\(kind).feedforward_stiffness", model) }
            ?? model.joints.map { $0.effortLimit.isFinite ? $0.effortLimit / 0.1 : 0 }
        o.feedforwardCompliance = stiffness.map { $0 > 0 ? 1 / $0 : 0 }
        o.diagnosticsHz = min(bus.diagnosticsHz, bus.busRateHz)

        do throws(ServoArmError) {
            try o.validate()
        } catch {
            throw Failure("\(kind): \(error)")
        }
        return o
    }

    /// The limiter's bounds for a servo arm: the robot description's, narrowed to the calibrated
    /// range less the soft-limit margin, so that moves and plans stay where the driver would
    /// clamp anyway and the loop's own limit checks watch the real range.
    static func servoLimits(_ config: DaemonConfiguration, model: RobotModel, calibration: ArmCalibration,
                            margin: Double) throws -> JointLimits {
        var limits = try limits(config, model: model)
        for i in 0 ..< model.dof {
            let range = calibration.positionRange(joint: i)
            let lower = max(limits.lower[i], range.lower + margin), upper = min(limits.upper[i], range.upper - margin)
            guard lower < upper else {
                throw Failure("the calibrated range of \(model.joints[i].name) [\(range.lower), \(range.upper)] rad (less the "
                              + "soft_limit_margin \(margin) rad) does not overlap the robot description's [\(limits.lower[i]), \(limits.upper[i])] rad: "
                              + "recalibrate (robotd calibrate) or check the joint's drive mode")
            }
            limits.lower[i] = lower
            limits.upper[i] = upper
        }
        return limits
    }

    /// `status.bus` from the driver's monitor and the calibration in use.
    static func busStatus(_ s: ServoBusStatus, calibrationHash: String?, calibrationFile: String?) -> BusStatus {
        BusStatus(state: s.connection.rawValue, port: s.port, protocol: s.busProtocol, baud: s.baud, targetHz: s.targetRateHz,
                  cycleHz: s.cycleRateHz, cycleP50Us: s.cycleTimeP50Microseconds, cycleP99Us: s.cycleTimeP99Microseconds,
                  cycles: Int(clamping: s.cycles), failedCycles: Int(clamping: s.failedCycles), errorsPerS: s.errorsPerSecond,
                  retriesPerS: s.retriesPerSecond, calibrationHash: calibrationHash, calibrationFile: calibrationFile,
                  lastFault: s.lastFault,
                  servos: s.servos.map { v in
                      BusStatus.Servo(id: Int(v.id), joint: v.joint, errors: v.errors, temperatureC: v.temperatureCelsius,
                                      voltageV: v.voltageVolts, hardwareError: v.hardwareErrors.isEmpty ? nil : v.hardwareErrors.joined(separator: ", "))
                  })
    }

    /// The servo arm's parts: calibration loaded and checked, the bus connected (start-up errors
    /// about the port or the servos are `DriverUnavailable`), the loop in position mode.
    static func servoParts(_ config: DaemonConfiguration, bus: DaemonConfiguration.SerialBus, model: RobotModel,
                           logger: Logger) throws -> Parts<ServoArmDriver> {
        let path = calibrationPath(config, bus: bus, model: model)
        let loaded = try loadCalibration(path, config: config, bus: bus, model: model)
        let options = try servoOptions(config, bus: bus, model: model, calibration: loaded.calibration)
        let driver: ServoArmDriver
        do throws(ServoArmError) {
            driver = try ServoArmDriver.connect(options)
        } catch {
            throw DriverUnavailable(description: "driver.\(config.driver.kind.rawValue).port: \(error)")
        }
        for warning in driver.warnings { logger.warning("\(warning)") }
        let limits = try servoLimits(config, model: model, calibration: loaded.calibration, margin: bus.softLimitMargin)
        let loop = try loop(config, model: model, driver: driver, commandMode: .position,
                            faultsDisableActuators: bus.safeState == .torqueOff, limits: limits)
        let monitor = driver.monitor
        let record = CalibrationRecord(file: path, hash: loaded.hash)
        var made = try parts(config, loop: loop, limits: limits,
                             bus: { let r = record.current; return busStatus(monitor.snapshot(), calibrationHash: r.hash, calibrationFile: r.file) },
                             logger: logger)
        made.calibration = ServoCalibrationControl(
            driver: driver, record: record,
            target: CalibrationTarget(arm: armID(config, bus: bus, model: model), busProtocol: config.driver.kind.rawValue,
                                      joints: model.joints.map(\.name), ids: bus.ids),
            logger: logger)
        return made
    }
}

extension DaemonAssembly {
    /// The arm's calibration file, checked against the robot and the configured servo ids.
    /// - Throws: `Failure` with the file's problem, or, when there is no file, how to make one
    ///   (torque is never enabled on an uncalibrated arm).
    static func loadCalibration(_ path: String, config: DaemonConfiguration, bus: DaemonConfiguration.SerialBus,
                                model: RobotModel, busKind: DaemonConfiguration.Driver.Kind? = nil, section: String? = nil,
                                arm: String? = nil) throws -> (calibration: ArmCalibration, hash: String) {
        let busKind = busKind ?? config.driver.kind
        let kind = section ?? "driver.\(busKind.rawValue)"
        let target = CalibrationTarget(arm: arm ?? armID(config, bus: bus, model: model), busProtocol: busKind.rawValue,
                                       joints: model.joints.map(\.name), ids: bus.ids)
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure("\(kind): no calibration at \(path); the arm stays unpowered until it is calibrated: "
                          + "robotd calibrate --config <this file> (or --import-lerobot <LeRobot's file>), docs/servo-buses.md §6")
        }
        do throws(CalibrationError) {
            let loaded = try CalibrationFile.load(path: path, target: target)
            return (loaded.calibration, loaded.sha256)
        } catch {
            throw Failure("\(kind).calibration: \(error)")
        }
    }
}

extension DaemonAssembly {
    /// A leader arm's calibration file: `teleop.leader.*.calibration`, else
    /// `<data_directory>/calibration/<arm_id>.json` with `arm_id` defaulting to "<robot>-leader"
    /// (what `robotd calibrate --leader` writes).
    public static func leaderCalibrationPath(_ config: DaemonConfiguration, leader: DaemonConfiguration.Teleop.Leader, model: RobotModel,
                                             armID chosen: String? = nil) -> String {
        if chosen == nil, let path = leader.bus.calibration { return path }
        return CalibrationFile.path(dataDirectory: config.dataDirectory, arm: chosen ?? leaderArmID(config, leader: leader, model: model))
    }

    public static func leaderArmID(_ config: DaemonConfiguration, leader: DaemonConfiguration.Teleop.Leader, model: RobotModel) -> String {
        leader.bus.armID ?? "\((config.robot.name ?? model.name))-leader"
    }

    /// The leader arm (`teleop.source: leader`): its calibration, its bus connected and its I/O
    /// thread started with torque off (never enabled), and the source that maps its joints onto
    /// the follower's `limits`.
    /// - Throws: `Failure` for a calibration or mapping problem, `DriverUnavailable` when the
    ///   leader's bus cannot be opened or its servos do not answer, each naming `teleop.leader`.
    static func leaderSource(_ config: DaemonConfiguration, model: RobotModel, limits: JointLimits) throws -> LeaderArmSource {
        guard let leader = config.teleop.leader else { throw Failure("teleop.source is leader but teleop.leader is missing") }
        let section = "teleop.leader.\(leader.kind.rawValue)"
        let unknown = leader.rangeMapped.filter { name in !model.joints.contains { $0.name == name } }
        guard unknown.isEmpty else {
            throw Failure("teleop.leader.range_mapped: \(unknown.joined(separator: ", ")) is not a joint of the robot (\(model.joints.map(\.name).joined(separator: ", ")))")
        }
        let path = leaderCalibrationPath(config, leader: leader, model: model)
        let loaded = try loadCalibration(path, config: config, bus: leader.bus, model: model, busKind: leader.kind, section: section,
                                         arm: leaderArmID(config, leader: leader, model: model))
        var options = try servoOptions(config, bus: leader.bus, model: model, calibration: loaded.calibration, busKind: leader.kind,
                                       section: section)
        options.robotName = "\(options.robotName) leader"
        let driver: ServoArmDriver
        do throws(ServoArmError) {
            driver = try ServoArmDriver.connect(options)
        } catch {
            throw DriverUnavailable(description: "\(section).port: \(error)")
        }
        do {
            try driver.configure()
        } catch {
            let detail = driver.lastError.map { "\($0)" } ?? "\(error)"
            throw DriverUnavailable(description: "\(section): \(detail)")
        }
        let mappings: [LeaderArmSource.Mapping]
        do throws(LeaderArmError) {
            mappings = try LeaderArmSource.mappings(leader: loaded.calibration, leaderJointNames: model.joints.map(\.name),
                                                    followerJointNames: model.joints.map(\.name), followerLower: limits.lower,
                                                    followerUpper: limits.upper, rangeMapped: Set(leader.rangeMapped))
        } catch {
            driver.cleanup()
            throw Failure("teleop.leader: \(error)")
        }
        return LeaderArmSource(driver: driver, mappings: mappings, timeout: config.teleop.timeout, limits: limits,
                               maxVelocity: config.teleop.maxVelocity, maxAcceleration: config.teleop.maxAcceleration,
                               period: config.loop.period, clock: { MonotonicClock.now() })
    }
}
