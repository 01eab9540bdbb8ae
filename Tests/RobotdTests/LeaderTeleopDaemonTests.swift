import ControlProtocol
import ControlSocket
import Foundation
import Glibc
import Testing

/// `robotd run` on configs/so101-sim.yaml with `teleop.source: leader`: the leader is `robotd
/// emulate --arm so101 --hand` (a second process, its servos limp, placed by a "hand" on stdin).
/// In `teleop` the simulated follower goes where the leader is put, inside its limits; `status`
/// shows the leader as the source; `teleop.stream` is refused; the leader killed → the arm holds
/// where it is (no fault, no jump); the daemon refuses to start when the leader's port is missing.
@Suite(.serialized) struct LeaderTeleopDaemonTests {
    static func leaderSection(port: String) -> String {
        // The emulator's factory calibration (2048 counts = 0 rad); arm_id names that file's arm.
        let calibration = TestSupport.repoRoot.appendingPathComponent("configs/calibration/so101-emulated.json").path
        return """
            teleop:
              source: leader
              timeout: 0.25
              leader:
                kind: feetech
                feetech: {port: \(port), ids: [1, 2, 3, 4, 5, 6], calibration: \(calibration), arm_id: so101, failed_cycles_to_fault: 25}
            """
    }

    /// The emulated leader (with its hand), the daemon on it, a client.
    static func start() throws -> (ServoRig, EmulatorProcess, So101SimDaemon, ControlClient) {
        let rig = try ServoRig(.so101)
        let leader = try rig.startEmulator(["--hand"])
        let daemon = try So101SimDaemon(extra: leaderSection(port: rig.link))
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        return (rig, leader, daemon, try daemon.connect())
    }

    @Test func theFollowerGoesWhereTheLeaderIsPut() throws {
        let (rig, leader, daemon, c) = try Self.start()
        defer { c.close(); _ = daemon.stop(); rig.finish() }
        #expect((try c.result("hello")["modes"] as? [String] ?? []).contains("teleop"))
        let placed: [(String, Double)] = [("shoulder_pan", 0.3), ("shoulder_lift", -0.4), ("elbow_flex", 0.5), ("wrist_flex", 0.2)]
        for (joint, angle) in placed {
            #expect(try leader.hand("move \(joint) \(angle)").hasPrefix("ok move \(joint)"))
        }
        #expect(try c.result("mode.set", ["mode": "teleop"])["mode"] as? String == "teleop")
        let expected = [0.3, -0.4, 0.5, 0.2, 0, 0]
        var worst = 0.0
        let followed = try So101SimDaemonTests.poll(c, seconds: 30) { s in
            let q = So101SimDaemonTests.q(s)
            worst = zip(q, expected).prefix(5).map { abs($0.0 - $0.1) }.max() ?? .infinity
            return s["mode"] as? String != "teleop" || worst < 0.01
        }
        #expect(followed["mode"] as? String == "teleop", "\(followed["mode"] ?? "?") \(followed["fault"] ?? "")")
        #expect(worst < 0.01, "the follower is \(worst) rad from the leader's pose: \(So101SimDaemonTests.q(followed))")
        let teleop = try #require(followed["teleop"] as? [String: Any], "status has no teleop: \(followed)")
        #expect(teleop["source"] as? String == "leader" && teleop["acting"] as? Bool == true, "\(teleop)")
        // The leader drives: a streamed target is refused, naming why.
        do {
            _ = try c.result("teleop.stream", ["q": [0, 0, 0, 0, 0, 0]])
            Issue.record("teleop.stream accepted with a leader arm")
        } catch {
            #expect("\(error)".contains("leader"), "\(error)")
        }
        // The leader's bus goes away: the follower holds where it is, without a fault or a jump.
        let before = So101SimDaemonTests.q(try c.result("status"))
        leader.kill()
        let quiet = try So101SimDaemonTests.poll(c, seconds: 30) { s in (s["teleop"] as? [String: Any])?["acting"] as? Bool == false }
        for _ in 0 ..< 25 { usleep(20_000) }
        let held = try c.result("status")
        #expect((quiet["teleop"] as? [String: Any])?["acting"] as? Bool == false)
        #expect(held["mode"] as? String == "teleop", "\(held["mode"] ?? "?") \(held["fault"] ?? "")")
        for (i, (a, b)) in zip(So101SimDaemonTests.q(held), before).enumerated() {
            #expect(abs(a - b) < 0.02, "joint \(i) moved from \(b) to \(a) after the leader went away")
        }
    }

    /// In `policy`, a person moving the leader past `teleop.leader.takeover_threshold` takes the
    /// arm: the loop switches to `teleop` remembering `policy`, the follower goes to the leader, and
    /// `teleop.handback` returns to the policy. Resting (or moved less), the leader takes nothing.
    @Test func movingTheLeaderInPolicyTakesTheArmOver() throws {
        let (rig, leader, daemon, c) = try Self.start()
        defer { c.close(); _ = daemon.stop(); rig.finish() }
        // The hand holds every leader joint still (limp servos under gravity would sag, which is
        // a person moving them as far as the threshold can tell).
        for joint in ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"] {
            #expect(try leader.hand("move \(joint) 0").hasPrefix("ok"))
        }
        let action: [Float] = [0.2, -0.3, 0.3, 0.1, 0, 0.4]
        let path = daemon.directory + "/goal.safetensors"
        try ServoArmDaemonTests.writePolicy(action, robot: "so101", to: path)
        let run = try RobotctlDaemonTests.robotctl(["policy", "--go", path], socket: daemon.socketPath)
        #expect(run.status == 0 && run.stdout.contains("mode: policy"), "\(run.stdout) \(run.stderr)")
        // A nudge below the threshold (0.1 rad) leaves the policy in charge.
        #expect(try leader.hand("move wrist_roll 0.05").hasPrefix("ok"))
        for _ in 0 ..< 25 { usleep(20_000) }
        #expect(try c.result("status")["mode"] as? String == "policy")
        // The operator grabs the leader.
        #expect(try leader.hand("move shoulder_pan -0.3").hasPrefix("ok"))
        let taken = try So101SimDaemonTests.poll(c, seconds: 30) { $0["mode"] as? String != "policy" }
        #expect(taken["mode"] as? String == "teleop", "\(taken["mode"] ?? "?") \(taken["fault"] ?? "")")
        #expect((taken["teleop"] as? [String: Any])?["takeover_from"] as? String == "policy", "\(taken["teleop"] ?? "none")")
        let followed = try So101SimDaemonTests.poll(c, seconds: 30) { s in abs(So101SimDaemonTests.q(s)[0] + 0.3) < 0.01 }
        #expect(abs(So101SimDaemonTests.q(followed)[0] + 0.3) < 0.01, "shoulder_pan at \(So101SimDaemonTests.q(followed)[0]), leader at -0.3")
        #expect(try c.result("teleop.handback")["mode"] as? String == "policy")
    }

    /// The daemon stopped mid-motion in `teleop` on the leader (0.3 s, then 1.2 s, longer than
    /// loop.max_stall) and continued: every telemetry sample of the unfaulted loop has each joint
    /// and goal inside the limits; the long stop faults with the stall and `reset` recovers.
    @Test func aSIGSTOPMidTeleopNeverTakesAJointPastItsLimit() throws {
        let (rig, leader, daemon, c) = try Self.start()
        defer { c.close(); _ = daemon.stop(); rig.finish() }
        let arm = ServoArmUnderTest.so101
        let watcher = try daemon.connect()
        defer { watcher.close() }
        #expect(try watcher.result("telemetry.subscribe", ["rate_hz": 250])["rate_hz"] as? Int == 250)
        #expect(try c.result("mode.set", ["mode": "teleop"])["mode"] as? String == "teleop")
        let pid = daemon.process.process.processIdentifier
        var samples = 0, teleopSamples = 0
        for (pause, pose) in [(300_000, 0.8), (1_200_000, -0.8)] as [(UInt32, Double)] {
            // The leader swings the shoulder; the daemon stops while the follower is on its way.
            #expect(try leader.hand("move shoulder_pan \(pose)").hasPrefix("ok"))
            let stopAt = Date().addingTimeInterval(0.3), end = Date().addingTimeInterval(3)
            var stopped = false
            while Date() < end {
                if !stopped, Date() >= stopAt {
                    kill(pid, SIGSTOP)
                    usleep(pause)
                    kill(pid, SIGCONT)
                    stopped = true
                }
                guard let m = try watcher.readObject(timeout: 0.2), let p = m["params"] as? [String: Any],
                      let q = SocketReply.numbers(p["q"]), let goal = SocketReply.numbers(p["command"]), q.count == 6, goal.count == 6 else { continue }
                samples += 1
                let mode = p["mode"] as? String ?? ""
                if mode == "faulted" { continue }
                if mode == "teleop" { teleopSamples += 1 }
                #expect(arm.limitExcess(q) < 0, "tick \(p["tick"] ?? "?") in \(mode): q \(q)")
                #expect(arm.limitExcess(goal) <= 0, "tick \(p["tick"] ?? "?") in \(mode): goal \(goal)")
            }
            let s = try c.result("status")
            if pause > 1_000_000 {
                #expect(s["mode"] as? String == "faulted" && s["fault"] as? String == "control loop stalled", "\(s["mode"] ?? "?") \(s["fault"] ?? "")")
                #expect(try c.result("reset")["mode"] as? String == "hold")
            } else if s["mode"] as? String == "faulted" {
                #expect(s["fault"] as? String == "control loop stalled", "\(s["fault"] ?? "")")
            }
        }
        #expect(samples > 200 && teleopSamples > 50, "\(samples) telemetry samples, \(teleopSamples) in teleop")
    }

    /// A leader whose port does not exist stops the daemon at start-up, naming the key and the port.
    @Test func aMissingLeaderPortIsAClearStartUpError() throws {
        let missing = "/tmp/robotd-no-such-leader-\(getpid()).tty"
        let daemon = try So101SimDaemon(extra: Self.leaderSection(port: missing))
        let status = daemon.process.wait()
        #expect(status != 0)
        #expect(daemon.stderr.contains("teleop.leader.feetech.port") && daemon.stderr.contains(missing), "\(daemon.stderr)")
    }
}
