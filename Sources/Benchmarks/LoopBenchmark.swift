import AllocationCounter
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
/// path of the tick (hold, and a minimum-jerk move every second alternating between two poses).
///
/// Reported: wake-up latency (actual wake − absolute deadline) and compute time per tick as
/// quantiles of the loop's own histograms, overruns, and heap allocations made by the control
/// thread while ticking, counted by the interposed allocator — the proof of "0 per tick".
public enum LoopBenchmark {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public struct Report: Sendable {
        public var rateHz: Int
        public var seconds: Double
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

        /// The JSON object printed by the command (µs for times).
        public var json: [String: Any] {
            let s = statistics
            func us(_ h: LatencyHistogram, _ q: Double) -> Double { Double(h.value(atQuantile: q)) / 1000 }
            return [
                "rate_hz": rateHz,
                "seconds": seconds,
                "ticks": s.ticks,
                "expected_ticks": Int(seconds * Double(rateHz)),
                "overruns": s.overruns,
                "worst_overrun_streak": s.worstOverrunStreak,
                "wake_latency_us": [
                    "p50": us(s.wakeLatency, 0.5), "p99": us(s.wakeLatency, 0.99),
                    "p99_9": us(s.wakeLatency, 0.999), "max": Double(s.wakeLatency.max) / 1000,
                    "mean": s.wakeLatency.mean / 1000,
                ],
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
                "cpu": achieved.cpu ?? -1,
                "warnings": achieved.warnings,
                "moves": moves,
                "final_mode": "\(finalMode)",
                "learning": learning.map { ["training_rounds": $0.rounds, "learner_cpus": $0.cpus] as [String: Any] } ?? false,
                "emulator": emulator ?? false,
                "bus": bus.map { b in
                    [
                        "protocol": b.protocol, "port": b.port, "target_hz": b.targetHz, "cycle_hz": b.cycleHz,
                        "cycle_p50_us": b.cycleP50Us, "cycle_p99_us": b.cycleP99Us, "cycles": b.cycles,
                        "failed_cycles": b.failedCycles, "errors_per_s": b.errorsPerS, "retries_per_s": b.retriesPerS,
                    ] as [String: Any]
                } ?? false,
            ]
        }
    }

    /// Runs the loop of `config` for `seconds` (after its first tick), commanding a move every second.
    /// With `learning`, the daemon's learner thread runs beside it (nice 19, off the loop's CPU),
    /// draining the loop's transitions and training one round after another — the worst case of
    /// online learning for the control thread.
    public static func run(config base: DaemonConfiguration, seconds: Double, learning: Bool = false) throws -> Report {
        let verified = allocationCounterWorks()
        var config = base
        // A benchmark measures; it must not fault half-way because the machine is busy.
        config.loop.overrunFaultThreshold = 1000
        config.learning.enabled = learning
        if learning { config.mpc.enabled = true }
        var logger = Logger(label: "robotd.bench.loop")
        logger.logLevel = .warning
        let emulator = try emulatorIfNeeded(config)
        defer { emulator?.host.stop() }
        var report = try DaemonAssembly.assemble(config, logger: logger,
                                                 into: Workload(config: config, seconds: seconds, counterVerified: verified))
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
        let seconds: Double
        let counterVerified: Bool

        func consume<Driver: RobotDriver>(_ parts: DaemonAssembly.Parts<Driver>) throws -> Report {
            let (loop, limits, learner, model) = (parts.loop, parts.limits, parts.learner, parts.model)
            try loop.start()
            let runner = DaemonAssembly.runner(config, loop: loop, rampTicks: 0)
            let achieved = runner.start(options: DaemonAssembly.threadOptions(config))
            learner?.start()
            defer { learner?.stop() }

            // Two poses inside the limits: the start pose and 0.3 rad from it towards the middle.
            let q0 = loop.telemetry.read()
            let a = (0 ..< model.dof).map { q0.position[$0] }
            let b = (0 ..< model.dof).map { i in
                let mid = (limits.lower[i] + limits.upper[i]) / 2
                let step = 0.3 * (mid >= a[i] ? 1.0 : -1.0)
                return min(max(a[i] + step, limits.lower[i]), limits.upper[i])
            }
            let start = MonotonicClock.seconds()
            var moves = 0
            var nextMove = start
            while MonotonicClock.seconds() - start < seconds {
                let now = MonotonicClock.seconds()
                if now >= nextMove {
                    _ = loop.commands.send(.move(id: UInt64(moves + 1), to: moves % 2 == 0 ? b : a, duration: 0.8))
                    moves += 1
                    nextMove += 1
                }
                learner?.requestTraining()
                usleep(5000)
            }
            let bus = parts.bus?()
            runner.requestStop()
            runner.join()
            return Report(rateHz: config.loop.rateHz, seconds: seconds, statistics: runner.statistics.read(),
                          achieved: achieved, moves: moves, finalMode: loop.telemetry.read().mode,
                          counterVerified: counterVerified, learning: learner.map { ($0.status.rounds, $0.status.cpus) }, bus: bus)
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
