/// A float32 vector feature of every frame, e.g. `observation.state` or `action`.
public struct LeRobotVectorFeature: Sendable, Hashable {
    /// The feature key (no `/`: LeRobot refuses it).
    public var name: String
    /// One name per element, e.g. `shoulder_pan.pos`; their count is the feature's width.
    public var elementNames: [String]

    public init(_ name: String, elementNames: [String]) {
        self.name = name
        self.elementNames = elementNames
    }

    public var width: Int { elementNames.count }
}

/// One recorded episode at the dataset rate: frame k is at time k / fps.
public struct LeRobotEpisode: Sendable, Hashable {
    /// What the person asked the robot to do (LeRobot's task string).
    public var task: String
    public var frameCount: Int
    /// One array per `LeRobotDataset.vectorFeatures` entry, in that order: (frameCount × width), row-major.
    public var vectors: [[Float]]
    /// One array per `LeRobotDataset.flagFeatures` entry, in that order: frameCount values.
    public var flags: [[Bool]]

    public init(task: String, frameCount: Int, vectors: [[Float]], flags: [[Bool]] = []) {
        self.task = task
        self.frameCount = frameCount
        self.vectors = vectors
        self.flags = flags
    }
}

/// An in-memory dataset to export: episodes in export order (they become episodes 0..N−1).
public struct LeRobotDataset: Sendable, Hashable {
    /// Frames per second: an integer, as LeRobot requires.
    public var fps: Int
    /// info.json `robot_type` (e.g. `so_follower`); nil writes null.
    public var robotType: String?
    public var vectorFeatures: [LeRobotVectorFeature]
    /// Per-frame booleans, e.g. `intervention` (LeRobot dtype `bool`, shape [1]).
    public var flagFeatures: [String]
    public var episodes: [LeRobotEpisode]

    public init(
        fps: Int, robotType: String?, vectorFeatures: [LeRobotVectorFeature], flagFeatures: [String] = [],
        episodes: [LeRobotEpisode]
    ) {
        self.fps = fps
        self.robotType = robotType
        self.vectorFeatures = vectorFeatures
        self.flagFeatures = flagFeatures
        self.episodes = episodes
    }

    /// The five features LeRobot adds to every dataset.
    public static let defaultFeatureNames = ["timestamp", "frame_index", "episode_index", "index", "task_index"]

    /// - Throws: `LeRobotExportError` naming the feature, episode or frame at fault: fps ≤ 0, no
    ///   episodes, an empty episode or task, a feature name that is empty, repeated, a default
    ///   feature's or contains `/`, a width of 0, arrays of the wrong size, a non-finite value.
    public func validate() throws(LeRobotExportError) {
        guard fps > 0 else { throw LeRobotExportError(.invalidDataset, "fps must be positive, not \(fps)") }
        guard !episodes.isEmpty else { throw LeRobotExportError(.invalidDataset, "no episodes to export") }
        var names = Set(Self.defaultFeatureNames)
        for name in vectorFeatures.map(\.name) + flagFeatures {
            guard !name.isEmpty, !name.contains("/") else {
                throw LeRobotExportError(.invalidDataset, "feature name '\(name)' is empty or contains '/'")
            }
            guard names.insert(name).inserted else {
                throw LeRobotExportError(.invalidDataset, "feature name '\(name)' is repeated or is one of LeRobot's default features")
            }
        }
        for feature in vectorFeatures where feature.width == 0 {
            throw LeRobotExportError(.invalidDataset, "feature '\(feature.name)' has no elements")
        }
        for (e, episode) in episodes.enumerated() {
            guard episode.frameCount > 0 else { throw LeRobotExportError(.invalidDataset, "episode \(e) has no frames") }
            guard !episode.task.isEmpty else { throw LeRobotExportError(.invalidDataset, "episode \(e) has an empty task") }
            guard episode.vectors.count == vectorFeatures.count, episode.flags.count == flagFeatures.count else {
                throw LeRobotExportError(.invalidDataset, "episode \(e) has \(episode.vectors.count) vector and \(episode.flags.count) flag features, the dataset declares \(vectorFeatures.count) and \(flagFeatures.count)")
            }
            for (feature, values) in zip(vectorFeatures, episode.vectors) {
                guard values.count == episode.frameCount * feature.width else {
                    throw LeRobotExportError(.invalidDataset, "episode \(e) feature '\(feature.name)' has \(values.count) values, not \(episode.frameCount) frames × \(feature.width)")
                }
                if let bad = values.firstIndex(where: { !$0.isFinite }) {
                    throw LeRobotExportError(.invalidDataset, "episode \(e) frame \(bad / feature.width) feature '\(feature.name)'[\(bad % feature.width)] is \(values[bad]), not a finite number")
                }
            }
            for (name, values) in zip(flagFeatures, episode.flags) where values.count != episode.frameCount {
                throw LeRobotExportError(.invalidDataset, "episode \(e) feature '\(name)' has \(values.count) values, not \(episode.frameCount)")
            }
        }
    }
}

/// Why a dataset could not be exported; the message names the episode, frame or feature.
public struct LeRobotExportError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable { case invalidDataset, parquet }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        /// The dataset breaks a LeRobot rule (see `LeRobotDataset.validate`).
        public static let invalidDataset = Code(.invalidDataset)
        /// The Parquet writer refused a file (e.g. a value beyond its sizes).
        public static let parquet = Code(.parquet)
        public var description: String { "\(value)" }
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "LeRobot export: \(message)" }

    /// Equality compares codes only.
    public static func == (a: Self, b: Self) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
