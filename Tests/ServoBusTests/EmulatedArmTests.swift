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
}
