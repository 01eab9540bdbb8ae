import ControlProtocol
import ControlSocket
import Foundation
import Glibc
import Testing

// End-to-end tests of robotd's control socket (docs/protocol.md): a real `robotd run` per test,
// a small blocking JSON-RPC client, and Python oracles for another uid and socket activation.

/// Failures of the socket tests' own set-up (a temporary directory, a helper process).
enum SocketTestFailure: Error, CustomStringConvertible {
    case system(String, Int32)
    case badReply(String)

    var description: String {
        switch self {
        case let .system(what, e): "\(what): \(String(cString: strerror(e)))"
        case let .badReply(what): "bad reply: \(what)"
        }
    }
}

/// The tests speak to the daemon with the clients' own `ControlClient`; these helpers return
/// replies unchecked (errors included) and turn timeouts and end of stream into nil.
extension ControlClient {
    convenience init(path: String) throws {
        try self.init(path: path, timeout: 10)
    }

    /// The daemon closed the connection.
    var sawEOF: Bool { sawEndOfStream }

    /// Writes all of `data` as it is (never raises SIGPIPE).
    func sendRaw(_ data: Data) throws { try sendRaw(Array(data)) }

    func sendRaw(_ text: String) throws { try sendRaw(Array(text.utf8)) }

    /// Sends `object` as one line.
    func send(_ object: [String: Any]) throws {
        try sendRaw(JSONSerialization.data(withJSONObject: object) + [0x0A])
    }

    /// The next line (without `\n`), or nil on timeout or end of stream.
    func readLine(timeout: Double = 10) -> String? {
        (try? readLine(within: timeout, waitingFor: "a line")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The next line as a JSON object, or nil on timeout or end of stream.
    func readObject(timeout: Double = 10) throws -> [String: Any]? {
        let message: JSONValue
        do {
            message = try readMessage(within: timeout, waitingFor: "a message")
        } catch .timeout, .connectionLost {
            return nil
        }
        return try SocketReply.foundation(message)
    }

    /// Sends a request and returns its reply as sent (error or result), skipping notifications.
    func reply(_ method: String, _ params: [String: Any]? = nil, timeout: Double = 10) throws -> [String: Any] {
        let id = try request(method, params.map { try JSONValue.parse(Array(JSONSerialization.data(withJSONObject: $0))) })
        return try SocketReply.foundation(reply(to: id, method: method, within: timeout))
    }

    /// `reply`, requiring a result object.
    func result(_ method: String, _ params: [String: Any]? = nil, timeout: Double = 10) throws -> [String: Any] {
        let reply = try reply(method, params, timeout: timeout)
        guard let result = reply["result"] as? [String: Any] else {
            throw SocketTestFailure.badReply("\(method) did not succeed: \(reply)")
        }
        return result
    }
}

extension ControlClient: @unchecked Sendable {}

/// Reading JSON-RPC replies.
enum SocketReply {
    /// `message` as Foundation's JSONSerialization reads it (the oracle: the tests check what any
    /// JSON reader sees, not what our parser makes of it).
    static func foundation(_ message: JSONValue) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(message.serializedBytes)) as? [String: Any] else {
            throw SocketTestFailure.badReply("not an object: \(message.serialized)")
        }
        return object
    }

    static func errorObject(_ reply: [String: Any]?) -> [String: Any]? { reply?["error"] as? [String: Any] }
    static func code(_ reply: [String: Any]?) -> Int? { errorObject(reply)?["code"] as? Int }
    static func message(_ reply: [String: Any]?) -> String { errorObject(reply)?["message"] as? String ?? "" }
    static func data(_ reply: [String: Any]?) -> [String: Any]? { errorObject(reply)?["data"] as? [String: Any] }
    static func number(_ any: Any?) -> Double? { (any as? NSNumber)?.doubleValue }
    static func numbers(_ any: Any?) -> [Double]? {
        guard let a = any as? [Any] else { return nil }
        let xs = a.compactMap { ($0 as? NSNumber)?.doubleValue }
        return xs.count == a.count ? xs : nil
    }
}

/// A short private directory under /tmp (Unix socket paths must stay under 108 bytes).
enum SocketTempDirectory {
    static func make(mode: mode_t = 0o755) throws -> String {
        var template = Array("/tmp/rd-XXXXXX".utf8CString)
        let dir: String? = template.withUnsafeMutableBufferPointer { buf in
            mkdtemp(buf.baseAddress!).map { String(cString: $0) }
        }
        guard let dir else { throw SocketTestFailure.system("mkdtemp", errno) }
        guard chmod(dir, mode) == 0 else { throw SocketTestFailure.system("chmod \(dir)", errno) }
        return dir
    }
}

/// One `robotd run` with its own directory, config and control socket.
final class SocketTestDaemon: @unchecked Sendable {
    let directory: String
    let socketPath: String
    let configPath: String
    let process: DaemonProcess
    private let ownsDirectory: Bool

    /// `socketSettings` goes inside the config's `socket:` flow mapping after `path:`; `sections`
    /// is more YAML (other top-level sections, e.g. `driver:` or `learning:`).
    /// `loop` goes inside the config's `loop:` flow mapping (e.g. `early_wake: 0.0002`).
    init(socketSettings: String = "", sections: String = "", loop: String = "", directory: String? = nil, socketPath: String? = nil) throws {
        ownsDirectory = directory == nil
        self.directory = try directory ?? SocketTempDirectory.make()
        self.socketPath = socketPath ?? self.directory + "/s.sock"
        let extra = socketSettings.isEmpty ? "" : ", " + socketSettings
        configPath = try DaemonProcessTests.writeConfig(extra: "socket: {path: \(self.socketPath)\(extra)}\n\(sections)", loop: loop, in: self.directory)
        process = try DaemonProcess(arguments: ["run", "--config", configPath])
    }

    var stderr: String { process.stderr }
    var isRunning: Bool { process.process.isRunning }

    /// Waits for "control socket listening" (or the daemon's exit).
    func waitUntilListening(timeout: Double = 30) -> Bool {
        _ = DaemonProcessTests.waitFor(seconds: timeout) { stderr.contains("control socket listening") || !isRunning }
        return isRunning && stderr.contains("control socket listening")
    }

    func connect(timeout: Double = 10) throws -> ControlClient { try ControlClient(path: socketPath, timeout: timeout) }

    /// SIGTERM; the exit status.
    func stop() -> Int32 {
        if isRunning { process.signal(SIGTERM) }
        return process.wait()
    }

    /// Kills the daemon if it still runs and removes its directory.
    func finish() {
        if isRunning {
            process.signal(SIGKILL)
            _ = process.wait(timeout: 5)
        }
        if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) }
    }
}

@Suite struct ControlSocketTests {
    static let docMethods = ["hello", "status", "timing", "mode.set", "move", "estop", "reset", "config.get",
                             "telemetry.subscribe", "telemetry.unsubscribe", "log.setLevel"]

    /// Polls `status` until `mode` is `want`; the last status.
    static func waitForMode(_ client: ControlClient, _ want: String, timeout: Double) throws -> [String: Any] {
        let end = Date().addingTimeInterval(timeout)
        var status = try client.result("status")
        while status["mode"] as? String != want, Date() < end {
            usleep(20_000)
            status = try client.result("status")
        }
        return status
    }

    // MARK: 1. Every method

    @Test func everyMethodOfTheProtocolAnswersAsDocumented() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        var st = stat()
        #expect(stat(daemon.socketPath, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK)
        #expect(st.st_mode & 0o777 == 0o660, "default socket.mode 0660, got 0\(String(st.st_mode & 0o777, radix: 8))")
        let c = try daemon.connect()

        // hello
        let hello = try c.result("hello")
        #expect(hello["protocol"] as? Int == 1)
        #expect(hello["daemon"] as? String == "robotd")
        #expect(hello["version"] is String)
        #expect(hello["robot"] as? String == "sim6")
        #expect(hello["dof"] as? Int == 6)
        #expect((hello["joint_names"] as? [String])?.count == 6)
        #expect(hello["rate_hz"] as? Int == 500)
        #expect(hello["driver"] as? String == "simulation")
        #expect(Set(hello["modes"] as? [String] ?? []).isSuperset(of: ["idle", "hold", "move", "estop"]))
        #expect(hello["role"] as? String == "operator")
        #expect(hello["uid"] as? Int == Int(getuid()))
        let methods = Set(hello["methods"] as? [String] ?? [])
        #expect(methods.isSuperset(of: Self.docMethods), "missing: \(Set(Self.docMethods).subtracting(methods))")
        #expect(hello["telemetry_max_hz"] as? Int == 500, "min(loop rate 500, telemetry_max_hz 1000)")

        // status
        let status = try c.result("status")
        for key in ["mode", "fault", "rate_hz", "tick_count", "overruns", "uptime_s", "loop_time_s", "joints", "end_effector", "faults"] {
            #expect(status[key] != nil, "status lacks \(key): \(status)")
        }
        #expect(status["mode"] as? String == "hold")
        #expect(status["fault"] is NSNull)
        #expect(status["rate_hz"] as? Int == 500)
        #expect((status["tick_count"] as? Int ?? -1) > 0)
        #expect((status["overruns"] as? Int ?? -1) >= 0)
        #expect((SocketReply.number(status["uptime_s"]) ?? -1) > 0)
        // The first tick is at loop time 0; skipped periods only add time: t ≥ (ticks − 1) / rate.
        let ticksSoFar = Double(status["tick_count"] as? Int ?? 0)
        #expect((SocketReply.number(status["loop_time_s"]) ?? -1) >= (ticksSoFar - 1) / 500 - 1e-9)
        #expect(status["faults"] is [Any])
        let joints = try #require(status["joints"] as? [String: Any])
        #expect((joints["names"] as? [String]) == (hello["joint_names"] as? [String]))
        for key in ["q", "v", "effort", "command"] {
            #expect(SocketReply.numbers(joints[key])?.count == 6, "joints.\(key): \(String(describing: joints[key]))")
        }
        let ee = try #require(status["end_effector"] as? [String: Any])
        #expect(ee["frame"] as? String == "tool0")
        #expect(SocketReply.numbers(ee["position"])?.count == 3)
        let rows = try #require(ee["rotation"] as? [Any])
        let r = rows.compactMap { SocketReply.numbers($0) }
        #expect(r.count == 3 && r.allSatisfy { $0.count == 3 }, "rotation: \(rows)")
        if r.count == 3, r.allSatisfy({ $0.count == 3 }) {
            var worst = 0.0
            for i in 0 ..< 3 {
                for j in 0 ..< 3 {
                    let dot = (0 ..< 3).reduce(0.0) { $0 + r[i][$1] * r[j][$1] }
                    worst = max(worst, abs(dot - (i == j ? 1 : 0)))
                }
            }
            #expect(worst <= 1e-9, "R·Rᵀ differs from I by \(worst)")
        }

        // timing
        let timing = try c.result("timing")
        for key in ["ticks", "overruns", "worst_overrun_streak", "wake_latency_us", "compute_us", "allocations",
                    "scheduler", "rt_priority", "memory_locked", "cpu"] {
            #expect(timing[key] != nil, "timing lacks \(key): \(timing)")
        }
        for key in ["wake_latency_us", "compute_us"] {
            let q = try #require(timing[key] as? [String: Any], "timing.\(key)")
            #expect(Set(q.keys).isSuperset(of: ["p50", "p90", "p99", "p99_9", "max", "mean"]), "\(key): \(q.keys)")
        }
        #expect(timing["scheduler"] is String)
        #expect(timing["memory_locked"] as? Bool == false)
        // A stall of n periods is n overruns and one late tick.
        let late = try #require(timing["late_ticks"] as? Int, "\(timing)")
        #expect(late >= 0 && late <= (timing["overruns"] as? Int ?? -1), "\(timing)")
        #expect((timing["early_wake_us"] as? NSNumber)?.doubleValue == 0, "the test configuration sleeps to each deadline: \(timing)")

        // config.get
        let config = try c.result("config.get")
        for key in ["robot", "driver", "loop", "control", "limits", "mpc", "learning", "socket", "data_directory", "logging", "config_file"] {
            #expect(config[key] != nil, "config.get lacks \(key)")
        }
        #expect((config["socket"] as? [String: Any])?["path"] as? String == daemon.socketPath)
        #expect(config["config_file"] as? String == daemon.configPath)
        #expect((config["loop"] as? [String: Any])?["rate_hz"] as? Int == 500)
        #expect((config["mpc"] as? [String: Any])?["horizon"] as? Int == 50)
        #expect((config["learning"] as? [String: Any])?["derivatives"] as? String == "none")

        // mode.set. idle would drop sim6 (gravity loads its shoulder at this pose): refused with
        // the joint and torque named, unless confirmed with force (defect 14).
        let unconfirmed = try c.reply("mode.set", ["mode": "idle"])
        #expect(SocketReply.code(unconfirmed) == -32002 && SocketReply.message(unconfirmed).contains("would fall")
                && SocketReply.message(unconfirmed).contains("N·m") && SocketReply.message(unconfirmed).contains("\"force\": true"), "\(unconfirmed)")
        #expect(try c.result("status")["mode"] as? String == "hold")
        let notBool = try c.reply("mode.set", ["mode": "idle", "force": "yes"])
        #expect(SocketReply.code(notBool) == -32602, "\(notBool)")
        #expect(try c.result("mode.set", ["mode": "idle", "force": true])["mode"] as? String == "idle")
        #expect(try c.result("status")["mode"] as? String == "idle")
        #expect(try c.result("mode.set", ["mode": "hold"])["mode"] as? String == "hold")
        #expect(try c.result("status")["mode"] as? String == "hold")
        let modeMove = try c.reply("mode.set", ["mode": "move"])
        #expect(SocketReply.code(modeMove) == -32002, "move is entered with the move method: \(modeMove)")
        #expect(SocketReply.data(modeMove)?["mode"] as? String == "hold")

        // move, then back in hold at the target
        let target = [0.3, -0.8, 0.6, -0.3, 0.2, 0.1]
        let started = Date()
        let move = try c.result("move", ["q": target, "duration": 0.6])
        #expect(move["accepted"] as? Bool == true)
        #expect(move["mode"] as? String == "move")
        #expect(SocketReply.number(move["duration_s"]) == 0.6)
        #expect(try c.result("status")["mode"] as? String == "move")
        var after = try Self.waitForMode(c, "hold", timeout: 10)
        #expect(after["mode"] as? String == "hold", "still \(String(describing: after["mode"])) 10 s after a 0.6 s move")
        #expect(Date().timeIntervalSince(started) >= 0.5, "back in hold before the move's duration")
        // `hold` holds the move's goal: the arm settles there. A 0.6 s move of the simulated sim6
        // with the default gains ends with the arm still moving (tracking lag, then up to ~0.3 rad
        // of overshoot on shoulder_lift under the softer hold gains), so allow it to settle.
        let holdSince = Date()
        var q = try #require(SocketReply.numbers((after["joints"] as? [String: Any])?["q"]))
        while maxAbsDiff(q, target) > 0.02, Date().timeIntervalSince(holdSince) < 8 {
            usleep(50_000)
            after = try c.result("status")
            q = try #require(SocketReply.numbers((after["joints"] as? [String: Any])?["q"]))
        }
        #expect(after["mode"] as? String == "hold")
        #expect(maxAbsDiff(q, target) <= 0.02, "q \(q) vs target \(target), 8 s after entering hold")

        // The end effector against `robotd model eval` at the same q (one status reply).
        let eePosition = try #require(SocketReply.numbers((after["end_effector"] as? [String: Any])?["position"]))
        let eval = try TestSupport.run(TestSupport.robotdPath, [
            "model", "eval", "--urdf", TestSupport.urdfPath("sim6"),
            "--q=" + q.map { "\($0)" }.joined(separator: ","), "--frame", "tool0", "--json",
        ])
        #expect(eval.status == 0, "\(eval.stderr)")
        let evalJSON = try #require(try TestSupport.json(eval.stdout) as? [String: Any])
        let oracle = try #require(SocketReply.numbers(evalJSON["position"]))
        #expect(maxAbsDiff(eePosition, oracle) <= 1e-9, "status end_effector.position \(eePosition) vs model eval \(oracle)")
        let oracleRotation = flatten(evalJSON["rotation"])
        let statusRotation = flatten((after["end_effector"] as? [String: Any])?["rotation"])
        #expect(maxAbsDiff(statusRotation, oracleRotation) <= 1e-9, "rotation \(statusRotation) vs \(oracleRotation)")

        // estop latches: motion refused with -32004 until reset.
        #expect(try c.result("estop")["mode"] as? String == "estop")
        #expect(try c.result("status")["mode"] as? String == "estop")
        let refusedMove = try c.reply("move", ["q": [0, 0, 0, 0, 0, 0], "duration": 0.5])
        #expect(SocketReply.code(refusedMove) == -32004, "\(refusedMove)")
        #expect(SocketReply.data(refusedMove)?["fault"] != nil)
        let refusedMode = try c.reply("mode.set", ["mode": "hold"])
        #expect(SocketReply.code(refusedMode) == -32004, "\(refusedMode)")
        let refusedIdle = try c.reply("mode.set", ["mode": "idle"])
        #expect(SocketReply.code(refusedIdle) == -32004, "\(refusedIdle)")
        #expect(try c.result("status")["mode"] as? String == "estop")
        #expect(try c.result("reset")["mode"] as? String == "hold")
        #expect(try c.result("status")["mode"] as? String == "hold")
        #expect(try c.result("reset")["mode"] as? String == "hold", "reset in hold changes nothing")
        #expect(try c.result("mode.set", ["mode": "idle", "force": true])["mode"] as? String == "idle")
        #expect(try c.result("reset")["mode"] as? String == "idle", "reset in idle changes nothing")
        #expect(try c.result("mode.set", ["mode": "hold"])["mode"] as? String == "hold")

        // log.setLevel
        let level = try c.result("log.setLevel", ["level": "debug"])
        #expect(level["level"] as? String == "debug")
        #expect(level["previous"] as? String == "info")
        #expect(try c.result("log.setLevel", ["level": "info"])["previous"] as? String == "debug")
        let badLevel = try c.reply("log.setLevel", ["level": "loud"])
        #expect(SocketReply.code(badLevel) == -32602)
        #expect(SocketReply.message(badLevel).contains("level"), "\(badLevel)")

        // Invalid params name the problem.
        let badMode = try c.reply("mode.set", ["mode": "dance"])
        #expect(SocketReply.code(badMode) == -32602)
        #expect(SocketReply.message(badMode).contains("dance"), "\(badMode)")

        let short = try c.reply("move", ["q": [0, 0, 0, 0, 0]])
        #expect(SocketReply.code(short) == -32602)
        #expect(SocketReply.message(short).contains("q") && SocketReply.message(short).contains("6"), "\(short)")

        let outside = try c.reply("move", ["q": [0, 0, 4.0, 0, 0, 0], "duration": 1])
        #expect(SocketReply.code(outside) == -32602)
        #expect(SocketReply.message(outside).contains("elbow_joint"), "\(outside)")

        let notNumber = try c.reply("move", ["q": [0, 0, "x", 0, 0, 0]])
        #expect(SocketReply.code(notNumber) == -32602)
        #expect(SocketReply.message(notNumber).contains("q") && SocketReply.message(notNumber).contains("[2]"), "\(notNumber)")

        let badDuration = try c.reply("move", ["q": target, "duration": -1])
        #expect(SocketReply.code(badDuration) == -32602)
        #expect(SocketReply.message(badDuration).contains("duration"), "\(badDuration)")

        let unknownParam = try c.reply("move", ["q": target, "speed": 2])
        #expect(SocketReply.code(unknownParam) == -32602)
        #expect(SocketReply.message(unknownParam).contains("speed"), "\(unknownParam)")

        let statusParam = try c.reply("status", ["verbose": true])
        #expect(SocketReply.code(statusParam) == -32602)
        #expect(SocketReply.message(statusParam).contains("verbose"), "\(statusParam)")

        // None of the refused requests moved the arm.
        #expect(try c.result("status")["mode"] as? String == "hold")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    // MARK: 2. Telemetry

    @Test func telemetryStreamsAtTheRequestedRateAndStopsOnUnsubscribe() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()

        let sub = try c.result("telemetry.subscribe", ["rate_hz": 50])
        #expect(sub["rate_hz"] as? Int == 50)
        let subscription = try #require(sub["subscription"] as? Int)

        var samples: [[String: Any]] = []
        let end = Date().addingTimeInterval(1.0)
        while Date() < end, let m = try c.readObject(timeout: end.timeIntervalSinceNow) {
            samples.append(m)
        }
        #expect((25 ... 60).contains(samples.count), "\(samples.count) notifications in 1 s at 50 Hz")
        var ticks: [Int] = []
        for m in samples {
            #expect(m["id"] == nil, "a notification has no id: \(m)")
            #expect(m["jsonrpc"] as? String == "2.0")
            #expect(m["method"] as? String == "telemetry")
            guard let p = m["params"] as? [String: Any] else {
                Issue.record("telemetry without params: \(m)")
                continue
            }
            #expect(Set(p.keys).isSuperset(of: ["subscription", "tick", "loop_time_s", "mode", "q", "v", "effort",
                                                  "command", "end_effector", "dropped"]), "\(p.keys.sorted())")
            #expect(p["subscription"] as? Int == subscription)
            #expect(p["mode"] as? String == "hold")
            for key in ["q", "v", "effort", "command"] { #expect(SocketReply.numbers(p[key])?.count == 6, "\(key)") }
            #expect(SocketReply.numbers(p["end_effector"])?.count == 3)
            #expect(p["dropped"] as? Int == 0)
            if let t = p["tick"] as? Int { ticks.append(t) }
        }
        #expect(ticks.count == samples.count)
        #expect(zip(ticks, ticks.dropFirst()).allSatisfy { $0 < $1 }, "ticks not strictly increasing: \(ticks)")

        // Unsubscribe: after the reply (and a short drain), nothing more.
        let unsub = try c.result("telemetry.unsubscribe")
        #expect(unsub["subscribed"] as? Bool == false)
        var late = 0
        let drainEnd = Date().addingTimeInterval(0.1)
        while Date() < drainEnd, c.readLine(timeout: drainEnd.timeIntervalSinceNow) != nil { late += 1 }
        let stray = c.readLine(timeout: 0.3)
        #expect(stray == nil, "a notification after unsubscribe (+\(late) in the drain): \(stray ?? "")")

        // Rates above min(loop rate, telemetry_max_hz) are clamped; subscribing again changes the rate.
        let fast = try c.result("telemetry.subscribe", ["rate_hz": 100_000])
        #expect(fast["rate_hz"] as? Int == 500, "\(fast)")
        let fastID = fast["subscription"] as? Int
        var fastCount = 0
        let fastEnd = Date().addingTimeInterval(0.3)
        while Date() < fastEnd, c.readLine(timeout: fastEnd.timeIntervalSinceNow) != nil { fastCount += 1 }
        #expect(fastCount >= 30, "\(fastCount) notifications in 0.3 s at 500 Hz")
        let slower = try c.result("telemetry.subscribe", ["rate_hz": 20])
        #expect(slower["rate_hz"] as? Int == 20)
        #expect(slower["subscription"] as? Int == fastID, "subscribing again changes the rate of the same subscription")

        let zero = try c.reply("telemetry.subscribe", ["rate_hz": 0])
        #expect(SocketReply.code(zero) == -32602, "\(zero)")
        let text = try c.reply("telemetry.subscribe", ["rate_hz": "fast"])
        #expect(SocketReply.code(text) == -32602, "\(text)")

        #expect(try c.result("telemetry.unsubscribe")["subscribed"] as? Bool == false)
        c.close()

        // SIGTERM with a subscriber still connected: a clean exit, and the subscriber sees EOF.
        let subscriber = try daemon.connect()
        #expect(try subscriber.result("telemetry.subscribe", ["rate_hz": 200])["rate_hz"] as? Int == 200)
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
        let eofBy = Date().addingTimeInterval(5)
        while !subscriber.sawEOF, Date() < eofBy { _ = subscriber.readLine(timeout: 0.5) }
        #expect(subscriber.sawEOF, "the daemon's exit must close the subscriber's connection")
        subscriber.close()
    }

    // MARK: 3. Robustness

    @Test func malformedInputAndAbruptClientsNeitherCrashNorStallTheDaemon() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        let first = try c.result("status")
        let tick0 = try #require(first["tick_count"] as? Int)
        let t0 = Date()

        // Not JSON: parse error with the line number on this connection, and the connection lives on.
        let p = try daemon.connect()
        try p.sendRaw("{not json\n")
        let parse = try p.readObject()
        #expect(SocketReply.code(parse) == -32700, "\(String(describing: parse))")
        #expect(parse?["id"] is NSNull)
        #expect(SocketReply.data(parse)?["line"] as? Int == 1, "\(String(describing: parse))")
        #expect(try p.result("status")["mode"] as? String == "hold")
        try p.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":\"crlf\",\"method\":\"hello\"}\r\n")
        let crlf = try p.readObject()
        #expect(crlf?["id"] as? String == "crlf" && crlf?["result"] != nil, "\(String(describing: crlf))")
        p.close()

        // A batch.
        try c.sendRaw("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}]\n")
        let batch = try c.readObject()
        #expect(SocketReply.code(batch) == -32600, "\(String(describing: batch))")
        #expect(SocketReply.message(batch).lowercased().contains("batch"), "\(String(describing: batch))")

        // No "jsonrpc".
        try c.sendRaw("{\"id\":5,\"method\":\"status\"}\n")
        let noVersion = try c.readObject()
        #expect(SocketReply.code(noVersion) == -32600, "\(String(describing: noVersion))")

        // Not an object, and a bad id.
        try c.sendRaw("42\n")
        #expect(SocketReply.code(try c.readObject()) == -32600)
        try c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":{\"x\":1},\"method\":\"status\"}\n")
        #expect(SocketReply.code(try c.readObject()) == -32600)

        // A 2 MiB line: invalid request naming the limit; the connection stays usable.
        let pad = String(repeating: "a", count: 2 * 1024 * 1024)
        try c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"status\",\"params\":{\"pad\":\"\(pad)\"}}\n")
        let long = try c.readObject()
        #expect(SocketReply.code(long) == -32600, "\(String(describing: long))")
        let longMessage = SocketReply.message(long)
        #expect(longMessage.contains("1048576") || longMessage.contains("limit"), "\(longMessage)")
        #expect(try c.result("status")["mode"] as? String == "hold")

        // 10,000-deep nesting: an error reply, not a stack overflow.
        for deep in [String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000),
                     String(repeating: "{\"a\":", count: 10000) + "1" + String(repeating: "}", count: 10000),
                     "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"status\",\"params\":{\"x\":"
                         + String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000) + "}}"]
        {
            try c.sendRaw(deep + "\n")
            let reply = try c.readObject()
            let code = SocketReply.code(reply)
            #expect(code == -32700 || code == -32600, "\(String(describing: reply))")
        }
        #expect(daemon.isRunning, "\(daemon.stderr)")
        #expect(try c.result("hello")["role"] as? String == "operator")

        // Unknown method.
        let unknown = try c.reply("no.such.method")
        #expect(SocketReply.code(unknown) == -32601, "\(unknown)")
        #expect(SocketReply.data(unknown)?["method"] as? String == "no.such.method")

        // Notifications get no reply, not even an error.
        try c.request("status", notification: true)
        try c.request("no.such.method", notification: true)
        try c.request("move", ["q": [1]], notification: true)
        try c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":\"after-notifications\",\"method\":\"hello\"}\n")
        let afterNotifications = try c.readObject()
        #expect(afterNotifications?["id"] as? String == "after-notifications", "\(String(describing: afterNotifications))")

        // Abrupt clients: half a request then close; a whole request then close before the reply;
        // a telemetry subscriber that vanishes.
        for _ in 0 ..< 50 {
            let a = try daemon.connect()
            try a.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":1,\"meth")
            a.close()
        }
        for i in 0 ..< 20 {
            let a = try daemon.connect()
            try a.request(i % 2 == 0 ? "status" : "timing")
            a.close()
        }
        for _ in 0 ..< 5 {
            let a = try daemon.connect()
            try a.request("telemetry.subscribe", ["rate_hz": 500])
            usleep(20_000)
            a.close()
        }

        usleep(200_000)
        #expect(daemon.isRunning, "\(daemon.stderr)")
        let last = try c.result("status")
        let tick1 = try #require(last["tick_count"] as? Int)
        let elapsed = Date().timeIntervalSince(t0)
        let expected = 500 * elapsed
        #expect(Double(tick1 - tick0) >= 0.5 * expected, "ticks advanced \(tick1 - tick0) in \(elapsed) s at 500 Hz")
        #expect(last["mode"] as? String == "hold")
        // A fresh connection still works.
        let fresh = try daemon.connect()
        #expect(try fresh.result("hello")["daemon"] as? String == "robotd")
        fresh.close()
        c.close()

        #expect(daemon.stop() == 0, "\(daemon.stderr)")
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath), "the socket file must be removed on shutdown")
    }

    /// JSON-RPC 2.0: "The Server MUST reply with the same value in the Response object". The
    /// reply's id must be the request's id, to the digit (checked on the raw reply text: the
    /// daemon prints sorted keys on one line).
    @Test func requestIDsAreEchoedVerbatim() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        for id in ["0", "-7", "1.5", "\"abc\"", "\"\"", "\"\\u00e9t\\u00e9\"", "4294967296", "9007199254740993"] {
            try c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"hello\"}\n")
            let line = try #require(c.readLine(), "no reply for id \(id)")
            let echoed = line.range(of: "\"id\":").map { String(line[$0.upperBound...].prefix { $0 != "," && $0 != "}" }) } ?? "?"
            let same = (try? JSONSerialization.jsonObject(with: Data("[\(id)]".utf8), options: [])) as? NSArray
                == (try? JSONSerialization.jsonObject(with: Data("[\(echoed)]".utf8), options: [])) as? NSArray
            #expect(echoed == id || (id.hasPrefix("\"") && same), "request id \(id) answered with id \(echoed)")
        }
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// docs/protocol.md: "A line longer than 1 MiB is answered with an invalid request error"
    /// and "a `\r` before [the newline] is ignored": 1,048,576 bytes are accepted with either
    /// line ending; 1,048,577 are not.
    @Test func theLineLimitIsExactly1MiBWithEitherLineEnding() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        func line(_ n: Int) -> String {
            let head = "{\"jsonrpc\":\"2.0\",\"id\":\(n),\"method\":\"hello\""
            return head + String(repeating: " ", count: n - head.utf8.count - 1) + "}"
        }
        for (n, ending, accepted) in [(1_048_576, "\n", true), (1_048_576, "\r\n", true), (1_048_577, "\n", false), (1_048_577, "\r\n", false)] {
            try c.sendRaw(line(n) + ending)
            let reply = try c.readObject()
            let how = ending == "\n" ? "LF" : "CRLF"
            if accepted {
                #expect(reply?["result"] != nil, "a \(n)-byte line (\(how)) must be served: \(String(describing: reply))")
            } else {
                #expect(SocketReply.code(reply) == -32600, "a \(n)-byte line (\(how)) is over the limit: \(String(describing: reply))")
            }
        }
        #expect(try c.result("hello")["daemon"] as? String == "robotd")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    // MARK: 4. Limits

    @Test func connectionAndRequestRateLimitsAnswerBusy() throws {
        // No operators' reserve: the tests run as root, an operator.
        let daemon = try SocketTestDaemon(socketSettings: "max_connections: 2, operator_reserved_connections: 0, max_requests_per_second: 5")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c1 = try daemon.connect()
        let c2 = try daemon.connect()
        #expect(try c1.result("hello")["role"] as? String == "operator")
        #expect(try c2.result("hello")["role"] as? String == "operator")

        // A third connection: one busy error line, then the daemon closes it.
        let c3 = try daemon.connect()
        let busy = try c3.readObject(timeout: 5)
        #expect(SocketReply.code(busy) == -32003, "\(String(describing: busy))")
        #expect(busy?["id"] is NSNull)
        let more = c3.readLine(timeout: 5)
        #expect(more == nil && c3.sawEOF, "the refused connection must be closed; got \(more ?? "nothing and no EOF")")
        c3.close()

        // Once one closes, a new connection is served.
        c2.close()
        // The daemon frees the slot when it sees the close, which may come after our next
        // connect: until then a new connection is answered busy (the client throws on that
        // line) and closed, and we try again.
        var served = false
        let end = Date().addingTimeInterval(10)
        while !served, Date() < end {
            let c4 = try daemon.connect()
            do {
                try c4.request("hello")
                if let r = try c4.readObject(timeout: 3), r["result"] != nil { served = true }
            } catch {}
            c4.close()
            if !served { usleep(50_000) }
        }
        #expect(served, "a connection slot must be freed when a client disconnects")

        // 20 requests at once on one connection: the burst (5) is served, the rest is busy.
        usleep(1_100_000) // refill the bucket
        var batch = Data()
        for i in 0 ..< 20 {
            batch.append(try JSONSerialization.data(withJSONObject: ["jsonrpc": "2.0", "id": 100 + i, "method": "status"]))
            batch.append(0x0A)
        }
        try c1.sendRaw(batch)
        var ok = 0, limited = 0
        var ids: [Int] = []
        for _ in 0 ..< 20 {
            guard let r = try c1.readObject(timeout: 5) else { break }
            if let id = r["id"] as? Int { ids.append(id) }
            if r["result"] != nil { ok += 1 }
            if SocketReply.code(r) == -32003 {
                limited += 1
                let wait = SocketReply.number(SocketReply.data(r)?["retry_after_ms"])
                #expect(wait != nil && wait! > 0 && wait! <= 1000, "retry_after_ms: \(r)")
            }
        }
        #expect(ids == Array(100 ..< 120), "replies in request order: \(ids)")
        #expect(ok >= 3 && ok <= 8, "\(ok) served of 20 at 5 requests/s")
        #expect(limited >= 10, "\(limited) rate-limited of 20 at 5 requests/s")
        #expect(ok + limited == 20)
        usleep(1_000_000)
        #expect(try c1.result("status")["mode"] as? String == "hold", "served again after the bucket refills")
        c1.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    // MARK: 5. Access control

    /// A copy of a file of the checkout in a fresh 0755 directory, mode 0755: the checkout may
    /// not be readable by user nobody, who runs the peer oracles.
    static func worldReadableCopy(of relativePath: String) throws -> String {
        let directory = try SocketTempDirectory.make(mode: 0o755)
        let copy = directory + "/" + (relativePath as NSString).lastPathComponent
        try FileManager.default.copyItem(atPath: TestSupport.repoRoot.appendingPathComponent(relativePath).path, toPath: copy)
        guard chmod(copy, 0o755) == 0 else { throw SocketTestFailure.system("chmod \(copy)", errno) }
        return copy
    }

    /// Runs Tests/oracles/peer_client.py as user nobody; the reply object.
    static func peerCall(_ socketPath: String, _ method: String, _ params: String? = nil) throws -> [String: Any] {
        let script = try worldReadableCopy(of: "Tests/oracles/peer_client.py")
        var args = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", script, socketPath, method]
        if let params { args.append(params) }
        let r = try TestSupport.run("/usr/bin/setpriv", args)
        guard r.status == 0, let object = try? TestSupport.json(r.stdout) as? [String: Any] else {
            throw SocketTestFailure.badReply("peer_client as nobody: status \(r.status), stdout \(r.stdout), stderr \(r.stderr)")
        }
        return object
    }

    @Test(.enabled(if: getuid() == 0, "needs root to run a client as user nobody"))
    func peersAreIdentifiedBySO_PEERCREDAndRefusedBeyondTheirRole() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                     "/usr/bin/setpriv is missing (util-linux); it runs the peer client as user nobody")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "/usr/bin/python3 is missing")

        // nobody as an observer.
        let observed = try SocketTestDaemon(socketSettings: "mode: \"0666\", observers: [nobody]")
        defer { observed.finish() }
        #expect(observed.waitUntilListening(), "\(observed.stderr)")
        var st = stat()
        #expect(stat(observed.socketPath, &st) == 0 && st.st_mode & 0o777 == 0o666, "socket mode 0\(String(st.st_mode & 0o777, radix: 8))")

        let hello = try Self.peerCall(observed.socketPath, "hello")
        #expect((hello["result"] as? [String: Any])?["role"] as? String == "observer", "\(hello)")
        #expect((hello["result"] as? [String: Any])?["uid"] as? Int == 65534, "\(hello)")
        let status = try Self.peerCall(observed.socketPath, "status")
        #expect((status["result"] as? [String: Any])?["mode"] as? String == "hold", "\(status)")
        let timing = try Self.peerCall(observed.socketPath, "timing")
        #expect(timing["result"] != nil, "\(timing)")
        let move = try Self.peerCall(observed.socketPath, "move", "{\"q\":[0,0,0,0,0,0],\"duration\":1}")
        #expect(SocketReply.code(move) == -32001, "\(move)")
        #expect(SocketReply.data(move)?["required"] as? String == "operator", "\(move)")
        #expect(SocketReply.data(move)?["role"] as? String == "observer", "\(move)")
        let estop = try Self.peerCall(observed.socketPath, "estop")
        #expect(SocketReply.code(estop) == -32001, "\(estop)")
        let logged = DaemonProcessTests.waitFor(seconds: 5) {
            observed.stderr.split(separator: "\n").contains { $0.contains("65534") && $0.contains("move") }
        }
        #expect(logged, "the refusal must be logged with the uid and method:\n\(observed.stderr)")
        // The arm did not move.
        let local = try observed.connect()
        #expect(try local.result("status")["mode"] as? String == "hold")
        local.close()
        #expect(observed.stop() == 0, "\(observed.stderr)")

        // nobody unlisted: hello only. An entry naming nobody on this machine is warned about.
        let unlisted = try SocketTestDaemon(socketSettings: "mode: \"0666\", observers: [rd_no_such_user]")
        defer { unlisted.finish() }
        #expect(unlisted.waitUntilListening(), "\(unlisted.stderr)")
        #expect(unlisted.stderr.contains("rd_no_such_user names no user or group"), "\(unlisted.stderr)")
        let hello2 = try Self.peerCall(unlisted.socketPath, "hello")
        #expect((hello2["result"] as? [String: Any])?["role"] as? String == "none", "\(hello2)")
        let status2 = try Self.peerCall(unlisted.socketPath, "status")
        #expect(SocketReply.code(status2) == -32001, "\(status2)")
        #expect(SocketReply.data(status2)?["required"] as? String == "observer", "\(status2)")
        #expect(SocketReply.data(status2)?["role"] as? String == "none", "\(status2)")
        let sub2 = try Self.peerCall(unlisted.socketPath, "telemetry.subscribe")
        #expect(SocketReply.code(sub2) == -32001, "\(sub2)")
        #expect(unlisted.stop() == 0, "\(unlisted.stderr)")

        // An operator by group (the peer's primary group), through socket.group and the default 0660.
        let grouped = try SocketTestDaemon(socketSettings: "group: nogroup, operators: [\"@nogroup\"]")
        defer { grouped.finish() }
        #expect(grouped.waitUntilListening(), "\(grouped.stderr)")
        var gst = stat()
        #expect(stat(grouped.socketPath, &gst) == 0 && gst.st_gid == 65534 && gst.st_mode & 0o777 == 0o660,
                "socket.group nogroup, mode 0660: gid \(gst.st_gid), mode 0\(String(gst.st_mode & 0o777, radix: 8))")
        let hello3 = try Self.peerCall(grouped.socketPath, "hello")
        #expect((hello3["result"] as? [String: Any])?["role"] as? String == "operator", "\(hello3)")
        let hold3 = try Self.peerCall(grouped.socketPath, "mode.set", "{\"mode\":\"hold\"}")
        #expect((hold3["result"] as? [String: Any])?["mode"] as? String == "hold", "\(hold3)")
        #expect(grouped.stop() == 0, "\(grouped.stderr)")
    }

    // MARK: 6. Start-up refusals

    @Test func startUpRefusesAnUnsafeDirectoryAndASecondDaemonButReplacesAStaleSocket() throws {
        // A socket directory writable by others.
        let open = try SocketTempDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: open) }
        #expect(chmod(open, 0o777) == 0)
        let unsafe = try SocketTestDaemon(directory: open)
        defer { unsafe.finish() }
        #expect(unsafe.process.wait(timeout: 30) == 78, "\(unsafe.stderr)")
        #expect(unsafe.stderr.contains("writable by others"), "\(unsafe.stderr)")
        #expect(!FileManager.default.fileExists(atPath: unsafe.socketPath))

        // A second daemon on the socket of a running one.
        let first = try SocketTestDaemon()
        defer { first.finish() }
        #expect(first.waitUntilListening(), "\(first.stderr)")
        let secondDir = try SocketTempDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: secondDir) }
        let second = try SocketTestDaemon(directory: secondDir, socketPath: first.socketPath)
        defer { second.finish() }
        #expect(second.process.wait(timeout: 30) == 78, "\(second.stderr)")
        #expect(second.stderr.contains("listens on") || second.stderr.contains("already"), "\(second.stderr)")
        #expect(FileManager.default.fileExists(atPath: first.socketPath), "the refused daemon must not remove the live socket")
        let c = try first.connect()
        #expect(try c.result("hello")["daemon"] as? String == "robotd", "the first daemon still serves")
        c.close()
        #expect(first.stop() == 0, "\(first.stderr)")

        // A regular file where the socket goes: refused, not replaced.
        let fileDir = try SocketTempDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: fileDir) }
        try "precious".write(toFile: fileDir + "/s.sock", atomically: false, encoding: .utf8)
        let onFile = try SocketTestDaemon(directory: fileDir)
        defer { onFile.finish() }
        #expect(onFile.process.wait(timeout: 30) == 78, "\(onFile.stderr)")
        #expect(onFile.stderr.contains("not a socket"), "\(onFile.stderr)")
        #expect((try? String(contentsOfFile: fileDir + "/s.sock", encoding: .utf8)) == "precious")

        // A stale socket file (bound, closed, never unlinked): replaced.
        let staleDir = try SocketTempDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: staleDir) }
        let stalePath = staleDir + "/s.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let rc = try UnixSocketAddress(path: stalePath).bind(fd)
        close(fd)
        #expect(rc == 0)
        var st = stat()
        #expect(lstat(stalePath, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK, "a stale socket file exists")
        let stale = try SocketTestDaemon(directory: staleDir)
        defer { stale.finish() }
        #expect(stale.waitUntilListening(), "\(stale.stderr)")
        let s = try stale.connect()
        #expect(try s.result("hello")["daemon"] as? String == "robotd")
        s.close()
        #expect(stale.stop() == 0, "\(stale.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stalePath))
    }

    // MARK: 7. Socket activation

    @Test func socketActivationServesThePassedDescriptorAndLeavesItsFile() throws {
        let dir = try SocketTempDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let unusedPath = dir + "/unused/robotd.sock"
        let config = try DaemonProcessTests.writeConfig(extra: "socket: {path: \(unusedPath)}", in: dir)
        let activated = dir + "/a.sock"
        let r = try TestSupport.python("Tests/oracles/socket_activation.py", [TestSupport.robotdPath, config, activated])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try TestSupport.json(r.stdout) as? [String: Any], "\(r.stdout)\n\(r.stderr)")
        let hello = (report["hello"] as? [String: Any])?["result"] as? [String: Any]
        #expect(hello?["daemon"] as? String == "robotd", "\(report)\n\(r.stderr)")
        #expect(hello?["role"] as? String == "operator")
        #expect(report["exit"] as? Int == 0, "\(report)\n\(r.stderr)")
        #expect(report["socket_file_exists_after"] as? Bool == true,
                "the daemon must not unlink a socket it was handed (robotd.socket owns it)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/unused"), "socket.path must be ignored under socket activation")
        #expect(r.stderr.contains("socket activation"), "\(r.stderr)")
        #expect(!r.stderr.contains("control socket listening"), "\(r.stderr)")
    }
}
