import ControlSocket
import Foundation
import Testing

/// Issue 16's acceptance test, end to end on real processes: a scripted teleop run on the
/// simulated SO-101 (configs/so101-sim.yaml, position servos) is recorded (`record.*`), exported
/// by `robotd dataset export` while the daemon still runs, and loaded with pyarrow; the exported
/// actions match the store's to float32, and the physics agrees (a held target is the goal
/// exactly once the step limit has caught up, and the servos reach it).
///
/// Durations come from the daemon's loop time (`status.loop_time_s`, each stored frame's
/// `loop_time`) and waits are polls with bounded deadlines; nothing asserts the test's wall clock.
@Suite(.serialized) struct TeleopExportTests {
    /// The servos' steady-state error we accept at a held target (rad): the simulated STS3215's PD
    /// with the model's gravity feedforward settles within about 0.004 rad (the encoder step is
    /// 0.0015 rad); the margin is for a loaded machine, not for the physics.
    static let servoTolerance = 0.02
    static let fps = 25

    /// Joint targets (rad), dyadic rationals: exact in binary and in any decimal printing, so
    /// "the goal is the target" and "float32 of the target" are exact comparisons. All lie inside
    /// the SO-101's limits by more than the teleop source's margin (0.05 rad).
    static let firstEpisode: [[Double]] = [
        [0.125, -0.125, 0.125, 0.125, -0.125, 0.25],
        [0.25, -0.25, 0.3125, 0.25, -0.25, 0.5],
        [0.125, -0.375, 0.25, 0.0625, 0, 0.375],
        [0, -0.25, 0.125, 0, 0.125, 0.125],
    ]
    static let secondEpisode: [[Double]] = [
        [-0.125, -0.125, 0.0625, -0.125, 0.25, 0.25],
        [0, 0, 0, 0, 0, 0.0625],
    ]

    /// One held target and the loop-time window [settledFrom, until] in which the status showed
    /// the goal equal to it and the joints within `servoTolerance`, every time it was read.
    struct Segment {
        var target: [Double]
        var settledFrom: Double
        var until: Double
    }

    static func command(_ status: [String: Any]) -> [Double] {
        SocketReply.numbers((status["joints"] as? [String: Any])?["command"]) ?? []
    }

    static func post(_ c: ControlClient, _ target: [Double]) throws {
        let r = try c.reply("teleop.stream", ["q": target])
        guard r["result"] != nil else { throw SocketTestFailure.badReply("teleop.stream \(target): \(r)") }
        usleep(20_000)
    }

    /// Streams `target` every 20 ms: at least `minimumPosts` times (~1 s), then until the status
    /// has shown the goal equal to the target and the joints within tolerance for `settledPosts`
    /// posts in a row (bounded: `maximumPosts`).
    static func hold(_ c: ControlClient, _ target: [Double], minimumPosts: Int = 50, settledPosts: Int = 25,
                     maximumPosts: Int = 500) throws -> Segment {
        var settledFrom: Double?
        var settledFor = 0
        var last: [String: Any] = [:]
        for k in 0 ..< maximumPosts {
            try post(c, target)
            if k < minimumPosts / 2 { continue }
            last = try c.result("status")
            let time = try #require(SocketReply.number(last["loop_time_s"]))
            let settled = command(last) == target && TeleopSocketTests.maxAbsDiff(TeleopSocketTests.q(last), target) < servoTolerance
            if !settled {
                settledFrom = nil
                settledFor = 0
                continue
            }
            if settledFrom == nil { settledFrom = time }
            settledFor += 1
            if k >= minimumPosts && settledFor >= settledPosts, let from = settledFrom {
                return Segment(target: target, settledFrom: from, until: time)
            }
        }
        throw SocketTestFailure.badReply("never settled at \(target) in \(maximumPosts) posts; last status \(last)")
    }

    /// One episode: the previous target streamed (the source acting before the first frame), then
    /// `record.start`, each target held, `record.stop`. Returns the store id, frames and segments.
    static func record(_ c: ControlClient, task: String, from start: [Double], through targets: [[Double]]) throws
        -> (id: Int, frames: Int, segments: [Segment]) {
        for _ in 0 ..< 10 { try post(c, start) }
        let started = try c.result("record.start", ["task": task, "fps": fps])
        let id = try #require(started["episode"] as? Int, "\(started)")
        var segments: [Segment] = []
        for target in targets { segments.append(try hold(c, target)) }
        let stopped = try c.result("record.stop")
        #expect(stopped["episode"] as? Int == id, "\(stopped)")
        return (id, try #require(stopped["frames"] as? Int, "\(stopped)"), segments)
    }

    static func float32(_ hex: Any?) -> UInt32? { (hex as? String).flatMap { UInt32($0, radix: 16) } }
    static func float64(_ hex: Any?) -> Double? { (hex as? String).flatMap { UInt64($0, radix: 16) }.map { Double(bitPattern: $0) } }
    static func rows32(_ any: Any?) -> [[UInt32]] { (any as? [[Any]] ?? []).map { $0.compactMap(float32) } }
    static func rows64(_ any: Any?) -> [[Double]] { (any as? [[Any]] ?? []).map { $0.compactMap(float64) } }

    @Test func scriptedTeleopRunExportsAndLoadsWithTheStoredActionsToFloat32() throws {
        let daemon = try So101SimDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        #expect(try c.result("mode.set", ["mode": "teleop"])["mode"] as? String == "teleop")

        let rest = [Double](repeating: 0, count: 6)
        let first = try Self.record(c, task: "visit four poses", from: rest, through: Self.firstEpisode)
        let second = try Self.record(c, task: "return to rest", from: Self.firstEpisode.last!, through: Self.secondEpisode)
        let episodes = [first, second]
        let tasks = ["visit four poses", "return to rest"]
        let listed = try RecordingSocketTests.episodes(c)
        for (e, task) in zip(episodes, tasks) {
            let entry = try #require(listed.first { $0["id"] as? Int == e.id }, "\(listed)")
            #expect(entry["status"] as? String == "complete" && entry["frames"] as? Int == e.frames && entry["task"] as? String == task
                    && entry["fps"] as? Int == Self.fps && entry["command_mode"] as? String == "position", "\(entry)")
        }

        // Exported while the daemon runs (and holds the store open).
        let out = daemon.directory + "/export"
        let export = try TestSupport.run(TestSupport.robotdPath, ["dataset", "export", "--config", daemon.configPath, "--format", "lerobot", "--out", out])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.hasPrefix("exported 2 episodes (store ids \(first.id), \(second.id)), \(first.frames + second.frames) frames"),
                "\(export.stdout)")
        #expect(daemon.isRunning)

        // The loader's invariants (Tests/oracles/lerobot_check.py).
        let checked = try TestSupport.python("Tests/oracles/lerobot_check.py", [out])
        try #require(checked.status == 0, "lerobot_check.py: \(checked.stderr)")
        let check = try #require(try TestSupport.json(checked.stdout) as? [String: Any])
        #expect(check["failures"] as? [String] == [], "\(check["failures"] ?? "")")
        #expect(check["tasks"] as? [String] == tasks)
        let meta = check["episodes"] as? [String: Any]
        #expect(meta?["length"] as? [Int] == [first.frames, second.frames], "\(meta ?? [:])")
        #expect(meta?["tasks"] as? [[String]] == tasks.map { [$0] }, "\(meta ?? [:])")

        // The export's columns (pyarrow) against the store's frames (sqlite3), to the bit.
        let db = daemon.directory + "/data/episodes.sqlite"
        let read = try TestSupport.python("Tests/oracles/lerobot_columns.py", [out, db])
        try #require(read.status == 0, "lerobot_columns.py: \(read.stderr)")
        let columns = try #require(try TestSupport.json(read.stdout) as? [String: Any])
        let exported = try #require(columns["export"] as? [String: Any])
        let stored = try #require(columns["store"] as? [[String: Any]])
        let episodeIndex = exported["episode_index"] as? [Int] ?? []
        let frameIndex = exported["frame_index"] as? [Int] ?? []
        let taskIndex = exported["task_index"] as? [Int] ?? []
        let intervention = exported["intervention"] as? [Bool] ?? []
        let timestamp = (exported["timestamp"] as? [Any] ?? []).compactMap(Self.float32)
        let action = Self.rows32(exported["action"])
        let state = Self.rows32(exported["observation.state"])
        let n = first.frames + second.frames
        try #require([episodeIndex.count, frameIndex.count, taskIndex.count, intervention.count, timestamp.count, action.count, state.count]
                        .allSatisfy { $0 == n }, "export columns are not \(n) rows each")

        var row = 0
        for (e, episode) in episodes.enumerated() {
            let frames = try #require(stored.first { $0["id"] as? Int == episode.id }, "store episode \(episode.id)")
            let storeIndex = frames["frame_index"] as? [Int] ?? []
            let storeTimestamp = (frames["timestamp"] as? [Any] ?? []).compactMap(Self.float64)
            let loopTime = SocketReply.numbers(frames["loop_time"]) ?? []
            let storeAction = Self.rows64(frames["action"])
            let mode = frames["mode"] as? [String] ?? []
            let storeIntervention = frames["intervention"] as? [Bool] ?? []
            try #require(frames["status"] as? String == "complete" && storeIndex == Array(0 ..< episode.frames)
                         && [storeTimestamp.count, loopTime.count, storeAction.count, mode.count, storeIntervention.count]
                            .allSatisfy { $0 == episode.frames }, "store episode \(episode.id): \(episode.frames) frames expected")
            var mismatches: [String] = []
            for k in 0 ..< episode.frames {
                let r = row + k
                if episodeIndex[r] != e || frameIndex[r] != k || taskIndex[r] != e { mismatches.append("row \(r): episode/frame/task index") }
                // Timestamps exactly k/fps: the store's double, the export's float32 of it.
                if storeTimestamp[k].bitPattern != (Double(k) / Double(Self.fps)).bitPattern { mismatches.append("store frame \(k): timestamp \(storeTimestamp[k])") }
                if timestamp[r] != Float(Double(k) / Double(Self.fps)).bitPattern { mismatches.append("row \(r): timestamp bits \(timestamp[r])") }
                // Every exported action is float32 of the stored double.
                if action[r] != storeAction[k].map({ Float($0).bitPattern }) { mismatches.append("row \(r): action \(action[r]) vs store \(storeAction[k])") }
                // Recorded in teleop the whole time, the stream acting: a person's command.
                if mode[k] != "teleop" || !storeIntervention[k] || !intervention[r] {
                    mismatches.append("row \(r): mode \(mode[k]), intervention store \(storeIntervention[k]) export \(intervention[r])")
                }
            }
            #expect(mismatches.isEmpty, "episode \(e): \(mismatches.prefix(10))")

            // The physical oracle: in each held target's settled window the goal is the target
            // exactly and the measured joints are within the servo tolerance of it.
            for segment in episode.segments {
                let settled = (0 ..< episode.frames).filter { loopTime[$0] >= segment.settledFrom && loopTime[$0] <= segment.until }
                #expect(settled.count >= 3, "episode \(e): \(settled.count) frames in [\(segment.settledFrom), \(segment.until)] at \(segment.target)")
                for k in settled {
                    let r = row + k
                    #expect(storeAction[k] == segment.target, "episode \(e) frame \(k): stored goal \(storeAction[k]) vs \(segment.target)")
                    #expect(action[r] == segment.target.map { Float($0).bitPattern }, "episode \(e) frame \(k): exported action")
                    let q = state[r].map { Double(Float(bitPattern: $0)) }
                    #expect(maxAbsDiff(q, segment.target) < Self.servoTolerance, "episode \(e) frame \(k): state \(q) vs \(segment.target)")
                }
            }
            row += episode.frames
        }

        // Opt-in: LeRobot's own LeRobotDataset loads the export, each frame's vectors equal to
        // the file's to the bit (Tests/oracles/lerobot_load.py; README "Tests").
        let environment = ProcessInfo.processInfo.environment
        if environment["ROBOTD_LEROBOT_TEST"] == "1" {
            let script = TestSupport.repoRoot.appendingPathComponent("Tests/oracles/lerobot_load.py").path
            let load = try TestSupport.run("/usr/bin/env", [environment["ROBOTD_LEROBOT_PYTHON"] ?? "python3", script, out])
            if load.status == 2 {
                print("TeleopExportTests: LeRobotDataset check skipped: \(load.stdout)")
            } else {
                try #require(load.status == 0, "lerobot_load.py: \(load.stderr)")
                let loaded = try #require(try TestSupport.json(load.stdout) as? [String: Any])
                #expect(loaded["failures"] as? [String] == [], "\(loaded["failures"] ?? "")")
                #expect(loaded["frames"] as? Int == n && loaded["episodes"] as? Int == 2 && loaded["tasks"] as? [String] == tasks, "\(loaded)")
            }
        }

        #expect(daemon.isRunning)
        #expect(try c.result("status")["mode"] as? String == "teleop")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}
