import Foundation
import ServoBus
import ServoDriver
import ServoProtocol
import Testing

/// `CalibrationBus` on emulated Feetech and Dynamixel servos over a pseudo-terminal: `apply`
/// writes only servos that differ, through the EEPROM dance, and reads every value back.
@Suite(.serialized) struct CalibrationBusTests {
    static let joints = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]

    final class Bus<Responder: BusResponder & SendableMetatype> {
        let dir: URL
        let host: EmulatorHost<Responder>
        let transport: any SerialTransport

        init(_ responder: Responder) throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-calbus-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let link = dir.appendingPathComponent("arm.tty").path
            host = try EmulatorHost(responder: responder, configuration: .init(linkPath: link, baud: 0))
            transport = try SerialPorts.open(path: link, baud: 1_000_000).transport
        }

        deinit {
            transport.close()
            host.stop()
            try? FileManager.default.removeItem(at: dir)
        }
    }

    static func calibration(_ proto: String) -> ArmCalibration {
        ArmCalibration(arm: "a", busProtocol: proto, joints: joints.enumerated().map { i, name in
            JointCalibration(joint: name, id: UInt8(i + 1), driveMode: i == 3 ? 1 : 0, homingOffset: [12, -300, 0, 2000, -5, 77][i],
                             rangeMin: 500 + i, rangeMax: 3500 - i, zero: 2047)
        })
    }

    func exercise(_ client: any CalibrationBus, _ proto: String) throws {
        let c = Self.calibration(proto)
        try client.disableTorque(c.joints.map(\.id))
        // Factory servos differ from the calibration everywhere but elbow_flex's offset.
        let before = try client.differences(from: c)
        #expect(Set(before.map(\.joint)) == Set(Self.joints))
        #expect(before.contains { $0.joint == "shoulder_lift" && $0.field == "homing_offset" && $0.file == -300 && $0.servo == 0 })
        #expect(try client.apply(c) == Self.joints)
        #expect(try client.differences(from: c).isEmpty)
        for j in c.joints {
            let r = try client.calibrationRegisters(j.id)
            #expect(r == ServoCalibrationRegisters(j, busProtocol: proto))
        }
        // Nothing to write the second time; one changed register, one servo written.
        #expect(try client.apply(c).isEmpty)
        var changed = c
        changed.joints[4].rangeMax = 3000
        #expect(try client.differences(from: changed).map(\.description) == ["joint wrist_roll (servo 5): range_max is 3496 in the servo, 3000 in the calibration"])
        #expect(try client.apply(changed) == ["wrist_roll"])
        // Positions read back through the offsets.
        let positions = try client.presentPositions(c.joints.map(\.id))
        #expect(positions.allSatisfy { $0 != nil })
    }

    @Test func feetechAppliesThroughTheEEPROMLockAndVerifies() throws {
        let bus = try Bus(FeetechResponder(bank: FeetechServoBank(ids: 1...6)))
        let client = FeetechBusClient(transport: bus.transport)
        try exercise(client, "feetech")
        // Drive mode is not a Feetech register: it is applied in software.
        #expect(try client.calibrationRegisters(4).driveMode == nil)
        #expect(try client.read(4, STS3215.lock) == 1)
    }

    @Test func dynamixelAppliesWithDriveModeAndVerifies() throws {
        let bank = DynamixelServoBank((1...6).map { .init(id: UInt8($0), model: $0 <= 2 ? .xl430W250 : .xl330M288) })
        let bus = try Bus(DynamixelResponder(bank: bank))
        let client = DynamixelBusClient(transport: bus.transport)
        // Drive_Mode's other bits (time-based profile, bit 2) survive.
        try client.write(4, DynamixelControlTable.driveMode, 4)
        try exercise(client, "dynamixel")
        #expect(try client.read(4, DynamixelControlTable.driveMode) == 5)
        #expect(try client.read(3, DynamixelControlTable.driveMode) == 0)
    }

    @Test func aSilentServoIsNamed() throws {
        let bus = try Bus(FeetechResponder(bank: FeetechServoBank(ids: 1...5)))
        var configuration = TransactionConfiguration()
        configuration.timeoutNanoseconds = 5_000_000
        let client = FeetechBusClient(transport: bus.transport, configuration: configuration)
        do {
            try client.apply(Self.calibration("feetech"))
            Issue.record("applied to a missing servo")
        } catch {
            #expect(error.code == .bus && error.joint == "gripper" && error.description.contains("servo 6 did not answer"))
        }
    }
}
