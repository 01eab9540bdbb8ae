import ControlPorts
import ControlProtocol
import ControlRuntime
import ControlServer
import Foundation
import Control
import LinearAlgebra
import Logging
import Platform
import RobotInterface
import RobotdConfig
import ServoDriver
import SimulationDriver
import Synchronization

/// `robotd run`: the daemon's life from configuration to exit (docs/architecture.md §2).
///
/// Start-up order matters: signals are routed first (before any thread of ours exists), then
/// logging, the configuration, the model and driver, the control thread; `READY=1` is sent only
/// once the driver is active and the loop ticks. On SIGTERM/SIGINT: `STOPPING=1`, the loop ramps
/// to `hold`, the driver is deactivated, a pending flight-recorder dump is written, the socket
/// file is removed, and the process exits 0.
public enum Daemon {
    /// Process exit statuses (sysexits.h): systemd's `RestartPreventExitStatus=78` keeps a
    /// broken configuration from restart-looping.
    public enum ExitStatus: Int32 {
        case ok = 0
        case failure = 1
        case config = 78
    }

    public struct Options: Sendable {
        public var configPath: String
        /// Stop by itself after this many seconds, as if sent SIGTERM (tests, demos); nil = run
        /// until signalled.
        public var stopAfter: Double?

        public init(configPath: String, stopAfter: Double? = nil) {
            self.configPath = configPath
            self.stopAfter = stopAfter
        }
    }

    /// The daemon's version, reported by `hello`.
    public static let version = ReleaseVersion.string

    /// `socket.path`, else `$RUNTIME_DIRECTORY/robotd.sock` (systemd's RuntimeDirectory=), else
    /// `./run/robotd.sock`.
    public static func socketPath(_ config: DaemonConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let p = config.socket.path { return p }
        // RUNTIME_DIRECTORY may list several directories separated by ':'.
        if let dir = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first, !dir.isEmpty {
            return "\(dir)/robotd.sock"
        }
        return "./run/robotd.sock"
    }

    /// The control socket server over a running loop (shared by `run` and `bench socket`).
    public static func makeServer<Driver>(config: DaemonConfiguration, configPath: String, socketPath: String,
                                          loop: ControlLoop<Driver>, runner: ControlLoopRunner<Driver>,
                                          achieved: RealtimeThread.Achieved, limits: JointLimits, faults: FaultLog,
                                          policy: AccessPolicy, logger: Logger, planner: MPCPlanner? = nil,
                                          models: LearnerService? = nil, bus: (@Sendable () -> BusStatus)? = nil,
                                          calibration: CalibrationControl? = nil, recording: RecordingControl? = nil) -> ControlServer {
        ControlServer(
            options: .init(path: socketPath, mode: config.socket.mode, group: config.socket.group,
                           maxConnections: config.socket.maxConnections, maxRequestsPerSecond: config.socket.maxRequestsPerSecond,
                           maxConnectionsPerUID: config.socket.maxConnectionsPerUID,
                           operatorReservedConnections: config.socket.operatorReservedConnections,
                           idleTimeout: config.socket.idleTimeout, loopCPU: achieved.cpu),
            access: LoopAccess(
                telemetry: { loop.telemetry.read() }, statistics: { runner.statistics.read() },
                send: { loop.commands.send($0) }, nextResult: { loop.results.pop() }, achieved: achieved, faults: faults,
                configuration: config, configPath: configPath, startedAt: MonotonicClock.seconds(), planner: planner,
                policies: loop.policies, models: models, gravityTorque: gravityTorque(loop), bus: bus,
                calibration: calibration, recording: recording, teleop: teleopService(loop, takeoverThreshold: config.teleop.leader?.takeoverThreshold ?? 0)
            ),
            info: DaemonInfo(
                version: version, robot: config.robot.name ?? loop.model.name, jointNames: loop.model.joints.map(\.name),
                rateHz: config.loop.rateHz, driver: config.driver.kind.rawValue,
                endEffectorFrame: loop.model.frames[loop.configuration.endEffectorFrame].name,
                lowerLimits: limits.lower, upperLimits: limits.upper, effortLimits: loop.model.joints.map(\.effortLimit),
                velocityLimits: limits.velocity,
                modes: [.idle, .hold, .move] + (loop.teleop == nil ? [] : [.teleop]) + (planner == nil ? [] : [.mpc])
                    + (loop.policies == nil ? [] : [.policy]) + [.estop]
            ),
            policy: policy, logger: logger
        )
    }

    /// `teleop.stream` over the loop's streamed teleop source (nil when its teleop slot holds
    /// another source, or none), with poses for the loop's end-effector frame.
    static func teleopService<Driver>(_ loop: ControlLoop<Driver>, takeoverThreshold: Double = 0) -> (any TeleopControl)? {
        if let leader = loop.teleop?.installedPolicy as? LeaderArmSource {
            return LeaderTeleopService(source: leader, takeoverThreshold: takeoverThreshold)
        }
        guard let source = loop.teleop?.installedPolicy as? StreamedTeleop else { return nil }
        let n = loop.model.dof
        return TeleopStreamService(source: source, model: loop.model, frame: loop.configuration.endEffectorFrame,
                                   measured: { let t = loop.telemetry.read(); return (0 ..< n).map { t.position[$0] } })
    }

    /// Gravity torque at the loop's measured pose: the rigid-body model's RNEA with v = a = 0.
    /// - Warning: Not real-time safe (a workspace per call; for the socket's `idle` check).
    static func gravityTorque<Driver>(_ loop: ControlLoop<Driver>) -> () -> [Double] {
        let model = loop.model
        return {
            let t = loop.telemetry.read()
            let n = model.dof
            var ws = model.makeWorkspace()
            let zero = [Double](repeating: 0, count: n)
            model.rnea(&ws, q: (0 ..< n).map { t.position[$0] }, v: zero, a: zero)
            return ws.tau
        }
    }

    /// Runs the daemon; returns the process exit status.
    public static func run(_ options: Options) -> ExitStatus {
        let stop = StopFlag()
        _ = SignalWatcher.install { signal in
            // SIGHUP would conventionally reload; a running arm keeps its configuration.
            if signal == SIGHUP {
                Logger(label: "robotd").notice("SIGHUP ignored: restart the service to apply a new configuration")
            } else {
                stop.request(signal)
            }
        }

        let config: DaemonConfiguration
        do {
            config = try ConfigLoader.load(path: options.configPath)
        } catch {
            LoggingSetup.bootstrap(target: .auto, level: .info)
            Logger(label: "robotd").critical("configuration rejected: \(error)")
            return .config
        }
        LoggingSetup.bootstrap(target: LoggingSetup.Target(rawValue: config.logging.target.rawValue) ?? .auto,
                               level: Logger.Level(rawValue: config.logging.level.rawValue) ?? .info)
        var logger = Logger(label: "robotd")
        logger[metadataKey: "config"] = "\(options.configPath)"
        OpenBLAS.configureSingleThreaded()

        let notifier = SystemdNotifier()
        do {
            return try DaemonAssembly.assemble(config, logger: logger,
                                               into: Running(options: options, config: config, logger: logger, notifier: notifier, stop: stop))
        } catch let error as DaemonAssembly.DriverUnavailable {
            logger.critical("driver unavailable: \(error)")
            return .failure
        } catch {
            logger.critical("cannot assemble the daemon: \(error)")
            return .config
        }
    }

    /// The daemon's life once its parts exist, for whichever driver they were built around.
    struct Running: DaemonAssembly.PartsConsumer {
        let options: Options
        let config: DaemonConfiguration
        let logger: Logger
        let notifier: SystemdNotifier
        let stop: StopFlag

    func consume<Driver: RobotDriver>(_ parts: DaemonAssembly.Parts<Driver>) -> ExitStatus {
        let (loop, limits, planner, learnerService) = (parts.loop, parts.limits, parts.planner, parts.learner)

        // The control socket is checked before anything moves: a directory others can write to
        // is a refusal to start, not a warning.
        let listenFDs = notifier.listenFileDescriptors()
        let socketPath = socketPath(config)
        if listenFDs.isEmpty {
            do {
                try SocketFile.prepare(path: socketPath)
            } catch {
                logger.critical("\(error)")
                return .config
            }
        }
        let policy = AccessPolicy(operators: config.socket.operators, observers: config.socket.observers)
        for entry in policy.unknownEntries() {
            logger.warning("socket: \(entry) names no user or group on this machine")
        }
        do {
            try loop.start()
        } catch {
            logger.critical("driver failed to start: \(error)")
            return .failure
        }

        let runner = DaemonAssembly.runner(config, loop: loop, rampTicks: config.loop.rateHz / 5)
        let achieved = runner.start(options: DaemonAssembly.threadOptions(config))
        for warning in achieved.warnings { logger.warning("\(warning)") }
        logger.info("control loop running", metadata: [
            "robot": "\(config.robot.name ?? loop.model.name)", "dof": "\(loop.model.dof)",
            "rate_hz": "\(config.loop.rateHz)", "scheduler": "\(achieved.schedulerName)",
            "memory_locked": "\(achieved.memoryLocked)", "cpu": "\(achieved.cpu.map(String.init) ?? "any")",
            "threads_moved_off_cpu": "\(achieved.threadsMovedOff)", "driver": "\(config.driver.kind.rawValue)",
        ])

        let faults = FaultLog()
        planner?.start()
        learnerService?.configPath = options.configPath
        learnerService?.start()
        if config.learning.enabled, learnerService == nil {
            logger.warning("learning.enabled needs mpc.enabled; learning stays off")
        }
        var calibrationHash: (@Sendable () -> String?)?
        if let bus = parts.bus { calibrationHash = { bus().calibrationHash } }
        let recording = DaemonAssembly.recording(config, configPath: options.configPath, loop: loop, planner: planner,
                                                 calibrationHash: calibrationHash, logger: logger)
        recording.recorder?.start()
        let server = makeServer(config: config, configPath: options.configPath, socketPath: socketPath, loop: loop,
                                runner: runner, achieved: achieved, limits: limits, faults: faults, policy: policy, logger: logger,
                                planner: planner, models: learnerService, bus: parts.bus, calibration: parts.calibration,
                                recording: recording)
        do {
            try server.start(listenDescriptor: listenFDs.first)
        } catch {
            logger.critical("\(error)")
            recording.recorder?.shutdown()
            learnerService?.stop()
            planner?.stop()
            runner.requestStop()
            runner.join()
            return .config
        }

        let supervisor = DaemonSupervisor(
            source: .init(tickCount: { runner.tickCount }, telemetry: { loop.telemetry.read() },
                          statistics: { runner.statistics.read() }, flightRecorder: loop.flightRecorder,
                          jointNames: loop.model.joints.map(\.name), faults: faults,
                          plannerSummary: planner.map { p in { t in p.fallbackSummary(loopTime: t) } }),
            notifier: notifier, rateHz: config.loop.rateHz, dataDirectory: config.dataDirectory, logger: logger
        )
        notifier.ready(status: supervisor.statusLine())
        if let period = supervisor.watchdogPeriod {
            logger.info("feeding the systemd watchdog every \(period) s while the loop advances")
        }

        let started = MonotonicClock.seconds()
        while !stop.isRequested {
            let now = MonotonicClock.seconds()
            if let limit = options.stopAfter, now - started >= limit { break }
            supervisor.poll(now: now)
            usleep(10_000)
        }

        let signal = stop.signal
        logger.notice("stopping\(signal.map { " on signal \($0)" } ?? ""): ramping to hold, then deactivating the driver")
        notifier.stopping()
        // No new commands while the arm ramps to hold; the socket file goes with the server.
        server.shutdown()
        // The arm first: ramp to hold and cut the driver before waiting on any other thread. A
        // training round can take many seconds; it must not keep a moving arm waiting (and past
        // systemd's TimeoutStopSec, after which the process is killed with the arm in any state).
        runner.requestStop()
        runner.join()
        logger.notice("arm safe: held for \(runner.rampTicks) ticks, driver deactivated")
        planner?.stop()
        // A leader arm's bus: its thread stops and its port closes (its torque was never on).
        (runner.loop.teleop?.installedPolicy as? LeaderArmSource)?.driver.cleanup()
        // After the loop stopped: every tick it pushed is in the ring; the episode ends complete.
        recording.recorder?.shutdown()
        if let learnerService {
            learnerService.stop()
            logger.notice("learner stopped")
        }
        supervisor.dumpFlightRecorderIfFrozen(reason: "shutdown")
        let s = runner.statistics.read()
        logger.notice("stopped", metadata: [
            "ticks": "\(s.ticks)", "overruns": "\(s.overruns)",
            "wake_p99_us": "\(Double(s.wakeLatency.value(atQuantile: 0.99)) / 1000)",
            "compute_p99_us": "\(Double(s.computeTime.value(atQuantile: 0.99)) / 1000)",
            "allocations": "\(s.allocations)",
        ])
        return .ok
    }
    }
}

/// Set from the signal thread, read by the main loop.
final class StopFlag: Sendable {
    private let requested = Atomic<Bool>(false)
    private let number = Atomic<Int32>(0)

    func request(_ signal: Int32) {
        number.store(signal, ordering: .relaxed)
        requested.store(true, ordering: .releasing)
    }

    var isRequested: Bool { requested.load(ordering: .acquiring) }
    var signal: Int32? {
        let n = number.load(ordering: .relaxed)
        return n == 0 ? nil : n
    }
}
