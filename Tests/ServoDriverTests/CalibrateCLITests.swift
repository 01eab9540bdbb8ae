import Foundation
import RigidBody
import ServoBus
import ServoDriver
import ServoProtocol
import Synchronization
import TestProcess
import Testing

/// `robotd calibrate` as a process against `robotd emulate --hand` (a process too), with the
/// test as the person: the hand places the limp joints, the test presses Enter. The oracle is
/// the emulator's physics: after calibration, a pose the hand sets reads, through the file's
/// `ArmCalibration`, as the URDF angles the hand set.
@Suite(.serialized) struct CalibrateCLITests {
    static let joints = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]

    static var robotdPath: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidate = dir.appendingPathComponent("robotd").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        return ChildProcess.repositoryRoot.appendingPathComponent(".build/debug/robotd").path
    }

    /// A running process whose stdout lines the test waits on and whose stdin it writes.
    final class Interactive: @unchecked Sendable {
        let process = Process()
        let input = Pipe(), output = Pipe(), errors = Pipe()
        private let lines = Mutex<[String]>([])
        private let errText = Mutex<String>("")
        private var consumed = 0

        init(_ arguments: [String], executable: String = CalibrateCLITests.robotdPath) throws {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.currentDirectoryURL = ChildProcess.repositoryRoot
            process.standardInput = input
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let out = output.fileHandleForReading, err = errors.fileHandleForReading
            Thread { [self] in
                var buffer = Data()
                while true {
                    let chunk = out.readSomeRetryingEINTR()
                    if chunk.isEmpty { break }
                    buffer.append(chunk)
                    while let nl = buffer.firstIndex(of: 0x0A) {
                        let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                        buffer.removeSubrange(buffer.startIndex...nl)
                        lines.withLock { $0.append(line) }
                    }
                }
            }.start()
            Thread { [self] in
                let data = err.readToEndRetryingEINTR()
                errText.withLock { $0 = String(decoding: data, as: UTF8.self) }
            }.start()
        }

        func send(_ line: String) { input.fileHandleForWriting.write(Data((line + "\n").utf8)) }
        func closeInput() { try? input.fileHandleForWriting.close() }

        /// The first line after those already consumed that satisfies `match` (waits for it;
        /// the timeout only keeps a broken run from hanging).
        func wait(for what: String, _ match: (String) -> Bool) throws -> String {
            for _ in 0..<6000 {
                let all = lines.withLock { $0 }
                while consumed < all.count {
                    consumed += 1
                    if match(all[consumed - 1]) { return all[consumed - 1] }
                }
                if !process.isRunning && lines.withLock({ $0.count }) == consumed {
                    Thread.sleep(forTimeInterval: 0.05)
                    if lines.withLock({ $0.count }) == consumed { break }
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
            throw TestFailure("no line \(what); output:\n\(allOutput)\nstderr:\n\(stderr)")
        }

        var allOutput: String { lines.withLock { $0.joined(separator: "\n") } }
        var stderr: String { errText.withLock { $0 } }

        func finish() -> Int32 {
            closeInput()
            process.waitUntilExit()
            Thread.sleep(forTimeInterval: 0.05)
            return process.terminationStatus
        }

        /// SIGINT (the emulator serves until then), then the exit status.
        func stop() -> Int32 {
            if process.isRunning { process.interrupt() }
            process.waitUntilExit()
            return process.terminationStatus
        }

        deinit { _ = stop() }
    }

    struct TestFailure: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }

    /// A temporary directory with an emulated arm (and its hand) and a configuration for it.
    final class Rig {
        let dir: URL
        let link: String
        let config: String
        let data: String
        let arm: String
        let emulator: Interactive
        let model: RobotModel

        init(arm: String, reversedServo: Int? = nil) throws {
            self.arm = arm
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-calibrate-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            link = dir.appendingPathComponent("\(arm).tty").path
            data = dir.appendingPathComponent("data").path
            config = dir.appendingPathComponent("\(arm).yaml").path
            let urdf = ChildProcess.repositoryRoot.appendingPathComponent("hardware/robots/\(arm)/robot.urdf").path
            model = try RobotModel(urdfText: try String(contentsOfFile: urdf, encoding: .utf8), file: urdf)
            let kind = arm == "koch" ? "dynamixel" : "feetech"
            try """
                robot:
                  urdf: \(urdf)
                  name: \(arm)
                driver:
                  kind: \(kind)
                  \(kind):
                    port: \(link)
                    ids: [1, 2, 3, 4, 5, 6]
                    arm_id: \(arm)-test
                data_directory: \(data)
                """.write(toFile: config, atomically: true, encoding: .utf8)
            emulator = try Interactive(["emulate", "--arm", arm, "--link", link, "--hand", "--baud", "0"]
                                       + (reversedServo.map { ["--reversed-servo", "\($0)"] } ?? []))
            for _ in 0..<2000 where (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == nil {
                guard emulator.process.isRunning else { break }
                Thread.sleep(forTimeInterval: 0.005)
            }
        }

        /// The hand places `joint` at `angle` and holds it.
        func move(_ joint: String, _ angle: Double) throws {
            emulator.send("move \(joint) \(angle)")
            let reply = try emulator.wait(for: "hand reply") { $0.hasPrefix("ok ") || $0.hasPrefix("error") }
            guard reply.hasPrefix("ok move \(joint)") else { throw TestFailure("hand: \(reply)") }
        }

        func limits(_ joint: String) -> (Double, Double) {
            let j = model.joints.first { $0.name == joint }!
            return (j.lowerLimit, j.upperLimit)
        }

        /// Reads the servos' present positions in-process (nothing else holds the port).
        func withClient<R>(_ body: (any CalibrationBus) throws -> R) throws -> R {
            let transport = try SerialPorts.open(path: link, baud: 1_000_000).transport
            defer { transport.close() }
            var c = TransactionConfiguration()
            c.retries = 2
            let client: any CalibrationBus = arm == "koch"
                ? DynamixelBusClient(transport: transport, configuration: c) : FeetechBusClient(transport: transport, configuration: c)
            return try body(client)
        }

        deinit {
            _ = emulator.stop()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    static let countsPerRadian = 4096 / (2 * Double.pi)

    /// Parses `ranges: j lo…hi, …` into per-joint ranges.
    static func ranges(_ line: String) -> [String: (Int, Int)] {
        var out: [String: (Int, Int)] = [:]
        for part in line.dropFirst("ranges: ".count).split(separator: ",") {
            let words = part.split(separator: " ")
            let bounds = words[1].split(separator: "…")
            if let lo = Int(bounds[0]), let hi = Int(bounds[1]) { out[String(words[0])] = (lo, hi) }
        }
        return out
    }

    @Test(arguments: [("so101", nil), ("so101", "elbow_flex"), ("koch", nil), ("koch", "wrist_flex")] as [(String, String?)])
    func calibratesByHandAndTheFileReadsTheHandsAngles(_ arm: String, _ reversed: String?) throws {
        let servo = reversed.map { Self.joints.firstIndex(of: $0)! + 1 }
        let rig = try Rig(arm: arm, reversedServo: servo)
        for j in Self.joints { try rig.move(j, 0) }

        let calibrate = try Interactive(["calibrate", "--config", rig.config, "--yes"] + (reversed.map { ["--reverse", $0] } ?? []))
        _ = try calibrate.wait(for: "step 1") { $0.hasPrefix("Step 1 of 2") }
        calibrate.send("")
        _ = try calibrate.wait(for: "step 2") { $0.hasPrefix("Step 2 of 2") }

        // The sweep: each joint (wrist_roll turns fully) from near one limit to near the other.
        var expected: [String: (Int, Int)] = [:]
        for j in Self.joints where j != "wrist_roll" {
            let (lower, upper) = rig.limits(j)
            let lo = max(lower + 0.05, -1.4), hi = min(upper - 0.05, 1.4)
            // A servo counts against the angle when mounted reversed; Dynamixel's drive mode 1
            // turns that round in the servo, Feetech's is undone in software.
            let sign: Double = (j == reversed && arm == "so101") ? -1 : 1
            let a = 2047 + Int((sign * lo * Self.countsPerRadian).rounded()), b = 2047 + Int((sign * hi * Self.countsPerRadian).rounded())
            expected[j] = (min(a, b, 2047), max(a, b, 2047))
            // The hand dwells at each end until the poll has seen it, as a person's does.
            try rig.move(j, lo)
            _ = try calibrate.wait(for: "the range of \(j) to reach \(a)") { line in
                guard line.hasPrefix("ranges: "), let r = Self.ranges(line)[j] else { return false }
                return abs(r.0 - min(a, 2047)) <= 2 && abs(r.1 - max(a, 2047)) <= 2
            }
            try rig.move(j, hi)
            _ = try calibrate.wait(for: "the range of \(j) to reach \(expected[j]!)") { line in
                guard line.hasPrefix("ranges: "), let r = Self.ranges(line)[j] else { return false }
                return abs(r.0 - expected[j]!.0) <= 2 && abs(r.1 - expected[j]!.1) <= 2
            }
        }
        calibrate.send("")
        let hashLine = try calibrate.wait(for: "the hash") { $0.hasPrefix("sha256 ") }
        #expect(calibrate.finish() == 0, "\(calibrate.stderr)")

        let path = rig.data + "/calibration/\(arm)-test.json"
        #expect(calibrate.allOutput.contains("wrote \(path)"))
        let target = CalibrationTarget(arm: "\(arm)-test", busProtocol: arm == "koch" ? "dynamixel" : "feetech", joints: Self.joints, ids: [1, 2, 3, 4, 5, 6])
        let loaded = try CalibrationFile.load(path: path, target: target)
        #expect(hashLine == "sha256 \(loaded.sha256)")
        let c = loaded.calibration
        for (i, j) in c.joints.enumerated() {
            #expect(j.driveMode == (j.joint == reversed ? 1 : 0))
            #expect(j.zero == 2047)
            // The emulator's zero pose is 2048 raw counts (its factory mapping).
            #expect(j.homingOffset == (arm == "koch" ? -1 : 1), "\(j.joint)")
            if let e = expected[j.joint] {
                #expect(abs(j.rangeMin - e.0) <= 2 && abs(j.rangeMax - e.1) <= 2, "\(j.joint): \(j.rangeMin)…\(j.rangeMax), hand \(e)")
            } else {
                #expect(j.rangeMin == 0 && j.rangeMax == 4095, "\(j.joint) turns fully")
            }
            _ = i
        }

        // The oracle: a new pose set by the hand reads as its URDF angles through the file.
        var pose: [Double] = []
        for (k, j) in Self.joints.enumerated() {
            let (lower, upper) = rig.limits(j)
            let q = min(max([0.4, -0.7, 0.9, -0.3, 1.1, 0.6][k], lower + 0.05), upper - 0.05)
            pose.append(q)
            try rig.move(j, q)
        }
        let read = try rig.withClient { bus in
            #expect(try bus.differences(from: c).isEmpty, "the servos hold the file")
            // calibrate never enabled torque.
            for id in c.joints.map(\.id) {
                if let f = bus as? FeetechBusClient { #expect(try f.read(id, STS3215.torqueEnable) == 0) }
                if let d = bus as? DynamixelBusClient { #expect(try d.read(id, DynamixelControlTable.torqueEnable) == 0) }
            }
            return try bus.presentPositions(c.joints.map(\.id))
        }
        for k in 0..<6 {
            let count = try #require(read[k])
            let q = c.position(joint: k, count: count)
            #expect(abs(q - pose[k]) <= 2 / Self.countsPerRadian, "\(Self.joints[k]): read \(q) rad, the hand set \(pose[k]) rad")
        }
    }

    @Test func anUnmovedJointIsNamedAndClosingInputWritesNothing() throws {
        let rig = try Rig(arm: "so101")
        for j in Self.joints { try rig.move(j, 0) }
        let calibrate = try Interactive(["calibrate", "--config", rig.config, "--yes"])
        _ = try calibrate.wait(for: "step 1") { $0.hasPrefix("Step 1 of 2") }
        calibrate.send("")
        _ = try calibrate.wait(for: "step 2") { $0.hasPrefix("Step 2 of 2") }
        try rig.move("shoulder_pan", 0.8)
        _ = try calibrate.wait(for: "shoulder_pan moved") { $0.hasPrefix("ranges: ") && (Self.ranges($0)["shoulder_pan"]?.1 ?? 0) > 2500 }
        calibrate.send("")
        let complaint = try calibrate.wait(for: "the complaint") { $0.contains("not moved through their range") }
        #expect(complaint.contains("shoulder_lift (0 counts)") && complaint.contains("gripper (0 counts)"))
        #expect(!complaint.contains("shoulder_pan (") && !complaint.contains("wrist_roll"))
        #expect(calibrate.finish() == 1)
        #expect(calibrate.stderr.contains("calibration cancelled"))
        #expect(!FileManager.default.fileExists(atPath: rig.data + "/calibration/so101-test.json"))
    }

    @Test func importsALeRobotFileIntoTheServosAndTheFile() throws {
        let rig = try Rig(arm: "so101")
        for j in Self.joints { try rig.move(j, 0) }
        // A LeRobot calibration taken in the URDF zero pose: offset = raw − 2047 with raw 2048,
        // ranges symmetric about 2047 (so LeRobot's DEGREES zero is the URDF zero).
        var motors: [String: [String: Int]] = [:]
        for (i, j) in Self.joints.enumerated() {
            motors[j] = ["id": i + 1, "drive_mode": 0, "homing_offset": 1, "range_min": j == "wrist_roll" ? 0 : 1047, "range_max": j == "wrist_roll" ? 4094 : 3047]
        }
        let file = rig.dir.appendingPathComponent("lerobot.json").path
        try JSONSerialization.data(withJSONObject: motors).write(to: URL(fileURLWithPath: file))
        let run = try ChildProcess.run(Self.robotdPath, ["calibrate", "--config", rig.config, "--import-lerobot", file, "--yes"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("wrote the servos of shoulder_pan"))
        let target = CalibrationTarget(arm: "so101-test", busProtocol: "feetech", joints: Self.joints, ids: [1, 2, 3, 4, 5, 6])
        let loaded = try CalibrationFile.load(path: rig.data + "/calibration/so101-test.json", target: target)
        #expect(run.stdout.contains("sha256 \(loaded.sha256)"))
        let c = loaded.calibration
        #expect(c.joints.map(\.zero) == [2047, 2047, 2047, 2047, 2047, 2047])
        let pose = [0.5, -0.9, 1.2, 0.7, -2.0, 1.0]
        for (j, q) in zip(Self.joints, pose) { try rig.move(j, q) }
        let read = try rig.withClient { bus in
            #expect(try bus.differences(from: c).isEmpty)
            return try bus.presentPositions(c.joints.map(\.id))
        }
        for k in 0..<6 {
            let q = c.position(joint: k, count: try #require(read[k]))
            #expect(abs(q - pose[k]) <= 2 / Self.countsPerRadian, "\(Self.joints[k]): \(q) vs \(pose[k])")
        }

        // --no-bus writes only the file: another arm id, no servo touched.
        let other = try ChildProcess.run(Self.robotdPath, ["calibrate", "--config", rig.config, "--import-lerobot", file, "--no-bus", "--arm-id", "spare"])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(FileManager.default.fileExists(atPath: rig.data + "/calibration/spare.json"))
        #expect(!other.stdout.contains("wrote the servos"))

        // A configuration naming its file (`driver.*.calibration`, as configs/*-emulated.yaml
        // do) gets it written there: the file the daemon reads, not one under data_directory.
        let named = rig.dir.appendingPathComponent("named.yaml").path
        let own = rig.dir.appendingPathComponent("mine/arm.json").path
        let yaml = try String(contentsOfFile: rig.config, encoding: .utf8)
            .replacingOccurrences(of: "    arm_id: so101-test\n", with: "    arm_id: so101-test\n    calibration: \(own)\n")
        try yaml.write(toFile: named, atomically: true, encoding: .utf8)
        let toNamed = try ChildProcess.run(Self.robotdPath, ["calibrate", "--config", named, "--import-lerobot", file, "--no-bus"])
        #expect(toNamed.status == 0, "\(toNamed.stderr)")
        #expect(try CalibrationFile.load(path: own, target: target).calibration == c, "the file driver.feetech.calibration names")

        // The legacy format is refused, naming the file and the reason.
        let legacy = rig.dir.appendingPathComponent("legacy.json").path
        try #"{"homing_offset": [1, 2, 3, 4, 5, 6], "drive_mode": [0, 0, 0, 0, 0, 0], "motor_names": ["a"]}"#.write(toFile: legacy, atomically: true, encoding: .utf8)
        let old = try ChildProcess.run(Self.robotdPath, ["calibrate", "--config", rig.config, "--import-lerobot", legacy, "--no-bus", "--yes"])
        #expect(old.status == 1)
        #expect(old.stderr.contains("\(legacy): this is LeRobot's legacy calibration format"))

        // --leader: the leader arm of teleop.leader gets its own file, for arm id <robot>-leader
        // under data_directory, which is where the daemon looks for it; the follower's is untouched.
        let leaderConfig = rig.dir.appendingPathComponent("leader.yaml").path
        try (yaml + "\nteleop:\n  source: leader\n  leader:\n    kind: feetech\n    feetech: {port: \(rig.link), ids: [1, 2, 3, 4, 5, 6]}\n")
            .write(toFile: leaderConfig, atomically: true, encoding: .utf8)
        let followerBefore = try Data(contentsOf: URL(fileURLWithPath: rig.data + "/calibration/so101-test.json"))
        let leader = try ChildProcess.run(Self.robotdPath, ["calibrate", "--config", leaderConfig, "--leader", "--import-lerobot", file, "--no-bus"])
        #expect(leader.status == 0, "\(leader.stderr)")
        let leaderTarget = CalibrationTarget(arm: "so101-leader", busProtocol: "feetech", joints: Self.joints, ids: [1, 2, 3, 4, 5, 6])
        #expect(try CalibrationFile.load(path: rig.data + "/calibration/so101-leader.json", target: leaderTarget).calibration.joints.map(\.zero)
                == c.joints.map(\.zero))
        #expect(try Data(contentsOf: URL(fileURLWithPath: rig.data + "/calibration/so101-test.json")) == followerBefore)
        // Without a teleop.leader, --leader is a clear error.
        let none = try ChildProcess.run(Self.robotdPath, ["calibrate", "--config", rig.config, "--leader", "--import-lerobot", file, "--no-bus"])
        #expect(none.status == 1 && none.stderr.contains("no teleop.leader"), "\(none.stderr)")
    }

    @Test func aBusyPortIsAClearErrorAndTheHandMovesOnlyLimpJoints() throws {
        let rig = try Rig(arm: "so101")
        try rig.withClient { bus in
            let run = try ChildProcess.run(Self.robotdPath, ["calibrate", "--config", rig.config, "--yes"])
            #expect(run.status == 1)
            #expect(run.stderr.contains("cannot open the servo bus") && run.stderr.lowercased().contains("busy"), "\(run.stderr)")
            // A servo holding its pose is not moved by the hand.
            try (bus as! FeetechBusClient).write(3, STS3215.torqueEnable, 1)
            rig.emulator.send("move elbow_flex 0.3")
            let reply = try rig.emulator.wait(for: "the hand's refusal") { $0.hasPrefix("ok ") || $0.hasPrefix("error") }
            #expect(reply.contains("elbow_flex") && reply.contains("torque on"), "\(reply)")
        }
    }

    @Test func aMissingPortIsAClearError() throws {
        let rig = try Rig(arm: "koch")
        let missing = rig.dir.appendingPathComponent("nowhere.tty").path
        let text = try String(contentsOfFile: rig.config, encoding: .utf8).replacingOccurrences(of: rig.link, with: missing)
        try text.write(toFile: rig.config, atomically: true, encoding: .utf8)
        let run = try ChildProcess.run(Self.robotdPath, ["calibrate", "--config", rig.config, "--yes"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("cannot open the servo bus") && run.stderr.contains(missing), "\(run.stderr)")
    }
}
