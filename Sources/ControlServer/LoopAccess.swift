import ControlPorts
import ControlProtocol
import ControlRuntime
import Glibc
import Platform
import RobotdConfig
import Synchronization

/// Static facts about the running daemon, for `hello`, `status` and parameter checks.
public struct DaemonInfo: Sendable {
    public var version: String
    public var robot: String
    public var jointNames: [String]
    public var rateHz: Int
    public var driver: String
    public var endEffectorFrame: String
    /// Limiter bounds, to name the joint of an out-of-range `move` target.
    public var lowerLimits: [Double]
    public var upperLimits: [Double]
    /// Effort limits (N·m), to judge what gravity does to an unpowered arm.
    public var effortLimits: [Double]
    /// The limiter's velocity limits (rad/s), to refuse moves too fast to follow.
    public var velocityLimits: [Double]
    public var modes: [Mode]
    public var daemonUID: uid_t

    public init(version: String, robot: String, jointNames: [String], rateHz: Int, driver: String, endEffectorFrame: String,
                lowerLimits: [Double], upperLimits: [Double], effortLimits: [Double] = [], velocityLimits: [Double] = [],
                modes: [Mode], daemonUID: uid_t = getuid()) {
        self.effortLimits = effortLimits
        self.velocityLimits = velocityLimits
        self.version = version
        self.robot = robot
        self.jointNames = jointNames
        self.rateHz = rateHz
        self.driver = driver
        self.endEffectorFrame = endEffectorFrame
        self.lowerLimits = lowerLimits
        self.upperLimits = upperLimits
        self.modes = modes
        self.daemonUID = daemonUID
    }
}

/// Faults seen since start (most recent 16), written by the supervisor, read by `status`.
public final class FaultLog: Sendable {
    public struct Entry: Sendable, Equatable {
        public var reason: String
        public var tick: UInt64
        public var loopTime: Double
        public var flightRecorder: String?
    }

    private let entries = Mutex<[Entry]>([])
    public static let capacity = 16

    public init() {}

    public func append(reason: String, tick: UInt64, loopTime: Double) {
        entries.withLock {
            $0.append(Entry(reason: reason, tick: tick, loopTime: loopTime))
            if $0.count > Self.capacity { $0.removeFirst($0.count - Self.capacity) }
        }
    }

    /// Attaches the dump's path to the newest fault.
    public func attachFlightRecorder(_ path: String) {
        entries.withLock { e in
            if !e.isEmpty, e[e.count - 1].flightRecorder == nil { e[e.count - 1].flightRecorder = path }
        }
    }

    public var all: [Entry] { entries.withLock { $0 } }

    /// The newest unrequested fall back to `hold` (from `mpc` or `policy`) and why, for `status`:
    /// kept as the result type `status` sends.
    public typealias Fallback = StatusResult.Fallback

    private let fallback = Mutex<Fallback?>(nil)

    public func recordFallback(_ f: Fallback) { fallback.withLock { $0 = f } }

    public var lastFallback: Fallback? { fallback.withLock { $0 } }
}

/// What the server may touch of the control loop: readers of its seqlocks, the command queue
/// and the results ring (whose single consumer is the server's event loop).
public struct LoopAccess: @unchecked Sendable {
    public var telemetry: () -> TelemetrySnapshot
    public var statistics: () -> LoopStatistics
    public var send: (LoopCommand) -> Bool
    public var nextResult: () -> LoopCommandResult?
    public var achieved: RealtimeThread.Achieved
    public var faults: FaultLog
    public var configuration: DaemonConfiguration
    public var configPath: String
    /// Monotonic seconds at start (for `uptime_s`).
    public var startedAt: Double
    /// The MPC planner, when the daemon runs one.
    public var planner: TargetPlanner?
    /// Where `policy.load` puts policies, when the loop offers `policy`.
    public var policies: PolicySlot?
    /// The learner, when `learning.enabled`.
    public var models: ModelControl?
    /// The torque gravity puts on each joint at the measured pose (N·m), to refuse an `idle` that
    /// would let the arm fall; nil when the daemon cannot tell.
    public var gravityTorque: (() -> [Double])?
    /// The servo bus's health (a servo driver's monitor); nil for the simulated arm.
    public var bus: (@Sendable () -> BusStatus)?
    /// Calibration while running (`calibration.*`); nil for the simulated arm.
    public var calibration: CalibrationControl?
    /// Demonstration recording (`record.*`, `dataset.*`); nil when the daemon does not record.
    public var recording: RecordingControl?
    /// The teleop source's stream (`teleop.stream`, `status.teleop`); nil without mode `teleop`.
    public var teleop: TeleopControl?

    public init(telemetry: @escaping () -> TelemetrySnapshot, statistics: @escaping () -> LoopStatistics,
                send: @escaping (LoopCommand) -> Bool, nextResult: @escaping () -> LoopCommandResult?,
                achieved: RealtimeThread.Achieved, faults: FaultLog, configuration: DaemonConfiguration,
                configPath: String, startedAt: Double, planner: TargetPlanner? = nil, policies: PolicySlot? = nil,
                models: ModelControl? = nil, gravityTorque: (() -> [Double])? = nil, bus: (@Sendable () -> BusStatus)? = nil,
                calibration: CalibrationControl? = nil, recording: RecordingControl? = nil, teleop: TeleopControl? = nil) {
        self.recording = recording
        self.teleop = teleop
        self.bus = bus
        self.calibration = calibration
        self.models = models
        self.gravityTorque = gravityTorque
        self.planner = planner
        self.policies = policies
        self.telemetry = telemetry
        self.statistics = statistics
        self.send = send
        self.nextResult = nextResult
        self.achieved = achieved
        self.faults = faults
        self.configuration = configuration
        self.configPath = configPath
        self.startedAt = startedAt
    }
}
