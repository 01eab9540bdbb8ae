import Foundation
import Testing

/// robotctl decodes results into ControlProtocol's typed values: what a newer daemon adds shows,
/// what an older one lacks is left out, and a malformed result is a protocol error naming the
/// member.
@Suite struct TypedResultOutputTests {
    /// A status with everything a current daemon sends: planner, policy with its version, the
    /// stale-state count and a fallback.
    static var fullStatus: [String: Any] {
        var s = Sample.status
        s["stalls"] = 1
        s["stalled_s"] = 0.5
        s["stale_states"] = 7
        s["policy"] = "/home/alice/p.safetensors"
        s["policy_version"] = 3
        s["last_fallback"] = ["from": "mpc", "reason": "plan expired", "loop_time_s": 3.5, "count": 4]
        s["mpc"] = [
            "target": ["position": [0.4, 0.0, 0.56], "orientation": NSNull()], "solves": 812, "solve_ms": 1.9, "max_solve_ms": 3.5,
            "iterations": 3, "cost": 0.0058, "status": "maxIterations", "plan_age_ms": 4.0, "predicted_error_m": 4.6e-06, "reach_m": 0.965,
            "rate_hz": 100, "horizon": 50, "dt": 0.01, "model_version": 0, "disagreement": 0.0, "uncertain_plans": 0, "fallback_plans": 0,
            "planning_model": "rigid_body", "disagreement_limit": 0.0,
        ]
        return s
    }

    @Test func statusShowsThePolicyVersionAndStaleStates() throws {
        let daemon = try FakeDaemon(results: ["status": Self.fullStatus])
        defer { daemon.stop() }
        let r = try Robotctl.run(["status", "--socket", daemon.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.contains("policy  /home/alice/p.safetensors (version 3)"), "\(r.stdout)")
        #expect(r.lines.contains { $0.hasPrefix("stale states") && $0.hasSuffix("  7") }, "\(r.stdout)")
        #expect(r.stdout.contains("distance to target  10.00 mm"), "\(r.stdout)")
        #expect(r.stdout.contains("last fallback to hold: from mpc at t 3.500 s (4 in all): plan expired"), "\(r.stdout)")
        // An older daemon's status has neither: no line for them.
        let old = try FakeDaemon(results: Sample.all)
        defer { old.stop() }
        let before = try Robotctl.run(["status", "--socket", old.path])
        #expect(before.status == 0 && !before.stdout.contains("stale states") && !before.stdout.contains("policy"), "\(before.stdout)")
    }

    @Test func aMalformedResultIsAProtocolErrorNamingTheMember() throws {
        var status = Sample.status
        status["joints"] = ["names": Sample.names, "q": [0.0, "x"], "v": [], "effort": [], "command": []]
        let daemon = try FakeDaemon(results: ["status": status, "move": ["accepted": "yes", "mode": "move", "duration_s": 2]])
        defer { daemon.stop() }
        let r = try Robotctl.run(["status", "--socket", daemon.path])
        #expect(r.status == 70, "\(r.stdout)")
        #expect(r.stderr == "robotctl: protocol error: malformed status result: \"joints\".\"q\"[1] must be a number, got string\n", "\(r.stderr)")
        let move = try Robotctl.run(["move", "--socket", daemon.path, "0,0,0,0,0,0"])
        #expect(move.status == 70 && move.stderr.contains("malformed move result: \"accepted\" must be true or false"), "\(move.stderr)")
        // --json prints what the daemon sent, undecoded.
        let raw = try Robotctl.run(["status", "--json", "--socket", daemon.path])
        #expect(raw.status == 0, "\(raw.stderr)")
        #expect(jsonEqual(try json(raw.stdout), status))
    }
}
