import ControlRuntime
import EpisodeStore
import Foundation
import Logging
import Platform
import RobotDaemon
import RobotdConfig
import RobotInterface

/// `robotd bench record`: what recording costs the control loop. The loop of the configuration
/// (1 kHz on configs/sim.yaml) runs twice on its real-time thread for `seconds`, with the same
/// workload as `bench loop` (a minimum-jerk move every second) and the recorder thread draining
/// its ring as in `robotd run`: first not recording, then recording an episode at `fps` into a
/// fresh episode store under the configuration's `data_directory` (removed afterwards, so the
/// commits hit the disk the daemon's store lives on).
///
/// Reported: the frames stored, the commit time's p50 and p99 (ms, the recorder's own figures),
/// bytes per frame (the store's files over the frames, schema included), and the overruns of
/// each run. The target: no added overruns, commit p99 under 20 ms.
public enum RecordBenchmark {
    public struct Report: Sendable {
        public var fps: Int
        public var rateHz: Int
        public var seconds: Double
        public var frames: Int
        public var commitP50Milliseconds: Double?
        public var commitP99Milliseconds: Double?
        public var bytesPerFrame: Double
        public var overrunsRecording: UInt64
        public var overrunsNotRecording: UInt64
        public var droppedTicks: UInt64
        public var lastError: String?

        /// The JSON object printed by the command.
        public var json: [String: Any] {
            [
                "fps": fps, "rate_hz": rateHz, "seconds": seconds, "frames": frames,
                "commit_ms": ["p50": commitP50Milliseconds ?? NSNull(), "p99": commitP99Milliseconds ?? NSNull()] as [String: Any],
                "bytes_per_frame": bytesPerFrame,
                "overruns": ["recording": overrunsRecording, "not_recording": overrunsNotRecording],
                "dropped_ticks": droppedTicks, "last_error": lastError ?? NSNull(),
            ]
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs the loop of `config` without, then with, recording at `fps`.
    public static func run(config base: DaemonConfiguration, seconds: Double, fps: Int) throws -> Report {
        var config = base
        config.loop.overrunFaultThreshold = 1000
        config.learning.enabled = false
        guard case .simulation = config.driver else {
            throw Failure(description: "bench record: runs the simulated arm (driver.kind simulation), not \(config.driver.kind.rawValue)")
        }
        guard (1 ... config.loop.rateHz).contains(fps) else {
            throw Failure(description: "bench record: --fps \(fps) outside 1…\(config.loop.rateHz) (the loop's rate)")
        }
        var logger = Logger(label: "robotd.bench.record")
        logger.logLevel = .warning
        let directory = (config.dataDirectory as NSString).appendingPathComponent("bench-record-\(getpid())")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let idle = try Workload(config: config, seconds: seconds, fps: nil, directory: directory + "/idle", logger: logger)
            .consume(DaemonAssembly.parts(config, logger: logger))
        let recording = try Workload(config: config, seconds: seconds, fps: fps, directory: directory + "/recording", logger: logger)
            .consume(DaemonAssembly.parts(config, logger: logger))
        let status = recording.status
        return Report(fps: fps, rateHz: config.loop.rateHz, seconds: seconds, frames: recording.frames,
                      commitP50Milliseconds: status.commitP50Milliseconds, commitP99Milliseconds: status.commitP99Milliseconds,
                      bytesPerFrame: recording.frames == 0 ? 0 : Double(recording.bytes) / Double(recording.frames),
                      overrunsRecording: recording.overruns, overrunsNotRecording: idle.overruns, droppedTicks: status.droppedTicks,
                      lastError: status.lastError)
    }

    struct Outcome {
        var overruns: UInt64
        var frames: Int
        /// The store's file: once the recorder and its store are gone, SQLite has checkpointed the
        /// WAL into it and removed the WAL, so its size is what the frames take.
        var path: String
        var status: EpisodeRecorder.Status

        var bytes: Int {
            [path, path + "-wal"].reduce(0) { sum, p in sum + ((try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0) }
        }
    }

    /// One run: the loop on its thread, the recorder thread beside it, recording when `fps` is set.
    struct Workload {
        let config: DaemonConfiguration
        let seconds: Double
        let fps: Int?
        let directory: String
        let logger: Logger

        func consume<Driver: RobotDriver>(_ parts: DaemonAssembly.Parts<Driver>) throws -> Outcome {
            let loop = parts.loop, limits = parts.limits, model = parts.model
            guard let ring = loop.recordings else { throw Failure(description: "bench record: the loop has no recorder ring") }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = EpisodeStore.path(dataDirectory: directory)
            let store: EpisodeStore
            do { store = try EpisodeStore(path: path, access: .writer) } catch { throw Failure(description: "bench record: \(error)") }
            let recorder = EpisodeRecorder(store: store, ring: ring, jointNames: model.joints.map(\.name),
                                           commandMode: EpisodeRecorder.storeName(loop.configuration.commandMode.rawValue),
                                           loopRateHz: config.loop.rateHz, logger: logger)
            try loop.start()
            let runner = DaemonAssembly.runner(config, loop: loop, rampTicks: 0)
            _ = runner.start(options: DaemonAssembly.threadOptions(config))
            recorder.start()
            if let fps {
                let provenance = EpisodeProvenance(robot: config.robot.name ?? model.name, urdfSHA256: "", calibrationSHA256: nil,
                                                   configurationSHA256: "", robotdVersion: "bench", task: "bench record")
                do { try recorder.start(task: "bench record", fps: fps, provenance: provenance) } catch {
                    throw Failure(description: "bench record: \(error)")
                }
            }
            let q0 = loop.telemetry.read()
            let a = (0 ..< model.dof).map { q0.position[$0] }
            let b = (0 ..< model.dof).map { i in
                let mid = (limits.lower[i] + limits.upper[i]) / 2
                return min(max(a[i] + 0.3 * (mid >= a[i] ? 1.0 : -1.0), limits.lower[i]), limits.upper[i])
            }
            let start = MonotonicClock.seconds()
            var moves = 0, nextMove = start
            while MonotonicClock.seconds() - start < seconds {
                if MonotonicClock.seconds() >= nextMove {
                    _ = loop.commands.send(.move(id: UInt64(moves + 1), to: moves % 2 == 0 ? b : a, duration: 0.8))
                    moves += 1
                    nextMove += 1
                }
                usleep(5000)
            }
            var frames = 0
            if fps != nil, let stopped = try? recorder.stop() { frames = stopped.frames }
            let status = recorder.status
            recorder.shutdown()
            runner.requestStop()
            runner.join()
            return Outcome(overruns: runner.statistics.read().overruns, frames: frames, path: path, status: status)
        }
    }
}
