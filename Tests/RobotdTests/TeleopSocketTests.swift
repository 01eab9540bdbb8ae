import ControlProtocol
import ControlSocket
import Foundation
import Learning
import ModelFiles
import Testing

/// Mode `teleop` on a real `robotd run` (configs/sim.yaml's arm, configs/so101-sim.yaml's servos):
/// streamed joint and pose targets are followed, a stopped stream holds, a stopped daemon never
/// leaves a joint past a limit unfaulted, bad targets and read-only clients are refused, and an
/// operator takes over from a policy and hands back.
@Suite(.serialized) struct TeleopSocketTests {
    static func q(_ status: [String: Any]) -> [Double] { SocketReply.numbers((status["joints"] as? [String: Any])?["q"]) ?? [] }
    static func endEffector(_ status: [String: Any]) -> [Double] { SocketReply.numbers((status["end_effector"] as? [String: Any])?["position"]) ?? [] }
    static func teleop(_ status: [String: Any]) -> [String: Any] { status["teleop"] as? [String: Any] ?? [:] }
    static func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
        a.count == b.count ? zip(a, b).map { abs($0 - $1) }.max() ?? 0 : .infinity
    }

    /// Sends `params` every 20 ms for `seconds`; every reply must be a result.
    static func stream(_ c: ControlClient, _ params: (Int) -> [String: Any], seconds: Double) throws {
        let n = Int(seconds / 0.02)
        for k in 0 ..< n {
            let r = try c.reply("teleop.stream", params(k))
            guard r["result"] != nil else { throw SocketTestFailure.badReply("teleop.stream \(params(k)): \(r)") }
            usleep(20_000)
        }
    }

    /// sim6 (torque): joint targets followed, stale stream holds, poses through IK, refusals
    /// named, latency and counters in status, SIGSTOP/SIGCONT never leaves a limit exceeded
    /// unfaulted, a read-only client is refused and the daemon lives.
    @Test func streamsJointAndPoseTargetsOnTheSimulatedArm() throws {
        let daemon = try SocketTestDaemon(socketSettings: "mode: \"0666\", observers: [nobody]")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        #expect((try c.result("hello")["modes"] as? [String])?.contains("teleop") == true)
        let idle = Self.teleop(try c.result("status"))
        #expect(idle["source"] as? String == "stream" && idle["acting"] as? Bool == false && idle["input_age_s"] is NSNull, "\(idle)")
        #expect(try c.result("mode.set", ["mode": "teleop"])["mode"] as? String == "teleop")

        // A ramp of joint targets, then the last one held.
        let q0 = Self.q(try c.result("status"))
        let offset = [0.3, -0.2, 0.25, 0.2, -0.2, 0.3]
        func target(_ s: Double) -> [Double] { (0 ..< 6).map { q0[$0] + s * offset[$0] } }
        try Self.stream(c, { k in ["q": target(min(1, Double(k) / 50))] }, seconds: 2.5)
        let followed = try c.result("status")
        #expect(Self.maxAbsDiff(Self.q(followed), target(1)) < 0.02, "\(Self.q(followed)) vs \(target(1))")
        let t = Self.teleop(followed)
        #expect(t["acting"] as? Bool == true, "\(t)")
        let inputs = t["inputs"] as? [String: Any], latency = t["latency_ms"] as? [String: Any]
        #expect((inputs?["received"] as? Int ?? 0) >= 100, "\(t)")
        let p50 = SocketReply.number(latency?["p50"]) ?? 0, p99 = SocketReply.number(latency?["p99"]) ?? 0
        #expect(p50 > 0 && p99 >= p50, "\(t)")

        // Stop streaming: once the input is older than teleop.timeout the arm holds where it is.
        usleep(500_000)
        let stopped = try c.result("status")
        #expect(Self.teleop(stopped)["acting"] as? Bool == false)
        usleep(1_000_000)
        let later = try c.result("status")
        #expect(later["mode"] as? String == "teleop")
        #expect(Self.maxAbsDiff(Self.q(later), Self.q(stopped)) < 0.005)

        // A pose 3 cm away, through inverse kinematics.
        let p0 = Self.endEffector(later)
        let goal = [p0[0] + 0.03, p0[1] - 0.02, p0[2] + 0.02]
        let first = try c.result("teleop.stream", ["position": goal])
        #expect((SocketReply.number(first["position_error_m"]) ?? 1) < 1e-4, "\(first)")
        #expect(first["mode"] as? String == "teleop")
        try Self.stream(c, { _ in ["position": goal] }, seconds: 1.5)
        let reached = Self.endEffector(try c.result("status"))
        #expect(Self.maxAbsDiff(reached, goal) < 0.005, "\(reached) vs \(goal)")
        // The control thread allocated nothing while it engaged, followed and held (a copy of the
        // loop's PD controller shared its workspace with the source's and was copied on first use).
        let allocations = try c.result("timing")["allocations"] as? Int
        #expect(allocations == 0, "\(String(describing: allocations)) allocations on the control thread")

        // Refusals name what is wrong; none moves the arm or stops the daemon.
        let refusals: [([String: Any], String)] = [
            (["q": [0, 0, 0]], "6 joints"),
            (["q": [0, 0, 9, 0, 0, 0]], "outside joint"),
            (["position": [5, 0, 0.5]], "outside the workspace"),
            (["position": goal, "orientation": [1, 1, 0, 0]], "unit quaternion"),
            (["q": q0, "position": goal], "exactly one"),
            (["q": q0, "speed": 1], "speed"),
        ]
        for (params, reason) in refusals {
            let r = try c.reply("teleop.stream", params)
            #expect(SocketReply.code(r) == -32602 && SocketReply.message(r).contains(reason), "\(params): \(r)")
        }
        // Non-finite numbers do not parse: the request is refused, the connection and daemon live.
        try c.sendRaw("{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"teleop.stream\",\"params\":{\"q\":[1e999,0,0,0,0,0]}}\n")
        let raw = try c.readObject()
        #expect(raw?["error"] != nil, "\(String(describing: raw))")
        let counted = Self.teleop(try c.result("status"))["inputs"] as? [String: Any]
        #expect((counted?["refused"] as? Int ?? 0) >= refusals.count, "\(String(describing: counted))")

        // SIGSTOP mid-stream: shorter than loop.max_stall the arm holds on the stale input (then
        // follows again); longer, the loop faults (stalled). Never past a limit unfaulted.
        let lower = [-2 * Double.pi, -2 * Double.pi, -Double.pi, -2 * Double.pi, -2 * Double.pi, -2 * Double.pi]
        func inside(_ q: [Double]) -> Bool { q.count == 6 && (0 ..< 6).allSatisfy { abs(q[$0]) < -lower[$0] } }
        let here = Self.q(try c.result("status"))
        let away = (0 ..< 6).map { here[$0] + (offset[$0] > 0 ? -0.2 : 0.2) }
        for pause in [300_000, 1_200_000] as [UInt32] {
            try Self.stream(c, { _ in ["q": away] }, seconds: 0.2)
            daemon.process.signal(SIGSTOP)
            usleep(pause)
            daemon.process.signal(SIGCONT)
            usleep(100_000)
            let s = try c.result("status")
            let q = Self.q(s)
            if s["mode"] as? String == "faulted" {
                #expect((s["fault"] as? String)?.contains("stalled") == true, "\(s)")
            } else {
                #expect(inside(q) && s["mode"] as? String == "teleop", "\(s)")
            }
            if pause > 1_000_000 {
                #expect(s["mode"] as? String == "faulted", "a 1.2 s stop is longer than loop.max_stall")
                #expect(try c.result("reset")["mode"] as? String == "hold")
            }
        }

        // A read-only client may not stream or take over; the daemon keeps running.
        let refused = try ControlSocketTests.robotctl(["teleop", "stream", "--joints", "0,0,0,0,0,0"], socket: daemon.socketPath, asNobody: true)
        #expect(refused.status == 77, "\(refused.stderr)")
        let takeover = try ControlSocketTests.robotctl(["teleop", "takeover"], socket: daemon.socketPath, asNobody: true)
        #expect(takeover.status == 77, "\(takeover.stderr)")
        #expect(daemon.isRunning)
        #expect(try c.result("status")["mode"] as? String == "hold")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// From `policy`: takeover → teleop (the policy's mode remembered), streamed targets followed,
    /// handback → policy again; handback without a takeover and takeover from hold are refused.
    @Test func takesOverFromAPolicyAndHandsBack() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        var mlp = MLP(widths: [12, 16, 6], activation: .tanh, seed: 2)
        mlp.outputScale = [Float](repeating: 0.01, count: 6)
        let dir = daemon.directory + "/data"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/p.safetensors"
        try SafeTensors.write(MLPFile.file(for: mlp, metadata: ["robot": "sim6"]), to: path)
        let c = try daemon.connect()
        let early = try c.reply("teleop.takeover")
        #expect(SocketReply.code(early) == -32002 && SocketReply.message(early).contains("policy or mpc"), "\(early)")
        #expect(try c.result("policy.load", ["path": path])["widths"] as? [Int] == [12, 16, 6])
        #expect(try c.result("mode.set", ["mode": "policy"])["mode"] as? String == "policy")
        usleep(100_000)
        let taken = try c.result("teleop.takeover")
        #expect(taken["mode"] as? String == "teleop" && taken["from"] as? String == "policy", "\(taken)")
        let status = try c.result("status")
        #expect(Self.teleop(status)["takeover_from"] as? String == "policy")
        let q0 = Self.q(status)
        let target = (0 ..< 6).map { q0[$0] + 0.1 }
        try Self.stream(c, { _ in ["q": target] }, seconds: 1.5)
        #expect(Self.maxAbsDiff(Self.q(try c.result("status")), target) < 0.02)
        let back = try c.result("teleop.handback")
        #expect(back["mode"] as? String == "policy" && back["from"] as? String == "teleop", "\(back)")
        let again = try c.reply("teleop.handback")
        #expect(SocketReply.code(again) == -32002 && SocketReply.message(again).contains("no takeover"), "\(again)")
        // A mode.set in between forgets the takeover.
        #expect(try c.result("teleop.takeover")["mode"] as? String == "teleop")
        #expect(try c.result("mode.set", ["mode": "hold"])["mode"] as? String == "hold")
        #expect(try c.result("mode.set", ["mode": "teleop"])["mode"] as? String == "teleop")
        #expect(SocketReply.code(try c.reply("teleop.handback")) == -32002)
        // robotctl speaks the same methods.
        #expect(try c.result("mode.set", ["mode": "policy"])["mode"] as? String == "policy")
        let over = try ControlSocketTests.robotctl(["teleop", "takeover"], socket: daemon.socketPath)
        #expect(over.status == 0 && over.stdout.contains("mode: teleop (taken over from policy)"), "\(over.stdout)\(over.stderr)")
        let sent = try ControlSocketTests.robotctl(["teleop", "stream", "--joints", target.map { "\($0)" }.joined(separator: ",")],
                                                    socket: daemon.socketPath)
        #expect(sent.status == 0 && sent.stdout.contains("sent (mode teleop)"), "\(sent.stdout)\(sent.stderr)")
        let handed = try ControlSocketTests.robotctl(["teleop", "handback"], socket: daemon.socketPath)
        #expect(handed.status == 0 && handed.stdout.contains("mode: policy"), "\(handed.stdout)\(handed.stderr)")

        // From mpc: handback needs a valid plan again; withdrawn (target.clear) it is refused and
        // the arm stays in teleop until a target makes one.
        #expect(try c.result("mode.set", ["mode": "hold"])["mode"] as? String == "hold")
        let here = Self.endEffector(try c.result("status"))
        #expect(try c.result("target.set", ["position": here])["accepted"] as? Bool == true)
        var entered = false
        for _ in 0 ..< 50 where !entered {
            entered = (try c.reply("mode.set", ["mode": "mpc"]))["result"] != nil
            if !entered { usleep(20_000) }
        }
        #expect(entered, "mpc never had a plan")
        #expect(try c.result("teleop.takeover")["from"] as? String == "mpc")
        #expect(try c.result("target.clear")["target"] is NSNull)
        usleep(300_000)
        let noPlan = try c.reply("teleop.handback")
        #expect(SocketReply.code(noPlan) == -32002 && SocketReply.message(noPlan).contains("no valid plan"), "\(noPlan)")
        #expect(try c.result("status")["mode"] as? String == "teleop")
        #expect(try c.result("target.set", ["position": here])["accepted"] as? Bool == true)
        var toMPC: [String: Any] = [:]
        for _ in 0 ..< 50 where toMPC["mode"] as? String != "mpc" {
            toMPC = (try c.reply("teleop.handback"))["result"] as? [String: Any] ?? [:]
            if toMPC["mode"] as? String != "mpc" { usleep(20_000) }
        }
        #expect(toMPC["mode"] as? String == "mpc" && toMPC["from"] as? String == "teleop", "\(toMPC)")
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }

    /// configs/so101-sim.yaml (position servos): the stream's goals are followed and a stopped
    /// stream holds.
    @Test func streamsOnTheSimulatedSO101() throws {
        let daemon = try So101SimDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        #expect(try c.result("mode.set", ["mode": "teleop"])["mode"] as? String == "teleop")
        let q0 = Self.q(try c.result("status"))
        let offset = [0.2, -0.15, 0.15, 0.2, -0.2, 0.1]
        func target(_ s: Double) -> [Double] { (0 ..< q0.count).map { q0[$0] + s * offset[$0 % offset.count] } }
        try Self.stream(c, { k in ["q": target(min(1, Double(k) / 40))] }, seconds: 2.5)
        let followed = try c.result("status")
        #expect(Self.maxAbsDiff(Self.q(followed), target(1)) < 0.03, "\(Self.q(followed)) vs \(target(1))")
        usleep(600_000)
        let stopped = try c.result("status")
        usleep(800_000)
        let later = try c.result("status")
        #expect(later["mode"] as? String == "teleop" && Self.teleop(later)["acting"] as? Bool == false)
        #expect(Self.maxAbsDiff(Self.q(later), Self.q(stopped)) < 0.01)
        c.close()
        #expect(daemon.stop() == 0, "\(daemon.stderr)")
    }
}
