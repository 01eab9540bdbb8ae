import ArgumentParser
import Foundation
import RigidBody
import RobotDaemon
import RobotdConfig
import ServoBus
import ServoDriver
import ServoProtocol
import Synchronization

/// `robotd calibrate`: records an arm's homing offsets and joint ranges with a person moving the
/// limp arm (or imports a LeRobot calibration), writes them to the servos' EEPROM and to
/// `<data_directory>/calibration/<arm_id>.json`, and prints the file's SHA-256. Torque is never
/// enabled. The procedure is `ServoDriver.CalibrationProcedure`; this is its console.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Calibrate a servo-bus arm (homing offsets and joint ranges), or import a LeRobot calibration.",
        discussion: """
            Reads driver.feetech or driver.dynamixel of --config (port, baud, ids, arm_id), switches every \
            servo's torque off and asks, on standard output, for two steps, each ended with Enter: the arm \
            in its zero pose (the robot README's), then every joint moved through its full range while the \
            positions are read. The offsets and ranges go to the servos' EEPROM and to \
            <data_directory>/calibration/<arm_id>.json; the file's path and SHA-256 are printed. \
            --import-lerobot converts a LeRobot calibration file instead (and writes the servos too unless \
            --no-bus). See docs/servo-buses.md §6.
            """
    )

    @Option(help: "The daemon configuration (driver.kind feetech or dynamixel).") var config: String
    @Option(name: .customLong("arm-id"), help: "The arm's id (default: driver.*.arm_id, else the robot's name).") var armID: String?
    @Option(name: .customLong("import-lerobot"), help: "Convert this LeRobot calibration file instead of calibrating by hand.") var importLeRobot: String?
    @Flag(name: .customLong("no-bus"), help: "With --import-lerobot: write only the file, do not touch the servos.") var noBus = false
    @Flag(help: "Overwrite an existing calibration file without asking.") var yes = false
    @Flag(help: "Calibrate the leader arm of teleop.leader (teleop.source: leader) instead of the follower.") var leader = false
    @Option(parsing: .singleValue, help: "A joint whose servo counts against the URDF angle: drive mode 1 (repeatable).") var reverse: [String] = []
    @Option(name: .customLong("full-turn"), parsing: .singleValue, help: "A joint without end stops: range 0…4095 (repeatable; default wrist_roll).") var fullTurn: [String] = []

    func validate() throws {
        if noBus && importLeRobot == nil { throw ValidationError("--no-bus needs --import-lerobot (a calibration by hand reads the servos)") }
        if importLeRobot != nil && !reverse.isEmpty { throw ValidationError("--reverse does not apply to --import-lerobot: the file's drive_mode is used") }
    }

    /// Everything the command works on, from the configuration.
    struct Arm {
        var target: CalibrationTarget
        var bus: DaemonConfiguration.SerialBus
        var path: String
        var robotREADME: String
    }

    func run() throws {
        let arm = try Self.arm(configPath: config, armID: armID, leader: leader)
        if FileManager.default.fileExists(atPath: arm.path) && !yes {
            Console.say("\(arm.path) exists. Overwrite it? [y/N]")
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                throw CLIError("not overwriting \(arm.path) (use --yes to overwrite without asking)")
            }
        }
        if let file = importLeRobot {
            try importFile(file, arm)
        } else {
            try calibrateByHand(arm)
        }
    }

    static func arm(configPath: String, armID: String?, leader: Bool = false) throws -> Arm {
        let configuration: DaemonConfiguration
        do { configuration = try ConfigLoader.load(path: configPath) } catch {
            throw CLIError("\(error)")
        }
        let bus: DaemonConfiguration.SerialBus
        let busProtocol: String
        var leaderSettings: DaemonConfiguration.Teleop.Leader?
        if leader {
            guard let l = configuration.teleop.leader else {
                throw CLIError("\(configPath): no teleop.leader to calibrate (set teleop.source: leader and the leader's bus, configs/README.md)")
            }
            bus = l.bus
            busProtocol = l.kind.rawValue
            leaderSettings = l
        } else {
            switch configuration.driver {
            case let .feetech(b): bus = b; busProtocol = "feetech"
            case let .dynamixel(b): bus = b; busProtocol = "dynamixel"
            case .simulation:
                throw CLIError("\(configPath): driver.kind is simulation; calibrate needs a servo bus (driver.kind feetech or dynamixel)")
            }
        }
        let model = try RobotLoading.load(urdfPath: configuration.robot.urdf)
        let joints = model.joints.map(\.name)
        let section = leader ? "teleop.leader.\(busProtocol)" : "driver.\(busProtocol)"
        guard bus.ids.count == joints.count else {
            throw CLIError("\(configPath): \(section).ids has \(bus.ids.count) servos but \(configuration.robot.urdf) has \(joints.count) joints (\(joints.joined(separator: ", ")))")
        }
        let id = armID ?? leaderSettings.map { DaemonAssembly.leaderArmID(configuration, leader: $0, model: model) }
            ?? DaemonAssembly.armID(configuration, bus: bus, model: model)
        do throws(CalibrationError) { try CalibrationFile.checkArmID(id) } catch { throw CLIError("\(error)") }
        let readme = ((configuration.robot.urdf as NSString).deletingLastPathComponent as NSString).appendingPathComponent("README.md")
        return Arm(target: CalibrationTarget(arm: id, busProtocol: busProtocol, joints: joints, ids: bus.ids), bus: bus,
                   path: leaderSettings.map { DaemonAssembly.leaderCalibrationPath(configuration, leader: $0, model: model, armID: armID) }
                       ?? DaemonAssembly.calibrationPath(configuration, bus: bus, model: model, armID: armID), robotREADME: readme)
    }

    /// Opens the bus and finds every servo; the client is closed when `body` returns.
    static func withBus<R>(_ arm: Arm, _ body: (any CalibrationBus) throws -> R) throws -> R {
        let opened: SerialPorts.Opened
        do throws(SerialTransportError) { opened = try SerialPorts.open(path: arm.bus.port, baud: arm.bus.baud) } catch {
            throw CLIError("cannot open the servo bus: \(error.message)")
        }
        defer { opened.transport.close() }
        for w in opened.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
        var configuration = TransactionConfiguration()
        configuration.retries = 2
        configuration.timeoutNanoseconds = 50_000_000
        let client: any CalibrationBus = arm.target.busProtocol == "dynamixel"
            ? DynamixelBusClient(transport: opened.transport, configuration: configuration)
            : FeetechBusClient(transport: opened.transport, configuration: configuration)
        var models: [String] = []
        for (joint, id) in zip(arm.target.joints, arm.target.ids ?? []) {
            do throws(ServoBusError) { models.append(try client.calibrationModel(UInt8(id))) } catch {
                throw CLIError("joint \(joint): \(error.message)")
            }
        }
        Console.say("robotd calibrate: arm \(arm.target.arm): \(models.count) servos on \(arm.bus.port) (\(Self.summary(models)))")
        return try body(client)
    }

    static func summary(_ models: [String]) -> String {
        var groups: [(String, Int)] = []
        for m in models {
            if let last = groups.last, last.0 == m { groups[groups.count - 1].1 += 1 } else { groups.append((m, 1)) }
        }
        return groups.map { "\($0.1) × \($0.0)" }.joined(separator: ", ")
    }

    static func perform<R>(_ body: () throws(CalibrationError) -> R) throws -> R {
        do throws(CalibrationError) { return try body() } catch { throw CLIError("\(error)") }
    }

    static func bus<R>(_ joint: String?, _ body: () throws(ServoBusError) -> R) throws -> R {
        do throws(ServoBusError) { return try body() } catch {
            throw CLIError(joint.map { "joint \($0): \(error.message)" } ?? error.message)
        }
    }

    // MARK: import

    func importFile(_ file: String, _ arm: Arm) throws {
        let bytes: [UInt8]
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CLIError("\(file): \(FileManager.default.fileExists(atPath: file) ? "cannot be read (permissions?)" : "does not exist")")
        }
        bytes = Array(data)
        let calibration = try Self.perform { () throws(CalibrationError) in try LeRobotCalibration.convert(bytes, file: file, target: arm.target) }
        if !noBus {
            try Self.withBus(arm) { bus in
                try Self.bus(nil) { () throws(ServoBusError) in try bus.disableTorque(calibration.joints.map(\.id)) }
                let written = try Self.perform { () throws(CalibrationError) in try bus.apply(calibration) }
                Console.say(written.isEmpty ? "the servos already hold this calibration" : "wrote the servos of \(written.joined(separator: ", "))")
            }
        }
        try Self.save(calibration, arm, source: "lerobot import of \((file as NSString).lastPathComponent)")
    }

    static func save(_ calibration: ArmCalibration, _ arm: Arm, source: String) throws {
        let hash = try perform { () throws(CalibrationError) in try CalibrationFile.write(calibration, to: arm.path, source: source) }
        for (i, j) in calibration.joints.enumerated() {
            let r = calibration.positionRange(joint: i)
            Console.say("  \(j.joint.padding(toLength: 14, withPad: " ", startingAt: 0)) id \(j.id)  drive mode \(j.driveMode)  homing offset \(j.homingOffset)  range \(j.rangeMin)…\(j.rangeMax) (\(String(format: "%.2f", r.lower))…\(String(format: "%.2f", r.upper)) rad)")
        }
        Console.say("wrote \(arm.path)")
        Console.say("sha256 \(hash)")
    }

    // MARK: by hand

    func calibrateByHand(_ arm: Arm) throws {
        let joints = arm.target.joints
        for name in reverse + fullTurn where !joints.contains(name) {
            throw ValidationError("\(name) is not a joint of the robot (\(joints.joined(separator: ", ")))")
        }
        let full = fullTurn.isEmpty ? Set(joints.filter { $0 == "wrist_roll" }) : Set(fullTurn)
        var procedure = try Self.perform { () throws(CalibrationError) in
            try CalibrationProcedure(target: arm.target, driveModes: joints.map { reverse.contains($0) ? 1 : 0 }, fullTurnJoints: full)
        }
        let ids = procedure.ids
        try Self.withBus(arm) { bus in
            try Self.bus(nil) { () throws(ServoBusError) in try bus.disableTorque(ids) }
            Console.say("Torque is off on every servo: support the arm.")
            Console.say("Step 1 of 2: put the arm in its zero pose (\(arm.robotREADME); every joint near the middle of its travel), then press Enter.")
            guard readLine() != nil else { throw CLIError("standard input closed: calibration cancelled, nothing written") }
            for (i, r) in procedure.registersBeforeMiddle.enumerated() {
                try Self.bus(joints[i]) { () throws(ServoBusError) in try bus.writeCalibrationRegisters(ids[i], r) }
            }
            var raw = try Self.bus(nil) { () throws(ServoBusError) in try bus.presentPositions(ids) }
            if raw.contains(where: { $0 == nil }) { raw = try Self.bus(nil) { () throws(ServoBusError) in try bus.presentPositions(ids) } }
            let registers = try Self.perform { () throws(CalibrationError) in try procedure.captureMiddle(rawPositions: raw) }
            for (i, r) in registers.enumerated() {
                try Self.bus(joints[i]) { () throws(ServoBusError) in try bus.writeCalibrationRegisters(ids[i], r) }
            }
            Console.say("Homing offsets written: the zero pose reads \(CalibrationProcedure.middleCount).")
            let turning = joints.filter { full.contains($0) }
            Console.say("Step 2 of 2: move every joint through its full range, end to end\(turning.isEmpty ? "" : " (\(turning.joined(separator: ", ")) turns fully: no need)"), then press Enter.")
            let calibration = try sweep(procedure, bus: bus, ids: ids)
            let written = try Self.perform { () throws(CalibrationError) in try bus.apply(calibration) }
            if !written.isEmpty { Console.say("position limits written to \(written.joined(separator: ", "))") }
            try Self.save(calibration, arm, source: "robotd calibrate")
        }
    }

    /// Polls the positions on a thread (about 50 Hz, as LeRobot) while the main thread waits for
    /// Enter; prints the ranges as they grow. Enter with a joint not moved enough asks for more.
    func sweep(_ procedure: CalibrationProcedure, bus: any CalibrationBus, ids: [UInt8]) throws -> ArmCalibration {
        let shared = SweepState(procedure, bus: bus)
        let interactive = isatty(STDOUT_FILENO) == 1
        while true {
            shared.running.store(true, ordering: .sequentiallyConsistent)
            let done = DispatchSemaphore(value: 0)
            let poller = Thread {
                while shared.running.load(ordering: .sequentiallyConsistent) {
                    do throws(ServoBusError) {
                        let positions = try shared.bus.presentPositions(ids)
                        if let line = shared.record(positions) {
                            Console.write(interactive ? "\r" + line : line + "\n")
                        }
                    } catch {
                        shared.fail(error)
                        break
                    }
                    usleep(20_000)
                }
                done.signal()
            }
            poller.start()
            let line = readLine()
            shared.running.store(false, ordering: .sequentiallyConsistent)
            done.wait()
            if interactive { Console.write("\n") }
            if let error = shared.failure { throw CLIError("reading positions: \(error.message)") }
            guard line != nil else { throw CLIError("standard input closed: calibration cancelled, the file was not written (the servos keep the new homing offsets)") }
            do throws(CalibrationError) {
                return try shared.finish()
            } catch where error.code == .procedure && error.joint == nil {
                Console.say("\(error.message). Keep moving, then press Enter again.")
            } catch {
                throw CLIError("\(error)")
            }
        }
    }
}

/// The procedure shared by the polling thread and the main thread during the sweep; only the
/// polling thread uses the bus while `running`.
final class SweepState: @unchecked Sendable {
    let running = Atomic<Bool>(false)
    let bus: any CalibrationBus
    private let lock = Mutex<Void>(())
    private var procedure: CalibrationProcedure
    private(set) var failure: ServoBusError?

    init(_ procedure: CalibrationProcedure, bus: any CalibrationBus) {
        self.procedure = procedure
        self.bus = bus
    }

    /// Records a poll; returns the ranges line when a range grew.
    func record(_ positions: [Int?]) -> String? {
        lock.withLock { _ in
            guard procedure.record(positions) else { return nil }
            let parts = procedure.target.joints.indices.map { i in
                "\(procedure.target.joints[i]) \(procedure.observedMinimum[i])…\(procedure.observedMaximum[i])"
            }
            return "ranges: " + parts.joined(separator: ", ")
        }
    }

    func fail(_ error: ServoBusError) { lock.withLock { _ in failure = error } }

    func finish() throws(CalibrationError) -> ArmCalibration {
        try lock.withLock { (_) throws(CalibrationError) -> ArmCalibration in try procedure.finish(source: nil) }
    }
}

/// Prompts and progress on standard output, flushed at once (a person or a test waits on them).
enum Console {
    static func say(_ line: String) { write(line + "\n") }
    static func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }
}
