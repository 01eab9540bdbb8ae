import ServoDriver
import ServoProtocol
import Testing

/// The procedure over scripted samples: the offsets make the zero pose read 2047 under each
/// family's sign convention, the ranges are the extremes seen, and a joint that never moved is
/// named.
@Suite struct CalibrationProcedureTests {
    static let joints = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]

    static func target(_ proto: String) -> CalibrationTarget {
        CalibrationTarget(arm: "a", busProtocol: proto, joints: joints, ids: [1, 2, 3, 4, 5, 6])
    }

    /// The present position a servo reports for a raw (offset-free) reading under `offset`.
    static func present(_ proto: String, raw: Int, offset: Int) -> Int {
        proto == "dynamixel" ? raw + offset : raw - offset
    }

    @Test(arguments: ["feetech", "dynamixel"])
    func zeroPoseReads2047AndRangesAreTheExtremesSeen(_ proto: String) throws {
        var p = try CalibrationProcedure(target: Self.target(proto), driveModes: [0, 0, 1, 0, 0, 0], fullTurnJoints: ["wrist_roll"])
        #expect(p.registersBeforeMiddle.allSatisfy { $0.homingOffset == 0 && $0.minPositionLimit == 0 && $0.maxPositionLimit == 4095 })
        #expect(p.registersBeforeMiddle[2].driveMode == (proto == "dynamixel" ? 1 : nil))
        let raw = [1000, 2048, 3900, 2047, 100, 2600]
        let registers = try p.captureMiddle(rawPositions: raw)
        #expect(p.phase == .sweep)
        for i in 0..<6 {
            #expect(Self.present(proto, raw: raw[i], offset: registers[i].homingOffset) == 2047)
        }
        // The sweep: each joint visits raw ± its travel; one servo misses a poll.
        let travel = [-700, 900, -1500, 600, 0, 400]
        for step in 0...10 {
            var positions: [Int?] = (0..<6).map { i in
                let r = raw[i] + travel[i] * step / 10 - (i == 3 ? 300 * step / 10 : 0)
                return Self.present(proto, raw: r, offset: registers[i].homingOffset)
            }
            if step == 4 { positions[1] = nil }
            p.record(positions)
        }
        let c = try p.finish()
        #expect(p.phase == .finished)
        #expect(c.joints.map(\.rangeMin) == [1347, 2047, 547, 2047, 0, 2047])
        #expect(c.joints.map(\.rangeMax) == [2047, 2947, 2047, 2347, 4095, 2447])
        #expect(c.joints.allSatisfy { $0.zero == 2047 })
        #expect(c.joints.map(\.driveMode) == [0, 0, 1, 0, 0, 0])
        #expect(c.joints.map(\.homingOffset) == registers.map(\.homingOffset))
        try c.validate(against: Self.target(proto))
    }

    @Test func aJointNeverMovedIsNamedAndTheSweepGoesOn() throws {
        var p = try CalibrationProcedure(target: Self.target("feetech"), fullTurnJoints: ["wrist_roll"])
        _ = try p.captureMiddle(rawPositions: [2047, 2047, 2047, 2047, 2047, 2047])
        p.record([1500, 1500, 2050, 1500, 2047, 2600])
        p.record([2600, 2600, 2040, 2600, 2047, 2047])
        do {
            _ = try p.finish()
            Issue.record("finished with elbow_flex unmoved")
        } catch {
            #expect(error.code == .procedure)
            #expect(error.message.contains("elbow_flex (10 counts)"))
            #expect(!error.message.contains("wrist_roll") && !error.message.contains("shoulder_pan"))
        }
        // Still sweeping: moving the joint now completes the calibration.
        #expect(p.phase == .sweep)
        p.record([2047, 2047, 1000, 2047, 2047, 2047])
        let c = try p.finish()
        #expect(c.joints[2].rangeMin == 1000 && c.joints[2].rangeMax == 2050)
    }

    @Test func aZeroPoseTheOffsetRegisterCannotHoldIsNamed() throws {
        var p = try CalibrationProcedure(target: Self.target("feetech"))
        do {
            _ = try p.captureMiddle(rawPositions: [2047, 2047, 4095, 2047, 2047, 2047])
            Issue.record("accepted an offset of 2048")
        } catch {
            #expect(error.code == .procedure && error.joint == "elbow_flex" && error.field == "homing_offset")
        }
        #expect(throws: CalibrationError(.procedure, joint: "gripper", "")) {
            try p.captureMiddle(rawPositions: [2047, 2047, 2047, 2047, 2047, nil])
        }
        // Dynamixel's offset register is wide: any turn position works.
        var d = try CalibrationProcedure(target: Self.target("dynamixel"))
        #expect(try d.captureMiddle(rawPositions: [0, 4095, 2047, 2047, 2047, 2047]).map(\.homingOffset) == [2047, -2048, 0, 0, 0, 0])
    }

    @Test func badSetUpsAreRefused() {
        #expect(throws: CalibrationError(.invalidValue, field: "ids", "")) {
            try CalibrationProcedure(target: CalibrationTarget(arm: "a", busProtocol: "feetech", joints: Self.joints, ids: [1, 2, 3]))
        }
        #expect(throws: CalibrationError(.invalidValue, field: "ids", "")) {
            try CalibrationProcedure(target: CalibrationTarget(arm: "a", busProtocol: "feetech", joints: Self.joints, ids: [1, 2, 3, 4, 5, 5]))
        }
        #expect(throws: CalibrationError(.invalidValue, field: "drive_mode", "")) {
            try CalibrationProcedure(target: Self.target("feetech"), driveModes: [0, 0, 2, 0, 0, 0])
        }
        #expect(throws: CalibrationError(.invalidValue, joint: "wrist_rotate", "")) {
            try CalibrationProcedure(target: Self.target("feetech"), fullTurnJoints: ["wrist_rotate"])
        }
    }
}
