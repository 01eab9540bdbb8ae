import ArgumentParser
import LinearAlgebra
import RobotDaemon

@main
struct Robotd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "robotd",
        abstract: "Robot-arm controller daemon: the control loop, its configuration, dynamics tools and benchmarks.",
        version: RobotdVersion.string,
        subcommands: [RunCommand.self, CheckConfigCommand.self, ModelCommand.self, BenchCommand.self, SimCommand.self, BusCommand.self, EmulateCommand.self, CalibrateCommand.self, DatasetCommand.self]
    )

    /// Before anything else: the OpenBLAS kernels this CPU supports (may re-execute the process,
    /// keeping its pid, environment and inherited descriptors; `OpenBLASCoreSelection`).
    static func main() {
        OpenBLASCoreSelection.reexecIfWeakerCore()
        main(nil)
    }
}

enum RobotdVersion {
    static let string = Daemon.version
}

/// Start-up shared by every subcommand that does numerics.
enum Startup {
    static func configureMath() {
        OpenBLAS.configureSingleThreaded()
    }
}
