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
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let trainNow = Atomic<Bool>(false)
    private let requests = Mutex<[Request]>([])
    private let state = Mutex<Status>(Status())
    private var thread: Thread?

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
    }

    public init(learner: ResidualLearner, ring: SPSCRing<Transition>, planner: MPCPlanner,
                configuration: DaemonConfiguration.Learning, logger: Logger) {
        self.learner = learner
        self.ring = ring
        self.planner = planner
        self.configuration = configuration
        self.logger = logger
    }

    public var status: Status { state.withLock { $0 } }

    public func start() {
        let t = Thread { [self] in run() }
        t.name = "robotd-learner"
        t.stackSize = 1 << 21
        thread = t
        t.start()
    }

    public func stop() {
        stopFlag.store(true, ordering: .releasing)
        while thread != nil, !finished.load(ordering: .acquiring) { usleep(2000) }
    }

    public func requestTraining() { trainNow.store(true, ordering: .releasing) }
    func enqueue(_ r: Request) { requests.withLock { $0.append(r) } }

    private func run() {
        defer { finished.store(true, ordering: .releasing) }
        // Background work: the lowest normal priority, so the scheduler prefers everyone else.
        RealtimeThread.setCurrentThreadNice(19)
        var lastRound = MonotonicClock.seconds()
        var seenAtLastRound = 0
        while !stopFlag.load(ordering: .acquiring) {
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
            let now = MonotonicClock.seconds()
            let fresh = learner.samplesSeen - seenAtLastRound
            let due = now - lastRound >= configuration.interval && fresh >= configuration.minNewSamples
            if due || trainNow.exchange(false, ordering: .acquiring) {
                lastRound = now
                seenAtLastRound = learner.samplesSeen
                round()
            }
            state.withLock {
                $0.samples = learner.sampleCount
                $0.samplesSeen = learner.samplesSeen
            }
            if drained == 0 { usleep(5000) }
        }
    }

    private func round() {
        let t0 = MonotonicClock.seconds()
        let nominal = learner.validationError(of: nil, current: false)
        guard let candidate = learner.trainCandidate(seed: UInt64(learner.samplesSeen)) else {
            state.withLock { $0.lastOutcome = "too few samples (\(learner.sampleCount))" }
            return
        }
        let published = learner.publishIfBetter(candidate)
        let seconds = MonotonicClock.seconds() - t0
        state.withLock {
            $0.rounds += 1
            $0.lastValidationError = candidate.validationError
            $0.lastNominalError = nominal
            $0.lastTrainingSeconds = seconds
            $0.lastTrainedAt = Date().timeIntervalSince1970
        }
        if published {
            publish(outcome: "published")
            logger.info("learned model published", metadata: ["version": "\(learner.version)", "validation_mse": "\(candidate.validationError)",
                                                               "nominal_mse": "\(nominal)", "seconds": "\(seconds)"])
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

    /// Writes the published model; throws a message when there is none or the write fails.
    public func save(path: String) throws -> JSONValue {
        guard let members = published.withLock({ $0 }) else { throw LearnerError("no learned model to save (version 0 is the rigid-body model)") }
        let n = learner.model.dof
        do {
            try SafeTensors.write(EnsembleFile.file(members: members, metadata: [
                "robot": learner.model.name, "kind": "residual_dynamics", "dt": "\(learner.options.dt)",
                "inputs": "q(\(n)),v(\(n)),u(\(n))", "outputs": "dq(\(n)),dv(\(n))", "version": "\(status.version)",
                "provenance": "robotd online learner",
            ]), to: path)
        } catch {
            throw LearnerError(error.description)
        }
        return ["saved": .string(path), "members": JSONValue(members.count), "version": JSONValue(status.version)]
    }

    /// Reads and checks a model file and queues it as the next version.
    public func load(path: String) throws -> JSONValue {
        let members: [MLP], meta: [String: String]
        do {
            (members, meta) = try EnsembleFile.load(path: path)
        } catch {
            throw LearnerError(error.description)
        }
        let n = learner.model.dof
        guard members[0].inputSize == 3 * n, members[0].outputSize == 2 * n else {
            throw LearnerError("\(path): the model maps \(members[0].inputSize) → \(members[0].outputSize); a residual model for \(n) joints maps \(3 * n) → \(2 * n)")
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
            "last_outcome": .string(s.lastOutcome),
        ]
    }
}

public struct LearnerError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
