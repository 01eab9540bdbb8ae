import Foundation
import Testing

/// MPC through the socket, on a real daemon: target.set, mode.set mpc, the arm reaching, and
/// the refusals.
@Suite struct MPCSocketTests {
    @Test func aTargetSetOverTheSocketIsReachedInMPC() throws {
        let daemon = try SocketTestDaemon(sections: "driver: {kind: simulation, simulation: {initial_position: [0, -1.2, 1.0, -0.5, 0.4, 0.1]}}")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()

        let hello = try c.result("hello")
        #expect((hello["modes"] as? [String])?.contains("mpc") == true)
        #expect((hello["methods"] as? [String]).map { Set($0).isSuperset(of: ["target.set", "target.clear"]) } == true)

        let early = try c.call("mode.set", ["mode": "mpc"])
        #expect(SocketReply.code(early) == -32002 && SocketReply.message(early).contains("target.set"), "\(early)")
        let far = try c.call("target.set", ["position": [3, 0, 0]])
        #expect(SocketReply.code(far) == -32602 && SocketReply.message(far).contains("outside the workspace"), "\(far)")
        let both = try c.call("target.set", ["position": [0.5, 0.3, 0.3], "q": [0, 0, 0, 0, 0, 0]])
        #expect(SocketReply.code(both) == -32602)
        let quaternion = try c.call("target.set", ["position": [0.5, 0.3, 0.3], "orientation": [1, 1, 0, 0]])
        #expect(SocketReply.code(quaternion) == -32602 && SocketReply.message(quaternion).contains("unit quaternion"))

        let target = [0.52, 0.38, 0.31]
        #expect(try c.result("target.set", ["position": target])["accepted"] as? Bool == true)
        var entered = false
        for _ in 0 ..< 50 where !entered {
            usleep(20_000)
            entered = (try c.call("mode.set", ["mode": "mpc"]))["result"] != nil
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
