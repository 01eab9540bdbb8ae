import Foundation
import ControlProtocol
@testable import DatasetExport
import EpisodeStore
import LeRobotExport
import TestProcess
import Testing

/// Recorded episodes → a LeRobot v3.0 directory, checked by pyarrow against the loader's
/// invariants (Tests/oracles/lerobot_check.py) and read back to the float32 bit.
@Suite struct DatasetExportTests {
    static let joints = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]

    /// An episode whose doubles are not float32 numbers (so rounding shows) and encode
    /// (store id, frame, joint, field), so a misplaced value shows.
    static func episode(id: Int64, frames: Int, task: String = "pick the cube", fps: Int = 30, status: EpisodeStatus = .complete,
                        commandMode: String = "position", joints: [String] = joints) -> RecordedEpisode {
        let n = joints.count
        func values(_ k: Int, _ field: Double) -> [Double] {
            (0..<n).map { j in sin(Double(id) * 1.7 + Double(k) * 0.013 + Double(j) * 0.31 + field) * (1 + field) }
        }
        let recorded = (0..<frames).map { k in
            RecordedFrame(
                frameIndex: k, timestamp: Double(k) / Double(fps), loopTime: 0.001 * Double(k * 1000 / fps),
                position: values(k, 0), velocity: values(k, 1), effort: values(k, 2), action: values(k, 3), requestedAction: values(k, 4),
                mode: k < frames / 2 ? "teleop" : "policy", intervention: k % 4 == 1)
        }
        let provenance = EpisodeProvenance(
            robot: "so101", urdfSHA256: String(repeating: "a", count: 64), calibrationSHA256: nil,
            configurationSHA256: String(repeating: "c", count: 64), robotdVersion: "0.16.0", policy: "policies/p.safetensors",
            policyVersion: 3, modelVersion: 0, operatorUID: 1000, task: task)
        return RecordedEpisode(
            summary: EpisodeSummary(
                id: id, task: task, fps: fps, jointNames: joints, commandMode: commandMode, startedAt: 1_800_000_000 + Double(id),
                endedAt: status == .complete ? 1_800_000_010 + Double(id) : nil, status: status, frameCount: frames,
                error: status == .incomplete ? "killed" : nil, provenance: provenance),
            frames: recorded)
    }

    static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("dataset-export-\(UUID().uuidString)")
    }

    struct Check: Decodable {
        struct Episodes: Decodable { var episode_index: [Int]; var length: [Int]; var tasks: [[String]] }
        var failures: [String]
        var tasks: [String]
        var stat_keys: [String]
        var episodes: Episodes
    }

    static func check(_ root: URL) throws -> Check {
        let run = try ChildProcess.python("Tests/oracles/lerobot_check.py", [root.path])
        try #require(run.status == 0, "lerobot_check.py failed: \(run.stderr)")
        return try JSONDecoder().decode(Check.self, from: run.stdoutData)
    }

    static func hex(_ values: [Float]) -> String {
        values.withUnsafeBytes { raw in raw.map { String(format: "%02x", $0) }.joined() }
    }

    @Test func storeIDsWithGapsBecomeEpisodesZeroToNMinusOneAndEveryValueIsItsFloat32() throws {
        let recorded = [
            Self.episode(id: 3, frames: 40), Self.episode(id: 7, frames: 1, task: "push the cube"),
            Self.episode(id: 12, frames: 25), Self.episode(id: 40, frames: 9, task: "push the cube"),
        ]
        let export = try RecordedDataset(recorded)
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try DatasetDirectory.write(try export.files(), to: root.path, force: false)

        let check = try Self.check(root)
        #expect(check.failures == [])
        #expect(check.episodes.episode_index == [0, 1, 2, 3])
        #expect(check.episodes.length == [40, 1, 25, 9])
        #expect(check.episodes.tasks == [["pick the cube"], ["push the cube"], ["pick the cube"], ["push the cube"]])
        #expect(check.tasks == ["pick the cube", "push the cube"])
        #expect(check.stat_keys == [
            "action", "episode_index", "frame_index", "index", "intervention", "observation.effort", "observation.state",
            "observation.velocity", "requested_action", "task_index", "timestamp",
        ])

        // Every frame's vectors as pyarrow reads them: Float(x) of the recorded double, bit for bit.
        let run = try ChildProcess.python("Tests/oracles/parquet_read.py", [root.appendingPathComponent("data/chunk-000/file-000.parquet").path])
        try #require(run.status == 0, "\(run.stderr)")
        let columns = try #require((try JSONSerialization.jsonObject(with: run.stdoutData) as? [[String: Any]])?.first?["columns"] as? [[String: Any]])
        let fields: [(String, KeyPath<RecordedFrame, [Double]>)] = [
            ("observation.state", \.position), ("observation.velocity", \.velocity), ("observation.effort", \.effort),
            ("action", \.action), ("requested_action", \.requestedAction),
        ]
        for (name, field) in fields {
            let column = try #require(columns.first { $0["name"] as? String == name }, "\(name)")
            let expected = recorded.flatMap { $0.frames.flatMap { $0[keyPath: field].map(Float.init) } }
            #expect(column["hex"] as? String == Self.hex(expected), "\(name)")
        }
        let flags = try #require(columns.first { $0["name"] as? String == "intervention" })
        #expect(flags["bits"] as? String == String(recorded.flatMap { $0.frames.map { $0.intervention ? "1" : "0" } }))

        // info.json: robot_type from the provenance, joint-named elements, the action's unit suffix.
        let info = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("meta/info.json"))) as? [String: Any])
        #expect(info["robot_type"] as? String == "so101")
        #expect(info["fps"] as? Int == 30)
        let features = try #require(info["features"] as? [String: [String: Any]])
        #expect(features["observation.state"]?["names"] as? [String] == Self.joints.map { "\($0).pos" })
        #expect(features["observation.velocity"]?["names"] as? [String] == Self.joints.map { "\($0).vel" })
        #expect(features["observation.effort"]?["names"] as? [String] == Self.joints.map { "\($0).effort" })
        #expect(features["action"]?["names"] as? [String] == Self.joints.map { "\($0).pos" })
        #expect(features["requested_action"]?["names"] as? [String] == Self.joints.map { "\($0).pos" })

        // robotd's provenance beside LeRobot's metadata, by export index with the store id.
        let provenance = try JSONValue.parse(Array(Data(contentsOf: root.appendingPathComponent(RecordedDataset.provenancePath))))
        let rows = try #require(provenance["episodes"]?.arrayValue)
        #expect(rows.map { $0["store_id"]?.intValue } == [3, 7, 12, 40])
        #expect(rows.map { $0["episode_index"]?.intValue } == [0, 1, 2, 3])
        #expect(rows[0]["provenance"]?["urdf_sha256"]?.stringValue == String(repeating: "a", count: 64))
        #expect(rows[0]["provenance"]?["calibration_sha256"] == .null)
        #expect(rows[0]["provenance"]?["operator_uid"]?.intValue == 1000)
        #expect(rows[0]["mode_runs"] == [["from": 0, "mode": "teleop"], ["from": 20, "mode": "policy"]])

        // Nothing left under a temporary name.
        let leftovers = FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".partial") }
        #expect(leftovers == [])
    }

    @Test func velocityCommandsNameTheirElementsVel() throws {
        let export = try RecordedDataset([Self.episode(id: 1, frames: 3, commandMode: "velocity")])
        #expect(export.dataset.vectorFeatures.first { $0.name == "action" }?.elementNames.first == "shoulder_pan.vel")
    }

    // MARK: refusals

    static func refusal(_ episodes: [RecordedEpisode]) -> DatasetExportError? {
        #expect(throws: DatasetExportError.self) { try RecordedDataset(episodes) }
    }

    @Test func badEpisodesAreRefusedNamingTheEpisodeAndWhat() {
        let good = Self.episode(id: 2, frames: 5)
        #expect(Self.refusal([])?.code == .noEpisodes)

        var empty = Self.episode(id: 9, frames: 0)
        #expect(Self.refusal([good, empty])?.message == "episode 9 has no frames")
        empty = Self.episode(id: 9, frames: 2)
        empty.frames[1].velocity.removeLast()
        let dof = Self.refusal([good, empty])
        #expect(dof?.code == .dofMismatch)
        #expect(dof?.message == "episode 9 frame 1: velocity has 5 values, the episode has 6 joints")

        var nan = Self.episode(id: 4, frames: 3)
        nan.frames[2].effort[1] = .nan
        let nonFinite = Self.refusal([nan])
        #expect(nonFinite?.code == .nonFiniteValue)
        #expect(nonFinite?.message == "episode 4 frame 2: effort of joint shoulder_lift is nan, not a finite float32")
        var huge = Self.episode(id: 4, frames: 3)
        huge.frames[0].requestedAction[5] = 1e39
        #expect(Self.refusal([huge])?.message == "episode 4 frame 0: requested action of joint gripper is 1e+39, not a finite float32")

        let fps = Self.refusal([good, Self.episode(id: 5, frames: 3, fps: 50)])
        #expect(fps?.code == .fpsMismatch)
        #expect(fps?.message.hasPrefix("episode 5 is recorded at 50 fps, episode 2 at 30 fps") == true)

        #expect(Self.refusal([good, Self.episode(id: 6, frames: 3, commandMode: "effort")])?.code == .datasetMismatch)
        #expect(Self.refusal([good, Self.episode(id: 6, frames: 3, joints: ["a", "b"])])?.code == .datasetMismatch)
        #expect(Self.refusal([Self.episode(id: 6, frames: 3, task: "")])?.code == .emptyTask)

        var gap = Self.episode(id: 8, frames: 4)
        gap.frames.remove(at: 2)
        #expect(Self.refusal([gap])?.message == "episode 8 frame 2 has frame_index 3: frames must be 0, 1, 2, … in order")
    }

    // MARK: the directory

    @Test func aNonEmptyDirectoryIsRefusedUnlessForcedAndForceLeavesNoStaleDataFile() throws {
        let root = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("data/chunk-000"), withIntermediateDirectories: true)
        try Data("stale".utf8).write(to: root.appendingPathComponent("data/chunk-000/file-007.parquet"))
        try Data("mine".utf8).write(to: root.appendingPathComponent("notes.txt"))

        let files = try RecordedDataset([Self.episode(id: 1, frames: 6)]).files()
        let refused = #expect(throws: DatasetExportError.self) { try DatasetDirectory.write(files, to: root.path, force: false) }
        #expect(refused?.code == .outputDirectory)
        #expect(!fm.fileExists(atPath: root.appendingPathComponent("meta/info.json").path))

        try DatasetDirectory.write(files, to: root.path, force: true)
        #expect(!fm.fileExists(atPath: root.appendingPathComponent("data/chunk-000/file-007.parquet").path))
        #expect(fm.fileExists(atPath: root.appendingPathComponent("notes.txt").path))
        #expect(try Self.check(root).failures == [])

        let file = root.appendingPathComponent("notes.txt").path
        #expect(throws: DatasetExportError(.outputDirectory, "")) { try DatasetDirectory.write(files, to: file, force: true) }
    }

    @Test func infoJSONIsTheLastFileWritten() throws {
        let paths = try RecordedDataset([Self.episode(id: 1, frames: 2)]).files().map(\.relativePath)
        #expect(paths.last == "meta/info.json")
        #expect(paths.contains(RecordedDataset.provenancePath))
    }

    // MARK: selection

    @Test func episodeListsParseIDsAndInclusiveRanges() throws {
        #expect(try EpisodeSelection.parseIDs("1,3-5, 9") == [1, 3, 4, 5, 9])
        #expect(try EpisodeSelection.parseIDs("7") == [7])
        for bad in ["", "1,,2", "a", "5-3", "-2", "1-x"] {
            #expect(throws: DatasetExportError(.selection, "")) { try EpisodeSelection.parseIDs(bad) }
        }
    }

    @Test func selectionSkipsRecordingAndIncompleteEpisodesUnlessAskedAndNamesMissingOnes() throws {
        let summaries = [
            Self.episode(id: 1, frames: 2).summary, Self.episode(id: 2, frames: 2, status: .incomplete).summary,
            Self.episode(id: 4, frames: 2).summary, Self.episode(id: 5, frames: 2, status: .recording).summary,
        ]
        let all = try EpisodeSelection().choose(from: summaries)
        #expect(all.chosen.map(\.id) == [1, 4])
        #expect(all.skipped.map(\.id) == [2, 5])
        #expect(try EpisodeSelection(includeIncomplete: true).choose(from: summaries).chosen.map(\.id) == [1, 2, 4])
        #expect(try EpisodeSelection(ids: [4, 1]).choose(from: summaries).chosen.map(\.id) == [1, 4])

        let missing = #expect(throws: DatasetExportError.self) { try EpisodeSelection(ids: [1, 3]).choose(from: summaries) }
        #expect(missing?.message == "episode 3 is not in the store (robotd dataset list shows its episodes)")
        let incomplete = #expect(throws: DatasetExportError.self) { try EpisodeSelection(ids: [2]).choose(from: summaries) }
        #expect(incomplete?.message == "episode 2 is incomplete (killed); --include-incomplete exports it")
        #expect(throws: DatasetExportError(.selection, "")) { try EpisodeSelection(ids: [5]).choose(from: summaries) }
        #expect(throws: DatasetExportError(.noEpisodes, "")) { try EpisodeSelection().choose(from: [summaries[3]]) }
    }
}

/// Issue 16: "LeRobot's own LeRobotDataset loads the export". Opt-in, because lerobot and torch
/// are heavy (datasets-and-imitation.md §1.13; README "Tests"): runs when ROBOTD_LEROBOT_TEST=1
/// and the Python in ROBOTD_LEROBOT_PYTHON (default python3) can import lerobot.
@Suite struct LeRobotLoaderTests {
    static let python = ProcessInfo.processInfo.environment["ROBOTD_LEROBOT_PYTHON"] ?? "python3"

    static var enabled: Bool {
        guard ProcessInfo.processInfo.environment["ROBOTD_LEROBOT_TEST"] == "1" else { return false }
        let probe = try? ChildProcess.run("/usr/bin/env", [python, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('lerobot') is None)"])
        return probe?.status == 0
    }

    struct Load: Decodable {
        var failures: [String]
        var frames: Int
        var episodes: Int
        var tasks: [String]
        var features: [String]
    }

    @Test(.enabled(if: enabled, "set ROBOTD_LEROBOT_TEST=1 and ROBOTD_LEROBOT_PYTHON to a Python with lerobot"))
    func lerobotsLeRobotDatasetLoadsTheExportWithTheRecordedValues() throws {
        let recorded = [
            DatasetExportTests.episode(id: 2, frames: 30), DatasetExportTests.episode(id: 5, frames: 3, task: "push the cube"),
            DatasetExportTests.episode(id: 11, frames: 17),
        ]
        let root = DatasetExportTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try DatasetDirectory.write(try RecordedDataset(recorded).files(), to: root.path, force: false)

        let script = ChildProcess.repositoryRoot.appendingPathComponent("Tests/oracles/lerobot_load.py").path
        let run = try ChildProcess.run("/usr/bin/env", [Self.python, script, root.path])
        try #require(run.status == 0, "lerobot_load.py failed: \(run.stderr)")
        let load = try JSONDecoder().decode(Load.self, from: run.stdoutData)
        #expect(load.failures == [])
        #expect(load.frames == 50)
        #expect(load.episodes == 3)
        #expect(load.tasks == ["pick the cube", "push the cube", "pick the cube"])
        for key in ["observation.state", "observation.velocity", "observation.effort", "action", "requested_action", "intervention", "task"] {
            #expect(load.features.contains(key), "\(key)")
        }
    }
}

/// The export command's work against an in-memory store.
@Suite struct DatasetExportJobTests {
    struct Store: EpisodeSource {
        var episodes: [RecordedEpisode]
        func episodeSummaries() throws -> [EpisodeSummary] { episodes.map(\.summary) }
        func episode(id: Int64) throws -> RecordedEpisode {
            guard let e = episodes.first(where: { $0.summary.id == id }) else { throw DatasetExportError(.selection, "no \(id)") }
            return e
        }
    }

    static let store = Store(episodes: [
        DatasetExportTests.episode(id: 1, frames: 4), DatasetExportTests.episode(id: 2, frames: 5, status: .incomplete),
        DatasetExportTests.episode(id: 6, frames: 6), DatasetExportTests.episode(id: 7, frames: 2, status: .recording),
    ])

    @Test func exportsTheCompleteEpisodesSkippingTheRestAndSaysWhat() throws {
        let root = DatasetExportTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let report = try DatasetExportJob(selection: EpisodeSelection(), directory: root.path, force: false).run(Self.store)
        #expect(report.exported == [1, 6])
        #expect(report.frames == 10)
        #expect(report.skipped.map(\.id) == [2, 7])
        #expect(report.files.last == "meta/info.json")
        #expect(try DatasetExportTests.check(root).episodes.length == [4, 6])

        // A second export into the same directory needs --force; with it the new dataset replaces the old.
        let again = DatasetExportJob(selection: EpisodeSelection(ids: [2, 6], includeIncomplete: true), directory: root.path, force: false)
        #expect(throws: DatasetExportError(.outputDirectory, "")) { try again.run(Self.store) }
        var forced = again
        forced.force = true
        #expect(try forced.run(Self.store).exported == [2, 6])
        let check = try DatasetExportTests.check(root)
        #expect(check.failures == [])
        #expect(check.episodes.length == [5, 6])
    }

    @Test func aBadEpisodeWritesNothing() throws {
        var bad = DatasetExportTests.episode(id: 3, frames: 3)
        bad.frames[1].position[0] = .infinity
        let root = DatasetExportTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let job = DatasetExportJob(selection: EpisodeSelection(), directory: root.path, force: false)
        let error = #expect(throws: DatasetExportError.self) { try job.run(Store(episodes: Self.store.episodes + [bad])) }
        #expect(error?.message == "episode 3 frame 1: position of joint shoulder_pan is inf, not a finite float32")
        #expect(!FileManager.default.fileExists(atPath: root.path))
    }
}
