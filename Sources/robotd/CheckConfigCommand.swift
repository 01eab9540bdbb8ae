import ArgumentParser
import Foundation
import RobotdConfig

/// `robotd check-config PATH`: validates a daemon configuration without starting anything.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a daemon configuration file without starting the daemon.",
        discussion: """
            Prints `ok: <summary>` and exits 0, or prints `FILE:LINE: key.path: problem` to \
            standard error and exits 1. Keys, units and defaults: configs/README.md.
            """
    )

    @Argument(help: "The YAML configuration file, e.g. configs/sim.yaml.")
    var path: String

    func run() throws {
        let config: DaemonConfiguration
        do {
            config = try ConfigLoader.load(path: path)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        }
        print("ok: \(Self.summary(config))")
    }

    /// One line: robot, driver, loop rate and logging, e.g.
    /// `sim6 (configs/../hardware/robots/sim6/robot.urdf), simulation driver, 1000 Hz loop (priority 80), log info to auto`.
    static func summary(_ config: DaemonConfiguration) -> String {
        let robot = config.robot.name.map { "\($0) (\(config.robot.urdf))" } ?? config.robot.urdf
        var driver = "\(config.driver.kind.rawValue) driver"
        switch config.driver {
        case .simulation: break
        case let .dynamixel(bus), let .feetech(bus):
            driver += " on \(bus.port) at \(bus.baud) baud, ids \(bus.ids.map(String.init).joined(separator: ","))"
            driver += ", bus \(bus.busRateHz.formatted()) Hz"
        }
        var loop = "\(config.loop.rateHz) Hz loop (priority \(config.loop.rtPriority)"
        if let cpu = config.loop.cpuAffinity { loop += ", cpu \(cpu)\(config.loop.cpuAffinityIsAuto ? " (auto)" : "")" }
        else if config.loop.cpuAffinityIsAuto { loop += ", unpinned (auto: one CPU)" }
        loop += ")"
        return "\(robot), \(driver), \(loop), log \(config.logging.level.rawValue) to \(config.logging.target.rawValue)"
    }
}
