import ControlProtocol
import EpisodeStore
import LeRobotExport

/// Recorded episodes as one LeRobot dataset: the features, their names and the checks that make
/// a bad episode a named error instead of a file LeRobot misreads (docs/datasets.md has the table).
///
/// | feature | width | element names | what |
/// |---|---|---|---|
/// | `observation.state` | n | `<joint>.pos` | measured q (rad) |
/// | `observation.velocity` | n | `<joint>.vel` | measured v (rad/s) |
/// | `observation.effort` | n | `<joint>.effort` | measured effort (N·m) |
/// | `action` | n | `<joint>.<pos\|vel\|effort>` | the command sent (after the limiter), in the episode's command mode |
/// | `requested_action` | n | as `action` | the command asked for before the limiter |
/// | `intervention` | 1 (bool) | — | a person produced the command (teleop or takeover) |
///
/// `requested_action` deliberately does not start with `action`: LeRobot makes every feature whose
/// key starts with `action` a policy output (`dataset_to_policy_features`), and a second output
/// would change what a policy trained on the export predicts. The `observation.*` vectors become
/// state inputs only for policies that ask for them (most read `observation.state` alone).
///
/// Values are stored as float32, `Float(x)` (round to nearest); a value beyond float32's range is
/// refused like NaN. Episodes become 0..N−1 in the order given, whatever their store ids.
public struct RecordedDataset: Sendable {
    public static let stateFeature = "observation.state"
    public static let velocityFeature = "observation.velocity"
    public static let effortFeature = "observation.effort"
    public static let actionFeature = "action"
    public static let requestedActionFeature = "requested_action"
    public static let interventionFeature = "intervention"
    /// robotd's per-episode record (store id, provenance, status, modes) beside LeRobot's metadata.
    public static let provenancePath = "meta/robotd_episodes.json"

    public let episodes: [RecordedEpisode]
    /// The LeRobot dataset, validated.
    public let dataset: LeRobotDataset

    /// - Throws: `DatasetExportError` naming the episode by its store id: `.noEpisodes`,
    ///   `.noFrames`, `.emptyTask`, `.dofMismatch`, `.frameOrder`, `.nonFiniteValue`,
    ///   `.fpsMismatch`, `.datasetMismatch` (robot, joint names or command mode differ).
    public init(_ episodes: [RecordedEpisode]) throws(DatasetExportError) {
        guard let first = episodes.first else { throw DatasetExportError(.noEpisodes, "no episodes to export") }
        let schema = first.summary
        let joints = schema.jointNames
        for episode in episodes {
            try Self.check(episode, against: schema)
        }
        let actionSuffix = Self.actionSuffix(commandMode: schema.commandMode)
        func names(_ suffix: String) -> [String] { joints.map { "\($0).\(suffix)" } }
        self.episodes = episodes
        self.dataset = LeRobotDataset(
            fps: schema.fps, robotType: schema.provenance.robot,
            vectorFeatures: [
                LeRobotVectorFeature(Self.stateFeature, elementNames: names("pos")),
                LeRobotVectorFeature(Self.velocityFeature, elementNames: names("vel")),
                LeRobotVectorFeature(Self.effortFeature, elementNames: names("effort")),
                LeRobotVectorFeature(Self.actionFeature, elementNames: names(actionSuffix)),
                LeRobotVectorFeature(Self.requestedActionFeature, elementNames: names(actionSuffix)),
            ],
            flagFeatures: [Self.interventionFeature],
            episodes: episodes.map(Self.lerobotEpisode))
        do throws(LeRobotExportError) {
            try dataset.validate()
        } catch {
            throw DatasetExportError(.lerobot, error.message)
        }
    }

    /// The element-name suffix of `action`: LeRobot's `.pos` for position commands.
    static func actionSuffix(commandMode: String) -> String {
        switch commandMode {
        case "position": "pos"
        case "velocity": "vel"
        default: commandMode
        }
    }

    static func lerobotEpisode(_ episode: RecordedEpisode) -> LeRobotEpisode {
        let frames = episode.frames
        func flat(_ pick: (RecordedFrame) -> [Double]) -> [Float] { frames.flatMap { pick($0).map(Float.init) } }
        return LeRobotEpisode(
            task: episode.summary.task, frameCount: frames.count,
            vectors: [flat(\.position), flat(\.velocity), flat(\.effort), flat(\.action), flat(\.requestedAction)],
            flags: [frames.map(\.intervention)])
    }

    /// One episode against the first one's schema, so a mixed selection fails before any file is built.
    static func check(_ episode: RecordedEpisode, against schema: EpisodeSummary) throws(DatasetExportError) {
        let s = episode.summary
        let name = "episode \(s.id)"
        guard !s.task.isEmpty else { throw DatasetExportError(.emptyTask, "\(name) has an empty task") }
        guard !s.jointNames.isEmpty else { throw DatasetExportError(.dofMismatch, "\(name) has no joint names") }
        guard s.fps == schema.fps else {
            throw DatasetExportError(.fpsMismatch, "\(name) is recorded at \(s.fps) fps, episode \(schema.id) at \(schema.fps) fps: a LeRobot dataset has one fps, export them separately (--episodes)")
        }
        guard s.jointNames == schema.jointNames else {
            throw DatasetExportError(.datasetMismatch, "\(name) has joints [\(s.jointNames.joined(separator: ", "))], episode \(schema.id) [\(schema.jointNames.joined(separator: ", "))]")
        }
        guard s.commandMode == schema.commandMode else {
            throw DatasetExportError(.datasetMismatch, "\(name) commands \(s.commandMode), episode \(schema.id) \(schema.commandMode): `action` would mean two things")
        }
        guard s.provenance.robot == schema.provenance.robot else {
            throw DatasetExportError(.datasetMismatch, "\(name) was recorded on robot '\(s.provenance.robot)', episode \(schema.id) on '\(schema.provenance.robot)'")
        }
        guard !episode.frames.isEmpty else { throw DatasetExportError(.noFrames, "\(name) has no frames") }
        let n = s.jointNames.count
        for (k, frame) in episode.frames.enumerated() {
            guard frame.frameIndex == k else {
                throw DatasetExportError(.frameOrder, "\(name) frame \(k) has frame_index \(frame.frameIndex): frames must be 0, 1, 2, … in order")
            }
            let vectors: [(String, [Double])] = [
                ("position", frame.position), ("velocity", frame.velocity), ("effort", frame.effort),
                ("action", frame.action), ("requested action", frame.requestedAction),
            ]
            for (field, values) in vectors {
                guard values.count == n else {
                    throw DatasetExportError(.dofMismatch, "\(name) frame \(k): \(field) has \(values.count) values, the episode has \(n) joints")
                }
                if let j = values.firstIndex(where: { !Float($0).isFinite }) {
                    throw DatasetExportError(.nonFiniteValue, "\(name) frame \(k): \(field) of joint \(s.jointNames[j]) is \(values[j]), not a finite float32")
                }
            }
        }
    }

    // MARK: provenance

    /// `meta/robotd_episodes.json`: per exported episode, its store id, status, times, command
    /// mode, the loop modes as runs of frames, and the recording's provenance.
    public var provenanceJSON: JSONValue {
        func optional<T>(_ x: T?, _ f: (T) -> JSONValue) -> JSONValue { x.map(f) ?? .null }
        let rows: [JSONValue] = episodes.enumerated().map { index, episode in
            let s = episode.summary, p = s.provenance
            return [
                "episode_index": JSONValue(index),
                "store_id": JSONValue(s.id),
                "task": .string(s.task),
                "fps": JSONValue(s.fps),
                "joint_names": JSONValue(s.jointNames),
                "command_mode": .string(s.commandMode),
                "started_at": JSONValue(s.startedAt),
                "ended_at": optional(s.endedAt) { .number($0) },
                "status": .string(s.status.rawValue),
                "error": optional(s.error, JSONValue.string),
                "length": JSONValue(episode.frames.count),
                "mode_runs": .array(Self.modeRuns(episode.frames)),
                "provenance": [
                    "robot": .string(p.robot),
                    "urdf_sha256": .string(p.urdfSHA256),
                    "calibration_sha256": optional(p.calibrationSHA256, JSONValue.string),
                    "configuration_sha256": .string(p.configurationSHA256),
                    "robotd_version": .string(p.robotdVersion),
                    "policy": optional(p.policy, JSONValue.string),
                    "policy_version": optional(p.policyVersion) { JSONValue($0) },
                    "model_version": optional(p.modelVersion) { JSONValue($0) },
                    "operator_uid": optional(p.operatorUID) { JSONValue($0) },
                    "task": .string(p.task),
                ],
            ]
        }
        return ["format": "robotd-episodes", "version": 1, "episodes": .array(rows)]
    }

    /// `[{"from": first frame, "mode": m}, …]`: a run per change of the loop's mode.
    static func modeRuns(_ frames: [RecordedFrame]) -> [JSONValue] {
        var runs: [JSONValue] = [], last: String?
        for (k, frame) in frames.enumerated() where frame.mode != last {
            runs.append(["from": JSONValue(k), "mode": .string(frame.mode)])
            last = frame.mode
        }
        return runs
    }

    /// Every file of the export in write order: LeRobot's, robotd's provenance, `meta/info.json` last.
    public func files(exporter: LeRobotExporter = LeRobotExporter()) throws(DatasetExportError) -> [LeRobotExportFile] {
        var files: [LeRobotExportFile]
        do throws(LeRobotExportError) {
            files = try exporter.files(dataset)
        } catch {
            throw DatasetExportError(.lerobot, error.message)
        }
        let provenance = LeRobotExportFile(relativePath: Self.provenancePath, bytes: Array((provenanceJSON.pretty + "\n").utf8))
        files.insert(provenance, at: files.count - 1)
        return files
    }
}
