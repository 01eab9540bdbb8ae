import ArgumentParser
import Foundation
import RobotDaemon

/// `robotd run --config PATH`: the daemon.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: the real-time control loop on the configured arm.",
        discussion: """
            Starts the driver, runs the control loop at loop.rate_hz on a real-time thread and holds \
            the arm. Under systemd (Type=notify) it reports READY=1, STATUS= and WATCHDOG=1 while \
            the loop advances. SIGTERM or SIGINT ramp the arm to hold, deactivate the driver and \
            exit 0. Exit status 78 means the configuration or robot description was rejected; 1, \
            that the driver failed to start. Keys: configs/README.md.
            """
    )

    @Option(help: "The YAML configuration file.") var config = "configs/sim.yaml"
    @Option(parsing: .unconditional, help: "Stop after this many seconds as if sent SIGTERM (for demos and tests).") var stopAfter: Double?

    func validate() throws {
        if let s = stopAfter, !(s > 0) { throw ValidationError("--stop-after must be a positive number of seconds") }
    }

    func run() throws {
        let status = Daemon.run(.init(configPath: config, stopAfter: stopAfter))
        if status != .ok { throw ExitCode(status.rawValue) }
    }
}
