import Foundation
@testable import LeRobotExport
import TestProcess
import Testing

/// Exports checked by pyarrow against lerobot's loader invariants (Tests/oracles/lerobot_check.py,
/// datasets-and-imitation.md §1.12), and the frames' values read back bit for bit.
@Suite struct LeRobotExportTests {
    static let joints = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]

    /// Episodes of varied lengths whose values encode (episode, frame, element), so any
    /// misplaced row shows; tasks repeat so task_index is shared.
    static func dataset(episodeLengths: [Int], fps: Int = 30) -> LeRobotDataset {
        let tasks = ["pick the cube", "push the cube", "pick the cube", "stack ✓"]
        let episodes = episodeLengths.enumerated().map { e, n in
            LeRobotEpisode(
                task: tasks[e % tasks.count], frameCount: n,
                vectors: [
                    (0..<(n * 6)).map { Float(e) * 100 + Float($0 / 6) + Float($0 % 6) / 10 },
                    (0..<(n * 6)).map { -Float(e) * 100 - Float($0 / 6) * 0.5 - Float($0 % 6) / 7 },
                ],
                flags: [(0..<n).map { $0 % 5 == 3 }])
        }
        return LeRobotDataset(
            fps: fps, robotType: "so_follower",
            vectorFeatures: [
                LeRobotVectorFeature("observation.state", elementNames: joints.map { "\($0).pos" }),
                LeRobotVectorFeature("action", elementNames: joints.map { "\($0).pos" }),
            ],
            flagFeatures: ["intervention"], episodes: episodes)
    }

    struct Check: Decodable {
        var failures: [String]
        var data_files: [String]
        var tasks: [String]
        var stat_keys: [String]
        var episode_stats_columns: [String]
    }

    /// Writes the files under a temporary root (info.json last), runs the oracle on it and
    /// returns its report plus the root (removed by the caller).
    static func exportAndCheck(_ files: [LeRobotExportFile]) throws -> (Check, URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lerobot-export-\(UUID().uuidString)")
        for file in files {
            let url = root.appendingPathComponent(file.relativePath)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.bytes).write(to: url)
        }
        let run = try ChildProcess.python("Tests/oracles/lerobot_check.py", [root.path])
        try #require(run.status == 0, "lerobot_check.py failed: \(run.stderr)")
        return (try JSONDecoder().decode(Check.self, from: run.stdoutData), root)
    }

    @Test func threeEpisodesMeetTheLoadersInvariantsWithValuesBitForBit() throws {
        let dataset = Self.dataset(episodeLengths: [45, 1, 17])
        let files = try LeRobotExporter().files(dataset)
        #expect(files.map(\.relativePath) == [
            "data/chunk-000/file-000.parquet", "meta/episodes/chunk-000/file-000.parquet", "meta/tasks.parquet",
            "meta/stats.json", "meta/info.json",
        ])
        let (check, root) = try Self.exportAndCheck(files)
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(check.failures == [])
        #expect(check.tasks == ["pick the cube", "push the cube"])
        #expect(check.stat_keys == ["action", "episode_index", "frame_index", "index", "intervention", "observation.state", "task_index", "timestamp"])
        #expect(check.episode_stats_columns.count == 2 * 10)

        // Every frame's vectors as pyarrow reads them, to the bit.
        let run = try ChildProcess.python("Tests/oracles/parquet_read.py", [root.appendingPathComponent("data/chunk-000/file-000.parquet").path])
        try #require(run.status == 0, "\(run.stderr)")
        let read = try #require(try JSONSerialization.jsonObject(with: run.stdoutData) as? [[String: Any]]).first
        let columns = try #require(read?["columns"] as? [[String: Any]])
        for (k, name) in ["observation.state", "action"].enumerated() {
            let column = try #require(columns.first { $0["name"] as? String == name })
            #expect(column["type"] as? String == "list<element: float not null>")
            #expect(column["hex"] as? String == Self.hex(dataset.episodes.flatMap { $0.vectors[k] }), "\(name)")
        }
        let intervention = try #require(columns.first { $0["name"] as? String == "intervention" })
        #expect(intervention["bits"] as? String == String(dataset.episodes.flatMap { $0.flags[0] }.map { $0 ? "1" : "0" }))
    }

    static func hex(_ values: [Float]) -> String {
        values.withUnsafeBytes { raw in raw.map { String(format: "%02x", $0) }.joined() }
    }

    /// Small data files and two files per chunk: whole episodes per file, files rolled over
    /// into new chunks, the paths sorting into global index order.
    @Test func dataFilesRollOverBySizeAndChunksBySize() throws {
        let dataset = Self.dataset(episodeLengths: [20, 20, 5, 30, 20, 2, 40], fps: 50)
        // ~85 bytes a frame: a 2 KiB limit holds about 24 frames.
        let exporter = LeRobotExporter(chunksSize: 2, dataFilesSizeInMB: 2.0 / 1024)
        let (check, root) = try Self.exportAndCheck(try exporter.files(dataset))
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(check.failures == [])
        #expect(check.data_files == [
            "data/chunk-000/file-000.parquet", "data/chunk-000/file-001.parquet", "data/chunk-001/file-000.parquet",
            "data/chunk-001/file-001.parquet", "data/chunk-002/file-000.parquet", "data/chunk-002/file-001.parquet",
        ])
    }

    @Test func infoJSONIsWrittenLastAndSaysWhatLeRobotReads() throws {
        let files = try LeRobotExporter().files(Self.dataset(episodeLengths: [3, 4], fps: 15))
        #expect(files.last?.relativePath == "meta/info.json")
        let last = try #require(files.last)
        let info = try #require(try JSONSerialization.jsonObject(with: Data(last.bytes)) as? [String: Any])
        #expect(info["codebase_version"] as? String == "v3.0")
        #expect(info["fps"] as? Int == 15)
        #expect(info["total_episodes"] as? Int == 2)
        #expect(info["total_frames"] as? Int == 7)
        #expect(info["total_tasks"] as? Int == 2)
        #expect(info["splits"] as? [String: String] == ["train": "0:2"])
        #expect(info["data_path"] as? String == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet")
        #expect(info["video_path"] is NSNull)
        let features = try #require(info["features"] as? [String: [String: Any]])
        #expect(features["action"]?["dtype"] as? String == "float32")
        #expect(features["action"]?["shape"] as? [Int] == [6])
        #expect(features["action"]?["names"] as? [String] == Self.joints.map { "\($0).pos" })
        #expect(features["intervention"]?["dtype"] as? String == "bool")
        #expect(features["intervention"]?["shape"] as? [Int] == [1])
        #expect(features["timestamp"]?["dtype"] as? String == "float32")
        #expect(features["index"]?["dtype"] as? String == "int64")
    }

    @Test func timestampsAreFloat32OfFrameIndexOverFPS() {
        #expect(LeRobotExporter.timestamp(frame: 1, fps: 30) == Float(1.0 / 30.0))
        #expect(LeRobotExporter.timestamp(frame: 7, fps: 30) == 0.23333333)
        #expect(LeRobotExporter.timestamp(frame: 0, fps: 50) == 0)
    }

    // MARK: refusals

    static func refusal(_ change: (inout LeRobotDataset) -> Void) -> LeRobotExportError? {
        var dataset = dataset(episodeLengths: [4, 5])
        change(&dataset)
        return #expect(throws: LeRobotExportError.self) { try LeRobotExporter().files(dataset) }
    }

    @Test func datasetsLeRobotCannotLoadAreRefusedNamingWhere() {
        #expect(Self.refusal { $0.fps = 0 }?.message == "fps must be positive, not 0")
        #expect(Self.refusal { $0.episodes = [] }?.message == "no episodes to export")
        #expect(Self.refusal { $0.episodes[1] = LeRobotEpisode(task: "t", frameCount: 0, vectors: [[], []], flags: [[]]) }?.message == "episode 1 has no frames")
        #expect(Self.refusal { $0.episodes[0].task = "" }?.message == "episode 0 has an empty task")
        #expect(Self.refusal { $0.vectorFeatures[1].name = "action/joint" }?.message == "feature name 'action/joint' is empty or contains '/'")
        #expect(Self.refusal { $0.flagFeatures = ["timestamp"] }?.message.contains("'timestamp'") == true)
        #expect(Self.refusal { $0.episodes[1].vectors[0].removeLast() }?.message == "episode 1 feature 'observation.state' has 29 values, not 5 frames × 6")
        #expect(Self.refusal { $0.episodes[1].vectors[1][14] = .nan }?.message == "episode 1 frame 2 feature 'action'[2] is nan, not a finite number")
        #expect(Self.refusal { $0.episodes[0].flags[0].append(true) }?.message == "episode 0 feature 'intervention' has 5 values, not 4")
        #expect(Self.refusal { $0.episodes[0].flags = [] }?.code == .invalidDataset)
    }
}
