import ControlSocket
import Foundation
import Learning
import ModelFiles
import Testing

/// `robotd run` on configs/so101-sim.yaml (the SO-101 simulated as position servos), driven
/// through the socket and `robotctl` as a person would: hold, move, mpc and position-action
/// policies, and policies whose outputs are NaN or far outside the joints' ranges. Positions are
/// judged from the daemon's own state (`status`, telemetry) against stated tolerances; the
/// polling deadlines only bound how long a broken daemon can keep a test waiting.
@Suite(.serialized) struct So101SimDaemonTests {
    /// hardware/robots/so101/README.md's joint limits (rad) and the limiter's speed for goals:
    /// 4.7 rad/s × limits.velocity_scale 0.5, at loop.rate_hz 250.
    static let lower = [-1.92, -1.75, -1.69, -1.66, -2.74, -0.17]
    static let upper = [1.92, 1.75, 1.69, 1.66, 2.84, 1.75]
    static let goalStepPerTick = 4.7 * 0.5 / 250

    static func q(_ status: [String: Any]) -> [Double] { SocketReply.numbers((status["joints"] as? [String: Any])?["q"]) ?? [] }
    static func command(_ status: [String: Any]) -> [Double] { SocketReply.numbers((status["joints"] as? [String: Any])?["command"]) ?? [] }
    static func endEffector(_ status: [String: Any]) -> [Double] { SocketReply.numbers((status["end_effector"] as? [String: Any])?["position"]) ?? [] }
    static func distance(_ a: [Double], _ b: [Double]) -> Double {
        a.count == b.count ? zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() : .infinity
    }

    /// Polls `status` until `done` holds or `seconds` pass; the last status.
    static func poll(_ c: ControlClient, seconds: Double, until done: ([String: Any]) -> Bool) throws -> [String: Any] {
        let end = Date().addingTimeInterval(seconds)
        var status = try c.result("status")
        while !done(status), Date() < end {
            usleep(20_000)
            status = try c.result("status")
        }
        return status
    }

    /// A policy whose action is `goal` whatever it observes: zero weights, the goal as the last
    /// layer's bias (observation q, v).
    static func constantPolicy(_ goal: [Float], inputMean: Float = 0, inputStd: Float = 1) -> MLP {
        var mlp = MLP(widths: [12, 8, 6], activation: .tanh, weights: [[Float](repeating: 0, count: 96), [Float](repeating: 0, count: 48)],
                      biases: [[Float](repeating: 0, count: 8), goal])!
        mlp.inputMean = [Float](repeating: inputMean, count: 12)
        mlp.inputScale = [Float](repeating: inputStd, count: 12)
        return mlp
    }

    static func write(_ mlp: MLP, _ path: String) throws {
        try SafeTensors.write(MLPFile.file(for: mlp, metadata: ["robot": "so101", "provenance": "So101SimDaemonTests"]), to: path)
    }

    /// hold keeps the start pose; `robotctl move` reaches its goal; `robotctl target --go` to the
    /// gripper position of a pose the arm reached before brings it back there in mpc; `idle` is
    /// refused while gravity loads the arm (the servos would let it fall).
    @Test func holdMoveAndMPCOnPositionServos() throws {
        let daemon = try So101SimDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        let hello = try c.result("hello")
        #expect(hello["robot"] as? String == "so101" && hello["dof"] as? Int == 6, "\(hello)")
        #expect((hello["modes"] as? [String]).map { Set($0).isSuperset(of: ["hold", "mpc", "policy"]) } == true)
        let simulation = ((try c.result("config.get"))["driver"] as? [String: Any])?["simulation"] as? [String: Any]
        #expect(simulation?["command_mode"] as? String == "position", "\(String(describing: simulation))")

        // hold: the servos hold the start pose (gravity feedforward: no sag), within 2 mrad.
        let start = try c.result("status")
        #expect(start["mode"] as? String == "hold" && start["rate_hz"] as? Int == 250, "\(start)")
        let q0 = Self.q(start)
        #expect(q0.count == 6)
        for _ in 0 ..< 25 {
            usleep(20_000)
            let s = try c.result("status")
            #expect(s["mode"] as? String == "hold")
            for i in 0 ..< 6 { #expect(abs(Self.q(s)[i] - q0[i]) < 2e-3, "hold: joint \(i) at \(Self.q(s)[i]), started at \(q0[i])") }
        }

        // move: minimum-jerk goals, then hold at the goal; the arm ends within 5 mrad of it (the
        // servo's dead band: joint friction the goal's error must overcome, about 2–3.5 mrad).
        let goal = [0.4, -0.6, 0.7, 0.5, 0.2, 0.3]
        let move = try RobotctlDaemonTests.robotctl(["move", goal.map { "\($0)" }.joined(separator: ","), "--duration", "1.5"], socket: daemon.socketPath)
        #expect(move.status == 0, "\(move.stderr)")
        let moved = try Self.poll(c, seconds: 20) { s in
            s["mode"] as? String == "hold" && zip(Self.q(s), goal).allSatisfy { abs($0.0 - $0.1) < 5e-3 }
        }
        #expect(moved["mode"] as? String == "hold", "\(moved)")
        for i in 0 ..< 6 { #expect(abs(Self.q(moved)[i] - goal[i]) < 5e-3, "move: joint \(i) at \(Self.q(moved)[i]), goal \(goal[i])") }
        let reached = Self.endEffector(moved)

        // Back to the start pose, then mpc to where the gripper was: within 5 mm.
        #expect(try RobotctlDaemonTests.robotctl(["move", "0,0,0,0,0,0", "--duration", "1.5"], socket: daemon.socketPath).status == 0)
        let back = try Self.poll(c, seconds: 20) { s in
            s["mode"] as? String == "hold" && Self.q(s).allSatisfy { abs($0) < 5e-3 }
        }
        #expect(Self.distance(Self.endEffector(back), reached) > 0.1, "the mpc target is \(Self.distance(Self.endEffector(back), reached)) m away")
        let target = try RobotctlDaemonTests.robotctl(["target", "--go", reached.map { "\($0)" }.joined(separator: ",")], socket: daemon.socketPath)
        #expect(target.status == 0, "\(target.stderr)")
        var worstGoal = 0.0
        let arrived = try Self.poll(c, seconds: 30) { s in
            for (i, g) in Self.command(s).enumerated() { worstGoal = max(worstGoal, Self.lower[i] - g, g - Self.upper[i]) }
            return s["mode"] as? String != "mpc" || Self.distance(Self.endEffector(s), reached) < 0.005
        }
        #expect(arrived["mode"] as? String == "mpc", "\(arrived["mode"] ?? "?") \(arrived["fault"] ?? "")")
        #expect(Self.distance(Self.endEffector(arrived), reached) < 0.005, "mpc: \(Self.distance(Self.endEffector(arrived), reached)) m from the target")
        #expect(worstGoal <= 0, "an mpc goal outside the joint limits by \(worstGoal) rad")
        #expect(try c.result("mode.set", ["mode": "hold"])["mode"] as? String == "hold")
        // idle would switch the servos' torque off: refused while gravity pulls on the arm.
        let idle = try c.reply("mode.set", ["mode": "idle"])
        #expect(SocketReply.message(idle).contains("gravity pulls joint"), "\(idle)")
        #expect(try c.result("status")["mode"] as? String == "hold")
        c.close()
        #expect(daemon.stop() == 0)
    }

    /// A position-action policy (a file written as PyTorch exports it) drives the arm to the
    /// goal its actions name, within 5 mrad.
    @Test func aPositionPolicyDrivesTheArmWhereItsActionsSay() throws {
        let daemon = try So101SimDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        let goal: [Float] = [-0.3, 0.5, -0.4, 0.6, -0.5, 0.8]
        let path = daemon.directory + "/goal.safetensors"
        try Self.write(Self.constantPolicy(goal), path)
        let run = try RobotctlDaemonTests.robotctl(["policy", "--go", path], socket: daemon.socketPath)
        #expect(run.status == 0 && run.stdout.contains("mode: policy"), "\(run.stdout) \(run.stderr)")
        let s = try Self.poll(c, seconds: 20) { s in
            s["mode"] as? String != "policy" || zip(Self.q(s), goal).allSatisfy { abs($0.0 - Double($0.1)) < 5e-3 }
        }
        #expect(s["mode"] as? String == "policy", "\(s["mode"] ?? "?") \(s["fault"] ?? "")")
        for i in 0 ..< 6 {
            #expect(abs(Self.command(s)[i] - Double(goal[i])) < 1e-6, "joint \(i): goal \(Self.command(s)[i]), action \(goal[i])")
            #expect(abs(Self.q(s)[i] - Double(goal[i])) < 5e-3, "joint \(i) at \(Self.q(s)[i]), action \(goal[i])")
        }
        c.close()
        #expect(daemon.stop() == 0)
    }

    /// A policy whose output is NaN (an input normaliser that overflows: 0·∞) faults at once and
    /// the servos hold the measured pose, with finite goals. Then, after `reset`, a policy asking
    /// for 100 rad on every joint: on every tick (telemetry at the loop rate) each
    /// goal is inside the joint's range and at most v_max·dt from the previous one, and no joint
    /// is at or past a limit unless the loop has faulted.
    @Test func saturatingAndNaNPoliciesNeverTakeAJointPastItsLimitsUnfaulted() throws {
        let daemon = try So101SimDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()

        // NaN actions: faulted at once, holding the pose measured when it happened.
        let nan = daemon.directory + "/nan.safetensors"
        try Self.write(Self.constantPolicy([Float](repeating: 0, count: 6), inputMean: 0.123, inputStd: 1e-45), nan)
        let before = try Self.poll(c, seconds: 10) { s in (SocketReply.numbers((s["joints"] as? [String: Any])?["v"]) ?? [1]).allSatisfy { abs($0) < 0.01 } }
        #expect(before["mode"] as? String == "hold", "\(before)")
        let q0 = Self.q(before)
        let run = try RobotctlDaemonTests.robotctl(["policy", "--go", nan], socket: daemon.socketPath)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let s = try Self.poll(c, seconds: 10) { $0["mode"] as? String == "faulted" }
        #expect(s["mode"] as? String == "faulted" && "\(s["fault"] ?? "")".contains("non-finite command"), "\(s)")
        for _ in 0 ..< 20 {
            usleep(20_000)
            let held = try c.result("status")
            #expect(held["mode"] as? String == "faulted")
            for i in 0 ..< 6 {
                #expect(Self.command(held)[i].isFinite && abs(Self.command(held)[i] - q0[i]) < 2e-3, "joint \(i): goal \(Self.command(held)[i]), pose \(q0[i])")
                #expect(abs(Self.q(held)[i] - q0[i]) < 2e-3, "joint \(i) at \(Self.q(held)[i]), pose \(q0[i])")
            }
        }
        #expect(try c.result("reset")["mode"] as? String == "hold")

        let watcher = try daemon.connect()
        let sub = try watcher.result("telemetry.subscribe", ["rate_hz": 250])
        #expect(sub["rate_hz"] as? Int == 250, "\(sub)")
        let far = daemon.directory + "/far.safetensors"
        try Self.write(Self.constantPolicy([Float](repeating: 100, count: 6)), far)
        #expect(try RobotctlDaemonTests.robotctl(["policy", "--go", far], socket: daemon.socketPath).status == 0)
        var samples = 0, inPolicy = 0, previous: (tick: Int, goal: [Double])?
        var limitReached = false, faulted = false
        let end = Date().addingTimeInterval(3)
        while Date() < end, let m = try watcher.readObject(timeout: 1) {
            guard let p = m["params"] as? [String: Any], let tick = p["tick"] as? Int,
                  let q = SocketReply.numbers(p["q"]), let goal = SocketReply.numbers(p["command"]), q.count == 6, goal.count == 6 else { continue }
            samples += 1
            let mode = p["mode"] as? String ?? ""
            if mode == "faulted" { faulted = true }
            for i in 0 ..< 6 {
                #expect(q[i] >= Self.lower[i] && q[i] <= Self.upper[i], "tick \(tick) joint \(i): q \(q[i])")
                if q[i] >= Self.upper[i] || q[i] <= Self.lower[i] {
                    limitReached = true
                    #expect(mode == "faulted", "tick \(tick) joint \(i) at its limit \(q[i]) in \(mode)")
                }
            }
            if mode == "policy" {
                inPolicy += 1
                for i in 0 ..< 6 { #expect(goal[i] >= Self.lower[i] && goal[i] <= Self.upper[i], "tick \(tick) joint \(i): goal \(goal[i])") }
                if let previous, tick > previous.tick {
                    let bound = Self.goalStepPerTick * Double(tick - previous.tick) + 1e-9
                    for i in 0 ..< 6 {
                        #expect(abs(goal[i] - previous.goal[i]) <= bound, "tick \(tick) joint \(i): goal step \(goal[i] - previous.goal[i]) over \(tick - previous.tick) ticks")
                    }
                }
                previous = (tick, goal)
            }
        }
        #expect(samples > 100 && inPolicy > 50, "\(samples) telemetry samples, \(inPolicy) in policy")
        // Either the joints ended just inside their ranges (the goals stop at the limits) or one
        // touched a limit and the loop faulted; both are safe.
        if limitReached { #expect(faulted) }
        watcher.close()

        c.close()
        #expect(daemon.stop() == 0)
    }
}

/// `robotd run` on configs/so101-sim.yaml as shipped, with its own socket and data directory,
/// memory unlocked and the overrun fault relaxed for a loaded test machine.
final class So101SimDaemon: @unchecked Sendable {
    let directory: String
    let socketPath: String
    /// The written configuration (for `robotd dataset export --config` beside the daemon).
    let configPath: String
    let process: DaemonProcess

    /// - Parameter extra: YAML appended to the configuration (sections the shipped file lacks).
    init(extra: String = "") throws {
        directory = try SocketTempDirectory.make()
        socketPath = directory + "/s.sock"
        let shipped = try String(contentsOf: TestSupport.repoRoot.appendingPathComponent("configs/so101-sim.yaml"), encoding: .utf8)
        var lines: [String] = []
        var skipping = false
        for line in shipped.components(separatedBy: "\n") {
            let topLevel = line.first.map { !$0.isWhitespace && $0 != "#" } ?? false
            if topLevel { skipping = line.hasPrefix("socket:") || line.hasPrefix("data_directory:") }
            if skipping { continue }
            lines.append(line
                .replacingOccurrences(of: "urdf: ../hardware/robots/so101/robot.urdf", with: "urdf: \(TestSupport.urdfPath("so101"))")
                .replacingOccurrences(of: "lock_memory: true", with: "lock_memory: false")
                .replacingOccurrences(of: "overrun_fault_threshold: 10 ", with: "overrun_fault_threshold: 1000 "))
        }
        lines += ["socket: {path: \(socketPath)}", "data_directory: \(directory)/data", extra, ""]
        let text = lines.joined(separator: "\n")
        precondition(text.contains(TestSupport.urdfPath("so101")) && text.contains("overrun_fault_threshold: 1000"), "so101-sim.yaml changed shape")
        configPath = directory + "/robotd.yaml"
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        process = try DaemonProcess(arguments: ["run", "--config", configPath])
    }

    var stderr: String { process.stderr }
    var isRunning: Bool { process.process.isRunning }

    func waitUntilListening(timeout: Double = 30) -> Bool {
        _ = DaemonProcessTests.waitFor(seconds: timeout) { stderr.contains("control socket listening") || !isRunning }
        return isRunning && stderr.contains("control socket listening")
    }

    func connect(timeout: Double = 10) throws -> ControlClient { try ControlClient(path: socketPath, timeout: timeout) }

    func stop() -> Int32 {
        if isRunning { process.signal(SIGTERM) }
        return process.wait()
    }

    func finish() {
        if isRunning {
            process.signal(SIGKILL)
            _ = process.wait(timeout: 5)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
