// Recorded episodes → a LeRobotDataset v3.0 directory (issue 16, docs/datasets.md).
//
//   [RecordedEpisode] ──RecordedDataset──▶ LeRobotDataset ──LeRobotExporter──▶ files
//                                            + meta/robotd_episodes.json (provenance)
//   files ──DatasetDirectory──▶ DIR (each file by temp name + rename, meta/info.json last)
//
// The store (EpisodeStore) is read through `EpisodeSource`, so this module never opens SQLite
// itself and its tests need no database.

/// Why an export failed; the message names the episode (by store id), frame, feature and joint.
public struct DatasetExportError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case noEpisodes, noFrames, dofMismatch, nonFiniteValue, fpsMismatch, datasetMismatch, frameOrder, emptyTask
            case selection, outputDirectory, io, lerobot
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        /// Nothing to export (no episodes given, or none selected).
        public static let noEpisodes = Code(.noEpisodes)
        /// An episode without frames.
        public static let noFrames = Code(.noFrames)
        /// A frame vector whose length is not the episode's joint count, or no joints at all.
        public static let dofMismatch = Code(.dofMismatch)
        /// NaN, ±∞, or a value beyond float32's range (it would become ∞).
        public static let nonFiniteValue = Code(.nonFiniteValue)
        /// Episodes at different frame rates (a LeRobot dataset has one `fps`).
        public static let fpsMismatch = Code(.fpsMismatch)
        /// Episodes of different robots, joint names or command modes (one schema per dataset).
        public static let datasetMismatch = Code(.datasetMismatch)
        /// Frame indices that are not 0, 1, 2, … in order.
        public static let frameOrder = Code(.frameOrder)
        /// An empty task text (LeRobot needs one per episode).
        public static let emptyTask = Code(.emptyTask)
        /// `--episodes` is malformed or names an episode the store does not have or cannot export.
        public static let selection = Code(.selection)
        /// DIR is not empty (without --force), is a file, or cannot be created.
        public static let outputDirectory = Code(.outputDirectory)
        /// Writing or renaming a file failed (errno's text in the message).
        public static let io = Code(.io)
        /// The LeRobot exporter refused the dataset (a bug here if reached: this module validates first).
        public static let lerobot = Code(.lerobot)
        public var description: String { "\(value)" }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "dataset export: \(message)" }

    /// Equality compares codes only.
    public static func == (a: Self, b: Self) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
