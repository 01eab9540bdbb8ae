import ControlSocket
import Foundation
import Testing

/// `record.*` and `dataset.*` against a real `robotd run` (sim6 at 500 Hz): recording in hold and
/// move, the frame count against the loop's own clock, `kill -9` while recording, and the
/// access policy. Durations are read from the daemon's loop time (`status.loop_time_s`), never
/// from the test's wall clock.
@Suite struct RecordingSocketTests {
    static func loopTime(_ c: ControlClient) throws -> Double { try #require(SocketReply.number(try c.result("status")["loop_time_s"])) }

    static func recording(_ c: ControlClient) throws -> [String: Any] {
        try #require(try c.result("status")["recording"] as? [String: Any])
    }

    static func episodes(_ c: ControlClient) throws -> [[String: Any]] {
        try #require(try c.result("dataset.list")["episodes"] as? [[String: Any]])
    }

    /// sqlite3's own check of the file, from Python's standard library (an independent reader).
    static func sqlite(_ path: String, _ query: String) throws -> String {
        let script = "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])"
        let r = try TestSupport.run("/usr/bin/env", ["python3", "-c", script, path, query])
        guard r.status == 0 else { throw SocketTestFailure.badReply("python sqlite3: \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func recordsInHoldAndMoveStopsAndLists() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        let idle = try Self.recording(c)
        #expect(idle["recording"] as? Bool == false && idle["last_error"] is NSNull, "\(idle)")

        let fps = 50.0
        let t0 = try Self.loopTime(c)
        let started = try c.result("record.start", ["task": "reach the cup", "fps": 50])
        let t1 = try Self.loopTime(c)
        #expect(started["recording"] as? Bool == true && started["task"] as? String == "reach the cup" && started["fps"] as? Int == 50,
                "\(started)")
        let id = try #require(started["episode"] as? Int)
        // A second start is refused while recording.
        #expect(SocketReply.code(try c.reply("record.start", ["task": "x", "fps": 10])) == -32002)
        // In hold, then a move, then hold again.
        usleep(300_000)
        _ = try c.result("move", ["q": [0.3, -0.5, 0.4, -0.2, 0.2, 0.1], "duration": 0.5])
        usleep(900_000)
        let during = try Self.recording(c)
        #expect(during["recording"] as? Bool == true && (during["frames"] as? Int ?? 0) > 0, "\(during)")
        // Deleting the episode being recorded is refused.
        #expect(SocketReply.code(try c.reply("dataset.delete", ["id": id])) == -32002)
        let t2 = try Self.loopTime(c)
        let stopped = try c.result("record.stop")
        let t3 = try Self.loopTime(c)
        let frames = try #require(stopped["frames"] as? Int)
        #expect(stopped["recording"] as? Bool == false && stopped["episode"] as? Int == id, "\(stopped)")
        // The recording spanned at least [t1, t2] and at most [t0, t3] of loop time.
        #expect(Double(frames) >= (t2 - t1) * fps - 1 && Double(frames) <= (t3 - t0) * fps + 1,
                "\(frames) frames; loop time \(t0) \(t1) \(t2) \(t3)")
        #expect(SocketReply.code(try c.reply("record.stop")) == -32002, "stop while not recording")

        let listed = try Self.episodes(c)
        let e = try #require(listed.first { $0["id"] as? Int == id })
        #expect(e["status"] as? String == "complete" && e["frames"] as? Int == frames && e["fps"] as? Int == 50, "\(e)")
        #expect(e["task"] as? String == "reach the cup" && e["command_mode"] as? String == "effort", "\(e)")
        #expect(SocketReply.number(e["ended_at"]) ?? 0 >= SocketReply.number(e["started_at"]) ?? .infinity, "\(e)")

        // The stored frames, read by sqlite3 itself: both modes, timestamps on the k/fps grid.
        let db = daemon.directory + "/data/episodes.sqlite"
        #expect(try Self.sqlite(db, "SELECT COUNT(*) FROM frames WHERE episode_id = \(id)") == "\(frames)")
        #expect(try Self.sqlite(db, "SELECT COUNT(DISTINCT mode) FROM frames WHERE episode_id = \(id) AND mode IN ('hold', 'move')") == "2")
        #expect(try Self.sqlite(db, "SELECT MAX(ABS(timestamp * 50 - frame_index)) < 1e-9 FROM frames WHERE episode_id = \(id)") == "1")
        // Provenance: the files' SHA-256 as sha256sum computes them, no calibration for the simulator, our uid.
        let provenance = try #require(try TestSupport.json(try Self.sqlite(db, "SELECT provenance FROM episodes WHERE id = \(id)")) as? [String: Any])
        func sha256(_ path: String) throws -> String {
            String(try TestSupport.run("/usr/bin/sha256sum", [path]).stdout.prefix(64))
        }
        #expect(provenance["urdfSHA256"] as? String == (try sha256(TestSupport.urdfPath("sim6"))), "\(provenance)")
        #expect(provenance["configurationSHA256"] as? String == (try sha256(daemon.configPath)), "\(provenance)")
        #expect(provenance["calibrationSHA256"] == nil && provenance["robot"] as? String == "sim6", "\(provenance)")
        #expect(provenance["operatorUID"] as? Int == Int(getuid()) && provenance["task"] as? String == "reach the cup", "\(provenance)")
        #expect((provenance["robotdVersion"] as? String)?.isEmpty == false, "\(provenance)")

        // Bad params name the problem; discard deletes; delete of an unknown id is invalid params.
        for bad: [String: Any] in [["task": "", "fps": 50], ["task": "t", "fps": 0], ["task": "t", "fps": 501], ["task": "t"],
                                   ["task": "t", "fps": 50, "extra": 1], ["task": 3, "fps": 50]] {
            #expect(SocketReply.code(try c.reply("record.start", bad)) == -32602, "\(bad)")
        }
        let second = try #require(try c.result("record.start", ["task": "scrap", "fps": 10])["episode"] as? Int)
        let discarded = try c.result("record.discard")
        #expect(discarded["recording"] as? Bool == false, "\(discarded)")
        #expect(try Self.episodes(c).allSatisfy { $0["id"] as? Int != second })
        #expect(SocketReply.code(try c.reply("dataset.delete", ["id": 999_999])) == -32602)
        #expect(try c.result("dataset.delete", ["id": id])["deleted"] as? Int == id)
        #expect(try Self.episodes(c).isEmpty)
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// `kill -9` while recording: after a restart the episode is `incomplete`, the file passes
    /// sqlite3's integrity check, and the newest stored frame is at most 100 ms (+ one frame)
    /// older than the loop time the daemon reported just before the kill.
    @Test func killedWhileRecordingKeepsAllButTheLast100Milliseconds() throws {
        let first = try SocketTestDaemon()
        defer { first.finish() }
        #expect(first.waitUntilListening(), "\(first.stderr)")
        let c = try first.connect()
        let fps = 100.0
        let id = try #require(try c.result("record.start", ["task": "crash", "fps": 100])["episode"] as? Int)
        _ = try c.result("move", ["q": [0.3, -0.5, 0.4, -0.2, 0.2, 0.1], "duration": 2])
        usleep(1_500_000)
        let status = try c.result("status")
        let before = try #require(SocketReply.number(status["loop_time_s"]))
        let framesBefore = try #require((status["recording"] as? [String: Any])?["frames"] as? Int)
        first.process.signal(SIGKILL)
        _ = first.process.wait(timeout: 10)
        c.close()

        let db = first.directory + "/data/episodes.sqlite"
        let stored = try #require(Int(try Self.sqlite(db, "SELECT COUNT(*) FROM frames WHERE episode_id = \(id)")))
        let newest = try #require(Double(try Self.sqlite(db, "SELECT MAX(loop_time) FROM frames WHERE episode_id = \(id)")))
        #expect(newest >= before - 0.1 - 1 / fps, "newest stored frame at loop time \(newest), status said \(before) before the kill")
        #expect(Double(stored) >= Double(framesBefore) - 0.1 * fps - 1, "\(stored) stored, \(framesBefore) taken before the kill")

        let second = try SocketTestDaemon(directory: first.directory)
        defer { second.finish() }
        #expect(second.waitUntilListening(), "\(second.stderr)")
        let c2 = try second.connect()
        let e = try #require(try Self.episodes(c2).first { $0["id"] as? Int == id })
        #expect(e["status"] as? String == "incomplete" && e["frames"] as? Int == stored, "\(e)")
        #expect((e["error"] as? String)?.contains("killed or crashed") == true, "\(e)")
        #expect(try Self.sqlite(db, "PRAGMA integrity_check") == "ok")
        // The store takes new episodes after the recovery.
        #expect(try c2.result("record.start", ["task": "after", "fps": 50])["episode"] as? Int ?? 0 > id)
        _ = try c2.result("record.stop")
        c2.close()
        #expect(second.stop() == 0, "\(second.stderr)")
    }

    /// An observer may list episodes and nothing else; the refusals leave the daemon running and
    /// not recording.
    @Test(.enabled(if: getuid() == 0, "needs root to run a client as user nobody"))
    func aReadOnlyClientCannotRecordOrDelete() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "/usr/bin/setpriv is missing (util-linux)")
        let daemon = try SocketTestDaemon(socketSettings: "mode: \"0666\", observers: [nobody]")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        for (method, params) in [("record.start", "{\"task\":\"t\",\"fps\":50}"), ("record.stop", nil), ("record.discard", nil),
                                 ("dataset.delete", "{\"id\":1}")] {
            let r = try ControlSocketTests.peerCall(daemon.socketPath, method, params)
            #expect(SocketReply.code(r) == -32001, "\(method): \(r)")
            #expect(SocketReply.data(r)?["required"] as? String == "operator", "\(method): \(r)")
        }
        let list = try ControlSocketTests.peerCall(daemon.socketPath, "dataset.list")
        #expect((list["result"] as? [String: Any])?["episodes"] as? [Any] != nil, "\(list)")
        let c = try daemon.connect()
        #expect(try Self.recording(c)["recording"] as? Bool == false)
        #expect(try c.result("status")["mode"] as? String == "hold")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// robotctl record start|stop|list and dataset delete, as a process.
    @Test func robotctlRecordsListsAndDeletes() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let s = daemon.socketPath
        let start = try RobotctlDaemonTests.robotctl(["record", "start", "--task", "wave", "--fps", "25"], socket: s)
        #expect(start.status == 0 && start.stdout.contains("recording  episode 1 \"wave\" at 25 fps"), "\(start.stdout) \(start.stderr)")
        #expect(try RobotctlDaemonTests.robotctl(["record", "start", "--task", "wave"], socket: s).status == 64, "--fps is required")
        let again = try RobotctlDaemonTests.robotctl(["record", "start", "--task", "wave", "--fps", "25"], socket: s)
        #expect(again.status == 1 && again.stderr.contains("already recording"), "\(again.stderr)")
        let status = try RobotctlDaemonTests.robotctl(["status"], socket: s)
        #expect(status.stdout.contains("recording  episode 1"), "\(status.stdout)")
        usleep(400_000)
        let stop = try RobotctlDaemonTests.robotctl(["record", "stop"], socket: s)
        #expect(stop.status == 0 && stop.stdout.contains("stopped: episode 1 complete"), "\(stop.stdout) \(stop.stderr)")
        let list = try RobotctlDaemonTests.robotctl(["record", "list"], socket: s)
        #expect(list.status == 0 && list.stdout.contains("complete") && list.stdout.contains("wave"), "\(list.stdout)")
        let json = try #require(try TestSupport.json(try RobotctlDaemonTests.robotctl(["dataset", "list", "--json"], socket: s).stdout) as? [String: Any])
        #expect((json["episodes"] as? [[String: Any]])?.first?["id"] as? Int == 1, "\(json)")
        #expect(try RobotctlDaemonTests.robotctl(["dataset", "delete"], socket: s).status == 64)
        let delete = try RobotctlDaemonTests.robotctl(["dataset", "delete", "1"], socket: s)
        #expect(delete.status == 0 && delete.stdout.contains("deleted episode 1"), "\(delete.stdout) \(delete.stderr)")
        #expect(try RobotctlDaemonTests.robotctl(["record", "list"], socket: s).stdout.contains("no episodes"))
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}
