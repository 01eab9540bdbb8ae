import ControlProtocol
import ControlSocket
import Foundation
import TestProcess
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// End-to-end tests of the `robotctl` binary against a scripted fake robotd: a Unix socket server on
// a background thread that records every request line and answers with the lines a responder
// returns. No daemon code is involved, so these pin the client's side of docs/protocol.md.

// MARK: - running robotctl

enum Robotctl {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `robotctl` built next to the test executable, else the release or debug build.
    static var path: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [
            dir.appendingPathComponent("robotctl").path,
            repoRoot.appendingPathComponent(".build/release/robotctl").path,
            repoRoot.appendingPathComponent(".build/debug/robotctl").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// Runs robotctl to completion. `ROBOTD_SOCKET` is removed from the inherited environment
    /// unless `environment` sets it. A run longer than `limit` seconds is killed (status 15/9).
    static func run(_ arguments: [String], environment: [String: String] = [:], limit: Double = 30) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["ROBOTD_SOCKET"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.currentDirectoryURL = FileManager.default.temporaryDirectory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()

        let box = ProcessBox(process)
        let watchdog = Thread {
            let deadline = Date().addingTimeInterval(limit)
            while box.process.isRunning {
                if Date() > deadline {
                    box.process.terminate()
                    return
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        watchdog.start()

        // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let errThread = Thread { errData = err.fileHandleForReading.readToEndRetryingEINTR() }
        errThread.start()
        let outData = out.fileHandleForReading.readToEndRetryingEINTR()
        process.waitUntilExit()
        while !errThread.isFinished { Thread.sleep(forTimeInterval: 0.001) }
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

final class ProcessBox: @unchecked Sendable {
    let process: Process
    init(_ process: Process) { self.process = process }
}

// MARK: - JSON helpers

func json(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
}

func jsonLine(_ value: Any) -> String {
    let data = try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
    return String(decoding: data, as: UTF8.self)
}

/// JSON values compared as JSON: numbers by value (0 == 0.0), objects by keys, arrays in order.
func jsonEqual(_ a: Any?, _ b: Any?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case (let x as [String: Any], let y as [String: Any]):
        return Set(x.keys) == Set(y.keys) && x.keys.allSatisfy { jsonEqual(x[$0], y[$0]) }
    case (let x as [Any], let y as [Any]):
        return x.count == y.count && zip(x, y).allSatisfy { jsonEqual($0, $1) }
    case (let x as String, let y as String): return x == y
    case (is NSNull, is NSNull): return true
    case (let x as NSNumber, let y as NSNumber):
        // Booleans and numbers both bridge to NSNumber; tell them apart by the boxed boolean's class.
        guard isBoolean(x) == isBoolean(y) else { return false }
        return x.doubleValue == y.doubleValue
    default: return false
    }
}

func isBoolean(_ value: NSNumber) -> Bool {
    type(of: value) == type(of: NSNumber(value: true))
}

enum RPC {
    static func result(_ id: Any?, _ result: Any) -> String {
        jsonLine(["jsonrpc": "2.0", "id": id ?? NSNull(), "result": result])
    }

    static func error(_ id: Any?, code: Int, message: String, data: Any? = nil) -> String {
        var error: [String: Any] = ["code": code, "message": message]
        if let data { error["data"] = data }
        return jsonLine(["jsonrpc": "2.0", "id": id ?? NSNull(), "error": error])
    }

    static func notification(_ method: String, _ params: Any) -> String {
        jsonLine(["jsonrpc": "2.0", "method": method, "params": params])
    }
}

// MARK: - the fake robotd

/// A Unix socket server on a background thread. For each request line it records the parsed
/// request and sends the lines `respond` returns (each followed by `\n`); `nil` closes the connection.
final class FakeDaemon: @unchecked Sendable {
    typealias Responder = @Sendable (_ request: [String: Any]) -> [String]?

    let directory: String
    let path: String
    private let listenFD: Int32
    private let respond: Responder
    private let lock = NSLock()
    private var recorded: [[String: Any]] = []
    private var stopping = false
    private var finished = false

    init(respond: @escaping Responder) throws {
        var template = Array("/tmp/robotctl-test.XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw POSIXError(.EIO) }
        directory = String(cString: dir)
        path = directory + "/robotd.sock"
        self.respond = respond

        listenFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard listenFD >= 0 else { throw POSIXError(.EIO) }
        let bound = try UnixSocketAddress(path: path).bind(listenFD)
        guard bound == 0, listen(listenFD, 8) == 0 else { throw POSIXError(.EADDRINUSE) }

        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// A daemon that answers each method with a fixed result; unknown methods get -32601.
    convenience init(results: [String: Any]) throws {
        nonisolated(unsafe) let results = results
        try self.init { request in
            let method = request["method"] as? String ?? ""
            if let result = results[method] { return [RPC.result(request["id"], result)] }
            return [RPC.error(request["id"], code: -32601, message: "method not found: \(method)",
                              data: ["method": method])]
        }
    }

    var requests: [[String: Any]] { lock.withLock { recorded } }

    func stop() {
        lock.withLock { stopping = true }
        while !lock.withLock({ finished }) { Thread.sleep(forTimeInterval: 0.005) }
        close(listenFD)
        unlink(path)
        rmdir(directory)
    }

    private var shouldStop: Bool { lock.withLock { stopping } }

    /// Waits up to 50 ms for `fd` to become readable.
    private func readable(_ fd: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 50) > 0
    }

    private func serve() {
        defer { lock.withLock { finished = true } }
        while !shouldStop {
            guard readable(listenFD) else { continue }
            let connection = accept(listenFD, nil, nil)
            guard connection >= 0 else { continue }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var buffer: [UInt8] = []
        while !shouldStop {
            guard readable(connection) else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            buffer += chunk[..<n]
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(buffer[..<newline])
                buffer.removeSubrange(...newline)
                let request = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any]
                    ?? ["unparsed": String(decoding: line, as: UTF8.self)]
                lock.withLock { recorded.append(request) }
                guard let replies = respond(request) else { return }
                for reply in replies {
                    let bytes = Array((reply + "\n").utf8)
                    _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
            }
        }
    }
}

// MARK: - sample results

enum Sample {
    static let names = ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint",
                        "wrist_1_joint", "wrist_2_joint", "wrist_3_joint"]

    static var status: [String: Any] {
        [
            "mode": "hold", "fault": NSNull(), "rate_hz": 1000, "tick_count": 20713, "overruns": 0,
            "uptime_s": 20.8, "loop_time_s": 20.71,
            "joints": [
                "names": names,
                "q": [0.0, -1.2, 1.0, 0.25, -0.5, 0.125],
                "v": [0.0, 0.0, 0.001, 0.0, 0.0, 0.0],
                "effort": [0.0, 12.5, -4.25, 0.5, 0.0, 0.0],
                "command": [0.0, 12.4, -4.2, 0.5, 0.0, 0.0],
            ],
            "end_effector": [
                "frame": "tool0", "position": [0.4, 0.0, 0.55],
                "rotation": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            ],
            "faults": [[
                "reason": "driver read failed", "tick": 1234, "loop_time_s": 1.234,
                "flight_recorder": "/var/lib/robotd/flight-1.csv",
            ]],
        ]
    }

    static var hello: [String: Any] {
        [
            "protocol": 1, "daemon": "robotd", "version": "0.1.0", "robot": "sim6", "dof": 6,
            "joint_names": names, "rate_hz": 1000, "driver": "simulation",
            "modes": ["idle", "hold", "move", "estop"], "role": "operator", "uid": 1000,
            "methods": ["hello", "status", "timing"], "telemetry_max_hz": 1000,
        ]
    }

    static var timing: [String: Any] {
        [
            "ticks": 20713, "overruns": 3, "worst_overrun_streak": 1,
            "wake_latency_us": ["p50": 30.5, "p90": 45.1, "p99": 72.7, "p99_9": 130.0, "max": 410.2, "mean": 33.0],
            "compute_us": ["p50": 8.8, "p90": 12.0, "p99": 21.8, "p99_9": 27.9, "max": 116.0, "mean": 11.1],
            "allocations": 0, "scheduler": "fifo", "rt_priority": 80, "memory_locked": true, "cpu": NSNull(),
        ]
    }

    static func telemetry(tick: Int) -> [String: Any] {
        [
            "subscription": 1, "tick": tick, "loop_time_s": Double(tick) / 1000, "mode": "hold",
            "q": [0.0, -1.2, 1.0, 0.0, 0.0, Double(tick) / 10000], "v": [0.0, 0, 0, 0, 0, 0],
            "effort": [0.0, 0, 0, 0, 0, 0], "command": [0.0, 0, 0, 0, 0, 0],
            "end_effector": [0.4, 0.0, 0.55], "dropped": 0,
        ]
    }

    static var all: [String: Any] {
        [
            "status": status, "hello": hello, "timing": timing,
            "mode.set": ["mode": "idle"], "move": ["accepted": true, "mode": "move", "duration_s": 2],
            "estop": ["mode": "estop"], "reset": ["mode": "hold"],
            "config.get": ["robot": ["name": "sim6", "urdf": "/x/robot.urdf"], "socket": ["mode": "0660"]],
            "log.setLevel": ["level": "debug", "previous": "info"],
        ]
    }
}

// MARK: - tests

@Suite struct RobotctlTests {
    @Test func statusPrintsATable() throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        let r = try Robotctl.run(["status", "--socket", daemon.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("mode"))
        #expect(r.stdout.contains("hold"))
        for name in Sample.names { #expect(r.stdout.contains(name)) }
        #expect(r.stdout.contains("-1.2000"))
        #expect(r.stdout.contains("20713"))
        #expect(r.stdout.contains("driver read failed"))
        // One request: JSON-RPC 2.0, id 1, no params.
        let requests = daemon.requests
        #expect(requests.count == 1)
        #expect(requests.first?["jsonrpc"] as? String == "2.0")
        #expect(requests.first?["method"] as? String == "status")
        #expect((requests.first?["id"] as? NSNumber)?.intValue == 1)
        #expect(requests.first?["params"] == nil)
    }

    @Test func statusColumnsAreAligned() throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        let r = try Robotctl.run(["status", "--socket", daemon.path])
        let rows = r.lines.filter { line in Sample.names.contains { line.hasPrefix($0) } }
        try #require(rows.count == 6)
        // Right-aligned q column: every row's q value ends at the same column.
        let ends = rows.map { row -> Int in
            let fields = row.split(separator: " ", omittingEmptySubsequences: true)
            let q = fields[1]
            return row.distance(from: row.startIndex, to: row.range(of: " " + q)!.upperBound)
        }
        #expect(Set(ends).count == 1, "\(rows)")
    }

    @Test func jsonPrintsTheResult() throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        for (command, method) in [("status", "status"), ("timing", "timing"), ("hello", "hello")] {
            let r = try Robotctl.run([command, "--json", "--socket", daemon.path])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(jsonEqual(try json(r.stdout), Sample.all[method]), "\(command): \(r.stdout)")
        }
    }

    @Test func timingAndHelloTables() throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        let timing = try Robotctl.run(["timing", "--socket", daemon.path])
        #expect(timing.status == 0)
        #expect(timing.stdout.contains("p99.9"))
        #expect(timing.stdout.contains("410.2"))
        #expect(timing.stdout.contains("fifo"))
        let hello = try Robotctl.run(["hello", "--socket", daemon.path])
        #expect(hello.status == 0)
        for text in ["robotd 0.1.0", "sim6", "operator", "protocol"] { #expect(hello.stdout.contains(text)) }
    }

    @Test(arguments: [
        (["move", "--", "0", "-1.2", "1", "0", "0", "0", "--duration", "2"], #"{"q":[0,-1.2,1,0,0,0],"duration":2}"#),
        (["move", "0,-1.2,1,0,0,0"], #"{"q":[0,-1.2,1,0,0,0]}"#),
        (["move", "0,-1.2,1,0,0,0", "--duration", "2"], #"{"q":[0,-1.2,1,0,0,0],"duration":2}"#),
        (["move", "--duration=0.5", "0", "-1.2", "1", "0", "0", "0"], #"{"q":[0,-1.2,1,0,0,0],"duration":0.5}"#),
    ])
    func moveSendsTheTarget(arguments: [String], params: String) throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        let r = try Robotctl.run(insertSocket(arguments, daemon.path))
        #expect(r.status == 0, "\(arguments): \(r.stderr)")
        let requests = daemon.requests
        #expect(requests.count == 1)
        #expect(requests.first?["method"] as? String == "move")
        #expect(jsonEqual(requests.first?["params"], try json(params)), "\(String(describing: requests.first))")
        #expect(r.stdout.contains("accepted"))
    }

    /// Puts `--socket PATH` right after the subcommand, before any `--`.
    private func insertSocket(_ arguments: [String], _ path: String) -> [String] {
        [arguments[0], "--socket", path] + arguments.dropFirst()
    }

    @Test func modeGetAndSet() throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        let get = try Robotctl.run(["mode", "--socket", daemon.path])
        #expect(get.status == 0)
        #expect(get.stdout == "hold\n")
        let set = try Robotctl.run(["mode", "idle", "--socket", daemon.path])
        #expect(set.status == 0)
        #expect(set.stdout.contains("idle"))
        let requests = daemon.requests
        #expect(requests.map { $0["method"] as? String } == ["status", "mode.set"])
        #expect(jsonEqual(requests.last?["params"], ["mode": "idle"]))
    }

    @Test func simpleCommandsSendTheirMethods() throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        for args in [["estop"], ["reset"], ["log-level", "debug"], ["config"]] {
            let r = try Robotctl.run(args + ["--socket", daemon.path])
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        let requests = daemon.requests
        #expect(requests.map { $0["method"] as? String } == ["estop", "reset", "log.setLevel", "config.get"])
        #expect(jsonEqual(requests[2]["params"], ["level": "debug"]))
        let config = try Robotctl.run(["config", "--socket", daemon.path])
        #expect(jsonEqual(try json(config.stdout), Sample.all["config.get"]))
    }

    /// `target --path FILE --period S` sends the file's waypoints; a bad line is a usage error
    /// naming the file and line, before anything is sent.
    @Test func targetPathSendsTheWaypoints() throws {
        let daemon = try FakeDaemon(results: Sample.all.merging(["target.set": ["accepted": true, "mode": "hold", "waypoints": 3]]) { a, _ in a })
        defer { daemon.stop() }
        let file = daemon.directory + "/circle.csv"
        try "# x, y, z (m)\n0.5, 0.1, 0.4\n\n0.5,0.15,0.45\n0.5, 0.2, 0.4\n".write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Robotctl.run(["target", "--path", file, "--period", "4", "--socket", daemon.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(jsonEqual(daemon.requests.first?["params"], ["path": [[0.5, 0.1, 0.4], [0.5, 0.15, 0.45], [0.5, 0.2, 0.4]], "period": 4]))
        try "0.5, 0.1, 0.4\n0.5, 0.1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try Robotctl.run(["target", "--path", file, "--period", "4", "--socket", daemon.path])
        #expect(bad.status == 64 && bad.stderr.contains("circle.csv:2"), "\(bad.stderr)")
        let noPeriod = try Robotctl.run(["target", "--path", file, "--socket", daemon.path])
        #expect(noPeriod.status == 64 && noPeriod.stderr.contains("--period"), "\(noPeriod.stderr)")
        // A FIFO blocked String(contentsOfFile:) for ever; a missing file said "NSCocoaErrorDomain".
        let fifo = daemon.directory + "/fifo.csv"
        #expect(mkfifo(fifo, 0o600) == 0)
        let notRegular = try Robotctl.run(["target", "--path", fifo, "--period", "4", "--socket", daemon.path])
        #expect(notRegular.status == 64 && notRegular.stderr.contains("\(fifo) is a FIFO"), "\(notRegular.stderr)")
        let missing = try Robotctl.run(["target", "--path", daemon.directory + "/none.csv", "--period", "4", "--socket", daemon.path])
        #expect(missing.status == 64 && missing.stderr.contains("none.csv: No such file or directory"), "\(missing.stderr)")
        #expect(daemon.requests.count == 1)
    }

    @Test func rawCall() throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        let r = try Robotctl.run(["call", "log.setLevel", #"{"level":"debug"}"#, "--socket", daemon.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(jsonEqual(try json(r.stdout), Sample.all["log.setLevel"]))
        #expect(jsonEqual(daemon.requests.first?["params"], ["level": "debug"]))
    }

    @Test func notPermittedExits77() throws {
        let daemon = try FakeDaemon { request in
            [RPC.error(request["id"], code: -32001, message: "not permitted: mode.set needs operator",
                       data: ["role": "observer", "required": "operator"])]
        }
        defer { daemon.stop() }
        let r = try Robotctl.run(["mode", "hold", "--socket", daemon.path])
        #expect(r.status == 77)
        #expect(r.stderr.contains("not permitted"))
        #expect(r.stdout.isEmpty)
    }

    @Test func otherErrorsExit1WithTheMessage() throws {
        let daemon = try FakeDaemon { request in
            [RPC.error(request["id"], code: -32004, message: "the arm is in estop; send reset first",
                       data: ["fault": "estop"])]
        }
        defer { daemon.stop() }
        let r = try Robotctl.run(["move", "--socket", daemon.path, "0,0,0,0,0,0"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("robotctl: move failed: the arm is in estop; send reset first (code -32004)\n"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func noReplyTimesOutWithExit1() throws {
        let daemon = try FakeDaemon { _ in [] }
        defer { daemon.stop() }
        let r = try Robotctl.run(["status", "--timeout", "0.3", "--socket", daemon.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("status failed"))
        #expect(r.stderr.contains("timed out"))
    }

    @Test func unreachableSocketExits69() throws {
        let path = "/tmp/robotctl-test-missing-\(getpid())/robotd.sock"
        let r = try Robotctl.run(["status", "--socket", path])
        #expect(r.status == 69)
        #expect(r.stderr.contains("cannot connect to robotd at \(path)"), "\(r.stderr)")
        #expect(r.stderr.contains("ROBOTD_SOCKET"))
    }

    @Test func refusedConnectionExits69() throws {
        // A bound socket nobody listens on: connect() gets ECONNREFUSED.
        var template = Array("/tmp/robotctl-test.XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        let path = dir + "/robotd.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let bound = try UnixSocketAddress(path: path).bind(fd)
        defer { close(fd); unlink(path); rmdir(dir) }
        #expect(bound == 0)
        let r = try Robotctl.run(["hello", "--socket", path])
        #expect(r.status == 69)
        #expect(r.stderr.contains(path))
    }

    @Test func closedBeforeReplyExits69() throws {
        let daemon = try FakeDaemon { _ in nil }
        defer { daemon.stop() }
        let r = try Robotctl.run(["status", "--socket", daemon.path])
        #expect(r.status == 69)
        #expect(r.stderr.contains(daemon.path))
    }

    @Test func environmentSocketIsHonoured() throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        let r = try Robotctl.run(["hello"], environment: ["ROBOTD_SOCKET": daemon.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("sim6"))
        #expect(daemon.requests.count == 1)
        // --socket wins over the environment.
        let missing = daemon.directory + "/other.sock"
        let overridden = try Robotctl.run(["hello", "--socket", missing], environment: ["ROBOTD_SOCKET": daemon.path])
        #expect(overridden.status == 69)
        #expect(overridden.stderr.contains(missing))
    }

    @Test(arguments: [
        ["move"], ["move", "--", "1", "abc"], ["move", "1,,2"], ["move", "0,1", "--duration", "0"],
        ["frobnicate"], ["status", "--timeout", "0"], ["status", "--timeout", "1e19"], ["move", "0", "--", "--timeout", "1e19"], ["status", "extra"], ["watch", "--count", "0"],
        ["log-level", "loud"], ["call"], ["call", "status", "[1"], ["call", "status", "3"],
    ])
    func usageErrorsExit64(arguments: [String]) throws {
        let r = try Robotctl.run(arguments + ["--socket", "/tmp/robotctl-test-never/robotd.sock"])
        #expect(r.status == 64, "\(arguments): \(r.stderr)")
        #expect(!r.stderr.isEmpty)
    }

    @Test func helpListsTheSubcommands() throws {
        let r = try Robotctl.run(["--help"])
        #expect(r.status == 0)
        for command in ["status", "watch", "timing", "mode", "move", "estop", "reset", "config", "log-level", "hello", "call"] {
            #expect(r.stdout.contains("  \(command) "), "\(command)")
        }
        for code in ["64", "69", "70", "77"] { #expect(r.stdout.contains("  \(code) ")) }
        #expect(r.stdout.contains("--generate-completion-script"))
    }

    @Test func completionScript() throws {
        let r = try Robotctl.run(["--generate-completion-script", "bash"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("robotctl"))
    }

    @Test func watchPrintsOneLinePerSample() throws {
        let daemon = try FakeDaemon { request in
            guard request["method"] as? String == "telemetry.subscribe" else { return [] }
            return [RPC.result(request["id"], ["subscription": 1, "rate_hz": 50])]
                + (1...3).map { RPC.notification("telemetry", Sample.telemetry(tick: 100 * $0)) }
        }
        defer { daemon.stop() }
        let r = try Robotctl.run(["watch", "--rate", "50", "--count", "3", "--socket", daemon.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.count == 3, "\(r.stdout)")
        #expect(r.lines.first == "tick=100 mode=hold q=0.0000,-1.2000,1.0000,0.0000,0.0000,0.0100")
        #expect(r.lines.last?.hasPrefix("tick=300 mode=hold ") == true)
        #expect(jsonEqual(daemon.requests.first?["params"], ["rate_hz": 50]))
    }

    @Test func watchJSONPrintsTheParams() throws {
        let daemon = try FakeDaemon { request in
            [RPC.result(request["id"], ["subscription": 1, "rate_hz": 10])]
                + (1...5).map { RPC.notification("telemetry", Sample.telemetry(tick: $0)) }
        }
        defer { daemon.stop() }
        let r = try Robotctl.run(["watch", "--json", "--count", "2", "--socket", daemon.path])
        #expect(r.status == 0, "\(r.stderr)")
        try #require(r.lines.count == 2)
        #expect(jsonEqual(try json(r.lines[1]), Sample.telemetry(tick: 2)))
        #expect(jsonEqual(daemon.requests.first?["params"], ["rate_hz": 10]))
    }

    @Test func watchEndsWithExit0OnCtrlC() throws {
        let daemon = try FakeDaemon { request in
            [RPC.result(request["id"], ["subscription": 1, "rate_hz": 10]),
             RPC.notification("telemetry", Sample.telemetry(tick: 1))]
        }
        defer { daemon.stop() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Robotctl.path)
        process.arguments = ["watch", "--socket", daemon.path, "--timeout", "20"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first sample's line means the subscription is up and the loop is waiting for more.
        var seen = Data()
        while !seen.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.readSomeRetryingEINTR()
            if chunk.isEmpty { break }
            seen += chunk
        }
        process.interrupt()
        process.waitUntilExit()
        #expect(String(decoding: seen, as: UTF8.self).hasPrefix("tick=1 mode=hold "))
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test func watchWithoutSamplesTimesOut() throws {
        let daemon = try FakeDaemon { request in [RPC.result(request["id"], ["subscription": 1, "rate_hz": 10])] }
        defer { daemon.stop() }
        let r = try Robotctl.run(["watch", "--count", "1", "--timeout", "0.3", "--socket", daemon.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("timed out"))
    }

    @Test func notificationsBeforeTheReplyAreSkipped() throws {
        let daemon = try FakeDaemon { request in
            [RPC.notification("telemetry", Sample.telemetry(tick: 1)),
             RPC.notification("telemetry", Sample.telemetry(tick: 2)),
             RPC.result(request["id"], Sample.status)]
        }
        defer { daemon.stop() }
        let r = try Robotctl.run(["status", "--json", "--socket", daemon.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(jsonEqual(try json(r.stdout), Sample.status))
    }

    @Test(arguments: [
        "this is not json",
        #"["an", "array"]"#,
        #"{"hello": "world"}"#,
        #"{"jsonrpc": "2.0", "id": 99, "result": {}}"#,
        #"{"jsonrpc": "2.0", "id": 1}"#,
        #"{"jsonrpc": "2.0", "id": 1, "error": {"message": "no code"}}"#,
        #"{"jsonrpc": "1.0", "id": 1, "result": {}}"#,
    ])
    func garbageRepliesExit70(reply: String) throws {
        let daemon = try FakeDaemon { _ in [reply] }
        defer { daemon.stop() }
        let r = try Robotctl.run(["status", "--socket", daemon.path])
        #expect(r.status == 70, "\(reply): \(r.stderr)")
        #expect(r.stderr.hasPrefix("robotctl: protocol error: "))
    }

    @Test func errorWithNullIdIsReported() throws {
        // E.g. "busy" to a connection over the limit, sent before the daemon closes it.
        let daemon = try FakeDaemon { _ in [RPC.error(nil, code: -32003, message: "busy: too many connections")] }
        defer { daemon.stop() }
        let r = try Robotctl.run(["status", "--socket", daemon.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("status failed: busy: too many connections (code -32003)"))
    }
}
