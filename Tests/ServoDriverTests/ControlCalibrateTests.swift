import Foundation
import ServoBus
import ServoDriver
import ServoProtocol
import TestProcess
import Testing

/// `robotctl calibrate` (and `calibration.*`) against a running `robotd run` on an emulated
/// SO-101 whose hand places the limp joints; all real processes. The oracle is the emulator's
/// physics, as in `CalibrateCLITests`: after calibration the daemon's `status` q for a pose the
/// hand sets is the hand's angles.
@Suite(.serialized) struct ControlCalibrateTests {
    typealias Rig = CalibrateCLITests.Rig
    typealias Interactive = CalibrateCLITests.Interactive
    static let joints = CalibrateCLITests.joints
    static let countsPerRadian = CalibrateCLITests.countsPerRadian

    static var robotctlPath: String {
        URL(fileURLWithPath: CalibrateCLITests.robotdPath).deletingLastPathComponent().appendingPathComponent("robotctl").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func ctl(_ socket: String, _ args: [String]) throws -> Result {
        let r = try ChildProcess.run(robotctlPath, ["--socket", socket] + args)
        return Result(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }

    static func status(_ socket: String) throws -> [String: Any] {
        let r = try ctl(socket, ["status", "--json"])
        guard r.status == 0, let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
            throw CalibrateCLITests.TestFailure("status: \(r.stderr)")
        }
        return o
    }

    static func q(_ socket: String) throws -> [Double] {
        ((try status(socket)["joints"] as? [String: Any])?["q"] as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? []
    }

    static func hash(_ socket: String) throws -> String? { (try status(socket)["bus"] as? [String: Any])?["calibration_hash"] as? String }

    /// Waits until the daemon's q is within 2 counts of `expected` on every joint (the loop
    /// publishes the hand's move within a few bus cycles); returns the last q read.
    static func settle(_ socket: String, to expected: [Double]) throws -> [Double] {
        var last: [Double] = []
        for _ in 0..<200 {
            last = try q(socket)
            if last.count == expected.count, zip(last, expected).allSatisfy({ abs($0 - $1) <= 2 / countsPerRadian }) { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return last
    }

    /// The pose the hand sets for the oracle, inside each joint's limits.
    static func pose(_ rig: Rig) -> [Double] {
        joints.enumerated().map { k, j in
            let (lower, upper) = rig.limits(j)
            return min(max([0.4, -0.7, 0.9, -0.3, 1.1, 0.6][k], lower + 0.05), upper - 0.05)
        }
    }

    @Test func calibratesTheRunningDaemonRefusesTorqueAndCancelRestores() throws {
        let rig = try Rig(arm: "so101")
        for j in Self.joints { try rig.move(j, 0) }
        // A calibration 100 counts off (the emulator's zero pose reads 2048 with offset 0):
        // the daemon starts with it, so recalibration visibly changes q.
        let target = CalibrationTarget(arm: "so101-test", busProtocol: "feetech", joints: Self.joints, ids: [1, 2, 3, 4, 5, 6])
        let old = ArmCalibration(arm: "so101-test", busProtocol: "feetech", joints: Self.joints.enumerated().map { i, j in
            JointCalibration(joint: j, id: UInt8(i + 1), rangeMin: j == "wrist_roll" ? 0 : 600, rangeMax: j == "wrist_roll" ? 4095 : 3600, zero: 2148)
        })
        let file = rig.data + "/calibration/so101-test.json"
        let oldHash = try CalibrationFile.write(old, to: file)
        let socket = rig.dir.appendingPathComponent("robotd.sock").path
        let config = try String(contentsOfFile: rig.config, encoding: .utf8)
            + "\nsocket: {path: \(socket)}\nloop: {rate_hz: 250, lock_memory: false, overrun_fault_threshold: 1000}\n"
        try config.write(toFile: rig.config, atomically: true, encoding: .utf8)
        let daemon = try Interactive(["run", "--config", rig.config])
        defer { _ = daemon.stop() }
        for _ in 0..<2000 where !FileManager.default.fileExists(atPath: socket) {
            guard daemon.process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        guard FileManager.default.fileExists(atPath: socket) else {
            throw CalibrateCLITests.TestFailure("robotd run did not start: \(daemon.stderr)")
        }
        #expect(try Self.hash(socket) == oldHash)

        // Refused outside idle (the loop starts in hold, torque on).
        let refused = try Self.ctl(socket, ["call", "calibration.start"])
        #expect(refused.status == 1 && refused.stderr.contains("mode.set"), "\(refused.stderr)")
        #expect(try Self.ctl(socket, ["mode", "idle", "--force"]).status == 0)

        // Started: every mode change that enables torque is refused; cancel restores it all.
        #expect(try Self.ctl(socket, ["call", "calibration.start"]).status == 0)
        for args in [["mode", "hold"], ["move", "0,0,0,0,0,0"], ["reset"]] {
            let r = try Self.ctl(socket, args)
            #expect(r.status == 1 && r.stderr.contains("calibration is in progress"), "\(args): \(r.stderr)")
        }
        #expect(try Self.ctl(socket, ["call", "calibration.zero"]).status == 0)
        #expect(try Self.ctl(socket, ["call", "calibration.cancel"]).status == 0)
        let pose = Self.pose(rig)
        for (j, q) in zip(Self.joints, pose) { try rig.move(j, q) }
        let oldReading = pose.map { $0 - 100 / Self.countsPerRadian }
        let afterCancel = try Self.settle(socket, to: oldReading)
        #expect(maxDifference(afterCancel, oldReading) <= 2 / Self.countsPerRadian, "after cancel: \(afterCancel), old mapping \(oldReading)")
        #expect(try Self.hash(socket) == oldHash)
        #expect(try CalibrationFile.load(path: file, target: target).sha256 == oldHash)
        #expect(try Self.ctl(socket, ["mode", "hold"]).status == 0, "cancel lifts the torque block")
        #expect(try Self.ctl(socket, ["mode", "idle", "--force"]).status == 0)

        // robotctl calibrate, the test as the person.
        for j in Self.joints { try rig.move(j, 0) }
        let calibrate = try Interactive(["--socket", socket, "calibrate"], executable: Self.robotctlPath)
        _ = try calibrate.wait(for: "step 1") { $0.hasPrefix("Step 1 of 2") }
        calibrate.send("")
        _ = try calibrate.wait(for: "step 2") { $0.hasPrefix("Step 2 of 2") }
        // Enter before every joint moved: named, and the sweep goes on.
        calibrate.send("")
        let complaint = try calibrate.wait(for: "the complaint") { $0.contains("not moved through their range") }
        #expect(complaint.contains("shoulder_lift (0 counts)") && !complaint.contains("wrist_roll"), "\(complaint)")
        var expected: [String: (Int, Int)] = [:]
        for j in Self.joints where j != "wrist_roll" {
            let (lower, upper) = rig.limits(j)
            let lo = max(lower + 0.05, -1.4), hi = min(upper - 0.05, 1.4)
            let a = 2047 + Int((lo * Self.countsPerRadian).rounded()), b = 2047 + Int((hi * Self.countsPerRadian).rounded())
            expected[j] = (min(a, b, 2047), max(a, b, 2047))
            try rig.move(j, lo)
            _ = try calibrate.wait(for: "the range of \(j) to reach \(a)") { line in
                guard line.hasPrefix("ranges: "), let r = CalibrateCLITests.ranges(line)[j] else { return false }
                return abs(r.0 - min(a, 2047)) <= 2 && abs(r.1 - max(a, 2047)) <= 2
            }
            try rig.move(j, hi)
            _ = try calibrate.wait(for: "the range of \(j) to reach \(expected[j]!)") { line in
                guard line.hasPrefix("ranges: "), let r = CalibrateCLITests.ranges(line)[j] else { return false }
                return abs(r.0 - expected[j]!.0) <= 2 && abs(r.1 - expected[j]!.1) <= 2
            }
        }
        calibrate.send("")
        let hashLine = try calibrate.wait(for: "the hash") { $0.hasPrefix("sha256 ") }
        #expect(calibrate.finish() == 0, "\(calibrate.stderr)")

        // The file: the hand's ranges, the zero pose's offsets; status shows its hash.
        let loaded = try CalibrationFile.load(path: file, target: target)
        #expect(hashLine == "sha256 \(loaded.sha256)")
        #expect(try Self.hash(socket) == loaded.sha256)
        for j in loaded.calibration.joints {
            #expect(j.homingOffset == 1 && j.zero == 2047, "\(j.joint)")
            if let e = expected[j.joint] {
                #expect(abs(j.rangeMin - e.0) <= 2 && abs(j.rangeMax - e.1) <= 2, "\(j.joint): \(j.rangeMin)…\(j.rangeMax), hand \(e)")
            } else {
                #expect(j.rangeMin == 0 && j.rangeMax == 4095)
            }
        }
        // The oracle: without a restart, the daemon's q for a hand pose is the hand's angles.
        for (j, q) in zip(Self.joints, pose) { try rig.move(j, q) }
        let after = try Self.settle(socket, to: pose)
        #expect(maxDifference(after, pose) <= 2 / Self.countsPerRadian, "after calibration: \(after), the hand set \(pose)")
        // The loop's limits came from the old calibration: torque stays off until a restart.
        let hold = try Self.ctl(socket, ["mode", "hold"])
        #expect(hold.status == 1 && hold.stderr.contains("restart robotd"), "\(hold.stderr)")
    }

    @Test func theSimulatedArmHasNoCalibration() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-ctlcal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let socket = dir.appendingPathComponent("robotd.sock").path
        let config = dir.appendingPathComponent("sim.yaml").path
        let urdf = ChildProcess.repositoryRoot.appendingPathComponent("hardware/robots/sim6/robot.urdf").path
        try "robot: {urdf: \(urdf)}\nloop: {rate_hz: 250, lock_memory: false, overrun_fault_threshold: 1000}\ndata_directory: \(dir.path)/data\nsocket: {path: \(socket)}\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try Interactive(["run", "--config", config])
        defer { _ = daemon.stop() }
        for _ in 0..<2000 where !FileManager.default.fileExists(atPath: socket) { Thread.sleep(forTimeInterval: 0.005) }
        _ = try Self.ctl(socket, ["mode", "idle", "--force"])
        let r = try Self.ctl(socket, ["calibrate"])
        #expect(r.status == 1 && r.stderr.contains("simulated arm"), "\(r.stderr)")
    }
}

private func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
