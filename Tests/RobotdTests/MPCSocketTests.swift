import ControlProtocol
import Foundation
import Testing

/// MPC through the socket, on a real daemon: target.set, mode.set mpc, the arm reaching, and
/// the refusals.
@Suite struct MPCSocketTests {
    /// A closed path over the socket: refusals name the problem; an accepted circle through the
    /// end effector's position is tracked in mpc (the plan's predicted error stays small) and
    /// `status.mpc.target` describes it.
    @Test func aPathSetOverTheSocketIsTrackedInMPC() throws {
        let daemon = try SocketTestDaemon(sections: "driver: {kind: simulation, simulation: {initial_position: [0, -1.2, 1.0, -0.5, 0.4, 0.1]}}")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        usleep(100_000)
        let p0 = try #require(SocketReply.numbers((try c.result("status")["end_effector"] as? [String: Any])?["position"]))
        // A 5 cm circle in the vertical plane through p0 facing the base, starting at p0.
        let norm = (p0[0] * p0[0] + p0[1] * p0[1]).squareRoot()
        let a = [-p0[1] / norm, p0[0] / norm, 0.0]
        let circle = (0 ..< 32).map { k -> [Double] in
            let phi = 2 * Double.pi * Double(k) / 32
            return (0 ..< 3).map { i in p0[i] - 0.05 * a[i] + 0.05 * cos(phi) * a[i] + (i == 2 ? 0.05 * sin(phi) : 0) }
        }
        let refusals: [([String: Any], String)] = [
            (["path": Array(circle.prefix(2)), "period": 4], "3 to 10000 waypoints"),
            (["path": circle], "\"period\" (s per lap) is required"),
            (["path": circle, "period": 0.01], "[0.1, 3600]"),
            (["path": [[0.5, 0.2, 0.4], [0.5, 0.2], [0.5, 0.3, 0.4]], "period": 4], "\"path\"[1] must be [x, y, z]"),
            (["path": [[0.5, 0.2, 0.4], [3, 0, 0], [0.5, 0.3, 0.4]], "period": 4], "path waypoint 1"),
            (["path": circle, "period": 4, "q": [0, 0, 0, 0, 0, 0]], "does not combine"),
            (["position": [0.5, 0.2, 0.4], "period": 4], "belongs to a \"path\""),
        ]
        for (params, reason) in refusals {
            let r = try c.reply("target.set", params)
            #expect(SocketReply.code(r) == -32602 && SocketReply.message(r).contains(reason), "\(SocketReply.message(r)) lacks \(reason)")
        }
        let accepted = try c.result("target.set", ["path": circle, "period": 4])
        #expect(accepted["accepted"] as? Bool == true && accepted["waypoints"] as? Int == 32)
        var entered = false
        for _ in 0 ..< 50 where !entered {
            usleep(20_000)
            entered = (try c.reply("mode.set", ["mode": "mpc"]))["result"] != nil
        }
        #expect(entered)
        usleep(1_500_000)
        let status = try c.result("status")
        #expect(status["mode"] as? String == "mpc")
        let mpc = try #require(status["mpc"] as? [String: Any])
        let target = try #require(mpc["target"] as? [String: Any])
        #expect((target["path"] as? [Any])?.count == 32 && SocketReply.number(target["period"]) == 4)
        #expect((SocketReply.number(mpc["predicted_error_m"]) ?? 1) < 0.01, "\(mpc)")
        // The arm moved along the circle: it is off its start and within the circle's reach of it.
        let p = try #require(SocketReply.numbers((status["end_effector"] as? [String: Any])?["position"]))
        let d = zip(p, p0).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        #expect(d > 0.005 && d < 0.11, "end effector \(d) m from the start")
        // Plain `robotctl status` and `timing` show the planner, not only --json.
        let text = try RobotctlDaemonTests.robotctl(["status"], socket: daemon.socketPath)
        #expect(text.stdout.contains("mpc planner:") && text.stdout.contains("path of 32 waypoints"), "\(text.stdout)")
        let timing = try RobotctlDaemonTests.robotctl(["timing"], socket: daemon.socketPath)
        #expect(timing.stdout.contains("mpc planner:") && timing.stdout.contains("compute (CPU)"), "\(timing.stdout)")

        // Without a target no plan comes: the loop falls back to hold by itself, and says why,
        // in the log and in status (defect 12: the drop was silent).
        #expect(try c.result("target.clear")["target"] is NSNull)
        let held = try ControlSocketTests.waitForMode(c, "hold", timeout: 5)
        #expect(held["mode"] as? String == "hold")
        var fallback: [String: Any]?
        _ = DaemonProcessTests.waitFor(seconds: 5) {
            fallback = (try? c.result("status"))?["last_fallback"] as? [String: Any]
            return fallback != nil
        }
        #expect(fallback?["from"] as? String == "mpc" && (fallback?["reason"] as? String)?.contains("no target set") == true, "\(String(describing: fallback))")
        #expect(daemon.stderr.contains("mpc fell back to hold: no valid plan covers the loop time (no target set)"), "\(daemon.stderr)")
        let after = try RobotctlDaemonTests.robotctl(["status"], socket: daemon.socketPath)
        #expect(after.stdout.contains("last fallback to hold: from mpc"), "\(after.stdout)")
        c.close()
        #expect(daemon.stop() == 0)
    }

    @Test func aTargetSetOverTheSocketIsReachedInMPC() throws {
        let daemon = try SocketTestDaemon(sections: "driver: {kind: simulation, simulation: {initial_position: [0, -1.2, 1.0, -0.5, 0.4, 0.1]}}")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()

        let hello = try c.result("hello")
        #expect((hello["modes"] as? [String])?.contains("mpc") == true)
        #expect((hello["methods"] as? [String]).map { Set($0).isSuperset(of: ["target.set", "target.clear"]) } == true)

        let early = try c.reply("mode.set", ["mode": "mpc"])
        #expect(SocketReply.code(early) == -32002 && SocketReply.message(early).contains("target.set"), "\(early)")
        let far = try c.reply("target.set", ["position": [3, 0, 0]])
        #expect(SocketReply.code(far) == -32602 && SocketReply.message(far).contains("outside the workspace"), "\(far)")
        let both = try c.reply("target.set", ["position": [0.5, 0.3, 0.3], "q": [0, 0, 0, 0, 0, 0]])
        #expect(SocketReply.code(both) == -32602)
        let quaternion = try c.reply("target.set", ["position": [0.5, 0.3, 0.3], "orientation": [1, 1, 0, 0]])
        #expect(SocketReply.code(quaternion) == -32602 && SocketReply.message(quaternion).contains("unit quaternion"))

        let target = [0.52, 0.38, 0.31]
        #expect(try c.result("target.set", ["position": target])["accepted"] as? Bool == true)
        var entered = false
        for _ in 0 ..< 50 where !entered {
            usleep(20_000)
            entered = (try c.reply("mode.set", ["mode": "mpc"]))["result"] != nil
        }
        #expect(entered)
        var error = Double.infinity
        let deadline = Date().addingTimeInterval(5)
        var status: [String: Any] = [:]
        while Date() < deadline, error > 0.002 {
            usleep(20_000)
            status = try c.result("status")
            let p = SocketReply.numbers((status["end_effector"] as? [String: Any])?["position"]) ?? []
            error = zip(p, target).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        }
        #expect(error <= 0.002, "end effector \(error) m from the target")
        #expect(status["mode"] as? String == "mpc")
        let mpc = try #require(status["mpc"] as? [String: Any])
        #expect((mpc["solves"] as? Int ?? 0) > 0)
        #expect((SocketReply.number(mpc["plan_age_ms"]) ?? 1e9) < 100)

        // Withdrawing the target lets the plan age out: hold, without any command.
        #expect(try c.result("target.clear")["target"] is NSNull)
        var mode = ""
        for _ in 0 ..< 100 where mode != "hold" {
            usleep(10_000)
            mode = try c.result("status")["mode"] as? String ?? ""
        }
        #expect(mode == "hold")
        c.close()
        #expect(daemon.stop() == 0)
    }
}
