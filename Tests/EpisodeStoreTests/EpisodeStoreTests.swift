@testable import EpisodeStore
import Foundation
import GRDB
import Testing

/// A fresh directory per test, removed at the end.
final class TempDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "episodestore-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit {
        _ = try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        try? FileManager.default.removeItem(atPath: path)
    }
    var store: String { EpisodeStore.path(dataDirectory: path) }
}

let joints = ["shoulder", "elbow", "wrist"]

func provenance(task: String = "pick") -> EpisodeProvenance {
    EpisodeProvenance(robot: "arm", urdfSHA256: String(repeating: "a", count: 64), calibrationSHA256: nil,
                      configurationSHA256: String(repeating: "c", count: 64), robotdVersion: "0.0.0-test", policy: "p.safetensors",
                      policyVersion: 2, modelVersion: 0, operatorUID: 1000, task: task)
}

/// Frames whose values exercise every bit: negative zero, subnormals, extremes, NaN payloads
/// and infinities (the store keeps bits, not numbers).
func frames(_ range: Range<Int>, fps: Int = 50) -> [RecordedFrame] {
    let specials: [Double] = [-0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.infinity, Double(bitPattern: 0x7FF8_0000_0000_0ABC), 1e-300, .pi]
    return range.map { k in
        func v(_ salt: Int) -> [Double] {
            (0 ..< joints.count).map { j in
                let s = (k * 7 + j * 3 + salt) % (specials.count + 2)
                return s < specials.count ? specials[s] : Double(k) * 0.001 + Double(j) + Double(salt) / 7
            }
        }
        return RecordedFrame(frameIndex: k, timestamp: Double(k) / Double(fps), loopTime: 0.123 + Double(k) * 0.02, position: v(0),
                             velocity: v(1), effort: v(2), action: v(3), requestedAction: v(4), mode: k % 2 == 0 ? "teleop" : "policy",
                             intervention: k % 3 == 0)
    }
}

func bits(_ f: [RecordedFrame]) -> [[UInt64]] {
    f.map { x in
        [x.timestamp, x.loopTime].map(\.bitPattern) + (x.position + x.velocity + x.effort + x.action + x.requestedAction).map(\.bitPattern)
    }
}

func digest(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

@Suite struct EpisodeStoreTests {
    @Test func roundTripIsBitExact() throws {
        let dir = TempDirectory()
        let store = try EpisodeStore(path: dir.store, access: .writer)
        let id = try store.beginEpisode(task: "pick", fps: 50, jointNames: joints, commandMode: "position", startedAt: 1_700_000_000.25,
                                        provenance: provenance())
        let written = frames(0 ..< 120)
        try store.append(episode: id, frames: Array(written[0 ..< 50]))
        try store.append(episode: id, frames: Array(written[50...]))
        try store.finish(episode: id, status: .complete, endedAt: 1_700_000_003.5)

        let read = try store.episode(id: id)
        #expect(read.frames.count == 120)
        #expect(bits(read.frames) == bits(written))
        #expect(read.frames.map(\.frameIndex) == Array(0 ..< 120))
        #expect(read.frames.map(\.mode) == written.map(\.mode))
        #expect(read.frames.map(\.intervention) == written.map(\.intervention))
        let s = read.summary
        #expect(s.id == id && s.task == "pick" && s.fps == 50 && s.jointNames == joints && s.commandMode == "position")
        #expect(s.startedAt == 1_700_000_000.25 && s.endedAt == 1_700_000_003.5)
        #expect(s.status == .complete && s.frameCount == 120 && s.error == nil)
        #expect(s.provenance == provenance())
        #expect(try store.list().map(\.id) == [id])
        #expect(try store.list().first?.frameCount == 120)

        // A blob is exactly the little-endian bytes.
        #expect([UInt8](EpisodeStore.blob([1.0, -2.5])) == [0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0, 0, 0, 0, 0, 0, 0x04, 0xC0])
    }

    @Test func walIsOn() throws {
        let dir = TempDirectory()
        _ = try EpisodeStore(path: dir.store, access: .writer)
        let mode = try DatabaseQueue(path: dir.store).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func anEpisodeLeftRecordingIsIncompleteWhenTheWriterReopens() throws {
        let dir = TempDirectory()
        var id: Int64 = 0
        do {
            let store = try EpisodeStore(path: dir.store, access: .writer)
            id = try store.beginEpisode(task: "t", fps: 30, jointNames: joints, commandMode: "effort", startedAt: 1, provenance: provenance())
            try store.append(episode: id, frames: frames(0 ..< 10))
            // No finish: the daemon died.
        }
        // A reader sees it as it was and changes nothing.
        #expect(try EpisodeStore(path: dir.store, access: .reader).list().first?.status == .recording)
        let store = try EpisodeStore(path: dir.store, access: .writer)
        let s = try store.summary(episode: id)
        #expect(s.status == .incomplete)
        #expect(s.error == EpisodeStore.interruptedMessage)
        #expect(s.endedAt == nil)
        #expect(try store.episode(id: id).frames.count == 10)
        // A new episode never reuses an id.
        try store.delete(episode: id)
        let next = try store.beginEpisode(task: "u", fps: 30, jointNames: joints, commandMode: "effort", startedAt: 2, provenance: provenance())
        #expect(next > id)
    }

    @Test func aReaderChangesNothing() throws {
        let dir = TempDirectory()
        let writer = try EpisodeStore(path: dir.store, access: .writer)
        let id = try writer.beginEpisode(task: "t", fps: 10, jointNames: joints, commandMode: "effort", startedAt: 1, provenance: provenance())
        try writer.append(episode: id, frames: frames(0 ..< 5))
        // Checkpointed into the main file, so its bytes are the whole state.
        _ = try DatabaseQueue(path: dir.store).writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let before = digest(dir.store)
        let reader = try EpisodeStore(path: dir.store, access: .reader)
        #expect(try reader.list().first?.status == .recording)
        #expect(try reader.episode(id: id).frames.count == 5)
        for attempt in [{ _ = try reader.beginEpisode(task: "x", fps: 1, jointNames: joints, commandMode: "effort", startedAt: 0, provenance: provenance()) },
                        { try reader.delete(episode: id) }, { try reader.finish(episode: id, status: .complete, endedAt: 2) }] {
            #expect(throws: EpisodeStoreError(.unwritable, path: "", "")) { try attempt() }
        }
        #expect(digest(dir.store) == before)
        // The writer still appends while a reader is open, and the reader sees the commit.
        try writer.append(episode: id, frames: frames(5 ..< 8))
        #expect(try reader.episode(id: id).frames.count == 8)
    }

    /// One writer per file (another robotd on the same data_directory is refused), readers beside it;
    /// the lock goes with the writer.
    @Test func aSecondWriterIsRefused() throws {
        let dir = TempDirectory()
        var first: EpisodeStore? = try EpisodeStore(path: dir.store, access: .writer)
        let id = try #require(first).beginEpisode(task: "t", fps: 10, jointNames: joints, commandMode: "effort", startedAt: 1,
                                                  provenance: provenance())
        let error = #expect(throws: EpisodeStoreError.self) { try EpisodeStore(path: dir.store, access: .writer) }
        #expect(error?.code == .inUse && error?.description.contains("one robotd per data_directory") == true)
        // The refused writer changed nothing: the episode is still being recorded.
        #expect(try EpisodeStore(path: dir.store, access: .reader).summary(episode: id).status == .recording)
        first = nil
        #expect(try EpisodeStore(path: dir.store, access: .writer).summary(episode: id).status == .incomplete)
    }

    @Test func aReaderOfAMissingStoreSaysSo() {
        let dir = TempDirectory()
        #expect(throws: EpisodeStoreError(.unwritable, path: "", "")) { try EpisodeStore(path: dir.store, access: .reader) }
        #expect(!FileManager.default.fileExists(atPath: dir.store))
    }

    @Test func aFullDiskIsNamedAndLosesNoCommittedFrame() throws {
        let dir = TempDirectory()
        // Small enough to fill after a few hundred frames, big enough for the schema.
        let store = try EpisodeStore(path: dir.store, access: .writer, options: .init(maxPageCount: 24))
        let id = try store.beginEpisode(task: "t", fps: 50, jointNames: joints, commandMode: "effort", startedAt: 1, provenance: provenance())
        var committed = 0
        var failure: EpisodeStoreError?
        for batch in 0 ..< 200 {
            do {
                try store.append(episode: id, frames: frames(batch * 10 ..< batch * 10 + 10))
                committed += 10
            } catch {
                failure = error
                break
            }
        }
        let error = try #require(failure)
        #expect(error.code == .diskFull)
        #expect(error.description.contains(dir.store) && error.description.contains("disk is full"))
        #expect(committed > 0)
        try store.finish(episode: id, status: .incomplete, error: error.description, endedAt: 2)
        let read = try store.episode(id: id)
        #expect(read.frames.count == committed && read.summary.frameCount == committed)
        #expect(bits(read.frames) == bits(frames(0 ..< committed)))
        #expect(read.summary.status == .incomplete && read.summary.error == error.description)
    }

    @Test func anUnwritableDirectoryIsNamed() throws {
        let dir = TempDirectory()
        // A directory without write permission (root ignores it) and a "directory" that is a file.
        var paths = [dir.path + "/file/episodes.sqlite"]
        try Data().write(to: URL(fileURLWithPath: dir.path + "/file"))
        if getuid() != 0 {
            try FileManager.default.createDirectory(atPath: dir.path + "/ro", withIntermediateDirectories: false)
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: dir.path + "/ro")
            paths.append(dir.path + "/ro/episodes.sqlite")
        }
        for path in paths {
            let error = #expect(throws: EpisodeStoreError.self) { try EpisodeStore(path: path, access: .writer) }
            #expect(error?.code == .unwritable, "\(String(describing: error))")
            #expect(error?.description.contains(path) == true)
        }
    }

    @Test(arguments: ["garbage", "sqliteHeader", "otherTables", "lyingMigrations", "truncated", "badBlob"])
    func aHostileOrCorruptFileGivesAClearError(kind: String) throws {
        let dir = TempDirectory()
        switch kind {
        case "garbage":
            try Data((0 ..< 8192).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).write(to: URL(fileURLWithPath: dir.store))
        case "sqliteHeader":
            try (Data("SQLite format 3\0".utf8) + Data(repeating: 0xFF, count: 4080)).write(to: URL(fileURLWithPath: dir.store))
        case "otherTables":
            try DatabaseQueue(path: dir.store).write { try $0.execute(sql: "CREATE TABLE episodes (name TEXT); INSERT INTO episodes VALUES ('x')") }
        case "lyingMigrations":
            try DatabaseQueue(path: dir.store).write {
                try $0.execute(sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1 episodes and frames');
                    CREATE TABLE episodes (id INTEGER PRIMARY KEY); CREATE TABLE frames (x);
                    """)
            }
        case "truncated":
            do {
                let store = try EpisodeStore(path: dir.store, access: .writer)
                for _ in 0 ..< 5 {
                    let id = try store.beginEpisode(task: "t", fps: 50, jointNames: joints, commandMode: "effort", startedAt: 1, provenance: provenance())
                    try store.append(episode: id, frames: frames(0 ..< 400))
                    try store.finish(episode: id, status: .complete, endedAt: 2)
                }
            }
            let data = try #require(digest(dir.store))
            try data.prefix(data.count / 3).write(to: URL(fileURLWithPath: dir.store))
        case "badBlob":
            let id: Int64
            do {
                let store = try EpisodeStore(path: dir.store, access: .writer)
                id = try store.beginEpisode(task: "t", fps: 50, jointNames: joints, commandMode: "effort", startedAt: 1, provenance: provenance())
                try store.append(episode: id, frames: frames(0 ..< 3))
            }
            try DatabaseQueue(path: dir.store).write { try $0.execute(sql: "UPDATE frames SET effort = x'0102' WHERE frame_index = 1") }
        default:
            Issue.record("unknown case")
        }
        // Either the open or the first read names the file and says it is not a valid store;
        // never a crash, never a silent success.
        for access in [EpisodeStore.Access.reader, .writer] {
            let error = #expect(throws: EpisodeStoreError.self) {
                let store = try EpisodeStore(path: dir.store, access: access)
                for s in try store.list() { _ = try store.episode(id: s.id) }
            }
            #expect(error?.code == .corrupt, "\(kind) \(access): \(String(describing: error))")
            #expect(error?.description.contains(dir.store) == true)
        }
    }

    @Test func deletingTheEpisodeBeingRecordedIsRefused() throws {
        let dir = TempDirectory()
        let store = try EpisodeStore(path: dir.store, access: .writer)
        let a = try store.beginEpisode(task: "a", fps: 50, jointNames: joints, commandMode: "effort", startedAt: 1, provenance: provenance())
        try store.append(episode: a, frames: frames(0 ..< 3))
        #expect(throws: EpisodeStoreError(.episodeRecording, path: "", "")) { try store.delete(episode: a) }
        try store.finish(episode: a, status: .complete, endedAt: 2)
        try store.delete(episode: a)
        #expect(try store.list().isEmpty)
        #expect(throws: EpisodeStoreError(.unknownEpisode, path: "", "")) { try store.delete(episode: a) }
        #expect(throws: EpisodeStoreError(.unknownEpisode, path: "", "")) { try store.episode(id: a) }
        #expect(throws: EpisodeStoreError(.unknownEpisode, path: "", "")) { try store.append(episode: a, frames: frames(3 ..< 4)) }
        // Frames go with their episode.
        let n = try DatabaseQueue(path: dir.store).read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM frames") }
        #expect(n == 0)
    }

    @Test func raggedFramesAndEmptyTasksAreRefused() throws {
        let dir = TempDirectory()
        let store = try EpisodeStore(path: dir.store, access: .writer)
        #expect(throws: EpisodeStoreError(.invalidArgument, path: "", "")) {
            try store.beginEpisode(task: "", fps: 50, jointNames: joints, commandMode: "effort", startedAt: 1, provenance: provenance())
        }
        #expect(throws: EpisodeStoreError(.invalidArgument, path: "", "")) {
            try store.beginEpisode(task: "t", fps: 0, jointNames: joints, commandMode: "effort", startedAt: 1, provenance: provenance())
        }
        let id = try store.beginEpisode(task: "t", fps: 50, jointNames: joints, commandMode: "effort", startedAt: 1, provenance: provenance())
        var bad = frames(0 ..< 2)
        bad[1].effort.removeLast()
        #expect(throws: EpisodeStoreError(.invalidArgument, path: "", "")) { try store.append(episode: id, frames: bad) }
        // All or nothing: the good first frame of that call is not stored either.
        #expect(try store.episode(id: id).frames.isEmpty)
    }
}
