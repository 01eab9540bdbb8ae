import ControlPorts
import ControlProtocol
import ControlRuntime
import Digest
import EpisodeStore
import Foundation
import Logging
import RobotdConfig

/// `record.*` and `dataset.*` over the episode recorder (the `RecordingControl` port). When the
/// store could not be opened at start-up (an unwritable `data_directory`, a corrupt file) the
/// daemon runs on and every call answers with that error.
public final class RecordingService: RecordingControl, @unchecked Sendable {
    public let recorder: EpisodeRecorder?
    /// Why there is no recorder.
    public let unavailable: String?
    /// The store's file (for `dataset.list`).
    public let storePath: String
    /// Everything of an episode's provenance but the task and the operator, at start.
    private let provenance: @Sendable (_ task: String, _ operatorUID: UInt32) -> EpisodeProvenance

    public init(recorder: EpisodeRecorder?, unavailable: String?, storePath: String,
                provenance: @escaping @Sendable (_ task: String, _ operatorUID: UInt32) -> EpisodeProvenance) {
        self.recorder = recorder
        self.unavailable = unavailable
        self.storePath = storePath
        self.provenance = provenance
    }

    private func available() throws(RPCError) -> EpisodeRecorder {
        guard let recorder else { throw .internalError("recording is unavailable: \(unavailable ?? "no episode store")") }
        return recorder
    }

    public func start(_ params: RecordStartParams, operatorUID: UInt32) throws(RPCError) -> RecordingStatusResult {
        let recorder = try available()
        do {
            try recorder.start(task: params.task, fps: params.fps, provenance: provenance(params.task, operatorUID))
        } catch {
            throw Self.rpc(error)
        }
        return status()
    }

    public func stop() throws(RPCError) -> RecordingStatusResult {
        let recorder = try available()
        do {
            _ = try recorder.stop()
        } catch {
            throw Self.rpc(error)
        }
        return status()
    }

    public func discard() throws(RPCError) -> RecordingStatusResult {
        let recorder = try available()
        do {
            _ = try recorder.discard()
        } catch {
            throw Self.rpc(error)
        }
        return status()
    }

    public func status() -> RecordingStatusResult {
        guard let recorder else { return RecordingStatusResult(recording: false, lastError: unavailable) }
        let s = recorder.status
        return RecordingStatusResult(recording: s.recording, episode: s.episode.map { Int($0) }, task: s.task, fps: s.fps, frames: s.frames,
                                     droppedTicks: Int(clamping: s.droppedTicks), commitP50Milliseconds: s.commitP50Milliseconds,
                                     commitP99Milliseconds: s.commitP99Milliseconds, lastError: s.lastError)
    }

    public func list() throws(RPCError) -> DatasetListResult {
        let store = try available().store
        do {
            let episodes = try store.list().map {
                DatasetEpisode(id: Int($0.id), task: $0.task, fps: $0.fps, frames: $0.frameCount, status: $0.status.rawValue,
                               startedAt: $0.startedAt, endedAt: $0.endedAt, commandMode: $0.commandMode, error: $0.error)
            }
            return DatasetListResult(store: storePath, episodes: episodes)
        } catch {
            throw Self.rpc(error)
        }
    }

    public func delete(_ params: DatasetDeleteParams) throws(RPCError) -> DatasetDeleteResult {
        let store = try available().store
        do {
            try store.delete(episode: Int64(params.id))
        } catch {
            throw Self.rpc(error)
        }
        return DatasetDeleteResult(deleted: params.id)
    }

    static func rpc(_ e: EpisodeRecorder.Failure) -> RPCError {
        switch e.kind {
        case .wrongState: RPCError(code: .wrongMode, message: e.description)
        case .invalidArgument: .invalidParams(e.description)
        case .store: .internalError(e.description)
        }
    }

    static func rpc(_ e: EpisodeStoreError) -> RPCError {
        switch e.code {
        case .unknownEpisode: .invalidParams(e.message)
        case .episodeRecording: RPCError(code: .wrongMode, message: e.message)
        default: .internalError(e.description)
        }
    }
}

extension DaemonAssembly {
    /// The recorder ring's capacity: 16 s of ticks at 1 kHz, far more than the recorder thread
    /// ever lags (it drains every few ms).
    public static let recordingRingCapacity = 16_384

    /// The episode recorder of `robotd run`: the writer store at `<data_directory>/episodes.sqlite`
    /// (the directory is created), the loop's `recordings` ring, provenance from the files as
    /// read now and the policy/model versions at each start. Not started.
    /// - Parameter calibrationHash: the servo arm's calibration file hash now (nil: simulated).
    public static func recording<Driver>(_ config: DaemonConfiguration, configPath: String, loop: ControlLoop<Driver>,
                                         planner: MPCPlanner?, calibrationHash: (@Sendable () -> String?)?,
                                         logger: Logger) -> RecordingService {
        let storePath = EpisodeStore.path(dataDirectory: config.dataDirectory)
        let urdf = fileHash(config.robot.urdf), configuration = fileHash(configPath)
        let robot = config.robot.name ?? loop.model.name
        let policies = loop.policies
        let provenance: @Sendable (String, UInt32) -> EpisodeProvenance = { task, uid in
            let installed = policies?.installed
            return EpisodeProvenance(robot: robot, urdfSHA256: urdf, calibrationSHA256: calibrationHash?(), configurationSHA256: configuration,
                                     robotdVersion: ReleaseVersion.string, policy: installed?.name,
                                     policyVersion: installed.map { Int($0.version) }, modelVersion: planner?.modelVersion,
                                     operatorUID: uid, task: task)
        }
        guard let ring = loop.recordings else {
            return RecordingService(recorder: nil, unavailable: "this loop has no recorder ring", storePath: storePath, provenance: provenance)
        }
        let store: EpisodeStore
        do {
            try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        } catch {
            let why = "data_directory \(config.dataDirectory): \(error.localizedDescription)"
            logger.error("recording unavailable: \(why)")
            return RecordingService(recorder: nil, unavailable: why, storePath: storePath, provenance: provenance)
        }
        do {
            store = try EpisodeStore(path: storePath, access: .writer)
        } catch {
            logger.error("recording unavailable: \(error)")
            return RecordingService(recorder: nil, unavailable: error.description, storePath: storePath, provenance: provenance)
        }
        let recorder = EpisodeRecorder(store: store, ring: ring, jointNames: loop.model.joints.map(\.name),
                                       commandMode: EpisodeRecorder.storeName(loop.configuration.commandMode.rawValue),
                                       loopRateHz: config.loop.rateHz, logger: logger)
        return RecordingService(recorder: recorder, unavailable: nil, storePath: storePath, provenance: provenance)
    }

    /// SHA-256 (hex) of a file's bytes, or a note why it could not be read.
    static func fileHash(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "unreadable: \(path)" }
        return SHA256.hexHash([UInt8](data))
    }
}
