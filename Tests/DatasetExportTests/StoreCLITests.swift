import Foundation
@testable import DatasetExport
import EpisodeStore
import TestProcess
import Testing

/// `robotd dataset list|export` as a process on a real episode store, opened by a writer the
/// whole time (as the daemon holds it while recording).
@Suite struct StoreCLITests {
    static var robotd: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("robotd").path
    }

    @Test func exportsAStoreWhileAWriterHasItOpen() throws {
        let root = DatasetExportTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let store = try EpisodeStore(path: EpisodeStore.path(dataDirectory: data.path), access: .writer)
        var expected: [RecordedEpisode] = []
        for (k, (frames, status)) in [(12, EpisodeStatus.complete), (5, .complete), (7, .complete), (4, .recording)].enumerated() {
            let e = DatasetExportTests.episode(id: 0, frames: frames)
            let id = try store.beginEpisode(task: k == 1 ? "push" : "pick", fps: 30, jointNames: e.summary.jointNames, commandMode: "position",
                                            startedAt: 1_800_000_000 + Double(k), provenance: e.summary.provenance)
            try store.append(episode: id, frames: e.frames)
            if status == .complete { try store.finish(episode: id, status: .complete, endedAt: 1_800_000_100) }
            if k != 1 && status == .complete { expected.append(e) }
        }
        try store.delete(episode: 2)  // a gap in the store ids: 1, 3 are exported as 0, 1

        let config = root.appendingPathComponent("c.yaml")
        let sim = try String(contentsOf: ChildProcess.repositoryRoot.appendingPathComponent("configs/sim.yaml"), encoding: .utf8)
        let urdf = ChildProcess.repositoryRoot.appendingPathComponent("hardware/robots/sim6/robot.urdf").path
        try sim.replacingOccurrences(of: "data_directory: ./data", with: "data_directory: \(data.path)")
            .replacingOccurrences(of: "../hardware/robots/sim6/robot.urdf", with: urdf)
            .write(to: config, atomically: true, encoding: .utf8)

        let list = try ChildProcess.run(Self.robotd, ["dataset", "list", "--config", config.path])
        #expect(list.status == 0)
        #expect(list.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ").prefix(3).joined(separator: " ") } == [
            "1 complete 12", "3 complete 7", "4 recording 4",
        ])
        let out = root.appendingPathComponent("out").path
        let run = try ChildProcess.run(Self.robotd, ["dataset", "export", "--config", config.path, "--format", "lerobot", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix("exported 2 episodes (store ids 1, 3), 19 frames"))
        #expect(run.stderr == "skipped episode 4: still recording\n")
        let check = try DatasetExportTests.check(URL(fileURLWithPath: out))
        #expect(check.failures == [])
        #expect(check.episodes.length == [12, 7])
        let again = try ChildProcess.run(Self.robotd, ["dataset", "export", "--config", config.path, "--out", out, "--episodes", "4"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("episode 4 is still recording"))
        let missing = try ChildProcess.run(Self.robotd, ["dataset", "export", "--config", config.path, "--out", out + "2", "--episodes", "2"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("episode 2 is not in the store"))
        let forced = try ChildProcess.run(Self.robotd, ["dataset", "export", "--config", config.path, "--out", out, "--episodes", "3", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try DatasetExportTests.check(URL(fileURLWithPath: out)).episodes.length == [7])
        withExtendedLifetime(store) {}
    }
}
