import ArgumentParser
import LinearAlgebra

@main
struct Robotd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "robotd",
        abstract: "Robot-arm controller daemon: dynamics tools, benchmarks and the simulated arm.",
        version: RobotdVersion.string,
        subcommands: [ModelCommand.self, BenchCommand.self, SimCommand.self, CheckConfigCommand.self]
    )
}

enum RobotdVersion {
    static let string = "0.1.0"
}

/// Start-up shared by every subcommand that does numerics.
enum Startup {
    static func configureMath() {
        OpenBLAS.configureSingleThreaded()
    }
}
