import ArgumentParser
import Benchmarks
import Foundation
import RobotdConfig

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print JSON.",
        subcommands: [Dynamics.self, Loop.self, Socket.self, SocketLoadBench.self, SocketProbeBench.self, ILQRBench.self, PolicyBench.self, TrainBench.self, AdaptBench.self, BusBench.self, RecordBench.self]
    )

    struct Loop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The daemon's control loop on its configured driver beside cyclictest: latency, compute time, overruns, allocations.",
            discussion: """
                Builds the loop from --config exactly as `robotd run` does (rate from --rate), runs it on \
                its real-time thread while commanding a joint move every second, and prints wake-up \
                latency and compute-time quantiles (µs), overruns, the scheduler granted, and the heap \
                allocations the control thread made while ticking (target: 0 per tick). \
                Side by side with cyclictest (Debian rt-tests) when it is installed and may run (root): \
                --rounds times (default one per second) the loop for --seconds/--rounds, then cyclictest as \
                long with the loop's CPU, \
                SCHED_FIFO priority, period and memory locking (never both at once; --default-system, so \
                it runs under the power management the loop has), and prints `anchor`, \
                `time_ratio_to_anchor` (wake_p50/p99/p99_9/max and the median of the rounds' p99 ratios, \
                loop ÷ cyclictest: < 1 = the loop woke earlier) and `overruns_vs_anchor`: the loop's late \
                ticks beside cyclictest's wake-ups a period or more late (one per stall each), and its \
                overruns (a stall of n periods counts n) beside the periods cyclictest's late wake-ups \
                spanned. \
                --with mpc,learning,socket (any subset) keeps load running through both halves: the MPC \
                planner re-planning with the loop in `mpc` and a new target every second; the learner \
                thread training round after round (nice 19, off the loop's CPU; pin the loop with --cpu; \
                --learning is the same as --with learning); 64 socket clients (telemetry at 100 Hz, \
                status at 50 Hz each) on the benchmark daemon's socket. \
                On a servo-bus configuration the report adds the bus's cycle timing (`bus`); when its port \
                does not exist and robot.name is an arm the emulator knows (configs/so101-emulated.yaml, \
                koch-emulated.yaml), the bus emulator is started in-process at that port (`emulator`).
                """)

        @Option(help: "The YAML configuration file.") var config = "configs/sim.yaml"
        @Option(parsing: .unconditional, help: "Loop rate (Hz); default the configuration's.") var rate: Int?
        @Option(parsing: .unconditional, help: "Seconds of loop (cyclictest runs as long again).") var seconds = 20.0
        @Option(parsing: .unconditional, help: "Pin the control thread (and cyclictest) to this CPU (loop.cpu_affinity); default the configuration's.") var cpu: Int?
        @Option(help: "Load beside the loop through the whole run: any of mpc, learning, socket, comma-separated.") var with: String?
        @Option(parsing: .unconditional, help: "Alternations of the loop and cyclictest; default one per second of --seconds (1…100): host noise comes in bursts of seconds, and short halves share them.") var rounds: Int?
        @Flag(inversion: .prefixedNo, help: "Run cyclictest side by side (when installed).") var anchor = true
        @Flag(help: "Same as --with learning.") var learning = false
        @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

        func loads() throws -> Set<LoopBenchmark.Load> {
            var set: Set<LoopBenchmark.Load> = learning ? [.learning] : []
            for name in (with ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                guard let load = LoopBenchmark.Load(rawValue: name) else {
                    throw ValidationError("--with: unknown load '\(name)' (mpc, learning, socket)")
                }
                set.insert(load)
            }
            return set
        }

        func validate() throws {
            guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must be in (0, 86400]") }
            if let cpu, cpu < 0 { throw ValidationError("--cpu must be ≥ 0") }
            if let r = rate, !(1 ... 10_000).contains(r) { throw ValidationError("--rate must be in 1…10000 Hz") }
            if let rounds, !(1 ... 100).contains(rounds) { throw ValidationError("--rounds must be in 1…100") }
            _ = try loads()
        }

        func run() throws {
            Startup.configureMath()
            var c = try BenchConfiguration.load(config)
            if let rate { c.loop.rateHz = rate }
            if let cpu { c.loop.cpuAffinity = cpu }
            var o = LoopBenchmark.Options()
            o.seconds = seconds
            o.rounds = rounds ?? min(100, max(1, Int(seconds)))
            o.with = try loads()
            o.anchor = anchor
            let report = try LoopBenchmark.run(config: c, options: o)
            try JSONOutput.print(report.json)
        }
    }

    struct Socket: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load on the control socket: the status round trip from a separate client process, loop overruns.",
            discussion: """
                Three processes: the daemon (in-process from --config on a private socket, or a running one \
                at --socket PATH), the load (--clients − 1 connections, each subscribed to telemetry at \
                --telemetry-hz and sending `status` at --request-hz) and the measuring client (one \
                connection, subscribed likewise, `status` at --probe-hz). The measuring client runs \
                --seconds alone, then --seconds under the load. Prints {"status_rtt_us": {"p50", "p90", \
                "p99", "max"} (under load), "status_rtt_us_unloaded", "load": {its own round trips, \
                "telemetry_delivered", "telemetry_expected"}, "overruns_during", "overruns_without_load", …}; \
                overruns are read from the daemon's `timing` around each window.
                """)

        @Option(help: "The YAML configuration for the in-process daemon.") var config = "configs/sim.yaml"
        @Option(help: "Socket of a running daemon; default: start one in-process.") var socket: String?
        @Option(parsing: .unconditional, help: "Connections under load: the load's (clients − 1) and the measuring client.") var clients = 64
        @Option(parsing: .unconditional, help: "Seconds of each measured window.") var seconds = 10.0
        @Option(parsing: .unconditional, help: "Telemetry rate per client (Hz); 0 = none.") var telemetryHz = 100
        @Option(parsing: .unconditional, help: "status requests per second per load client.") var requestHz = 50.0
        @Option(parsing: .unconditional, help: "status requests per second of the measuring client; 0 = closed loop.") var probeHz = 100.0
        @Option(parsing: .unconditional, help: "Pin the in-process daemon's control thread to this CPU (loop.cpu_affinity); the event loop then runs off it.") var cpu: Int?
        @Flag(help: "Print JSON (the only format; accepted for symmetry).") var json = false

        func validate() throws {
            guard (1 ... 1000).contains(clients) else { throw ValidationError("--clients must be in 1…1000") }
            guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
            guard telemetryHz >= 0, requestHz >= 0, probeHz >= 0 else { throw ValidationError("rates must be ≥ 0") }
            if let cpu, cpu < 0 { throw ValidationError("--cpu must be ≥ 0") }
        }

        func run() throws {
            Startup.configureMath()
            var settings = SocketBenchmark.Settings()
            settings.clients = clients
            settings.seconds = seconds
            settings.telemetryHz = telemetryHz
            settings.requestHz = requestHz
            settings.probeHz = probeHz
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            let report: [String: Any]
            if let socket {
                report = try SocketBenchmark.run(socket: socket, settings: settings, executable: executable)
            } else {
                var c = try BenchConfiguration.load(config)
                if let cpu { c.loop.cpuAffinity = cpu }
                report = try SocketBenchmark.runInProcess(config: c, configPath: config, settings: settings, executable: executable)
            }
            try JSONOutput.print(report)
        }
    }

    /// `bench socket`'s load, in a process of its own (`SocketLoad`).
    struct SocketLoadBench: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "socket-load", abstract: "The load of `bench socket` (internal).",
                                                        shouldDisplay: false)
        @Option var socket: String
        @Option(parsing: .unconditional) var clients = 63
        @Option(parsing: .unconditional) var seconds = 10.0
        @Option(parsing: .unconditional) var telemetryHz = 100
        @Option(parsing: .unconditional) var requestHz = 50.0

        func run() throws {
            var s = SocketBenchmark.Settings()
            (s.clients, s.seconds, s.telemetryHz, s.requestHz) = (clients, seconds, telemetryHz, requestHz)
            try JSONOutput.print(SocketBenchmark.load(socket: socket, settings: s), lines: true)
        }
    }

    /// `bench socket`'s measuring client, in a process of its own.
    struct SocketProbeBench: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "socket-probe", abstract: "The measuring client of `bench socket` (internal).",
                                                        shouldDisplay: false)
        @Option var socket: String
        @Option(parsing: .unconditional) var seconds = 10.0
        @Option(parsing: .unconditional) var telemetryHz = 100
        @Option(parsing: .unconditional) var requestHz = 100.0

        func run() throws {
            var s = SocketBenchmark.Settings()
            (s.seconds, s.telemetryHz, s.probeHz) = (seconds, telemetryHz, requestHz)
            try JSONOutput.print(SocketBenchmark.probe(socket: socket, settings: s), lines: true)
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
