import Digest
import Foundation
import ServoDriver
import ServoProtocol
import TestProcess
import Testing

/// robotd's calibration file and LeRobot's: what is read back is what was written, the hash is
/// the file's SHA-256 (hashlib as the oracle), and every bad file is refused with an error that
/// names the file, the joint and the field.
@Suite struct CalibrationFileTests {
    static let joints = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
    static let target = CalibrationTarget(arm: "so101-a", busProtocol: "feetech", joints: joints, ids: [1, 2, 3, 4, 5, 6])

    static var sample: ArmCalibration {
        ArmCalibration(arm: "so101-a", busProtocol: "feetech", joints: joints.enumerated().map { i, name in
            JointCalibration(joint: name, id: UInt8(i + 1), driveMode: i == 2 ? 1 : 0, homingOffset: [1, -40, 512, -2047, 0, 7][i],
                             rangeMin: name == "wrist_roll" ? 0 : 800 + 10 * i, rangeMax: name == "wrist_roll" ? 4095 : 3200 - 10 * i,
                             zero: i == 5 ? 2047.5 : 2047)
        })
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-calibration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func writesAtomicallyAndReadsBackWithTheFilesHash() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = CalibrationFile.path(dataDirectory: dir.path, arm: "so101-a")
        #expect(path == dir.path + "/calibration/so101-a.json")
        let hash = try CalibrationFile.write(Self.sample, to: path, source: "test")
        let loaded = try CalibrationFile.load(path: path, target: Self.target)
        #expect(loaded.calibration == Self.sample)
        #expect(loaded.sha256 == hash)
        // The oracle: hashlib over the bytes on disk.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let run = try ChildProcess.python("Tests/oracles/sha256_oracle.py", stdin: Data((Hex.encode(Array(bytes)) + "\n").utf8))
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == hash)
        // Stable: writing the same calibration again gives the same bytes; nothing else is left in the directory.
        #expect(try CalibrationFile.write(Self.sample, to: path, source: "test") == hash)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/calibration") == ["so101-a.json"])
        // Another calibration, another hash.
        var other = Self.sample
        other.joints[0].rangeMin += 1
        #expect(try CalibrationFile.write(other, to: path, source: "test") != hash)
    }

    @Test func aMissingFileAndAnUnwritableDirectoryAreNamed() throws {
        #expect(throws: CalibrationError(.io, file: "/nonexistent/x.json", "")) {
            try CalibrationFile.load(path: "/nonexistent/x.json", target: Self.target)
        }
        do {
            _ = try CalibrationFile.write(Self.sample, to: "/proc/robotd-test/calibration/a.json")
            Issue.record("wrote into /proc")
        } catch {
            #expect(error.code == .io && error.description.contains("/proc/robotd-test/calibration/a.json"))
        }
    }

    /// Each mutation of a good file, and the file, joint and field its error must name.
    static let badFiles: [(String, @Sendable (inout [String: Any]) -> Void, CalibrationError.Code, String?, String?)] = [
        ("range_min above range_max", { j(&$0, 2) { $0["range_min"] = 3300 } }, .invalidValue, "elbow_flex", "range_min"),
        ("span too small", { j(&$0, 1) { $0["range_min"] = 2000; $0["range_max"] = 2010 } }, .invalidValue, "shoulder_lift", "range_max"),
        ("count out of range", { j(&$0, 0) { $0["range_max"] = 5000 } }, .invalidValue, "shoulder_pan", "range_max"),
        ("negative count", { j(&$0, 0) { $0["range_min"] = -3 } }, .invalidValue, "shoulder_pan", "range_min"),
        ("duplicate id", { j(&$0, 3) { $0["id"] = 1 } }, .invalidValue, "wrist_flex", "id"),
        ("id out of range", { j(&$0, 3) { $0["id"] = 254 } }, .invalidValue, "wrist_flex", "id"),
        ("id differs from the config", { d in
            j(&d, 3) { $0["id"] = 9 }
        }, .mismatch, "wrist_flex", "id"),
        ("drive mode 2", { j(&$0, 4) { $0["drive_mode"] = 2 } }, .invalidValue, "wrist_roll", "drive_mode"),
        ("Feetech offset beyond sign bit 11", { j(&$0, 5) { $0["homing_offset"] = 2048 } }, .invalidValue, "gripper", "homing_offset"),
        ("a float id", { j(&$0, 5) { $0["id"] = 1.5 } }, .syntax, "gripper", "id"),
        ("a string offset", { j(&$0, 5) { $0["homing_offset"] = "7" } }, .syntax, "gripper", "homing_offset"),
        ("a missing field", { j(&$0, 2) { $0["range_max"] = nil } }, .syntax, "elbow_flex", "range_max"),
        ("an unknown field", { j(&$0, 2) { $0["rnage_max"] = 1 } }, .syntax, "elbow_flex", "rnage_max"),
        ("joints out of order", { d in
            var joints = d["joints"] as! [[String: Any]]
            joints.swapAt(1, 2)
            d["joints"] = joints
        }, .mismatch, nil, "joints"),
        ("a joint missing", { d in d["joints"] = Array((d["joints"] as! [[String: Any]]).dropLast()) }, .mismatch, nil, "joints"),
        ("another arm", { $0["arm"] = "so101-b" }, .mismatch, nil, "arm"),
        ("another protocol", { $0["protocol"] = "dynamixel" }, .mismatch, nil, "protocol"),
        ("a future version", { $0["format_version"] = 2 }, .invalidValue, nil, "format_version"),
        ("not a calibration", { $0["format"] = "something-else" }, .syntax, nil, "format"),
    ]

    static func j(_ d: inout [String: Any], _ i: Int, _ edit: (inout [String: Any]) -> Void) {
        var joints = d["joints"] as! [[String: Any]]
        edit(&joints[i])
        d["joints"] = joints
    }

    @Test func badFilesAreRefusedNamingFileJointAndField() throws {
        let good = try JSONSerialization.jsonObject(with: Data(CalibrationFile.encode(Self.sample))) as! [String: Any]
        for (what, mutate, code, joint, field) in Self.badFiles {
            var d = good
            mutate(&d)
            let bytes = Array(try JSONSerialization.data(withJSONObject: d))
            do {
                _ = try CalibrationFile.decode(bytes, file: "cal/so101-a.json", target: Self.target)
                Issue.record("\(what): accepted")
            } catch {
                #expect(error.code == code, "\(what): \(error)")
                #expect(error.file == "cal/so101-a.json" && error.joint == joint && error.field == field, "\(what): \(error)")
                #expect(error.description.hasPrefix("cal/so101-a.json: "), "\(what): \(error)")
            }
        }
        for text in ["", "[1, 2]", "{\"format\": ", "not json"] {
            #expect(throws: CalibrationError(.syntax, file: "f.json", "")) { try CalibrationFile.decode(Array(text.utf8), file: "f.json", target: Self.target) }
        }
    }

    // MARK: LeRobot

    static func leRobot(_ motors: [String: [String: Any]]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: motors))
    }

    static var leRobotSO101: [String: [String: Any]] {
        var motors: [String: [String: Any]] = [:]
        for (i, name) in joints.enumerated() {
            motors[name] = ["id": i + 1, "drive_mode": 0, "homing_offset": [-1470, 300, -12, 980, 5, 1300][i],
                            "range_min": [758, 810, 900, 850, 0, 2036][i], "range_max": [3292, 3100, 3050, 3215, 4095, 3456][i]]
        }
        return motors
    }

    @Test func importsLeRobotWithTheMiddleOfTheRangeAsZero() throws {
        let c = try LeRobotCalibration.convert(try Self.leRobot(Self.leRobotSO101), file: "so_follower/a.json", target: Self.target)
        #expect(c.joints.map(\.joint) == Self.joints)
        #expect(c.joints.map(\.homingOffset) == [-1470, 300, -12, 980, 5, 1300])
        #expect(c.joints[0].zero == (758 + 3292) / 2.0)
        #expect(c.joints[5].zero == 2746)
        // The angle of a raw count against LeRobot's DEGREES formula (Python oracle), within the
        // 4095-vs-4096 counts-per-turn difference.
        let raws = [3000, 812, 2975, 1234, 4000, 2400]
        let request: [String: Any] = [
            "calibration": Self.leRobotSO101,
            "positions": Dictionary(uniqueKeysWithValues: zip(Self.joints, raws)),
        ]
        let run = try ChildProcess.python("Tests/oracles/lerobot_degrees.py", stdin: try JSONSerialization.data(withJSONObject: request))
        try #require(run.status == 0, "\(run.stderr)")
        let degrees = try #require(try JSONSerialization.jsonObject(with: run.stdoutData) as? [String: Double])
        for (i, name) in Self.joints.enumerated() {
            let ours = c.position(joint: i, count: raws[i])
            let theirs = try #require(degrees[name]) * .pi / 180
            #expect(abs(ours - theirs) <= abs(theirs) / 4095 + 1e-12, "\(name): \(ours) vs LeRobot \(theirs)")
        }
    }

    @Test func leRobotsLegacyFormatAndForeignMotorsAreRefusedClearly() throws {
        let legacy: [String: Any] = [
            "homing_offset": [0, 1, 2, 3, 4, 5], "drive_mode": [0, 0, 0, 0, 0, 0], "start_pos": [1, 2, 3, 4, 5, 6],
            "end_pos": [1, 2, 3, 4, 5, 6], "calib_mode": ["DEGREE"], "motor_names": Self.joints,
        ]
        let legacyBytes = Array(try JSONSerialization.data(withJSONObject: legacy))
        do {
            _ = try LeRobotCalibration.convert(legacyBytes, file: "old.json", target: Self.target)
            Issue.record("legacy accepted")
        } catch {
            #expect(error.code == .legacyFormat && error.description.contains("legacy") && error.description.hasPrefix("old.json: "))
        }
        var renamed = Self.leRobotSO101
        renamed["wrist_rotate"] = renamed.removeValue(forKey: "wrist_roll")
        #expect(throws: CalibrationError(.mismatch, file: "a.json", joint: "wrist_rotate", "")) {
            try LeRobotCalibration.convert(try Self.leRobot(renamed), file: "a.json", target: Self.target)
        }
        var missing = Self.leRobotSO101
        missing["gripper"] = nil
        #expect(throws: CalibrationError(.mismatch, file: "a.json", joint: "gripper", "")) {
            try LeRobotCalibration.convert(try Self.leRobot(missing), file: "a.json", target: Self.target)
        }
        var flat = Self.leRobotSO101
        flat["elbow_flex"]?["range_min"] = 3100
        #expect(throws: CalibrationError(.invalidValue, file: "a.json", joint: "elbow_flex", field: "range_min", "")) {
            try LeRobotCalibration.convert(try Self.leRobot(flat), file: "a.json", target: Self.target)
        }
        // A LeRobot file where a robotd file is expected says what to do.
        let leRobotBytes = try Self.leRobot(Self.leRobotSO101)
        do {
            _ = try CalibrationFile.decode(leRobotBytes, file: "b.json", target: Self.target)
            Issue.record("accepted a LeRobot file as robotd's")
        } catch {
            #expect(error.description.contains("--import-lerobot"))
        }
    }
}
