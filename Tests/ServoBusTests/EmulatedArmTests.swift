import Foundation
import RigidBody
import ServoProtocol
import Testing
@testable import ServoBus

/// The emulated arms in-process, on a made-up clock: servos answer as the profile says, joints
/// follow goals by the URDF's physics, torque off lets gravity act, faults latch.
@Suite struct EmulatedArmTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func arm(_ name: String, options: EmulatedArmOptions = EmulatedArmOptions()) throws -> EmulatedArm {
        let urdf = try String(contentsOf: repoRoot.appendingPathComponent("hardware/robots/\(name)/robot.urdf"), encoding: .utf8)
        let model = try RobotModel(urdfText: urdf)
        return try EmulatedArm(profile: EmulatedArmProfile.named(name)!, model: model, options: options)
    }

    static func send(_ arm: inout EmulatedArm, _ bytes: [UInt8], at seconds: Double) -> [BusResponse] {
        bytes.withUnsafeBufferPointer { arm.receive($0, atNanoseconds: 1_000_000_000 + UInt64(seconds * 1e9)) }
    }

    static func feetech(_ build: (inout [UInt8]) throws(FeetechEncodeError) -> Void) -> [UInt8] {
        var out: [UInt8] = []
        try! build(&out)
        return out
    }

    /// Present positions of ids 1–6 by a Feetech sync read at `seconds`.
    static func feetechPositions(_ arm: inout EmulatedArm, at seconds: Double) -> [Int] {
        let request = feetech { (o: inout [UInt8]) throws(FeetechEncodeError) in
            try FeetechEncoder.syncRead(address: 56, length: 2, ids: [1, 2, 3, 4, 5, 6], into: &o)
        }
        let r = send(&arm, request, at: seconds)
        return r[0].replies.map { Int($0.bytes[5]) | Int($0.bytes[6]) << 8 }
    }

    @Test func so101AnswersAsSixSTS3215AndFollowsAGoal() throws {
        var arm = try Self.arm("so101")
        let ping = Self.feetech { (o: inout [UInt8]) throws(FeetechEncodeError) in try FeetechEncoder.ping(id: 0xFE, into: &o) }
        #expect(Self.send(&arm, ping, at: 0)[0].replies.map(\.servoID) == [1, 2, 3, 4, 5, 6])
        let torqueOn = Self.feetech { (o: inout [UInt8]) throws(FeetechEncodeError) in
            try FeetechEncoder.syncWrite(address: 40, length: 1, ids: [1, 2, 3, 4, 5, 6], data: [1, 1, 1, 1, 1, 1], into: &o)
        }
        _ = Self.send(&arm, torqueOn, at: 0.001)
        let start = Self.feetechPositions(&arm, at: 0.002)
        #expect(start.allSatisfy { abs($0 - 2048) < 5 })
        // shoulder_pan to 2048 + 400 (≈ 0.61 rad), the others hold.
        let goal = Self.feetech { (o: inout [UInt8]) throws(FeetechEncodeError) in
            try FeetechEncoder.write(id: 1, address: 42, data: [0x90, 0x09], into: &o)
        }
        #expect(Self.send(&arm, goal, at: 0.003)[0].replies.count == 1)
        var positions = start
        for k in 1...20 { positions = Self.feetechPositions(&arm, at: 0.003 + Double(k) * 0.1) }
        #expect(abs(positions[0] - 2448) < 20, "shoulder_pan \(positions[0])")
        #expect(abs(arm.simulator.position[0] - 400 / ServoUnits.ticksPerRadian) < 0.03)
        // Held joints stay near their start despite gravity (the servo loop carries it).
        for i in 1..<6 { #expect(abs(positions[i] - start[i]) < 60, "joint \(i): \(positions[i]) vs \(start[i])") }
    }

    @Test func torqueOffLetsGravityMoveALoadedJoint() throws {
        var arm = try Self.arm("so101")
        let start = Self.feetechPositions(&arm, at: 0)
        var positions = start
        for k in 1...20 { positions = Self.feetechPositions(&arm, at: Double(k) * 0.1) }
        let moved = zip(positions, start).map { abs($0 - $1) }
        #expect(moved.max()! > 100, "limp arm did not move under gravity: \(positions)")
    }

    @Test func kochAnswersWithItsModelsAndReadsCurrentPositionVelocity() throws {
        var arm = try Self.arm("koch")
        let models = (1...6).map { id -> UInt16 in
            let r = Self.send(&arm, DynamixelEncoder.ping(id: UInt8(id)), at: 0)
            let s = try! DynamixelDecoder.decodeStatus(r[0].replies[0].bytes)
            return UInt16(s.parameters[0]) | UInt16(s.parameters[1]) << 8
        }
        #expect(models == [1060, 1060, 1200, 1200, 1200, 1200])
        _ = Self.send(&arm, DynamixelEncoder.syncWrite(address: 64, length: 1, ids: [1, 2, 3, 4, 5, 6], data: [1, 1, 1, 1, 1, 1]), at: 0.001)
        // wrist_roll (id 5) to 2048 − 300.
        let goal = UInt32(bitPattern: 2048 - 300)
        _ = Self.send(&arm, DynamixelEncoder.write(id: 5, address: 116, data: [UInt8(goal & 0xFF), UInt8(goal >> 8 & 0xFF), 0, 0]), at: 0.002)
        var last: [Int32] = []
        for k in 1...15 {
            let r = Self.send(&arm, DynamixelEncoder.syncRead(address: 126, length: 10, ids: [1, 2, 3, 4, 5, 6]), at: 0.002 + Double(k) * 0.1)
            last = r[0].replies.map {
                let p = try! DynamixelDecoder.decodeStatus($0.bytes).parameters
                return Int32(bitPattern: UInt32(p[6]) | UInt32(p[7]) << 8 | UInt32(p[8]) << 16 | UInt32(p[9]) << 24)
            }
        }
        #expect(abs(last[4] - 1748) < 20, "wrist_roll \(last[4])")
    }

    @Test func overloadLatchesTheErrorBitAndSwitchesTorqueOff() throws {
        var options = EmulatedArmOptions()
        options.overload = [3: 2]
        var arm = try Self.arm("koch", options: options)
        _ = Self.send(&arm, DynamixelEncoder.write(id: 3, address: 64, data: [1]), at: 0)
        let before = Self.send(&arm, DynamixelEncoder.read(id: 3, address: 64, length: 1), at: 0.001)
        #expect(try DynamixelDecoder.decodeStatus(before[0].replies[0].bytes).parameters == [1])
        let after = Self.send(&arm, DynamixelEncoder.read(id: 3, address: 64, length: 1), at: 0.002)
        let status = try DynamixelDecoder.decodeStatus(after[0].replies[0].bytes)
        #expect(status.error.alert && status.parameters == [0])
        #expect(arm.dynamixel!.bank.hardwareError(3)?.contains(.overload) == true)
        // Torque cannot come back while the fault is latched.
        _ = Self.send(&arm, DynamixelEncoder.write(id: 3, address: 64, data: [1]), at: 0.003)
        #expect(arm.dynamixel!.bank.torqueEnabled(3) == false)
    }

    @Test func feetechOverheatReportsTheFaultAndATemperatureAboveTheLimit() throws {
        var options = EmulatedArmOptions()
        options.overheat = [2: 0]
        var arm = try Self.arm("so101", options: options)
        let read = Self.feetech { (o: inout [UInt8]) throws(FeetechEncodeError) in try FeetechEncoder.read(id: 2, address: 63, length: 1, into: &o) }
        let reply = Self.send(&arm, read, at: 0)[0].replies[0].bytes
        #expect(reply[4] & FeetechStatusError.overheat.rawValue != 0)
        #expect(reply[5] == 72)
    }

    // MARK: the position loop follows the control table

    static func feetechWrite(_ arm: inout EmulatedArm, id: UInt8, address: UInt8, _ data: [UInt8], at seconds: Double) {
        let w = feetech { (o: inout [UInt8]) throws(FeetechEncodeError) in try FeetechEncoder.write(id: id, address: address, data: data, into: &o) }
        _ = send(&arm, w, at: seconds)
    }

    /// The SO-101 holding its power-on pose for 3 s with torque on, after `setUp` wrote the
    /// table (with EEPROM unlocked); returns the true joint angles (rad).
    static func so101Hold(_ setUp: (inout EmulatedArm) -> Void) throws -> [Double] {
        var options = EmulatedArmOptions()
        // Arm stretched out level, so gravity loads shoulder_lift and elbow_flex.
        options.initialPosition = [0, 0, 0, 0, 0, 0]
        var arm = try arm("so101", options: options)
        for id in UInt8(1)...6 { feetechWrite(&arm, id: id, address: 55, [0], at: 0) }  // Lock 0
        setUp(&arm)
        for id in UInt8(1)...6 { feetechWrite(&arm, id: id, address: 40, [1], at: 0.001) }
        for k in 1...30 { _ = feetechPositions(&arm, at: 0.001 + Double(k) * 0.1) }
        return arm.simulator.position
    }

    @Test func aHigherPCoefficientHoldsAgainstGravityWithASmallerError() throws {
        let factory = try Self.so101Hold { _ in }
        let stiff = try Self.so101Hold { arm in
            for id in UInt8(1)...6 { Self.feetechWrite(&arm, id: id, address: 21, [128], at: 0) }  // P_Coefficient 4× factory
        }
        // The most loaded joint: its steady-state error τ_g / K_p shrinks about fourfold.
        let j = (0..<6).max { abs(factory[$0]) < abs(factory[$1]) }!
        #expect(abs(factory[j]) > 0.01, "no joint is loaded: \(factory)")
        #expect(abs(stiff[j]) < abs(factory[j]) / 2.5, "joint \(j): P 128 \(stiff[j]) vs P 32 \(factory[j])")
    }

    @Test func aLowTorqueLimitCannotHoldALoadedJoint() throws {
        let factory = try Self.so101Hold { _ in }
        let weak = try Self.so101Hold { arm in
            for id in UInt8(1)...6 { Self.feetechWrite(&arm, id: id, address: 48, [30, 0], at: 0) }  // Torque_Limit 3 %
        }
        let j = (0..<6).max { abs(factory[$0]) < abs(factory[$1]) }!
        #expect(abs(factory[j]) < 0.1, "factory servo lets joint \(j) sag to \(factory[j])")
        #expect(abs(weak[j]) > 0.3, "a 3 % torque limit still holds joint \(j) at \(weak[j])")
        // Max_Torque_Limit (EEPROM) caps Torque_Limit as well.
        let capped = try Self.so101Hold { arm in
            for id in UInt8(1)...6 { Self.feetechWrite(&arm, id: id, address: 16, [30, 0], at: 0) }
        }
        #expect(abs(capped[j]) > 0.3)
    }

    @Test func kochPositionPGainFollowsTheTable() throws {
        func hold(pGain: Int?) throws -> [Double] {
            var arm = try Self.arm("koch")
            if let pGain {
                for id in UInt8(1)...6 {
                    _ = Self.send(&arm, DynamixelEncoder.write(id: id, address: 84, data: [UInt8(pGain & 0xFF), UInt8(pGain >> 8)]), at: 0)
                }
            }
            _ = Self.send(&arm, DynamixelEncoder.syncWrite(address: 64, length: 1, ids: [1, 2, 3, 4, 5, 6], data: [1, 1, 1, 1, 1, 1]), at: 0.001)
            for k in 1...30 { _ = Self.send(&arm, DynamixelEncoder.ping(id: 1), at: 0.001 + Double(k) * 0.1) }
            return arm.simulator.position
        }
        let factory = try hold(pGain: nil)
        let stiff = try hold(pGain: 2560)  // 4× the XL430's, 6.4× the XL330's factory P
        let j = (0..<6).max { abs(factory[$0]) < abs(factory[$1]) }!
        #expect(abs(factory[j]) > 0.005, "no joint is loaded: \(factory)")
        #expect(abs(stiff[j]) < abs(factory[j]) / 2.5, "joint \(j): \(stiff[j]) vs \(factory[j])")
    }
}
