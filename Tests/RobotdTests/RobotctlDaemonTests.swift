import Foundation
import Testing

/// `robotctl` as a process against a real `robotd run`: the commands, their output and exit codes.
@Suite struct RobotctlDaemonTests {
    static var robotctlPath: String {
        (TestSupport.robotdPath as NSString).deletingLastPathComponent + "/robotctl"
    }

    static func robotctl(_ args: [String], socket: String, asNobody: Bool = false) throws -> TestSupport.Result {
        let full = [args[0], "--socket", socket] + args.dropFirst()
        if asNobody {
            return try TestSupport.run("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", robotctlPath] + full)
        }
        return try TestSupport.run(robotctlPath, full)
    }

    @Test func drivesTheDaemon() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let s = daemon.socketPath

        let status = try Self.robotctl(["status"], socket: s)
        #expect(status.status == 0, "\(status.stderr)")
        for text in ["hold", "500", "shoulder_pan_joint", "wrist_3_joint", "tool0"] {
            #expect(status.stdout.contains(text), "status lacks \(text):\n\(status.stdout)")
        }
        let json = try #require(try TestSupport.json(try Self.robotctl(["status", "--json"], socket: s).stdout) as? [String: Any])
        #expect(json["mode"] as? String == "hold")

        let move = try Self.robotctl(["move", "0.2,-0.6,0.5,-0.2,0.1,0.1", "--duration", "0.6"], socket: s)
        #expect(move.status == 0, "\(move.stderr)")
        let outOfRange = try Self.robotctl(["move", "--", "9", "0", "0", "0", "0", "0"], socket: s)
        #expect(outOfRange.status == 1)
        #expect(outOfRange.stderr.contains("outside joint shoulder_pan_joint's limits"), "\(outOfRange.stderr)")

        #expect(try Self.robotctl(["estop"], socket: s).status == 0)
        let refused = try Self.robotctl(["mode", "hold"], socket: s)
        #expect(refused.status == 1 && refused.stderr.contains("-32004"), "\(refused.stderr)")
        #expect(try Self.robotctl(["mode"], socket: s).stdout.contains("estop"))
        #expect(try Self.robotctl(["reset"], socket: s).status == 0)
        #expect(try Self.robotctl(["mode"], socket: s).stdout.contains("hold"))

        // idle would drop the arm: refused, explained, and done only with --force.
        let drop = try Self.robotctl(["mode", "idle"], socket: s)
        #expect(drop.status == 1 && drop.stderr.contains("would fall") && drop.stderr.contains("--force"), "\(drop.stderr)")
        #expect(try Self.robotctl(["mode"], socket: s).stdout.contains("hold"))
        #expect(try Self.robotctl(["mode", "hold", "--force"], socket: s).status == 64, "--force is for idle only")
        #expect(try Self.robotctl(["mode", "idle", "--force"], socket: s).status == 0)
        #expect(try Self.robotctl(["mode"], socket: s).stdout.contains("idle"))
        #expect(try Self.robotctl(["mode", "hold"], socket: s).status == 0)
        #expect(try Self.robotctl(["mode", "--help"], socket: s).stdout.contains("falls"))

        let timing = try Self.robotctl(["timing", "--json"], socket: s)
        let t = try #require(try TestSupport.json(timing.stdout) as? [String: Any])
        #expect((t["ticks"] as? Int ?? 0) > 0)

        let watch = try Self.robotctl(["watch", "--rate", "50", "--count", "5"], socket: s)
        #expect(watch.status == 0)
        #expect(watch.stdout.split(separator: "\n").count == 5, "\(watch.stdout)")

        let call = try Self.robotctl(["call", "config.get"], socket: s)
        #expect(call.stdout.contains(s))
        #expect(try Self.robotctl(["log-level", "debug"], socket: s).status == 0)
        #expect(daemon.stop() == 0)

        let gone = try Self.robotctl(["status"], socket: s)
        #expect(gone.status == 69)
        #expect(gone.stderr.contains(s))
    }

    /// A peer that is not an operator: `status` as an observer works, `move` exits 77.
    @Test(.enabled(if: getuid() == 0, "needs root to run the client as nobody"))
    func aNonOperatorGetsPermissionDenied() throws {
        let daemon = try SocketTestDaemon(socketSettings: "mode: \"0666\", observers: [nobody]")
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let status = try Self.robotctl(["status"], socket: daemon.socketPath, asNobody: true)
        #expect(status.status == 0, "\(status.stderr)")
        let move = try Self.robotctl(["move", "0,0,0,0,0,0"], socket: daemon.socketPath, asNobody: true)
        #expect(move.status == 77, "\(move.stderr)")
        #expect(daemon.stop() == 0)
        #expect(daemon.stderr.contains("move refused for uid 65534"))
    }
}
