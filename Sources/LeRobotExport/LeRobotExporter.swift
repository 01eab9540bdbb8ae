import ControlProtocol
import Parquet

/// One file of an export: where it goes under the dataset root, and its bytes.
public struct LeRobotExportFile: Sendable, Hashable {
    /// e.g. `data/chunk-000/file-000.parquet`, `meta/info.json`.
    public var relativePath: String
    public var bytes: [UInt8]

    public init(relativePath: String, bytes: [UInt8]) {
        self.relativePath = relativePath
        self.bytes = bytes
    }
}

/// Builds a LeRobotDataset v3.0 (datasets-and-imitation.md §1.2–1.9) from an in-memory dataset,
/// without video:
///
/// ```
/// data/chunk-CCC/file-FFF.parquet      frames, whole episodes per file, rolled over by size
/// meta/episodes/chunk-000/file-000.parquet   one row per episode (+ per-episode stats of vectors)
/// meta/tasks.parquet                   task_index + the task as the pandas index (`pandas` footer)
/// meta/stats.json                      global stats of every numeric feature
/// meta/info.json                       schema and counters — last in the list
/// ```
///
/// Invariants (§1.12): episodes renumbered 0..N−1 in the given order; `index` is the global row
/// position over the data files sorted by path; `frame_index` restarts at 0 in every episode;
/// `timestamp = Float(Double(frame_index) / Double(fps))`; `dataset_from_index ..< dataset_to_index`
/// is each episode's rows. The caller writes the files in the order returned and `meta/info.json`
/// last, atomically (a partial export is then never loadable as complete).
///
/// - Warning: Not real-time safe (builds every file in memory).
public struct LeRobotExporter: Sendable {
    public static let codebaseVersion = "v3.0"

    /// Files per chunk directory (info.json `chunks_size`).
    public var chunksSize: Int
    /// A data file is closed before the episode that would take it past this size (MiB); an
    /// episode is never split, so one longer than this gets a file of its own.
    public var dataFilesSizeInMB: Double
    /// Written to info.json for LeRobot's writer; there is no video here.
    public var videoFilesSizeInMB: Double
    /// The Parquet files' created_by.
    public var createdBy: String

    public init(chunksSize: Int = 1000, dataFilesSizeInMB: Double = 100, videoFilesSizeInMB: Double = 200, createdBy: String = "robotd") {
        precondition(chunksSize > 0 && dataFilesSizeInMB > 0, "chunksSize and dataFilesSizeInMB must be positive")
        self.chunksSize = chunksSize
        self.dataFilesSizeInMB = dataFilesSizeInMB
        self.videoFilesSizeInMB = videoFilesSizeInMB
        self.createdBy = createdBy
    }

    /// Where an episode's frames go.
    struct Placement: Hashable {
        var chunk: Int
        var file: Int
        var path: String { "data/" + LeRobotExporter.chunkFile(chunk, file) + ".parquet" }
    }

    /// `chunk-{chunk:03d}/file-{file:03d}` (`CHUNK_FILE_PATTERN`; the loader sorts paths as text).
    static func chunkFile(_ chunk: Int, _ file: Int) -> String { "chunk-\(pad3(chunk))/file-\(pad3(file))" }

    static func pad3(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: Swift.max(0, 3 - digits.count)) + digits
    }

    /// The dataset's files, `meta/info.json` last.
    /// - Throws: `LeRobotExportError` from `LeRobotDataset.validate()`, or `.parquet` if a file cannot be built.
    public func files(_ dataset: LeRobotDataset) throws(LeRobotExportError) -> [LeRobotExportFile] {
        try dataset.validate()
        let episodes = dataset.episodes

        var tasks: [String] = [], taskIndex: [String: Int] = [:]
        for episode in episodes where taskIndex[episode.task] == nil {
            taskIndex[episode.task] = tasks.count
            tasks.append(episode.task)
        }

        // Global row ranges and data-file placement, whole episodes per file.
        var from: [Int] = [], placements: [Placement] = []
        let bytesPerFrame = dataset.vectorFeatures.reduce(0) { $0 + 4 * $1.width + 1 } + dataset.flagFeatures.count + 4 + 4 * 8
        let limit = dataFilesSizeInMB * 1024 * 1024
        var total = 0, place = Placement(chunk: 0, file: 0), bytesInFile = 0
        for episode in episodes {
            let bytes = episode.frameCount * bytesPerFrame
            if bytesInFile > 0 && Double(bytesInFile + bytes) > limit {
                place.file += 1
                if place.file == chunksSize { place = Placement(chunk: place.chunk + 1, file: 0) }
                bytesInFile = 0
            }
            bytesInFile += bytes
            from.append(total)
            placements.append(place)
            total += episode.frameCount
        }

        var out: [LeRobotExportFile] = []
        var start = 0
        while start < episodes.count {
            var end = start + 1
            while end < episodes.count && placements[end] == placements[start] { end += 1 }
            out.append(LeRobotExportFile(
                relativePath: placements[start].path,
                bytes: try dataFile(dataset, episodes: start..<end, firstIndex: from[start], taskIndex: taskIndex)))
            start = end
        }
        out.append(LeRobotExportFile(
            relativePath: "meta/episodes/" + Self.chunkFile(0, 0) + ".parquet",
            bytes: try episodesFile(dataset, from: from, placements: placements)))
        out.append(LeRobotExportFile(relativePath: "meta/tasks.parquet", bytes: try tasksFile(tasks)))
        out.append(LeRobotExportFile(relativePath: "meta/stats.json", bytes: Array(statsJSON(dataset, taskIndex: taskIndex).pretty.utf8)))
        out.append(LeRobotExportFile(relativePath: "meta/info.json", bytes: Array(infoJSON(dataset, tasks: tasks.count, frames: total).pretty.utf8)))
        return out
    }

    // MARK: files

    private func parquet(_ columns: [(ParquetColumn, ParquetColumnValues)], metadata: [ParquetKeyValue] = []) throws(LeRobotExportError) -> [UInt8] {
        do throws(ParquetError) {
            let writer = try ParquetWriter(schema: try ParquetSchema(columns.map(\.0)), keyValueMetadata: metadata, createdBy: createdBy)
            return try writer.fileBytes(columns.map(\.1))
        } catch {
            throw LeRobotExportError(.parquet, error.message)
        }
    }

    /// Frames of `episodes`: vector features (list<float>), flags (bool), then LeRobot's defaults.
    private func dataFile(
        _ dataset: LeRobotDataset, episodes range: Range<Int>, firstIndex: Int, taskIndex: [String: Int]
    ) throws(LeRobotExportError) -> [UInt8] {
        let episodes = dataset.episodes[range]
        var columns: [(ParquetColumn, ParquetColumnValues)] = []
        for (k, feature) in dataset.vectorFeatures.enumerated() {
            columns.append((ParquetColumn(feature.name, .list(.float)),
                            .floatLists(ParquetLists(flat: Array(episodes.map { $0.vectors[k] }.joined()), width: feature.width))))
        }
        for (k, name) in dataset.flagFeatures.enumerated() {
            columns.append((ParquetColumn(name, .boolean), .boolean(Array(episodes.map { $0.flags[k] }.joined()))))
        }
        var timestamp: [Float] = [], frameIndex: [Int64] = [], episodeIndex: [Int64] = [], task: [Int64] = []
        for (e, episode) in zip(range, episodes) {
            for k in 0..<episode.frameCount {
                timestamp.append(Self.timestamp(frame: k, fps: dataset.fps))
                frameIndex.append(Int64(k))
                episodeIndex.append(Int64(e))
                task.append(Int64(taskIndex[episode.task] ?? 0))
            }
        }
        let index = (0..<Int64(timestamp.count)).map { Int64(firstIndex) + $0 }
        columns += [
            (ParquetColumn("timestamp", .float), .float(timestamp)),
            (ParquetColumn("frame_index", .int64), .int64(frameIndex)),
            (ParquetColumn("episode_index", .int64), .int64(episodeIndex)),
            (ParquetColumn("index", .int64), .int64(index)),
            (ParquetColumn("task_index", .int64), .int64(task)),
        ]
        return try parquet(columns)
    }

    /// timestamp = float32(frame_index / fps), the division in double as Python does it.
    static func timestamp(frame: Int, fps: Int) -> Float { Float(Double(frame) / Double(fps)) }

    /// One row per episode (§1.5), rows in episode order so LeRobot's positional lookup holds.
    private func episodesFile(_ dataset: LeRobotDataset, from: [Int], placements: [Placement]) throws(LeRobotExportError) -> [UInt8] {
        let n = dataset.episodes.count
        let lengths = dataset.episodes.map { Int64($0.frameCount) }
        var columns: [(ParquetColumn, ParquetColumnValues)] = [
            (ParquetColumn("episode_index", .int64), .int64((0..<n).map(Int64.init))),
            (ParquetColumn("data/chunk_index", .int64), .int64(placements.map { Int64($0.chunk) })),
            (ParquetColumn("data/file_index", .int64), .int64(placements.map { Int64($0.file) })),
            (ParquetColumn("dataset_from_index", .int64), .int64(from.map(Int64.init))),
            (ParquetColumn("dataset_to_index", .int64), .int64(zip(from, lengths).map { Int64($0) + $1 })),
            (ParquetColumn("tasks", .list(.string)), .stringLists(ParquetLists(dataset.episodes.map { [$0.task] }))),
            (ParquetColumn("length", .int64), .int64(lengths)),
        ]
        // Per-episode statistics of the vector features (LeRobot drops stats/* on load; kept for fidelity).
        for (k, feature) in dataset.vectorFeatures.enumerated() {
            let stats = dataset.episodes.map { FeatureStatistics(elements: Self.elements($0.vectors[k], width: feature.width)) }
            let prefix = "stats/\(feature.name)/"
            func doubles(_ key: String, _ pick: (FeatureStatistics) -> [Double]) -> (ParquetColumn, ParquetColumnValues) {
                (ParquetColumn(prefix + key, .list(.double)), .doubleLists(ParquetLists(stats.map(pick))))
            }
            columns += [doubles("min", \.min), doubles("max", \.max), doubles("mean", \.mean), doubles("std", \.std)]
            columns.append((ParquetColumn(prefix + "count", .list(.int64)), .int64Lists(ParquetLists(stats.map { [Int64($0.count)] }))))
            for (q, quantile) in FeatureStatistics.quantiles.enumerated() {
                columns.append(doubles(quantile.key) { $0.quantileValues[q] })
            }
        }
        columns += [
            (ParquetColumn("meta/episodes/chunk_index", .int64), .int64(Array(repeating: 0, count: n))),
            (ParquetColumn("meta/episodes/file_index", .int64), .int64(Array(repeating: 0, count: n))),
        ]
        return try parquet(columns)
    }

    /// Element j's values over the frames of a (frames × width) row-major array, as doubles.
    static func elements(_ values: [Float], width: Int) -> [[Double]] {
        (0..<width).map { j in stride(from: j, to: values.count, by: width).map { Double(values[$0]) } }
    }

    /// `task_index` plus the task strings as pandas' unnamed index `__index_level_0__`, with the
    /// `pandas` footer entry that makes `pd.read_parquet` restore that index: without it LeRobot's
    /// `item["task"]` silently becomes the row number (§1.6).
    private func tasksFile(_ tasks: [String]) throws(LeRobotExportError) -> [UInt8] {
        let pandas: JSONValue = [
            "index_columns": ["__index_level_0__"],
            "column_indexes": [["name": nil, "field_name": nil, "pandas_type": "unicode", "numpy_type": "object", "metadata": ["encoding": "UTF-8"]]],
            "columns": [
                ["name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": nil],
                ["name": nil, "field_name": "__index_level_0__", "pandas_type": "unicode", "numpy_type": "object", "metadata": nil],
            ],
            "creator": ["library": "robotd", "version": .string(createdBy)],
            "pandas_version": "2.2.3",
        ]
        return try parquet(
            [(ParquetColumn("task_index", .int64), .int64((0..<tasks.count).map(Int64.init))),
             (ParquetColumn("__index_level_0__", .string), .string(tasks))],
            metadata: [ParquetKeyValue("pandas", pandas.serialized)])
    }

    // MARK: JSON

    /// `{feature: {min, max, mean, std, count, q01, q10, q50, q90, q99}}` over all frames, for
    /// every feature (vectors, flags and the five defaults).
    private func statsJSON(_ dataset: LeRobotDataset, taskIndex: [String: Int]) -> JSONValue {
        var stats: [String: JSONValue] = [:]
        for (k, feature) in dataset.vectorFeatures.enumerated() {
            stats[feature.name] = FeatureStatistics(
                elements: Self.elements(Array(dataset.episodes.map { $0.vectors[k] }.joined()), width: feature.width)
            ).json(extrema: .float)
        }
        for (k, name) in dataset.flagFeatures.enumerated() {
            stats[name] = FeatureStatistics(elements: [dataset.episodes.flatMap { $0.flags[k].map { $0 ? 1.0 : 0.0 } }]).json(extrema: .boolean)
        }
        var timestamp: [Double] = [], frameIndex: [Double] = [], episodeIndex: [Double] = [], task: [Double] = []
        for (e, episode) in dataset.episodes.enumerated() {
            for k in 0..<episode.frameCount {
                timestamp.append(Double(Self.timestamp(frame: k, fps: dataset.fps)))
                frameIndex.append(Double(k))
                episodeIndex.append(Double(e))
                task.append(Double(taskIndex[episode.task] ?? 0))
            }
        }
        stats["timestamp"] = FeatureStatistics(elements: [timestamp]).json(extrema: .float)
        stats["frame_index"] = FeatureStatistics(elements: [frameIndex]).json(extrema: .integer)
        stats["episode_index"] = FeatureStatistics(elements: [episodeIndex]).json(extrema: .integer)
        stats["index"] = FeatureStatistics(elements: [(0..<timestamp.count).map(Double.init)]).json(extrema: .integer)
        stats["task_index"] = FeatureStatistics(elements: [task]).json(extrema: .integer)
        return .object(stats)
    }

    /// info.json (§1.3) as lerobot 0.4.4 writes it, without video.
    private func infoJSON(_ dataset: LeRobotDataset, tasks: Int, frames: Int) -> JSONValue {
        var features: [String: JSONValue] = [:]
        for feature in dataset.vectorFeatures {
            features[feature.name] = ["dtype": "float32", "shape": [.integer(Int64(feature.width))], "names": JSONValue(feature.elementNames)]
        }
        for name in dataset.flagFeatures { features[name] = ["dtype": "bool", "shape": [1], "names": nil] }
        features["timestamp"] = ["dtype": "float32", "shape": [1], "names": nil]
        for name in ["frame_index", "episode_index", "index", "task_index"] {
            features[name] = ["dtype": "int64", "shape": [1], "names": nil]
        }
        return [
            "codebase_version": .string(Self.codebaseVersion),
            "robot_type": dataset.robotType.map(JSONValue.string) ?? .null,
            "total_episodes": JSONValue(dataset.episodes.count),
            "total_frames": JSONValue(frames),
            "total_tasks": JSONValue(tasks),
            "chunks_size": JSONValue(chunksSize),
            "data_files_size_in_mb": JSONValue(dataFilesSizeInMB),
            "video_files_size_in_mb": JSONValue(videoFilesSizeInMB),
            "fps": JSONValue(dataset.fps),
            "splits": ["train": .string("0:\(dataset.episodes.count)")],
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": nil,
            "features": .object(features),
        ]
    }
}
