import ControlPorts
import ControlProtocol
import ControlRuntime
import Foundation
import Learning
import Logging
import ModelFiles
import Planning
import Platform
import RobotdConfig
import Synchronization

/// The learner thread (docs/architecture.md §2): drains the loop's transition ring into a `ResidualLearner`,
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
    /// Set by `model.reset`, `model.rollback` and `model.load`: a training round in progress
    /// stops at its next mini-batch and its result is discarded (it was trained to replace a
    /// model the operator has just replaced).
    private let cancelRound = Atomic<Bool>(false)
    /// The configuration file, for the provenance of saved models (`Daemon` sets it).
    public var configPath: String?
    /// The daemon's whole configuration, whose `learning` section goes into the provenance.
    public var daemonConfiguration: DaemonConfiguration?
    private let requests = Mutex<[Request]>([])
    private let state = Mutex<Status>(Status())
    /// The control thread's CPU (`loop.cpu_affinity`), which the learner keeps off.
    private let loopCPU: Int?
    // Owned by whoever drives `step` (the learner thread, or a benchmark in simulated time).
    private var lastRound: Double?
    private var seenAtLastRound = 0

    enum Request {
        case rollback, reset
        case adopt([MLP], String, ResidualLearner.Calibration?, Int?)
    }
    /// The published versions (immutable values), oldest first, mirrored from the learner so
    /// that saving and rollback need not wait for the learner thread.
    private let published = Mutex<[ResidualLearner.Version]>([])

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
        /// A training round is running now.
        public var training = false
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

    /// Stops the learner thread; a training round in progress ends at its next mini-batch and
    /// its result is discarded.
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
            let from = learner.version
            switch r {
            case .rollback:
                if learner.rollback() { publish(outcome: "rolled back from version \(from) to \(learner.version)") }
            case .reset:
                learner.reset()
                publish(outcome: "reset from version \(from) to the rigid-body model")
            case let .adopt(members, path, calibration, fileVersion):
                learner.adopt(members, calibration: calibration, fileVersion: fileVersion)
                publish(outcome: "loaded \(path) as version \(learner.version)")
                if learner.currentCalibration == nil {
                    logger.warning("loaded model has no calibration and the buffer too few samples to calibrate it: no disagreement limit unless learning.max_disagreement is set",
                                   metadata: ["version": "\(learner.version)", "path": "\(path)"])
                }
            }
            cancelRound.store(false, ordering: .releasing)
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
        state.withLock { $0.training = true }
        defer { state.withLock { $0.training = false } }
        guard let candidate = learner.trainCandidate(seed: UInt64(learner.samplesSeen), warmStart: configuration.warmStart,
                                                     shouldStop: { cancelRound.load(ordering: .acquiring) || worker.isStopping }) else {
            state.withLock { $0.lastOutcome = "too few samples (\(learner.sampleCount))" }
            return
        }
        // Shutdown: stop() waits for this thread, and the service manager's stop timeout runs.
        if worker.isStopping {
            state.withLock { $0.lastOutcome = "round cancelled: the daemon is stopping" }
            logger.notice("training round cancelled: the daemon is stopping", metadata: ["version": "\(learner.version)"])
            return
        }
        // A reset, rollback or load arrived while training: the operator's choice stands.
        guard !cancelRound.load(ordering: .acquiring), !candidate.cancelled else {
            state.withLock { $0.lastOutcome = "round cancelled by a model request; its result was discarded" }
            logger.notice("training round cancelled by a model request", metadata: ["version": "\(learner.version)"])
            return
        }
        let comparison = learner.publishIfBetter(candidate, plan: planner.planProbe().map { ResidualLearner.Plan(states: $0.states, controls: $0.controls) })
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
            state.withLock { $0.lastOutcome = "kept version \(learner.version): \(comparison.refusal ?? "the candidate was not better")" }
        }
    }

    private func publish(outcome: String) {
        planner.setLearnedModel(learner.current, version: learner.version, calibration: learner.currentCalibration)
        published.withLock { $0 = learner.versions }
        state.withLock {
            $0.version = learner.version
            $0.lastOutcome = outcome
        }
    }
}

extension LearnerService: ModelControl {
    public func train() { requestTraining() }

    /// Back to the previous version: the planner switches at its next re-plan (a round in
    /// progress is cancelled), the learner's state follows on its thread.
    /// - Returns: nil when there is nothing to roll back (version 0, the rigid-body model).
    public func rollback() -> ModelRollbackResult? {
        let versions = published.withLock { $0 }
        guard let last = versions.last else { return nil }
        let previous = versions.dropLast().last
        cancelRound.store(true, ordering: .releasing)
        planner.setLearnedModel(previous?.members, version: previous?.number ?? 0, calibration: previous?.calibration)
        enqueue(.rollback)
        logger.notice("model rollback", metadata: ["from_version": "\(last.number)", "to_version": "\(previous?.number ?? 0)"])
        return ModelRollbackResult(fromVersion: last.number, version: previous?.number ?? 0)
    }

    /// Back to the rigid-body model: the planner switches at its next re-plan, a round in
    /// progress is cancelled at its next mini-batch and its result discarded.
    public func resetModel() {
        cancelRound.store(true, ordering: .releasing)
        planner.setLearnedModel(nil, version: 0)
        enqueue(.reset)
        logger.notice("model reset to the rigid-body model", metadata: ["from_version": "\(status.version)"])
    }

    /// The published model as a safetensors file, with its provenance and calibration; throws a
    /// message when there is none. The socket's file access writes it (to the caller's
    /// descriptor or inside data_directory).
    public func encodedModel() throws -> EncodedModel {
        guard let current = published.withLock({ $0.last }) else { throw LearnerError("no learned model to save (version 0 is the rigid-body model)") }
        let members = current.members
        let n = learner.model.dof
        let s = status
        var metadata: [String: String] = [
            "robot": learner.model.name, "kind": "residual_dynamics", "dt": "\(learner.options.dt)",
            "inputs": members[0].inputSize == 3 * n ? "q(\(n)),v(\(n)),u(\(n))" : "q(\(n)),v(\(n))", "outputs": "dq(\(n)),dv(\(n))",
            "version": "\(current.number)",
            "provenance": Self.provenance(savedAt: Date(), samples: s.samples, samplesSeen: s.samplesSeen, rounds: s.rounds,
                                          configPath: configPath, configuration: daemonConfiguration).serialized,
        ]
        if let c = current.calibration {
            metadata["disagreement_limit"] = "\(c.disagreementLimit)"
            metadata["residual_bound"] = JSONValue(c.residualBound).serialized
        }
        return EncodedModel(bytes: SafeTensors.encode(EnsembleFile.file(members: members, metadata: metadata)), members: members.count,
                            version: current.number)
    }

    /// Checks a decoded model file (`path` names it in errors) and queues it as the next version.
    public func load(file: SafeTensors.File, name path: String) throws -> ModelLoadResult {
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
        if let text = meta["dt"] {
            guard let dt = Double(text), dt.isFinite, dt > 0 else {
                throw LearnerError("\(path): __metadata__.dt \"\(text)\" is not a positive finite number of seconds")
            }
            guard abs(dt - learner.options.dt) <= 1e-12 else {
                throw LearnerError("\(path): the model predicts steps of \(dt) s; the planner steps \(learner.options.dt) s")
            }
        }
        let calibration = try Self.calibration(meta, outputs: 2 * n, path: path)
        var fileVersion: Int?
        if let text = meta["version"] {
            guard let v = Int(text), v >= 0 else { throw LearnerError("\(path): __metadata__.version \"\(text)\" is not a non-negative integer") }
            fileVersion = v
        }
        cancelRound.store(true, ordering: .releasing)
        enqueue(.adopt(members, path, calibration, fileVersion))
        logger.notice("model load requested", metadata: ["path": "\(path)", "file_version": "\(fileVersion.map(String.init) ?? "none")",
                                                         "from_version": "\(status.version)"])
        return ModelLoadResult(loaded: path, members: members.count)
    }

    /// A saved model's calibration (`disagreement_limit`, `residual_bound` in `__metadata__`);
    /// nil when the file has none. - Throws: when present but malformed, naming the field.
    static func calibration(_ meta: [String: String], outputs: Int, path: String) throws -> ResidualLearner.Calibration? {
        guard let limitText = meta["disagreement_limit"] else { return nil }
        guard let limit = Double(limitText), limit.isFinite, limit > 0 else {
            throw LearnerError("\(path): __metadata__.disagreement_limit \"\(limitText)\" is not a positive finite number")
        }
        guard let boundText = meta["residual_bound"],
              let list = try? JSONSerialization.jsonObject(with: Data(boundText.utf8)) as? [NSNumber], list.count == outputs,
              list.allSatisfy({ $0.doubleValue.isFinite && $0.doubleValue >= 0 })
        else {
            throw LearnerError("\(path): __metadata__.residual_bound must be a JSON list of \(outputs) finite non-negative numbers")
        }
        return ResidualLearner.Calibration(disagreementLimit: limit, residualBound: list.map(\.doubleValue))
    }

    /// The provenance a saved model carries: when (ISO 8601, UTC), from how much data and how
    /// many rounds, under which configuration (file path and its `learning` section).
    static func provenance(savedAt: Date, samples: Int, samplesSeen: Int, rounds: Int, configPath: String?,
                           configuration: DaemonConfiguration?) -> JSONValue {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        return [
            "source": "robotd online learner", "saved_at": .string(formatter.string(from: savedAt)),
            "samples": JSONValue(samples), "samples_seen": JSONValue(samplesSeen), "training_rounds": JSONValue(rounds),
            "config_path": configPath.map { .string($0) } ?? .null,
            "learning": configuration.map { ConfigJSON.encode($0)["learning"] ?? .null } ?? .null,
        ]
    }

    public func modelStatus() -> ModelStatus {
        let s = status
        return ModelStatus(version: s.version, plannerVersion: planner.modelVersion, samples: s.samples, samplesSeen: s.samplesSeen,
                           rounds: s.rounds, validationMSE: s.lastValidationError, nominalMSE: s.lastNominalError,
                           lastTrainingSeconds: s.lastTrainingSeconds, lastTrainedAt: s.lastTrainedAt, lastOutcome: s.lastOutcome,
                           training: s.training, warmStarted: s.lastWarmStarted, disagreement: planner.planDisagreement,
                           cpus: s.cpus, cpuWarning: s.cpuWarning)
    }
}

public struct LearnerError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
