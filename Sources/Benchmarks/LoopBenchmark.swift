import AllocationCounter
import ControlServer
import ControlProtocol
import ControlRuntime
import Foundation
import Logging
import Platform
import RobotDaemon
import RobotdConfig
import RobotInterface
import ServoBus

/// `robotd bench loop`: the daemon's control loop on the simulated arm, run for a while on its
/// real-time thread, exactly as `robotd run` builds it, under a workload that exercises every
/// path of the tick (hold, and a minimum-jerk move every second alternating between two poses;
/// with `mpc` the planner re-planning towards a new joint target every second instead).
///
/// Reported: wake-up latency (actual wake − absolute deadline) and compute time per tick as
/// quantiles of the loop's own histograms, overruns, and heap allocations made by the control
/// thread while ticking, counted by the interposed allocator — the proof of "0 per tick".
///
/// Side by side with its anchor, cyclictest (`Cyclictest`): the run alternates the loop and
/// cyclictest (loop, cyclictest, loop, cyclictest … for `rounds` rounds), never both at once,
/// with the same CPU, SCHED_FIFO priority, period, memory locking and total duration, while the
/// same background load runs through both (`Load`), so both see the same noise.
public enum LoopBenchmark {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// What runs beside the loop for the whole benchmark (`--with`).
    public enum Load: String, CaseIterable, Sendable {
        /// The MPC planner re-planning at `mpc.rate_hz`, the loop in mode `mpc`, a new target every second.
        case mpc
        /// The learner thread training one round after another (nice 19, off the loop's CPU).
        case learning
        /// Control-socket clients (64, telemetry at 100 Hz, `status` at 50 Hz each) on the
        /// benchmark daemon's socket, from this process's threads (`SocketBenchmark.run`).
        case socket
    }

    public struct Options: Sendable {
        /// Seconds of loop (and as many of cyclictest when it runs).
        public var seconds = 20.0
        /// Loop/cyclictest alternations: the finer, the more alike the noise both see.
        public var rounds = 4
        public var with: Set<Load> = []
        /// Run cyclictest side by side (when installed and permitted).
        public var anchor = true
        public var socket = SocketBenchmark.Settings()
        public init() {}
    }

    /// The anchor's part of a run.
    public enum AnchorResult {
        case off
        case unavailable(String)
        case measured(Cyclictest.Histogram, version: String?, settings: Cyclictest.Settings)
    }

    /// One round: the loop's half, then cyclictest's.
    public struct Round {
        public var loop: LoopStatistics
        public var anchor: Cyclictest.Histogram?
    }

    public struct Report {
        public var rateHz: Int
        public var seconds: Double
        /// The rounds' loop statistics merged.
        public var statistics: LoopStatistics
        public var achieved: RealtimeThread.Achieved
        public var moves: Int
        public var finalMode: Mode
        /// Whether the interposed allocator counted a known allocation in this process (a zero
        /// count means nothing unless the counter is shown to work).
        public var counterVerified: Bool
        /// With the learner training back to back on the other CPUs: its rounds, and where it ran.
        public var learning: (rounds: Int, cpus: [Int])?
        /// The servo bus at the end of the run (servo-bus drivers only): its cycle timing beside the loop's.
        public var bus: BusStatus? = nil
        /// The arm the bus emulator answered as, when the benchmark started one in-process.
        public var emulator: String? = nil
        public var with: Set<Load> = []
        public var rounds: [Round] = []
        public var anchor: AnchorResult = .off
        /// With `mpc`: the planner's solves over the run, targets set, and ticks the loop ran in `mpc`.
        public var planner: (solves: UInt64, targets: Int, mpcTicks: Int, ticks: Int)? = nil
        /// With `socket`: what the clients measured (`SocketBenchmark.run`'s report).
        public var socket: [String: Any]? = nil
        /// `loop.early_wake` (ns) the runner spun before each deadline.
        public var earlyWakeNanoseconds: UInt64 = 0

        var periodNanoseconds: UInt64 { UInt64((1e9 / Double(rateHz)).rounded()) }

        /// The JSON object printed by the command (µs for times).
        public var json: [String: Any] {
            let s = statistics
            func us(_ h: LatencyHistogram, _ q: Double) -> Double { Double(h.value(atQuantile: q)) / 1000 }
            var out: [String: Any] = [
                "rate_hz": rateHz,
                "seconds": seconds,
                "ticks": s.ticks,
                "expected_ticks": Int(seconds * Double(rateHz)),
                "overruns": s.overruns,
                "late_ticks": s.lateTicks,
                "worst_overrun_streak": s.worstOverrunStreak,
                "wake_latency_us": [
                    "p50": us(s.wakeLatency, 0.5), "p99": us(s.wakeLatency, 0.99),
                    "p99_9": us(s.wakeLatency, 0.999), "max": Double(s.wakeLatency.max) / 1000,
                    "mean": s.wakeLatency.mean / 1000,
                ],
                // The loop's own count of what cyclictest counts: wake-ups a period or more late.
                "wake_over_period": s.wakeLatency.count(atLeast: periodNanoseconds),
                "compute_us": [
                    "p50": us(s.computeTime, 0.5), "p99": us(s.computeTime, 0.99),
                    "p99_9": us(s.computeTime, 0.999), "max": Double(s.computeTime.max) / 1000,
                    "mean": s.computeTime.mean / 1000,
                ],
                "compute_cpu_us": [
                    "p50": us(s.computeCPUTime, 0.5), "p99": us(s.computeCPUTime, 0.99),
                    "p99_9": us(s.computeCPUTime, 0.999), "max": Double(s.computeCPUTime.max) / 1000,
                    "mean": s.computeCPUTime.mean / 1000,
                ],
                "preempted_ticks": s.preemptedTicks,
                "allocations": s.allocations,
                "allocation_counter_verified": counterVerified,
                "allocation_counted_ticks": s.allocationCountedTicks,
                "allocations_per_tick": s.allocationCountedTicks == 0 ? 0 : Double(s.allocations) / Double(s.allocationCountedTicks),
                "scheduler": achieved.schedulerName,
                "rt_priority": { if case .fifo(let p) = achieved.scheduler { return Int(p) } else { return 0 } }(),
                "memory_locked": achieved.memoryLocked,
                "timer_slack_ns": achieved.timerSlackNanoseconds ?? -1,
                "cpu": achieved.cpu ?? -1,
                "threads_moved_off_cpu": achieved.threadsMovedOff,
                // loop.early_wake, and the share of the loop's CPU its spinning took.
                "early_wake_us": Double(earlyWakeNanoseconds) / 1000,
                "spin_cpu_fraction": seconds > 0 ? Double(s.spinTime) / (seconds * 1e9) : 0,
                "warnings": achieved.warnings,
                "moves": moves,
                "final_mode": "\(finalMode)",
                "with": Load.allCases.filter { with.contains($0) }.map(\.rawValue),
                "rounds": rounds.count,
                "learning": learning.map { ["training_rounds": $0.rounds, "learner_cpus": $0.cpus] as [String: Any] } ?? false,
                "mpc": planner.map { ["solves": $0.solves, "targets": $0.targets, "ticks_in_mpc": $0.mpcTicks, "ticks_sampled": $0.ticks] as [String: Any] } ?? false,
                "socket": socket ?? false,
                "emulator": emulator ?? false,
                "bus": bus.map { b in
                    [
                        "protocol": b.protocol, "port": b.port, "target_hz": b.targetHz, "cycle_hz": b.cycleHz,
                        "cycle_p50_us": b.cycleP50Us, "cycle_p99_us": b.cycleP99Us, "cycles": b.cycles,
                        "failed_cycles": b.failedCycles, "errors_per_s": b.errorsPerS, "retries_per_s": b.retriesPerS,
                    ] as [String: Any]
                } ?? false,
            ]
            let periodUs = Int(periodNanoseconds / 1000)
            switch anchor {
            case .off:
                out["anchor"] = Anchor.report(name: "cyclictest", .unavailable("not run (--no-anchor)"))
            case .unavailable(let reason):
                out["anchor"] = Anchor.report(name: "cyclictest", .unavailable(reason))
            case let .measured(h, version, settings):
                var figures: [String: Any] = [
                    // One run per round, each this command.
                    "command": (["cyclictest"] + settings.arguments).joined(separator: " "),
                    "runs": rounds.filter { $0.anchor != nil }.count,
                    "samples": h.total,
                    "wake_latency_us": ["p50": h.quantile(0.5), "p99": h.quantile(0.99), "p99_9": h.quantile(0.999),
                                        "max": Double(h.maxMicroseconds), "mean": h.mean],
                    "samples_over_period": h.samples(atLeast: periodUs),
                ]
                if let version { figures["version"] = version }
                out["anchor"] = Anchor.report(name: "cyclictest", .ran(figures))
                var ratios: [String: Any] = [:]
                for (key, q) in [("wake_p50", 0.5), ("wake_p99", 0.99), ("wake_p99_9", 0.999)] {
                    ratios[key] = Anchor.ratio(us(s.wakeLatency, q), h.quantile(q)) ?? NSNull()
                }
                ratios["wake_max"] = Anchor.ratio(Double(s.wakeLatency.max) / 1000, Double(h.maxMicroseconds)) ?? NSNull()
                // The rounds' own ratios, median: less swayed by one round's burst of host noise.
                let perRound = rounds.compactMap { r in r.anchor.flatMap { Anchor.ratio(us(r.loop.wakeLatency, 0.99), $0.quantile(0.99)) } }.sorted()
                if !perRound.isEmpty {
                    let m = perRound.count
                    ratios["wake_p99_median_of_rounds"] = m % 2 == 1 ? perRound[m / 2] : (perRound[m / 2 - 1] + perRound[m / 2]) / 2
                }
                out["time_ratio_to_anchor"] = ratios
                let overPeriod = h.samples(atLeast: periodUs)
                let missed = h.periodsMissed(periodMicroseconds: periodUs, limitMicroseconds: settings.histogramMicroseconds)
                let p99Ratio = Anchor.ratio(us(s.wakeLatency, 0.99), h.quantile(0.99))
                // Events against events: a stall of n periods is one late tick and one cyclictest
                // sample over the period, but n loop overruns (the skipped periods count) — compare
                // those with the deadlines cyclictest's late wake-ups would have missed.
                out["overruns_vs_anchor"] = [
                    "loop_late_ticks": s.lateTicks, "anchor_samples_over_period": overPeriod,
                    "loop_overruns": s.overruns, "anchor_periods_missed": missed,
                ]
                out["target"] = [
                    "wake_p99_ratio_at_most": 1.0,
                    "late_ticks_at_most_anchor_samples_over_period": s.lateTicks <= overPeriod,
                    "overruns_at_most_anchor_periods_missed": s.overruns <= missed,
                    "met": (p99Ratio ?? .infinity) <= 1.0 && s.lateTicks <= overPeriod,
                ] as [String: Any]
            }
            out["per_round"] = rounds.map { r -> [String: Any] in
                var e: [String: Any] = ["loop_wake_p99_us": us(r.loop.wakeLatency, 0.99), "loop_overruns": r.loop.overruns,
                                        "loop_late_ticks": r.loop.lateTicks, "loop_ticks": r.loop.ticks]
                if let a = r.anchor {
                    e["anchor_wake_p99_us"] = a.quantile(0.99)
                    e["anchor_samples_over_period"] = a.samples(atLeast: periodUs)
                    e["wake_p99_ratio"] = Anchor.ratio(us(r.loop.wakeLatency, 0.99), a.quantile(0.99)) ?? NSNull()
                }
                return e
            }
            return out
        }
    }

    /// Runs the loop of `config` for `seconds` (after its first tick), commanding a move every second.
    /// With `learning`, the daemon's learner thread runs beside it (nice 19, off the loop's CPU),
    /// draining the loop's transitions and training one round after another — the worst case of
    /// online learning for the control thread. No anchor, one round.
    public static func run(config base: DaemonConfiguration, seconds: Double, learning: Bool = false) throws -> Report {
        var o = Options()
        o.seconds = seconds
        o.rounds = 1
        o.anchor = false
        if learning { o.with.insert(.learning) }
        return try run(config: base, options: o)
    }

    /// Runs the loop of `config` in `options.rounds` rounds of `seconds / rounds` each, each
    /// followed by cyclictest for as long when `options.anchor`, with `options.with` running
    /// through the whole benchmark.
    public static func run(config base: DaemonConfiguration, options: Options) throws -> Report {
        precondition(options.rounds >= 1 && options.seconds > 0)
        let verified = allocationCounterWorks()
        var config = base
        // A benchmark measures; it must not fault half-way because the machine is busy.
        config.loop.overrunFaultThreshold = 1000
        config.learning.enabled = options.with.contains(.learning)
        if options.with.contains(.learning) || options.with.contains(.mpc) { config.mpc.enabled = true }
        if options.with.contains(.socket) {
            config.socket.maxConnections = max(config.socket.maxConnections, options.socket.clients + 4)
            config.socket.maxConnectionsPerUID = max(config.socket.maxConnectionsPerUID, options.socket.clients + 4)
            // The load is the clients', not the rate limiter's refusals.
            config.socket.maxRequestsPerSecond = max(config.socket.maxRequestsPerSecond, 100_000)
        }
        var logger = Logger(label: "robotd.bench.loop")
        logger.logLevel = .warning
        let emulator = try emulatorIfNeeded(config)
        defer { emulator?.host.stop() }
        var report = try DaemonAssembly.assemble(config, logger: logger,
                                                 into: Workload(config: config, options: options, counterVerified: verified, logger: logger))
        report.emulator = emulator?.arm
        return report
    }

    /// A servo-bus configuration whose port does not exist, for an arm the bus emulator knows
    /// (`robot.name` so101 or koch, on its protocol): the emulator is started in this process at
    /// that port, as `robotd emulate --arm <arm>` would, so `bench loop --config
    /// configs/so101-emulated.yaml` needs nothing else running. nil for any other configuration.
    static func emulatorIfNeeded(_ config: DaemonConfiguration) throws -> (arm: String, host: EmulatorHost<EmulatedArm>)? {
        let bus: DaemonConfiguration.SerialBus
        switch config.driver {
        case .simulation: return nil
        case let .feetech(b), let .dynamixel(b): bus = b
        }
        guard !FileManager.default.fileExists(atPath: bus.port) else { return nil }
        let kind = config.driver.kind.rawValue
        guard let profile = EmulatedArmProfile.all.first(where: { $0.name == config.robot.name && $0.busProtocol.rawValue == kind }) else {
            throw Failure(description: "bench loop: driver.\(kind).port \(bus.port) does not exist, and robot.name is not an arm the emulator knows "
                          + "(\(EmulatedArmProfile.all.map(\.name).joined(separator: ", "))); connect the arm or start `robotd emulate`")
        }
        let model = try DaemonAssembly.loadModel(config)
        let directory = (bus.port as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        do throws(EmulatedArmError) {
            let host = try EmulatedArm.serve(profile: profile, model: model,
                                             host: EmulatorHostConfiguration(linkPath: bus.port, baud: profile.baud))
            return (profile.name, host)
        } catch {
            throw Failure(description: "bench loop: \(error)")
        }
    }

    /// The benchmark's workload over the assembled loop, whatever its driver.
    struct Workload: DaemonAssembly.PartsConsumer {
        let config: DaemonConfiguration
        let options: Options
        let counterVerified: Bool
        let logger: Logger

        func consume<Driver: RobotDriver>(_ parts: DaemonAssembly.Parts<Driver>) throws -> Report {
            let (loop, limits, model) = (parts.loop, parts.limits, parts.model)
            let learner = options.with.contains(.learning) ? parts.learner : nil
            let planner = options.with.contains(.mpc) ? parts.planner : nil
            if options.with.contains(.mpc), planner == nil { throw Failure(description: "bench loop --with mpc: this configuration has no planner") }
            let threadOptions = DaemonAssembly.threadOptions(config)
            let runner = DaemonAssembly.runner(config, loop: loop, rampTicks: 0)

            // Two poses inside the limits: the start pose and 0.3 rad from it towards the middle.
            try loop.start()
            let q0 = loop.telemetry.read()
            let a = (0 ..< model.dof).map { q0.position[$0] }
            let b = (0 ..< model.dof).map { i in
                let mid = (limits.lower[i] + limits.upper[i]) / 2
                let step = 0.3 * (mid >= a[i] ? 1.0 : -1.0)
                return min(max(a[i] + step, limits.lower[i]), limits.upper[i])
            }

            // The background load runs through every round, the loop's halves and cyclictest's.
            if let planner {
                try planner.setTarget(.joints(b), duration: 0.8)
                planner.start()
            }
            defer { planner?.stop() }
            learner?.start()
            defer { learner?.stop() }
            let socketLoad = try options.with.contains(.socket) ? SocketLoadThread(parts: parts, config: config, runner: runner, options: options, logger: logger) : nil
            defer { socketLoad?.stop() }

            let anchorExecutable = options.anchor ? Cyclictest.executable() : nil
            var anchor: AnchorResult = options.anchor
                ? (anchorExecutable == nil ? .unavailable("cyclictest is not installed (Debian rt-tests; scripts/setup.sh --test)") : .off)
                : .off
            let half = options.seconds / Double(options.rounds)
            var rounds: [Round] = []
            var merged = LoopStatistics()
            var achieved = RealtimeThread.Achieved()
            // Each round's control thread reserves its CPU again: the threads moved, all rounds.
            var movedOff = 0
            var moves = 0, targets = 0, mpcTicks = 0, sampledTicks = 0
            var anchorHistogram: Cyclictest.Histogram?
            var anchorVersion: String?
            var anchorSettings: Cyclictest.Settings?
            for round in 0 ..< options.rounds {
                if round > 0 { try loop.start() }
                achieved = runner.start(options: threadOptions)
                movedOff += achieved.threadsMovedOff
                let start = MonotonicClock.seconds()
                var nextMove = start
                var nextModeRequest = start
                var id: UInt64 = UInt64(round) << 32
                while MonotonicClock.seconds() - start < half {
                    let now = MonotonicClock.seconds()
                    while loop.results.pop() != nil {}
                    if now >= nextMove {
                        let goal = moves % 2 == 0 ? b : a
                        if let planner {
                            try? planner.setTarget(.joints(goal), duration: 0.8)
                            targets += 1
                        } else {
                            id += 1
                            _ = loop.commands.send(.move(id: id, to: goal, duration: 0.8))
                        }
                        moves += 1
                        nextMove += 1
                    }
                    if planner != nil {
                        let t = loop.telemetry.read()
                        sampledTicks += 1
                        if t.mode == .mpc { mpcTicks += 1 } else if now >= nextModeRequest {
                            id += 1
                            _ = loop.commands.send(LoopCommand(id: id, kind: .setMode, mode: .mpc))
                            nextModeRequest = now + 0.05
                        }
                    }
                    learner?.requestTraining()
                    usleep(5000)
                }
                runner.requestStop()
                runner.join()
                let stats = runner.statistics.read()
                merged.merge(stats)
                var r = Round(loop: stats, anchor: nil)
                if let exe = anchorExecutable, case .off = anchor {
                    let settings = Cyclictest.Settings(
                        cpu: achieved.cpu, priority: { if case .fifo(let p) = achieved.scheduler { return p } else { return nil } }(),
                        intervalMicroseconds: Int(runner.periodNanoseconds / 1000),
                        loops: max(1, Int((half * Double(config.loop.rateHz)).rounded())), lockMemory: achieved.memoryLocked)
                    if anchorVersion == nil { anchorVersion = Cyclictest.version(exe) }
                    switch Cyclictest.run(exe, settings) {
                    case .ran(let h):
                        r.anchor = h
                        if anchorHistogram == nil { anchorHistogram = h } else { anchorHistogram!.merge(h) }
                        anchorSettings = settings
                    case .unavailable(let reason):
                        anchor = .unavailable(reason)
                    }
                }
                rounds.append(r)
            }
            if let h = anchorHistogram, let settings = anchorSettings, case .off = anchor {
                anchor = .measured(h, version: anchorVersion, settings: settings)
            }
            let socketReport = socketLoad?.finish()
            let bus = parts.bus?()
            var report = Report(rateHz: config.loop.rateHz, seconds: options.seconds, statistics: merged,
                                achieved: achieved, moves: moves, finalMode: loop.telemetry.read().mode,
                                counterVerified: counterVerified, learning: learner.map { ($0.status.rounds, $0.status.cpus) }, bus: bus)
            report.with = options.with
            report.earlyWakeNanoseconds = runner.earlyWakeNanoseconds
            report.achieved.threadsMovedOff = movedOff
            report.rounds = rounds
            report.anchor = options.anchor ? anchor : .off
            report.planner = planner.map { ($0.statistics.solves, targets, mpcTicks, sampledTicks) }
            report.socket = socketReport
            return report
        }
    }

    /// The socket load of `--with socket`: the daemon's server on a private socket over the
    /// benchmark's loop, loaded by `SocketLoad` (the generator `robotd bench socket` runs) for the
    /// whole benchmark, every loop half and every cyclictest half.
    final class SocketLoadThread: @unchecked Sendable {
        private let server: ControlServer
        private let directory: String
        private let load: SocketLoad
        private var stats: SocketLoad.Stats?

        init<Driver: RobotDriver>(parts: DaemonAssembly.Parts<Driver>, config: DaemonConfiguration, runner: ControlLoopRunner<Driver>,
                                  options: Options, logger: Logger) throws {
            directory = "/tmp/robotd-bench-loop-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let path = directory + "/robotd.sock"
            server = Daemon.makeServer(config: config, configPath: "bench", socketPath: path, loop: parts.loop, runner: runner,
                                       achieved: RealtimeThread.Achieved(), limits: parts.limits, faults: FaultLog(),
                                       policy: AccessPolicy(operators: [], observers: []), logger: logger, planner: parts.planner)
            try server.start()
            let settings = options.socket
            do {
                load = try SocketLoad.start(socket: path, clients: settings.clients, telemetryHz: settings.telemetryHz,
                                            requestHz: settings.requestHz)
            } catch {
                server.shutdown()
                try? FileManager.default.removeItem(atPath: directory)
                throw error
            }
        }

        /// Stops the clients (once); their report.
        func finish() -> [String: Any]? {
            if stats == nil { stats = load.stop() }
            return stats?.json
        }

        func stop() {
            _ = finish()
            server.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Counts a heap allocation that cannot be optimised away.
    public static func allocationCounterWorks() -> Bool {
        AllocationCounter_start()
        let buffer = [UInt8](repeating: 1, count: 64 + Int(MonotonicClock.now() & 1))
        keep(buffer)
        return AllocationCounter_stop() >= 1
    }

    /// Opaque to the optimiser, so the allocation above is not elided.
    @inline(never) @_optimize(none)
    static func keep(_ x: [UInt8]) {}
}
