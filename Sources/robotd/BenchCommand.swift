import ArgumentParser
import Benchmarks
import Foundation
import RobotdConfig

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print JSON.",
        subcommands: [Dynamics.self, Loop.self, Socket.self, ILQRBench.self, PolicyBench.self, TrainBench.self, AdaptBench.self, BusBench.self, RecordBench.self]
    )

    struct Loop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The daemon's control loop on its configured driver: latency, compute time, overruns, allocations.",
            discussion: """
                Builds the loop from --config exactly as `robotd run` does (rate from --rate), runs it on \
                its real-time thread for --seconds while commanding a joint move every second, and prints \
                wake-up latency and compute-time quantiles (µs), overruns, the scheduler granted, and \
                the heap allocations the control thread made while ticking (target: 0 per tick). \
                With --learning the daemon's learner thread runs beside it (nice 19, off the loop's CPU; pin \
                the loop with --cpu), training one round after another on the loop's transitions: compare \
                the two runs for the cost of online learning to the control thread. \
                On a servo-bus configuration the report adds the bus's cycle timing (`bus`); when its port \
                does not exist and robot.name is an arm the emulator knows (configs/so101-emulated.yaml, \
                koch-emulated.yaml), the bus emulator is started in-process at that port (`emulator`).
                """)

        @Option(help: "The YAML configuration file.") var config = "configs/sim.yaml"
        @Option(parsing: .unconditional, help: "Loop rate (Hz); default the configuration's.") var rate: Int?
        @Option(parsing: .unconditional, help: "Seconds to run.") var seconds = 20.0
        @Option(parsing: .unconditional, help: "Pin the control thread to this CPU (loop.cpu_affinity); default the configuration's.") var cpu: Int?
        @Flag(help: "Also run the learner thread, training round after round (learning on).") var learning = false
        @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

        func validate() throws {
            guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must be in (0, 86400]") }
            if let cpu, cpu < 0 { throw ValidationError("--cpu must be ≥ 0") }
            if let r = rate, !(1 ... 10_000).contains(r) { throw ValidationError("--rate must be in 1…10000 Hz") }
        }

        func run() throws {
            Startup.configureMath()
            var c = try BenchConfiguration.load(config)
            if let rate { c.loop.rateHz = rate }
            if let cpu { c.loop.cpuAffinity = cpu }
            let report = try LoopBenchmark.run(config: c, seconds: seconds, learning: learning)
            try JSONOutput.print(report.json)
        }
    }

    struct Socket: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load on the control socket: status round-trip time and throughput, loop overruns.",
            discussion: """
                Every client connects, subscribes to telemetry at --telemetry-hz and sends `status` at \
                --request-hz (0: closed loop, as fast as replies come). Against --socket PATH (a running \
                daemon), or else a daemon built in-process from --config on a private socket. Prints \
                {"clients", "status_rtt_us": {"p50", "p90", "p99", "max"}, "requests_per_s", \
                "overruns_during", …}; overruns are read from the daemon's `timing` before and after.
                """)

        @Option(help: "The YAML configuration for the in-process daemon.") var config = "configs/sim.yaml"
        @Option(help: "Socket of a running daemon; default: start one in-process.") var socket: String?
        @Option(parsing: .unconditional, help: "Concurrent clients.") var clients = 64
        @Option(parsing: .unconditional, help: "Seconds of load.") var seconds = 10.0
        @Option(parsing: .unconditional, help: "Telemetry rate per client (Hz); 0 = none.") var telemetryHz = 100
        @Option(parsing: .unconditional, help: "status requests per second per client; 0 = closed loop.") var requestHz = 50.0
        @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

        func validate() throws {
            guard (1 ... 1000).contains(clients) else { throw ValidationError("--clients must be in 1…1000") }
            guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
            guard telemetryHz >= 0, requestHz >= 0 else { throw ValidationError("rates must be ≥ 0") }
        }

        func run() throws {
            Startup.configureMath()
            var settings = SocketBenchmark.Settings()
            settings.clients = clients
            settings.seconds = seconds
            settings.telemetryHz = telemetryHz
            settings.requestHz = requestHz
            let report: [String: Any]
            if let socket {
                report = try SocketBenchmark.run(socket: socket, settings: settings)
            } else {
                let c = try BenchConfiguration.load(config)
                report = try SocketBenchmark.runInProcess(config: c, configPath: config, settings: settings)
            }
            try JSONOutput.print(report)
        }
    }

    struct Dynamics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Nanoseconds per call of the rigid-body algorithms (median over batches).",
            discussion: """
                Each algorithm runs in batches of --calls calls over a fixed set of random states; \
                the reported figure is the median over --batches batches of (batch time / calls), \
                single-threaded, after a warm-up. Pinocchio (pip pin, its headers compiled once with \
                g++ -O3 -march=native into $TMPDIR/robotd-anchors) does the same on the same states, \
                alternating with robotd over --rounds rounds: "anchor" and "time_ratio_to_anchor" \
                (robotd / Pinocchio, < 1 = robotd faster, median over rounds).
                """
        )

        @Option(help: "Path to the robot's URDF.") var urdf: String
        @Option(parsing: .unconditional, help: "Calls per timed batch.") var calls = 2000
        @Option(parsing: .unconditional, help: "Timed batches (the median is reported).") var batches = 101
        @Option(parsing: .unconditional, help: "Rounds of robotd then Pinocchio (the medians over rounds are reported).") var rounds = 3
        @Flag(help: "Skip the Pinocchio anchor.") var noAnchor = false
        @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

        func validate() throws {
            guard calls > 0, batches > 0, rounds > 0 else { throw ValidationError("--calls, --batches and --rounds must be positive") }
        }

        func run() throws {
            Startup.configureMath()
            let model = try RobotLoading.load(urdfPath: urdf)
            let benchmark = DynamicsBenchmark(model: model, calls: calls, batches: batches)
            try JSONOutput.print(benchmark.report(urdfPath: noAnchor ? nil : urdf, rounds: rounds))
        }
    }
}
