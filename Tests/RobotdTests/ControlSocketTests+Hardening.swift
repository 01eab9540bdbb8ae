import ControlProtocol
import ControlSocket
import Foundation
import TestProcess
import Glibc
import Learning
import ModelFiles
import Testing

// Issue 12: inputs and peers that used to crash, stall or lock out the daemon. Each test runs
// the real daemon on the simulator with a real Unix socket.

extension ControlSocketTests {
    /// `Int(Double)` traps beyond Int.max: a subscribe rate of 1e19 killed the daemon. Huge rates
    /// are clamped to the documented maximum (min(loop rate, telemetry_max_hz) = 500 Hz here).
    @Test func hugeTelemetryRatesAreClampedNotFatal() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        for (i, rate) in ["1e19", "9.3e18", "9223372036854775807", "1e308", "18446744073709551616"].enumerated() {
            try c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":\(i + 1),\"method\":\"telemetry.subscribe\",\"params\":{\"rate_hz\":\(rate)}}\n")
            var reply: [String: Any]?
            repeat { reply = try c.readObject() } while reply?["method"] != nil
            let result = reply?["result"] as? [String: Any]
            #expect(result?["rate_hz"] as? Int == 500, "rate_hz \(rate): \(String(describing: reply))")
        }
        try c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"telemetry.subscribe\",\"params\":{\"rate_hz\":-1e19}}\n")
        var bad: [String: Any]?
        repeat { bad = try c.readObject() } while bad?["method"] != nil
        #expect(SocketReply.code(bad) == -32602 && SocketReply.message(bad).contains("rate_hz"), "\(String(describing: bad))")
        c.close()
        #expect(daemon.isRunning, "the daemon died:\n\(daemon.stderr)")
        let d = try daemon.connect()
        #expect(try d.result("status")["mode"] as? String == "hold")
        d.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}

extension ControlSocketTests {
    /// JSON-RPC 2.0: the reply's id is the request's id. A 30-digit id came back rounded through
    /// a Double; ids are compared as text here (the reply prints sorted keys on one line).
    @Test func numericIDsOfAnyLengthAreEchoedDigitForDigit() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        for id in ["123456789012345678901234567890", "-98765432109876543210987654321", "1.000000000000000000001", "1E+300", "0.1e-3"] {
            try c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"hello\"}\n")
            let line = try #require(c.readLine(), "no reply for id \(id)")
            #expect(line.contains("\"id\":\(id),"), "request id \(id) answered as \(line.prefix(120))")
            // An error reply carries it too.
            try c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"no.such.method\"}\n")
            let error = try #require(c.readLine(), "no error reply for id \(id)")
            #expect(error.contains("\"id\":\(id),") && error.contains("-32601"), "\(error.prefix(160))")
        }
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// Invalid UTF-8 was replaced by U+FFFD, so a string id came back different from the one
    /// sent. It is a parse error (-32700), and the connection stays usable.
    @Test func invalidUTF8IsAParseErrorNotReplaced() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        for bad in [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF]] as [[UInt8]] {
            var line = Data("{\"jsonrpc\":\"2.0\",\"id\":\"a".utf8)
            line.append(contentsOf: bad)
            line.append(contentsOf: Array("\",\"method\":\"hello\"}\n".utf8))
            try c.sendRaw(line)
            let reply = try c.readObject()
            #expect(SocketReply.code(reply) == -32700, "bytes \(bad): \(String(describing: reply))")
            #expect(SocketReply.message(reply).contains("UTF-8"), "\(String(describing: reply))")
        }
        #expect(try c.result("hello")["daemon"] as? String == "robotd")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// A duration of 5e-324 s made `move` a step command. The minimum is 10 control periods
    /// (0.02 s at the tests' 500 Hz), named in the error; the arm does not move.
    @Test func movesAndTargetsShorterThanTenControlPeriodsAreRefused() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        let q0 = try #require(SocketReply.numbers((try c.result("status")["joints"] as? [String: Any])?["q"]))
        for d in [5e-324, 1e-9, 0.019] {
            let reply = try c.reply("move", ["q": q0.map { $0 + 0.3 }, "duration": d])
            #expect(SocketReply.code(reply) == -32602, "duration \(d): \(reply)")
            #expect(SocketReply.message(reply).contains("\"duration\"") && SocketReply.message(reply).contains("0.02"), "\(reply)")
            let target = try c.reply("target.set", ["q": q0, "duration": d])
            #expect(SocketReply.code(target) == -32602 && SocketReply.message(target).contains("0.02"), "duration \(d): \(target)")
        }
        #expect(try c.result("status")["mode"] as? String == "hold", "a refused move must not start")
        let ok = try c.reply("move", ["q": q0, "duration": 0.02])
        #expect((ok["result"] as? [String: Any])?["accepted"] as? Bool == true, "\(ok)")
        // Longer than 10 periods but still faster than a joint can go: 0.5 rad of shoulder_pan in
        // 0.2 s peaks at 15/8 · 0.5 / 0.2 = 4.69 rad/s, over the URDF's 3.15; the shortest
        // duration that fits is 15/8 · 0.5 / 3.15 = 0.298 s.
        _ = try ControlSocketTests.waitForMode(c, "hold", timeout: 5)
        var q1 = try #require(SocketReply.numbers((try c.result("status")["joints"] as? [String: Any])?["q"]))
        q1[0] += 0.5
        let fast = try c.reply("move", ["q": q1, "duration": 0.2])
        #expect(SocketReply.code(fast) == -32602 && SocketReply.message(fast).contains("shoulder_pan_joint")
                && SocketReply.message(fast).contains("3.15") && SocketReply.message(fast).contains("0.298"), "\(fast)")
        #expect(try c.result("status")["mode"] as? String == "hold")
        let fits = try c.reply("move", ["q": q1, "duration": 0.31])
        #expect((fits["result"] as? [String: Any])?["accepted"] as? Bool == true, "\(fits)")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// docs/protocol.md documents paths of up to 10 000 waypoints; one must fit in a request line
    /// (it did not fit the old 64 KiB limit) and be accepted end to end.
    @Test func theDocumentedLargestPathFitsInOneRequest() throws {
        let daemon = try SocketTestDaemon(sections: "driver: {kind: simulation, simulation: {initial_position: [0, -1.2, 1.0, -0.5, 0.4, 0.1]}}")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect(timeout: 60)
        let p0 = try #require(SocketReply.numbers((try c.result("status")["end_effector"] as? [String: Any])?["position"]))
        let n = 10_000
        // A 5 cm circle through p0, written with full double precision (the longest lines).
        let circle = (0 ..< n).map { k -> [Double] in
            let phi = 2 * Double.pi * Double(k) / Double(n)
            return [p0[0] - 0.05 + 0.05 * cos(phi) + 1e-17, p0[1] + 1e-17, p0[2] + 0.05 * sin(phi) + 1e-17]
        }
        let request = try JSONSerialization.data(withJSONObject: ["jsonrpc": "2.0", "id": 7, "method": "target.set",
                                                                  "params": ["path": circle, "period": 8]])
        #expect(request.count > 64 * 1024, "the request is \(request.count) bytes")
        try c.sendRaw(request + Data([0x0A]))
        let reply = try c.readObject(timeout: 60)
        #expect((reply?["result"] as? [String: Any])?["waypoints"] as? Int == n, "\(String(describing: reply))")
        let over = try c.reply("target.set", ["path": circle + [circle[0]], "period": 8], timeout: 60)
        #expect(SocketReply.code(over) == -32602 && SocketReply.message(over).contains("10000"), "\(over)")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}

extension ControlSocketTests {
    /// Runs `robotctl` (copied where nobody can execute it when `asNobody`); its result.
    static func robotctl(_ arguments: [String], socket: String, asNobody: Bool = false) throws -> TestSupport.Result {
        let built = (TestSupport.robotdPath as NSString).deletingLastPathComponent + "/robotctl"
        if asNobody {
            let directory = try SocketTempDirectory.make(mode: 0o755)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try FileManager.default.copyItem(atPath: built, toPath: directory + "/robotctl")
            _ = chmod(directory + "/robotctl", 0o755)
            return try TestSupport.run("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", directory + "/robotctl"]
                + arguments + ["--socket", socket, "--timeout", "20"])
        }
        return try TestSupport.run(built, arguments + ["--socket", socket, "--timeout", "20"])
    }

    /// Issue 12: 64 idle connections from any peer filled socket.max_connections and root's
    /// `robotctl estop` failed with "Broken pipe". A non-operator (nobody) now gets at most
    /// socket.max_connections_per_uid; root's estop still works; when operators themselves fill
    /// the general pool, the operators' reserve still lets one in; and robotctl reports the
    /// daemon's busy reply instead of a broken pipe.
    @Test(.enabled(if: getuid() == 0, "needs root to run a client as user nobody"))
    func aNonOperatorCannotLockOutTheOperatorsEstop() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "/usr/bin/setpriv (util-linux) runs peers as nobody")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "/usr/bin/python3 is missing")
        // The defaults: max_connections 64, max_connections_per_uid 16, operator_reserved_connections 8.
        let daemon = try SocketTestDaemon(socketSettings: "mode: \"0666\", observers: [nobody]")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")

        let hogScript = try Self.worldReadableCopy(of: "Tests/oracles/connection_hog.py")
        let hog = Process()
        hog.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        hog.arguments = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", hogScript, daemon.socketPath, "64"]
        let hogIn = Pipe(), hogOut = Pipe()
        hog.standardInput = hogIn
        hog.standardOutput = hogOut
        try hog.run()
        defer {
            try? hogIn.fileHandleForWriting.close()
            hog.waitUntilExit()
        }
        var line = Data()
        while !line.contains(0x0A) {
            let d = hogOut.fileHandleForReading.readSomeRetryingEINTR()
            if d.isEmpty { break }
            line.append(d)
        }
        let counts = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any], "hog: \(String(decoding: line, as: UTF8.self))")
        #expect(counts["served"] as? Int == 16, "\(counts)")
        #expect(counts["busy"] as? Int == 48, "\(counts)")
        #expect((counts["busy_message"] as? String)?.contains("socket.max_connections_per_uid") == true, "\(counts)")

        // robotctl as nobody while nobody holds its 16: the daemon's busy reply, not EPIPE.
        let refused = try Self.robotctl(["status"], socket: daemon.socketPath, asNobody: true)
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("daemon busy: too many connections"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("Broken pipe"), "\(refused.stderr)")

        // Root fills the rest of the general pool (operators are exempt from the per-uid limit) …
        var held: [ControlClient] = []
        for _ in 0 ..< 48 {
            let c = try daemon.connect()
            #expect(try c.result("hello")["role"] as? String == "operator")
            held.append(c)
        }
        // … and is still let in, from the operators' reserve.
        let estop = try Self.robotctl(["estop"], socket: daemon.socketPath)
        #expect(estop.status == 0, "robotctl estop under a full pool: \(estop.stderr)")
        #expect(try held[0].result("status")["mode"] as? String == "estop")
        // A non-operator gets no reserved slot.
        let observer = try Self.peerCall(daemon.socketPath, "hello")
        #expect(SocketReply.code(observer) == -32003, "\(observer)")
        #expect(SocketReply.message(observer).contains("socket.max_connections"), "\(observer)")
        for c in held { c.close() }
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// socket.idle_timeout: a connection with no request and no subscription is told why and
    /// closed; a subscribed observer on the same daemon is not idle and keeps its stream.
    @Test func idleConnectionsAreClosedButSubscribersAreNot() throws {
        let daemon = try SocketTestDaemon(socketSettings: "idle_timeout: 2")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let subscriber = try daemon.connect()
        #expect(try subscriber.result("telemetry.subscribe", ["rate_hz": 20])["rate_hz"] as? Int == 20)
        let idle = try daemon.connect()
        #expect(try idle.result("hello")["daemon"] as? String == "robotd")
        let closing = try idle.readObject(timeout: 30)
        #expect(closing?["method"] as? String == "closing", "\(String(describing: closing))")
        let reason = (closing?["params"] as? [String: Any])?["reason"] as? String ?? ""
        #expect(reason.contains("socket.idle_timeout"), "\(reason)")
        #expect(idle.readLine(timeout: 10) == nil && idle.sawEOF, "the idle connection must be closed")
        idle.close()
        // The subscriber outlived the idle one (which was younger than it) and still streams.
        var samples = 0
        while samples < 3, let m = try subscriber.readObject(timeout: 10) {
            if m["method"] as? String == "telemetry" { samples += 1 }
            #expect(m["method"] as? String != "closing", "a subscriber is not idle: \(m)")
        }
        #expect(samples == 3)
        #expect(try subscriber.result("status")["mode"] as? String == "hold")
        subscriber.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}

// MARK: Files (issue 12: 3, 4, 5, 15)

extension ControlSocketTests {
    /// A daemon with a policy slot and a learner at version 0 (no model to save yet), and its
    /// data directory created.
    static func fileDaemon() throws -> (SocketTestDaemon, data: String) {
        let daemon = try SocketTestDaemon(sections: "learning: {enabled: true, interval: 3600, min_new_samples: 100, members: 2, hidden: [8], epochs: 1}")
        let data = daemon.directory + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        return (daemon, data)
    }

    static func policyFile(at path: String) throws {
        var mlp = MLP(widths: [12, 8, 6], activation: .tanh, seed: 5)
        mlp.outputScale = [Float](repeating: 0.01, count: 6)
        try Data(SafeTensors.encode(MLPFile.file(for: mlp, metadata: ["robot": "sim6"]))).write(to: URL(fileURLWithPath: path))
    }

    /// The daemon (root here) opens nothing by path outside data_directory — standing in for a
    /// daemon under ProtectHome/PrivateTmp that cannot see the user's file — while robotctl,
    /// which opens the file as the caller and passes the descriptor, loads it.
    @Test func robotctlPassesTheFileItselfAndPathsStayInsideTheDataDirectory() throws {
        let (daemon, data) = try Self.fileDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let private0700 = try SocketTempDirectory.make(mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: private0700) }
        let outside = private0700 + "/policy.safetensors"
        try Self.policyFile(at: outside)
        let c = try daemon.connect()
        for (path, reason) in [(outside, "outside data_directory"), ("../policy.safetensors", "\"..\""), (data + "/../s.sock", "\"..\"")] {
            let r = try c.reply("policy.load", ["path": path])
            #expect(SocketReply.code(r) == -32602 && SocketReply.message(r).contains(reason), "\(path): \(r)")
        }
        // A symlink inside data_directory is not followed, a directory symlink out is out.
        symlink(outside, data + "/link.safetensors")
        symlink(private0700, data + "/out")
        let link = try c.reply("policy.load", ["path": "link.safetensors"])
        #expect(SocketReply.code(link) == -32602 && SocketReply.message(link).contains("symbolic link"), "\(link)")
        let out = try c.reply("policy.load", ["path": "out/policy.safetensors"])
        #expect(SocketReply.code(out) == -32602 && SocketReply.message(out).contains("outside data_directory"), "\(out)")
        #expect(try c.result("status")["policy"] is NSNull, "nothing was loaded")

        let r = try Self.robotctl(["policy", outside], socket: daemon.socketPath)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("policy loaded: \(outside) (12-8-6, tanh)"), "\(r.stdout)")
        #expect(try c.result("status")["policy"] as? String == outside)
        // Inside data_directory, by a relative path, the daemon opens it itself.
        try Self.policyFile(at: data + "/inside.safetensors")
        #expect((try c.result("policy.load", ["path": "inside.safetensors"]))["loaded"] as? String == "inside.safetensors")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// model.save replaced a FIFO (and a device, and wrote under /etc). Only regular files are
    /// written: by path inside data_directory, a FIFO is refused, named as one, and remains;
    /// outside data_directory nothing is written; robotctl refuses a FIFO target as well.
    @Test func modelSaveWritesOnlyRegularFiles() throws {
        let (daemon, data) = try Self.fileDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let fifo = data + "/fifo.safetensors"
        #expect(mkfifo(fifo, 0o644) == 0)
        let c = try daemon.connect()
        let byPath = try c.reply("model.save", ["path": "fifo.safetensors"])
        #expect(SocketReply.code(byPath) == -32602 && SocketReply.message(byPath).contains("FIFO"), "\(byPath)")
        let directory = try c.reply("model.save", ["path": data])
        #expect(SocketReply.code(directory) == -32602, "\(directory)")
        let elsewhere = try SocketTempDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let outside = try c.reply("model.save", ["path": elsewhere + "/m.safetensors"])
        #expect(SocketReply.code(outside) == -32602 && SocketReply.message(outside).contains("outside data_directory"), "\(outside)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere + "/m.safetensors"))
        let viaRobotctl = try Self.robotctl(["model", "save", fifo], socket: daemon.socketPath)
        #expect(viaRobotctl.status == 1 && viaRobotctl.stderr.contains("FIFO"), "\(viaRobotctl.stderr)")
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && st.st_mode & S_IFMT == S_IFIFO, "the FIFO must remain a FIFO")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: data).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "temporary files left behind: \(leftovers)")
        // Loading a FIFO is refused at once (opened non-blocking, never read).
        let load = try c.reply("policy.load", ["path": "fifo.safetensors"])
        #expect(SocketReply.code(load) == -32602 && SocketReply.message(load).contains("FIFO"), "\(load)")
        let loadFIFO = try Self.robotctl(["policy", fifo], socket: daemon.socketPath)
        #expect(loadFIFO.status == 1 && loadFIFO.stderr.contains("FIFO"), "\(loadFIFO.stderr)")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// policy.load of /etc/shadow printed its first 8 bytes as an integer (the safetensors header
    /// length). A file whose first bytes form a huge header length is refused without echoing
    /// them, through the socket by path and through robotctl.
    @Test func refusalsNeverEchoTheFilesBytes() throws {
        let (daemon, data) = try Self.fileDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let secret = Array("root:$6$Zq9xK3".utf8) + (0 ..< 200).map { _ in UInt8.random(in: 0x21 ... 0x7E) }
        var n: UInt64 = 0
        for i in 0 ..< 8 { n |= UInt64(secret[i]) << (8 * UInt64(i)) }
        let path = data + "/shadow"
        try Data(secret).write(to: URL(fileURLWithPath: path))
        let c = try daemon.connect()
        let r = try c.reply("policy.load", ["path": "shadow"])
        let viaSocket = SocketReply.message(r)
        let viaRobotctl = try Self.robotctl(["policy", path], socket: daemon.socketPath)
        let modelLoad = try Self.robotctl(["model", "load", path], socket: daemon.socketPath)
        for text in [viaSocket, viaRobotctl.stderr, modelLoad.stderr] {
            #expect(text.contains("not a safetensors file"), "\(text)")
            #expect(!text.contains(String(n)) && !text.contains(String(Int64(bitPattern: n))), "the header length leaked: \(text)")
            #expect(!text.contains("root:") && !text.contains("Zq9x"), "the file's bytes leaked: \(text)")
        }
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// A 2 GB sparse file was read whole on the event loop (RSS 4.7 GB). Files over 256 MiB are
    /// refused from fstat, and a header length that does not fit is refused after 8 bytes: the
    /// daemon's peak RSS (VmHWM) stays far below the files' sizes, and other connections are
    /// served meanwhile.
    @Test func bigFilesAreRefusedBeforeTheirBodyIsRead() throws {
        let (daemon, data) = try Self.fileDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        func sparse(_ name: String, size: off_t, head: [UInt8]) throws -> String {
            let path = data + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            try #require(fd >= 0)
            defer { close(fd) }
            _ = head.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            try #require(ftruncate(fd, size) == 0)
            return path
        }
        let huge = try sparse("huge.safetensors", size: 2 << 30, head: [])
        // 200 MiB, under the cap, claiming a 150 MB header (over the 100 MB limit).
        var head: [UInt8] = []
        for i in 0 ..< 8 { head.append(UInt8((UInt64(150_000_000) >> (8 * UInt64(i))) & 0xFF)) }
        let big = try sparse("big.safetensors", size: 200 << 20, head: head)
        let c = try daemon.connect(), other = try daemon.connect()
        for method in ["policy.load", "model.load"] {
            let r = try c.reply(method, ["path": "huge.safetensors"])
            #expect(SocketReply.code(r) == -32602 && SocketReply.message(r).contains("2147483648 bytes")
                && SocketReply.message(r).contains("268435456"), "\(method): \(r)")
            let b = try c.reply(method, ["path": "big.safetensors"])
            #expect(SocketReply.code(b) == -32602 && SocketReply.message(b).contains("header"), "\(method): \(b)")
            #expect(try other.result("status")["mode"] as? String == "hold")
        }
        for path in [huge, big] {
            let r = try Self.robotctl(["policy", path], socket: daemon.socketPath)
            #expect(r.status == 1 && (r.stderr.contains("268435456") || r.stderr.contains("header")), "\(r.stderr)")
        }
        let status = try String(contentsOfFile: "/proc/\(daemon.process.process.processIdentifier)/status", encoding: .utf8)
        let hwm = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? -1
        #expect(hwm > 0 && hwm < 150 * 1024, "peak RSS \(hwm) kB: a refused file's body must not be read")
        c.close()
        other.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}

extension ControlSocketTests {
    /// The descriptor handshake as docs/protocol.md describes it, driven by a Python client
    /// written from the document (Tests/oracles/fd_client.py): the daemon takes exactly one
    /// descriptor of a regular file opened the right way, and names what was wrong otherwise.
    @Test func passedDescriptorsAreCheckedAsDocumented() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "/usr/bin/python3 is missing")
        let (daemon, data) = try Self.fileDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let elsewhere = try SocketTempDirectory.make(mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let policy = elsewhere + "/p.safetensors"
        try Self.policyFile(at: policy)
        let fifo = elsewhere + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        func call(_ method: String, _ file: String, _ how: String) throws -> (expect: [String: Any]?, reply: [String: Any]?) {
            let r = try TestSupport.python("Tests/oracles/fd_client.py", [daemon.socketPath, method, file, how])
            let o = try #require(try TestSupport.json(r.stdout) as? [String: Any], "fd_client: \(r.stdout) \(r.stderr)")
            return (o["expect"] as? [String: Any], o["reply"] as? [String: Any])
        }
        let ok = try call("policy.load", policy, "read")
        #expect(ok.expect?["id"] as? Int == 41, "fd.expect names the request: \(String(describing: ok.expect))")
        #expect((ok.reply?["result"] as? [String: Any])?["loaded"] as? String == policy, "\(String(describing: ok.reply))")
        let refusals: [(String, String, String, String)] = [
            ("policy.load", fifo, "read", "FIFO"),
            ("model.load", "/dev/null", "read", "character device"),
            ("model.save", policy, "read", "open for reading only"),
            ("policy.load", policy, "two", "exactly one file descriptor"),
            ("policy.load", policy, "none", "exactly one file descriptor"),
        ]
        for (method, file, how, reason) in refusals {
            let r = try call(method, file, how)
            #expect(SocketReply.code(r.reply) == -32602 && SocketReply.message(r.reply).contains(reason), "\(method) \(how) \(file): \(String(describing: r.reply))")
        }
        var st = stat()
        #expect(stat(policy, &st) == 0 && st.st_size > 100, "a refused save must not truncate the file")
        let c = try daemon.connect()
        #expect(try c.result("status")["policy"] as? String == policy)
        c.close()
        _ = data
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}
