import ArgumentParser
import Benchmarks
import Foundation
import RobotdConfig

/// `robotd bench record --json`: what demonstration recording costs the control loop.
struct RecordBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Recording: commit times, bytes per frame, loop overruns with and without recording.",
        discussion: """
            Runs the simulated loop of --config (1 kHz on configs/sim.yaml) on its real-time thread for \
            --seconds with a joint move every second and the recorder thread draining its ring, first \
            not recording, then recording one episode at --fps into a fresh episode store under the \
            configuration's data_directory (removed afterwards). Prints {"fps", "frames", "commit_ms": \
            {"p50", "p99"}, "bytes_per_frame", "overruns": {"recording", "not_recording"}, …}. Target: \
            no added overruns, commit p99 under 20 ms.
            """
    )

    @Option(help: "The YAML configuration file (a simulated arm).") var config = "configs/sim.yaml"
    @Option(parsing: .unconditional, help: "Seconds per run (two runs).") var seconds = 20.0
    @Option(parsing: .unconditional, help: "Frames per second of the recording.") var fps = 50
    @Option(parsing: .unconditional, help: "Pin the control thread to this CPU (loop.cpu_affinity); default the configuration's.") var cpu: Int?
    @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

    func validate() throws {
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
        guard fps >= 1 else { throw ValidationError("--fps must be ≥ 1") }
        if let cpu, cpu < 0 { throw ValidationError("--cpu must be ≥ 0") }
    }

    func run() throws {
        Startup.configureMath()
        var c = try BenchConfiguration.load(config)
        if let cpu { c.loop.cpuAffinity = cpu }
        let report = try RecordBenchmark.run(config: c, seconds: seconds, fps: fps)
        try JSONOutput.print(report.json)
    }
}
