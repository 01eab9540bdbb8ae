import ControlRuntime
import ControlServer
import Foundation
import Learning
import Logging
import ModelFiles
import Platform
import RobotdConfig
import Synchronization

/// The learner thread (DESIGN.md §2): drains the loop's transition ring into a `ResidualLearner`,
/// retrains in the background (low priority), and hands a better model to the planner. Socket
/// requests (`model.*`) are queued to it and answered from its state.
public final class LearnerService: @unchecked Sendable {
    public let learner: ResidualLearner
    private let ring: SPSCRing<Transition>
    private let planner: MPCPlanner
    private let configuration: DaemonConfiguration.Learning
    private let logger: Logger
    private let worker = WorkerThread()
    private let trainNow = Atomic<Bool>(false)
    private let requests = Mutex<[Request]>([])
    private let state = Mutex<Status>(Status())
    /// The control thread's CPU (`loop.cpu_affinity`), which the learner keeps off.
    private let loopCPU: Int?
    // Owned by whoever drives `step` (the learner thread, or a benchmark in simulated time).
    private var lastRound: Double?
    private var seenAtLastRound = 0

    enum Request {
        case rollback, reset
        case adopt([MLP], String)
    }
    /// The published members (immutable values), for saving without touching the learner.
    private let published = Mutex<[MLP]?>(nil)

    public struct Status: Sendable {
        public var version = 0
        public var samples = 0
        public var samplesSeen = 0
        public var rounds = 0
        public var lastValidationError: Double?
        public var lastNominalError: Double?
        public var lastTrainingSeconds: Double?
        public var lastTrainedAt: Double?
        public var lastOutcome = "none"
        public var lastWarmStarted = false
        /// CPUs the learner thread may run on, read back from the kernel when it starts (the
        /// whole process mask when it is not pinned; empty before it starts).
        public var cpus: [Int] = []
        public var cpuWarning: String?
    }

    public init(learner: ResidualLearner, ring: SPSCRing<Transition>, planner: MPCPlanner,
                configuration: DaemonConfiguration.Learning, loopCPU: Int? = nil, logger: Logger) {
        self.learner = learner
        self.loopCPU = loopCPU
        self.ring = ring
        self.planner = planner
        self.configuration = configuration
        self.logger = logger
    }

    public var status: Status { state.withLock { $0 } }

    public func start() { worker.start(name: "robotd-learner", stackSize: 1 << 21) { [self] in run() } }

    public func stop() { worker.stop() }

    public func requestTraining() { trainNow.store(true, ordering: .releasing) }
    func enqueue(_ r: Request) { requests.withLock { $0.append(r) } }

    /// The CPUs the learner runs on: `learning.cpu_affinity`, else every CPU the process may
    /// use except the control thread's (nil = leave the mask alone: the loop is not pinned, or
    /// no other CPU is left). Never the control thread's CPU, whichever way the two settings
    /// were reached (the config file refuses equal ones; `bench loop --cpu` sets the loop's
    /// after it is read).
    public static func learnerCPUs(configured: Int?, loopCPU: Int?, allowed: [Int]) -> [Int]? {
        if let configured, configured != loopCPU { return [configured] }
        guard let loopCPU else { return nil }
        let others = allowed.filter { $0 != loopCPU }
        return others.isEmpty ? nil : others
    }

    private func run() {
        // Background work: the lowest normal priority, and off the control thread's CPU, so
        // training never competes with the tick (threads it starts inherit both).
        RealtimeThread.setCurrentThreadNice(19)
        var warning: String?
        if let cpus = Self.learnerCPUs(configured: configuration.cpuAffinity, loopCPU: loopCPU, allowed: RealtimeThread.currentThreadCPUs()) {
            if let refused = RealtimeThread.setCurrentThreadCPUs(cpus) {
                warning = "learner CPU affinity \(cpus) refused: \(refused)"
                logger.warning("\(warning!)")
            }
        } else if loopCPU != nil {
            warning = "no CPU other than the control thread's: the learner shares it (at nice 19)"
            logger.warning("\(warning!)")
        }
        let cpus = RealtimeThread.currentThreadCPUs()
        state.withLock {
            $0.cpus = cpus
            $0.cpuWarning = warning
        }
        while !worker.isStopping {
            let (drained, _) = step(now: MonotonicClock.seconds())
            if drained == 0 { usleep(5000) }
        }
    }

    /// One pass of the learner's work at time `now` (s, any monotonic clock): drain the loop's
    /// transitions, apply queued requests, and train a round if one is due (every
    /// `learning.interval` once `min_new_samples` arrived, or on request). The learner thread
    /// calls it in wall time; a benchmark may drive it in simulated time instead of `start()`.
    /// Returns the transitions drained and whether a round ran.
    @discardableResult
    public func step(now: Double) -> (drained: Int, trained: Bool) {
        if lastRound == nil { lastRound = now }
        var drained = 0
        while let t = ring.pop() {
            learner.ingest(t)
            drained += 1
        }
        for r in requests.withLock({ q -> [Request] in defer { q.removeAll() }; return q }) {
            switch r {
            case .rollback: if learner.rollback() { publish(outcome: "rolled back") }
            case .reset:
                learner.reset()
                publish(outcome: "reset to the rigid-body model")
            case let .adopt(members, path):
                learner.adopt(members)
                publish(outcome: "loaded \(path)")
            }
        }
        let fresh = learner.samplesSeen - seenAtLastRound
        let due = now - lastRound! >= configuration.interval && fresh >= configuration.minNewSamples
        var trained = false
        if due || trainNow.exchange(false, ordering: .acquiring) {
            lastRound = now
            seenAtLastRound = learner.samplesSeen
            round()
            trained = true
        }
        state.withLock {
            $0.samples = learner.sampleCount
            $0.samplesSeen = learner.samplesSeen
        }
        return (drained, trained)
    }

    private func round() {
        let t0 = MonotonicClock.seconds()
        guard let candidate = learner.trainCandidate(seed: UInt64(learner.samplesSeen), warmStart: configuration.warmStart) else {
            state.withLock { $0.lastOutcome = "too few samples (\(learner.sampleCount))" }
            return
        }
        let comparison = learner.publishIfBetter(candidate)
        let seconds = MonotonicClock.seconds() - t0
        state.withLock {
            $0.rounds += 1
            $0.lastValidationError = comparison.candidate
            $0.lastNominalError = comparison.nominal
            $0.lastTrainingSeconds = seconds
            $0.lastTrainedAt = Date().timeIntervalSince1970
            $0.lastWarmStarted = candidate.warmStarted
        }
        if comparison.published {
            publish(outcome: "published")
            logger.info("learned model published", metadata: ["version": "\(learner.version)", "validation_mse": "\(comparison.candidate)",
                                                               "nominal_mse": "\(comparison.nominal)", "seconds": "\(seconds)"])
        } else {
            state.withLock { $0.lastOutcome = "kept version \(learner.version): the candidate was not better" }
        }
    }

    private func publish(outcome: String) {
        planner.setLearnedModel(learner.current, version: learner.version)
        published.withLock { $0 = learner.current }
        state.withLock {
            $0.version = learner.version
            $0.lastOutcome = outcome
        }
    }
}

extension LearnerService: ModelControl {
    public func train() { requestTraining() }
    public func rollback() { enqueue(.rollback) }
    public func resetModel() { enqueue(.reset) }

    /// The published model as a safetensors file; throws a message when there is none. The
    /// socket's file access writes it (to the caller's descriptor or inside data_directory).
    public func encodedModel() throws -> (bytes: [UInt8], members: Int, version: Int) {
        guard let members = published.withLock({ $0 }) else { throw LearnerError("no learned model to save (version 0 is the rigid-body model)") }
        let n = learner.model.dof
        let version = status.version
        let bytes = SafeTensors.encode(EnsembleFile.file(members: members, metadata: [
            "robot": learner.model.name, "kind": "residual_dynamics", "dt": "\(learner.options.dt)",
            "inputs": members[0].inputSize == 3 * n ? "q(\(n)),v(\(n)),u(\(n))" : "q(\(n)),v(\(n))", "outputs": "dq(\(n)),dv(\(n))", "version": "\(version)",
            "provenance": "robotd online learner",
        ]))
        return (bytes, members.count, version)
    }

    /// Checks a decoded model file (`path` names it in errors) and queues it as the next version.
    public func load(file: SafeTensors.File, name path: String) throws -> JSONValue {
        let members: [MLP], meta: [String: String]
        do {
            (members, meta) = try EnsembleFile.members(from: file, name: path)
        } catch {
            throw LearnerError(error.description)
        }
        let n = learner.model.dof
        let width = learner.inputWidth
        guard members[0].inputSize == width, members[0].outputSize == 2 * n else {
            let inputs = learner.options.controlInput ? "(q, v, u)" : "(q, v)"
            throw LearnerError("\(path): the model maps \(members[0].inputSize) → \(members[0].outputSize); this daemon's residual model for \(n) joints maps \(inputs) = \(width) → \(2 * n) (learning.control_input: \(learner.options.controlInput))")
        }
        if let robot = meta["robot"], robot != learner.model.name {
            throw LearnerError("\(path): the model is for robot \"\(robot)\", this daemon runs \"\(learner.model.name)\"")
        }
        if let dt = meta["dt"].flatMap(Double.init), abs(dt - learner.options.dt) > 1e-12 {
            throw LearnerError("\(path): the model predicts steps of \(dt) s; the planner steps \(learner.options.dt) s")
        }
        enqueue(.adopt(members, path))
        return ["loaded": .string(path), "members": JSONValue(members.count)]
    }

    public func statusJSON() -> JSONValue {
        let s = status
        func number(_ x: Double?) -> JSONValue { x.map { .number($0) } ?? .null }
        return [
            "version": JSONValue(s.version), "planner_version": JSONValue(planner.modelVersion), "samples": JSONValue(s.samples),
            "samples_seen": JSONValue(s.samplesSeen), "rounds": JSONValue(s.rounds),
            "validation_mse": number(s.lastValidationError), "nominal_mse": number(s.lastNominalError),
            "last_training_s": number(s.lastTrainingSeconds), "last_trained_at": number(s.lastTrainedAt),
            "last_outcome": .string(s.lastOutcome), "warm_started": .bool(s.lastWarmStarted),
            "disagreement": .number(planner.planDisagreement),
            "cpus": .array(s.cpus.map { JSONValue($0) }), "cpu_warning": s.cpuWarning.map { .string($0) } ?? .null,
        ]
    }
}

public struct LearnerError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
