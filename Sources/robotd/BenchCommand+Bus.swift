import ArgumentParser
import Benchmarks
import Foundation

extension BenchCommand {
    struct BusBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bus",
            abstract: "The servo cycle (sync write of goals + sync read of state) of an emulated arm's bus.",
            discussion: """
                Starts the bus emulator in-process on a pseudo-terminal (wire time paced at --baud) with the \
                arm's servos (so101: 6× STS3215; koch: 2× XL430-W250 + 4× XL330-M288, ids 1–6) and runs, \
                for --seconds, cycles of one SYNC_WRITE of Goal_Position and one SYNC_READ of position, \
                velocity and load (Feetech) / current, velocity, position (Dynamixel). Prints {"servos", \
                "baud", "cycle_hz", "cycle_us": {"p50", "p99", "max"}, "wire_us_per_cycle", \
                "ratio_to_wire", "errors", "retries", …}; target ratio_to_wire ≤ 1.3.
                """)

        @Option(help: "The emulated arm: so101 or koch.") var emulate: String
        @Option(parsing: .unconditional, help: "Seconds to run.") var seconds = 10.0
        @Option(parsing: .unconditional, help: "Line rate (baud).") var baud = 1_000_000
        @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

        func validate() throws {
            guard BusBenchmark.Arm(rawValue: emulate) != nil else {
                throw ValidationError("--emulate must be one of \(BusBenchmark.Arm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
            guard (9600...4_500_000).contains(baud) else { throw ValidationError("--baud must be in 9600…4500000") }
        }

        func run() throws {
            var s = BusBenchmark.Settings()
            s.arm = BusBenchmark.Arm(rawValue: emulate) ?? .so101
            s.seconds = seconds
            s.baud = baud
            do {
                try JSONOutput.print(try BusBenchmark.run(s))
            } catch let error as BenchmarkError {
                throw CLIError(error.description)
            }
        }
    }
}
