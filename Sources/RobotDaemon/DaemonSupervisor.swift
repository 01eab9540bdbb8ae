import ControlRuntime
import ControlServer
import Foundation
import Logging
import Platform

/// The daemon's main-thread duties while the control thread ticks (docs/architecture.md §2), one `poll`
/// at a time: feed the systemd watchdog only while the loop's tick counter advances, keep
/// `STATUS=` current, log mode changes and faults, and write the flight recorder to the data
/// directory when the loop froze it on a fault.
///
/// It sees the loop only through what other threads may read (the tick counter, the telemetry
/// and statistics seqlocks, the flight recorder's dump protocol), so a test can drive it with a
/// fake loop — in particular a stalled one.
public final class DaemonSupervisor {
    /// What the supervisor reads from the control loop.
    public struct Source {
        public var tickCount: () -> UInt64
        public var telemetry: () -> TelemetrySnapshot
        public var statistics: () -> LoopStatistics
        public var flightRecorder: FlightRecorder?
        public var jointNames: [String]
        /// Where faults are recorded for `status` (nil: nowhere).
        public var faults: FaultLog?
        /// The planner's account of its newest plan at loop time `t` (status, plan age,
        /// withdrawn plans), to say why `mpc` fell back to `hold`; nil without a planner.
        public var plannerSummary: ((Double) -> String)?

        public init(tickCount: @escaping () -> UInt64, telemetry: @escaping () -> TelemetrySnapshot,
                    statistics: @escaping () -> LoopStatistics, flightRecorder: FlightRecorder?, jointNames: [String],
                    faults: FaultLog? = nil, plannerSummary: ((Double) -> String)? = nil) {
            self.faults = faults
            self.plannerSummary = plannerSummary
            self.tickCount = tickCount
            self.telemetry = telemetry
            self.statistics = statistics
            self.flightRecorder = flightRecorder
            self.jointNames = jointNames
        }
    }

    public let source: Source
    public let notifier: any ServiceNotifier
    public let rateHz: Int
    public let dataDirectory: String
    /// Seconds between watchdog checks: half of systemd's WatchdogSec, nil when it is off.
    public let watchdogPeriod: Double?
    /// Seconds between STATUS= updates.
    public let statusPeriod: Double
    public private(set) var lastDumpPath: String?
    public private(set) var watchdogFeeds = 0

    private let logger: Logger
    private var feeder = WatchdogFeeder()
    private var nextWatchdog: Double = 0
    private var watchdogPrimed = false
    private var stalled = false
    private var nextStatus: Double = 0
    private var lastMode: Mode?
    private var dumpedGeneration: UInt64 = 0
    private var fallbacksSeen: UInt64 = 0

    public init(source: Source, notifier: any ServiceNotifier = SystemdNotifier(), rateHz: Int, dataDirectory: String,
                statusPeriod: Double = 1, logger: Logger) {
        self.source = source
        self.notifier = notifier
        self.rateHz = rateHz
        self.dataDirectory = dataDirectory
        self.statusPeriod = statusPeriod
        self.logger = logger
        watchdogPeriod = notifier.watchdogInterval.map { Double($0.components.seconds) + Double($0.components.attoseconds) * 1e-18 }.map { $0 / 2 }
    }

    /// The one-line state for `systemctl status`, e.g.
    /// `hold · 1000 Hz · 123456 ticks · 0 overruns · wake p99 41 µs`.
    public func statusLine() -> String {
        let t = source.telemetry()
        let s = source.statistics()
        var line = "\(t.mode)"
        if t.mode == .faulted, t.hasFault { line += " (\(t.fault))" }
        line += " · \(rateHz) Hz · \(s.ticks) ticks · \(s.overruns) overruns"
        if s.wakeLatency.total > 0 {
            line += " · wake p99 \(s.wakeLatency.value(atQuantile: 0.99) / 1000) µs"
        }
        return line
    }

    /// One round of duties at monotonic time `now` (s). Call every few milliseconds.
    public func poll(now: Double) {
        if let period = watchdogPeriod {
            if !watchdogPrimed {
                // The first check is one period from now, against the count seen now.
                _ = feeder.shouldFeed(tickCount: source.tickCount())
                watchdogPrimed = true
                nextWatchdog = now + period
            } else if now >= nextWatchdog {
                nextWatchdog = now + period
                if feeder.shouldFeed(tickCount: source.tickCount()) {
                    notifier.watchdog()
                    watchdogFeeds += 1
                    if stalled {
                        stalled = false
                        logger.warning("control loop advancing again; feeding the watchdog")
                    }
                } else if !stalled {
                    stalled = true
                    logger.critical("control loop stalled: tick counter did not advance in \(period) s; withholding WATCHDOG=1")
                }
            }
        }
        let t = source.telemetry()
        if t.fallbacks != fallbacksSeen {
            fallbacksSeen = t.fallbacks
            logFallback(t)
        }
        if t.mode != lastMode {
            logModeChange(from: lastMode, to: t)
            lastMode = t.mode
        }
        dumpFlightRecorderIfFrozen(reason: t.hasFault ? "\(t.fault)" : "\(t.mode)")
        if now >= nextStatus {
            nextStatus = now + statusPeriod
            notifier.status(statusLine())
        }
    }

    /// Every fall back to `hold` that nobody asked for is logged with its reason and kept for
    /// `status` (several between two polls are logged once, with their count).
    private func logFallback(_ t: TelemetrySnapshot) {
        var reason = "no valid plan covers the loop time"
        if let summary = source.plannerSummary?(t.lastFallbackTime) { reason += " (\(summary))" }
        source.faults?.recordFallback(.init(from: "\(t.lastFallbackFrom)", reason: reason, loopTimeS: t.lastFallbackTime, count: Int(clamping: t.fallbacks)))
        logger.warning("\(t.lastFallbackFrom) fell back to hold: \(reason)",
                       metadata: ["from": "\(t.lastFallbackFrom)", "loop_time_s": "\(t.lastFallbackTime)", "fallbacks": "\(t.fallbacks)"])
    }

    private func logModeChange(from old: Mode?, to t: TelemetrySnapshot) {
        let metadata: Logger.Metadata = ["mode": "\(t.mode)", "previous_mode": "\(old.map { "\($0)" } ?? "none")", "tick": "\(t.tick)"]
        switch t.mode {
        case .faulted:
            source.faults?.append(reason: t.hasFault ? "\(t.fault)" : "unknown", tick: t.tick, loopTime: t.time)
            logger.error("control loop faulted: \(t.hasFault ? "\(t.fault)" : "unknown"); send reset to recover", metadata: metadata)
        case .estop:
            logger.warning("emergency stop latched; send reset to recover", metadata: metadata)
        default:
            logger.info("mode \(t.mode)", metadata: metadata)
        }
    }

    /// Writes the frozen flight recorder (if the loop froze it since the last dump) and thaws it.
    public func dumpFlightRecorderIfFrozen(reason: String) {
        guard let recorder = source.flightRecorder, recorder.isFrozen,
              recorder.dumpGeneration != dumpedGeneration else { return }
        dumpedGeneration = recorder.dumpGeneration
        let ticks = recorder.frozenTicks()
        do {
            let path = try FlightRecorderWriter.write(ticks, jointNames: source.jointNames, reason: reason, to: dataDirectory)
            lastDumpPath = path
            source.faults?.attachFlightRecorder(path)
            logger.error("flight recorder written", metadata: ["path": "\(path)", "ticks": "\(ticks.count)", "reason": "\(reason)"])
        } catch {
            logger.error("flight recorder could not be written to \(dataDirectory): \(error)")
        }
        recorder.thaw()
    }
}
