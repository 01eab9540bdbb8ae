import ControlRuntime
import EpisodeStore
import Foundation
import Logging
import Platform
import Synchronization

/// The recorder thread (docs/architecture.md §2): drains the loop's `recordings` ring and, while
/// a recording runs, stores frames at the dataset's rate in the episode store, committing at
/// least every `commitInterval`. The tick only pushes into the ring; it never waits on this.
///
/// Decimation: with t0 the loop time of the first tick after `start`, frame k is the first tick
/// whose loop time is ≥ t0 + k/fps (within `timeTolerance`), stamped exactly k/fps. Its action
/// is the command the tick sent (after the limiter), its requested action the one asked for.
///
/// A failed commit (disk full, file unwritable) ends the recording: the episode becomes
/// `incomplete` with the error, which `status` keeps; the ring keeps being drained, so the loop
/// runs on unaffected.
///
/// One lock (`work`) serialises draining and the socket's calls, so `start`, `stop` and
/// `discard` see every tick pushed before them and the ring keeps a single consumer at a time.
/// - Warning: Not real-time safe (file I/O); never called from the control thread.
public final class EpisodeRecorder: @unchecked Sendable {
    /// Why a recording call was refused.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public enum Kind: Equatable, Sendable {
            /// `start` while recording, `stop`/`discard` while not.
            case wrongState
            /// fps or task out of range.
            case invalidArgument
            /// The episode store failed (its error is the description).
            case store
        }
        public var kind: Kind
        public var description: String
        init(_ kind: Kind, _ description: String) {
            self.kind = kind
            self.description = description
        }
    }

    /// What `status` reports.
    public struct Status: Sendable, Equatable {
        public var recording = false
        public var episode: Int64?
        public var task: String?
        public var fps: Int?
        /// Frames taken in the current (or last) recording, committed or not.
        public var frames = 0
        /// Ticks the ring refused (full) during the current (or last) recording: frames that
        /// may be missing from it.
        public var droppedTicks: UInt64 = 0
        /// Commit durations (ms) over the last `commitWindow` commits.
        public var commitP50Milliseconds: Double?
        public var commitP99Milliseconds: Double?
        /// Why the last recording stopped by itself (disk full, unwritable), or a store error at start.
        public var lastError: String?
    }

    /// What `stop` returns: the episode as stored.
    public struct Stopped: Sendable, Equatable {
        public var episode: Int64
        public var frames: Int
    }

    /// Two ticks closer than this count as the same time (s): far below any loop period.
    public static let timeTolerance = 1e-9
    /// Commit durations kept for the percentiles.
    static let commitWindow = 1024

    public let store: EpisodeStore
    public let ring: SPSCRing<Transition>
    public let jointNames: [String]
    /// The episode's `commandMode` ("effort", "position", "velocity").
    public let commandMode: String
    /// The loop's rate: the highest fps.
    public let loopRateHz: Int
    /// Longest time between commits while recording (s).
    public let commitInterval: Double
    private let logger: Logger
    private let worker = WorkerThread()
    private let work = Mutex<Session?>(nil)
    private let published = Mutex<Status>(Status())

    /// The state of one recording, owned by whoever holds `work`.
    struct Session {
        var id: Int64
        var task: String
        var fps: Int
        var t0: Double?
        var nextFrame = 0
        var pending: [RecordedFrame] = []
        var lastCommit: Double
        var droppedAtStart: UInt64
        var commitDurations: [Double] = []
        var commitCursor = 0
    }

    /// - Parameters:
    ///   - commandMode: the loop's, as the store names it (`Self.storeName`).
    ///   - commitInterval: at most 0.1 s (the bound on what a crash may lose).
    public init(store: EpisodeStore, ring: SPSCRing<Transition>, jointNames: [String], commandMode: String, loopRateHz: Int,
                commitInterval: Double = 0.05, logger: Logger) {
        precondition(store.access == .writer, "the recorder writes")
        self.store = store
        self.ring = ring
        self.jointNames = jointNames
        self.commandMode = commandMode
        self.loopRateHz = loopRateHz
        self.commitInterval = min(commitInterval, 0.1)
        self.logger = logger
    }

    public var status: Status { published.withLock { $0 } }

    public func start() {
        // Normal priority (not the learner's nice 19): the 100 ms bound on what a crash loses
        // needs it to run; its work per pass is small.
        worker.start(name: "robotd-recorder", stackSize: 1 << 20) { [self] in
            while !worker.isStopping {
                let drained = step(now: MonotonicClock.seconds())
                if drained == 0 { usleep(5000) }
            }
        }
    }

    /// Stops the thread; a recording in progress is stopped as by `stop()` first.
    public func shutdown() {
        _ = try? stop()
        worker.stop()
    }

    /// Begins an episode. Ticks already in the ring are older than the request and are dropped.
    /// - Throws: `.wrongState` while recording, `.invalidArgument` for an empty task or fps
    ///   outside 1…loop rate, `.store` when the store cannot begin an episode.
    @discardableResult
    public func start(task: String, fps: Int, provenance: EpisodeProvenance, now: Double = MonotonicClock.seconds()) throws(Failure) -> Int64 {
        guard !task.isEmpty else { throw Failure(.invalidArgument, "task: must not be empty") }
        guard fps >= 1, fps <= loopRateHz else { throw Failure(.invalidArgument, "fps: \(fps) outside 1…\(loopRateHz) (the loop's rate)") }
        return try work.withLock { (session: inout Session?) throws(Failure) -> Int64 in
            if let session { throw Failure(.wrongState, "already recording episode \(session.id) (\"\(session.task)\"): send record.stop or record.discard first") }
            while ring.pop() != nil {}
            let id: Int64
            do throws(EpisodeStoreError) {
                id = try store.beginEpisode(task: task, fps: fps, jointNames: jointNames, commandMode: commandMode,
                                            startedAt: Date().timeIntervalSince1970, provenance: provenance)
            } catch {
                published.withLock { $0.lastError = error.description }
                throw Failure(.store, error.description)
            }
            session = Session(id: id, task: task, fps: fps, lastCommit: now, droppedAtStart: ring.droppedCount)
            published.withLock {
                $0 = Status(recording: true, episode: id, task: task, fps: fps, commitP50Milliseconds: $0.commitP50Milliseconds,
                            commitP99Milliseconds: $0.commitP99Milliseconds, lastError: nil)
            }
            logger.info("recording episode \(id) (\"\(task)\", \(fps) fps)")
            return id
        }
    }

    /// Ends the recording: every tick pushed before the call is decimated and stored, and the
    /// episode is `complete`.
    /// - Throws: `.wrongState` when not recording; `.store` when the last commit failed (the
    ///   episode is then `incomplete`, as after any failed commit).
    public func stop(now: Double = MonotonicClock.seconds()) throws(Failure) -> Stopped {
        try work.withLock { (session: inout Session?) throws(Failure) -> Stopped in
            guard var s = session else { throw Failure(.wrongState, "not recording") }
            session = nil
            drain(&s, now: now, forceCommit: true)
            guard fail(&s) == nil else {
                session = nil
                throw Failure(.store, published.withLock { $0.lastError ?? "the recording failed" })
            }
            do throws(EpisodeStoreError) {
                try store.finish(episode: s.id, status: .complete, endedAt: Date().timeIntervalSince1970)
            } catch {
                session = nil
                published.withLock {
                    $0.recording = false
                    $0.lastError = error.description
                }
                throw Failure(.store, error.description)
            }
            session = nil
            published.withLock { $0.recording = false }
            logger.info("recorded episode \(s.id): \(s.nextFrame) frames")
            return Stopped(episode: s.id, frames: s.nextFrame)
        }
    }

    /// Ends the recording and deletes its episode.
    /// - Throws: `.wrongState` when not recording, `.store` when the store refused.
    public func discard() throws(Failure) -> Int64 {
        try work.withLock { (session: inout Session?) throws(Failure) -> Int64 in
            guard let s = session else { throw Failure(.wrongState, "not recording") }
            session = nil
            published.withLock {
                $0.recording = false
                $0.frames = 0
            }
            do throws(EpisodeStoreError) {
                try store.finish(episode: s.id, status: .incomplete, error: "discarded", endedAt: Date().timeIntervalSince1970)
                try store.delete(episode: s.id)
            } catch {
                throw Failure(.store, error.description)
            }
            logger.info("discarded episode \(s.id)")
            return s.id
        }
    }

    /// One pass: drains the ring (into the recording, if one runs) and commits if one is due.
    /// The thread calls it in wall time; tests drive it in lock step with the loop.
    /// Returns the transitions drained.
    @discardableResult
    public func step(now: Double) -> Int {
        work.withLock { (session: inout Session?) -> Int in
            guard var s = session else {
                var n = 0
                while ring.pop() != nil { n += 1 }
                return n
            }
            // Taken out while it changes, so its frame buffer stays uniquely owned (no copy).
            session = nil
            let n = drain(&s, now: now, forceCommit: false)
            session = fail(&s) == nil ? s : nil
            return n
        }
    }

    /// Decimates what is in the ring into `s.pending`, and commits when `commitInterval` has
    /// passed (or `forceCommit`). A failed commit sets `published.lastError`.
    @discardableResult
    private func drain(_ s: inout Session, now: Double, forceCommit: Bool) -> Int {
        var n = 0
        while let t = ring.pop() {
            n += 1
            if s.t0 == nil { s.t0 = t.time }
            guard let t0 = s.t0 else { continue }
            // Every frame time this tick is the first to reach (several after a gap in the ticks).
            while t.time >= t0 + Double(s.nextFrame) / Double(s.fps) - Self.timeTolerance {
                s.pending.append(Self.frame(t, index: s.nextFrame, fps: s.fps, dof: jointNames.count))
                s.nextFrame += 1
            }
        }
        if forceCommit || now - s.lastCommit >= commitInterval {
            commit(&s, now: now)
        }
        let frames = s.nextFrame, dropped = ring.droppedCount &- s.droppedAtStart
        published.withLock {
            $0.frames = frames
            $0.droppedTicks = dropped
        }
        return n
    }

    private func commit(_ s: inout Session, now: Double) {
        s.lastCommit = now
        if s.pending.isEmpty { return }
        let began = MonotonicClock.seconds()
        do throws(EpisodeStoreError) {
            try store.append(episode: s.id, frames: s.pending)
        } catch {
            published.withLock { $0.lastError = error.description }
            return
        }
        s.pending.removeAll(keepingCapacity: true)
        let ms = (MonotonicClock.seconds() - began) * 1000
        if s.commitDurations.count < Self.commitWindow {
            s.commitDurations.append(ms)
        } else {
            s.commitDurations[s.commitCursor] = ms
            s.commitCursor = (s.commitCursor + 1) % Self.commitWindow
        }
        let sorted = s.commitDurations.sorted()
        let p50 = Self.quantile(sorted, 0.5), p99 = Self.quantile(sorted, 0.99)
        published.withLock {
            $0.commitP50Milliseconds = p50
            $0.commitP99Milliseconds = p99
        }
    }

    /// After a failed commit: the episode becomes `incomplete` with the error, the recording
    /// ends (`session` must be cleared by the caller). Returns the error, nil when none.
    private func fail(_ s: inout Session) -> String? {
        guard published.withLock({ $0.recording }), let error = published.withLock({ $0.lastError }) else { return nil }
        logger.error("recording of episode \(s.id) stopped: \(error)")
        do {
            try store.finish(episode: s.id, status: .incomplete, error: error, endedAt: Date().timeIntervalSince1970)
        } catch {
            // The next writer's open marks it incomplete anyway.
            logger.error("could not mark episode \(s.id) incomplete: \(error)")
        }
        s.pending.removeAll()
        published.withLock { $0.recording = false }
        return error
    }

    static func quantile(_ sorted: [Double], _ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        return sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded()))]
    }

    static func frame(_ t: Transition, index: Int, fps: Int, dof: Int) -> RecordedFrame {
        func values(_ a: InlineArray<8, Double>) -> [Double] { (0 ..< dof).map { a[$0] } }
        return RecordedFrame(frameIndex: index, timestamp: Double(index) / Double(fps), loopTime: t.time, position: values(t.position),
                             velocity: values(t.velocity), effort: values(t.effort), action: values(t.command),
                             requestedAction: values(t.requested), mode: "\(t.mode)",
                             intervention: t.flags & Transition.Flags.intervention != 0)
    }

    /// The store's name for a command mode: what `action` means.
    public static func storeName(_ mode: String) -> String { mode == "torque" ? "effort" : mode }
}
