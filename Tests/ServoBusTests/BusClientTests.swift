import AllocationCounter
import Glibc
import ServoProtocol
import Testing
@testable import ServoBus

/// The bus clients and the bench tool against the emulator host with the vendors' servo banks,
/// on real pseudo-terminals (in-process).
@Suite(.serialized) struct BusClientTests {
    static let ids: [UInt8] = [1, 2, 3, 4, 5, 6]

    static var koch: DynamixelServoBank {
        DynamixelServoBank(ids.map { .init(id: $0, model: $0 <= 2 ? .xl430W250 : .xl330M288) })
    }

    /// A host on a link in a fresh directory and a client on it.
    final class Rig<Responder: BusResponder & SendableMetatype> {
        let dir = TemporaryDirectory()
        let host: EmulatorHost<Responder>
        let link: String
        let transport: any SerialTransport

        init(_ responder: Responder) throws {
            link = dir.path + "/run/arm.tty"
            host = try EmulatorHost(responder: responder, configuration: .init(linkPath: link))
            transport = try SerialPorts.open(path: link, baud: 1_000_000).transport
        }

        deinit {
            transport.close()
            host.stop()
            dir.remove()
        }
    }

    static var configuration: TransactionConfiguration {
        var c = TransactionConfiguration()
        c.timeoutNanoseconds = 100_000_000
        c.settleNanoseconds = 30_000_000
        return c
    }

    // MARK: Dynamixel

    @Test func dynamixelPingReadWriteAndErrors() throws {
        let rig = try Rig(DynamixelResponder(bank: Self.koch))
        let c = DynamixelBusClient(transport: rig.transport, configuration: Self.configuration)
        for id in Self.ids {
            let p = try c.ping(id)
            #expect(p.model == (id <= 2 ? .xl430W250 : .xl330M288))
            #expect(p.firmware == p.model?.emulatedFirmware)
        }
        // Signed items round-trip negative values (torque is off, so EEPROM is writable).
        try c.write(3, DynamixelControlTable.homingOffset, -1234)
        #expect(try c.read(3, DynamixelControlTable.homingOffset) == -1234)
        try c.write(4, DynamixelControlTable.goalPosition, 3000)
        #expect(try c.read(4, DynamixelControlTable.goalPosition) == 3000)
        // EEPROM while torque is on: the servo's access error, naming the servo.
        try c.write(2, DynamixelControlTable.torqueEnable, 1)
        #expect(throws: ServoBusError(.status, servoID: 2, message: "")) { try c.write(2, DynamixelControlTable.returnDelayTime, 10) }
        do { try c.write(2, DynamixelControlTable.returnDelayTime, 10) } catch {
            #expect(error.message.contains("servo 2"))
            #expect(error.message.contains("accessError"))
        }
        #expect(throws: ServoBusError(.valueOutOfRange, servoID: 2, message: "")) { try c.write(2, DynamixelControlTable.led, 300) }
        #expect(throws: ServoBusError(.readOnly, servoID: 2, message: "")) { try c.write(2, DynamixelControlTable.presentPosition, 1) }
        // A servo that is not there: no reply after the retries, naming it.
        #expect(throws: ServoBusError(.noReply, servoID: 9, message: "")) { _ = try c.ping(9) }
        try c.reboot(2)
        #expect(try c.read(2, DynamixelControlTable.torqueEnable) == 0)
    }

    @Test func dynamixelSyncWriteThenSyncAndFastSyncReadAgreeAndAllocateNothing() throws {
        let rig = try Rig(DynamixelResponder(bank: Self.koch))
        let c = DynamixelBusClient(transport: rig.transport, configuration: Self.configuration)
        var write = try DynamixelSyncWrite(ids: Self.ids, item: DynamixelControlTable.goalPosition)
        for i in 0..<6 { write.values[i] = Int32(1000 + 100 * i) - (i == 5 ? 2000 : 0) }
        try c.syncWrite(write)
        var goals = try DynamixelSyncRead(ids: Self.ids, items: [DynamixelControlTable.goalPosition])
        #expect(try c.syncRead(&goals) == 6)
        for i in 0..<6 { #expect(goals.value(servo: i, item: 0) == Int64(write.values[i])) }

        let state = [DynamixelControlTable.presentCurrent, DynamixelControlTable.presentVelocity, DynamixelControlTable.presentPosition]
        var slow = try DynamixelSyncRead(ids: Self.ids, items: state)
        var fast = try DynamixelSyncRead(ids: Self.ids, items: state, fast: true)
        #expect(slow.length == 10)
        #expect(try c.syncRead(&slow) == 6)
        #expect(try c.syncRead(&fast) == 6)
        #expect(slow.valid == fast.valid)
        for i in 0..<6 { #expect(slow.value(servo: i, item: 2) == fast.value(servo: i, item: 2)) }

        #expect(throws: ServoBusError(.invalidRequest, servoID: nil, message: "")) {
            _ = try DynamixelSyncRead(ids: Self.ids, items: [DynamixelControlTable.presentPosition, DynamixelControlTable.presentCurrent])
        }

        for _ in 0..<5 {  // warm-up
            try c.syncWrite(write)
            _ = try c.syncRead(&slow)
            _ = try c.syncRead(&fast)
        }
        var answered = 0
        AllocationCounter_start()
        for k in 0..<20 {
            write.values[0] = Int32(2000 + k)
            try c.syncWrite(write)
            answered += try c.syncRead(&slow)
            answered += try c.syncRead(&fast)
        }
        let allocations = AllocationCounter_stop()
        #expect(answered == 240)
        #expect(allocations == 0)
    }

    @Test func dynamixelSyncReadMarksASilentServoInvalid() throws {
        let rig = try Rig(DynamixelResponder(bank: Self.koch))
        var config = Self.configuration
        config.timeoutNanoseconds = 30_000_000
        let c = DynamixelBusClient(transport: rig.transport, configuration: config)
        rig.host.setSilent(4, true)
        var read = try DynamixelSyncRead(ids: Self.ids, items: [DynamixelControlTable.presentPosition])
        #expect(try c.syncRead(&read) == 3)
        #expect(read.valid == [true, true, true, false, false, false])
        #expect(read.value(servo: 3, item: 0) == nil)
        #expect(c.health.timeouts >= 1)
    }

    @Test func dynamixelFastSyncReadGetsNoCombinedReplyWhileAServoIsSilent() throws {
        let rig = try Rig(DynamixelResponder(bank: Self.koch))
        var config = Self.configuration
        config.timeoutNanoseconds = 30_000_000
        let c = DynamixelBusClient(transport: rig.transport, configuration: config)
        var fast = try DynamixelSyncRead(ids: Self.ids, items: [DynamixelControlTable.presentPosition], fast: true)
        #expect(try c.syncRead(&fast) == 6)
        // A real chain: servo 4 adds no part, so the combined packet is broken; nothing arrives.
        rig.host.setSilent(4, true)
        #expect(try c.syncRead(&fast) == 0)
        #expect(fast.valid == [false, false, false, false, false, false])
        #expect(c.health.timeouts >= 1)
        #expect(rig.host.statistics.silencedReplies >= 1)
        rig.host.setSilent(4, false)
        #expect(try c.syncRead(&fast) == 6)
    }

    // MARK: line rate

    @Test func aServoHearsOnlyAClientAtItsBaud() throws {
        let rig = try Rig(DynamixelResponder(bank: Self.koch))
        rig.transport.close()
        var tool = BusTool(path: rig.link, family: .dynamixel, configuration: Self.configuration)
        tool.configuration.retries = 0
        // 1 Mbaud servos do not hear a client at 57 600: no reply, and a write does nothing.
        #expect(throws: ServoBusError(.noReply, servoID: 1, message: "")) { _ = try tool.read(id: 1, item: "ID", baud: 57_600) }
        #expect(throws: ServoBusError(.noReply, servoID: 2, message: "")) { _ = try tool.write(id: 2, item: "Goal_Position", value: 3000, baud: 57_600) }
        #expect(try tool.read(id: 2, item: "Goal_Position", baud: 1_000_000).value == 0)
        // After set-baud, servo 3 answers at 57 600 only.
        #expect(try tool.setBaud(3, from: 1_000_000, to: 57_600).baud == 57_600)
        #expect(try tool.read(id: 3, item: "Baud_Rate", baud: 57_600).value == 1)
        #expect(throws: ServoBusError(.noReply, servoID: 3, message: "")) { _ = try tool.read(id: 3, item: "ID", baud: 1_000_000) }
        #expect(throws: ServoBusError(.noReply, servoID: 1, message: "")) { _ = try tool.read(id: 1, item: "ID", baud: 57_600) }
        // A scan stops at the first rate that answers; every rate finds the moved servo too.
        let first = try tool.scan(bauds: BusTool.commonBauds(.dynamixel), windowNanoseconds: 100_000_000)
        #expect(first.map(\.id) == [1, 2, 4, 5, 6])
        #expect(first.allSatisfy { $0.baud == 1_000_000 })
        let all = try tool.scan(bauds: BusTool.commonBauds(.dynamixel), allRates: true, windowNanoseconds: 100_000_000)
        #expect(all.map { "\($0.id)@\($0.baud)" } == ["1@1000000", "2@1000000", "4@1000000", "5@1000000", "6@1000000", "3@57600"])
    }

    @Test func feetechSetBaudMovesAServoToTheNewRateOnly() throws {
        let rig = try Rig(FeetechResponder(bank: FeetechServoBank(ids: Self.ids)))
        rig.transport.close()
        var tool = BusTool(path: rig.link, family: .feetech, configuration: Self.configuration)
        tool.configuration.retries = 0
        #expect(throws: ServoBusError(.noReply, servoID: 5, message: "")) { _ = try tool.read(id: 5, item: "ID", baud: 57_600) }
        #expect(try tool.setBaud(5, from: 1_000_000, to: 57_600).baud == 57_600)
        #expect(try tool.read(id: 5, item: "ID", baud: 57_600).value == 5)
        #expect(throws: ServoBusError(.noReply, servoID: 5, message: "")) { _ = try tool.read(id: 5, item: "ID", baud: 1_000_000) }
        let all = try tool.scan(bauds: [1_000_000, 115_200, 57_600], allRates: true, windowNanoseconds: 100_000_000)
        #expect(all.map { "\($0.id)@\($0.baud)" } == ["1@1000000", "2@1000000", "3@1000000", "4@1000000", "6@1000000", "5@57600"])
    }

    // MARK: Feetech

    @Test func feetechPingReadWriteAndSigns() throws {
        let rig = try Rig(FeetechResponder(bank: FeetechServoBank(ids: Self.ids)))
        let c = FeetechBusClient(transport: rig.transport, configuration: Self.configuration)
        for id in Self.ids {
            let p = try c.ping(id)
            #expect(p.modelNumber == 777)
            #expect(p.modelName == "STS3215")
            #expect(p.firmware == "3.10")
        }
        try c.write(2, STS3215.goalPosition, -300)  // sign bit 15
        #expect(try c.read(2, STS3215.goalPosition) == -300)
        // Locked EEPROM ignores the write (no error bit on Feetech); unlocked it takes.
        try c.write(2, STS3215.homingOffset, -500)
        #expect(try c.read(2, STS3215.homingOffset) == 0)
        try c.write(2, STS3215.lock, 0)
        try c.write(2, STS3215.homingOffset, -500)  // sign bit 11
        #expect(try c.read(2, STS3215.homingOffset) == -500)
        #expect(throws: ServoBusError(.valueOutOfRange, servoID: 2, message: "")) { try c.write(2, STS3215.homingOffset, 5000) }
        #expect(throws: ServoBusError(.noReply, servoID: 7, message: "")) { _ = try c.ping(7) }
    }

    @Test func feetechSyncWriteThenSyncReadAllocateNothing() throws {
        let rig = try Rig(FeetechResponder(bank: FeetechServoBank(ids: Self.ids)))
        let c = FeetechBusClient(transport: rig.transport, configuration: Self.configuration)
        var write = try FeetechSyncWrite(ids: Self.ids, item: STS3215.goalPosition)
        for i in 0..<6 { write.values[i] = 1001 + i - (i == 5 ? 2000 : 0) }
        try c.syncWrite(&write)
        var goals = try FeetechSyncRead(ids: Self.ids, items: [STS3215.goalPosition])
        #expect(try c.syncRead(&goals) == 6)
        for i in 0..<6 { #expect(goals.value(servo: i, item: 0) == write.values[i]) }

        var state = try FeetechSyncRead(ids: Self.ids, items: [STS3215.presentPosition, STS3215.presentVelocity, STS3215.presentLoad])
        #expect(state.length == 6)
        for _ in 0..<5 {
            try c.syncWrite(&write)
            _ = try c.syncRead(&state)
        }
        var answered = 0
        AllocationCounter_start()
        for k in 0..<20 {
            write.values[0] = 2000 + k
            try c.syncWrite(&write)
            answered += try c.syncRead(&state)
        }
        let allocations = AllocationCounter_stop()
        #expect(answered == 120)
        #expect(allocations == 0)
        write.values[0] = 40_000
        #expect(throws: ServoBusError(.valueOutOfRange, servoID: 1, message: "")) { try c.syncWrite(&write) }
    }

    // MARK: bench tool

    @Test func toolScansReadsWritesAndMovesIDs() throws {
        let rig = try Rig(FeetechResponder(bank: FeetechServoBank(ids: Self.ids)))
        rig.transport.close()
        var tool = BusTool(path: rig.link, family: .feetech, configuration: Self.configuration)
        tool.configuration.retries = 1
        let found = try tool.scan(bauds: BusTool.commonBauds(.feetech), windowNanoseconds: 100_000_000)
        #expect(found.map(\.id) == Self.ids)
        #expect(found.allSatisfy { $0.baud == 1_000_000 && $0.model == "STS3215" })
        #expect(try tool.write(id: 3, item: "goal_position", value: 1500, baud: 1_000_000).value == 1500)
        #expect(try tool.read(id: 3, item: "Goal_Position", baud: 1_000_000).value == 1500)
        #expect(throws: ServoBusError(.verificationFailed, servoID: 3, message: "")) {
            _ = try tool.write(id: 3, item: "Return_Delay_Time", value: 5, baud: 1_000_000)
        }
        #expect(throws: ServoBusError(.unknownItem, servoID: 3, message: "")) { _ = try tool.read(id: 3, item: "Nope", baud: 1_000_000) }
        #expect(throws: ServoBusError(.invalidRequest, servoID: 2, message: "")) { _ = try tool.setID(3, to: 2, baud: 1_000_000) }
        let moved = try tool.setID(3, to: 9, baud: 1_000_000)
        #expect(moved.id == 9)
        let after = try tool.scan(bauds: [1_000_000], windowNanoseconds: 100_000_000)
        #expect(after.map(\.id) == [1, 2, 4, 5, 6, 9])
        #expect(throws: ServoBusError(.valueOutOfRange, servoID: 9, message: "")) { _ = try tool.setBaud(9, from: 1_000_000, to: 123) }
        #expect(try tool.setBaud(9, from: 1_000_000, to: 500_000).baud == 500_000)
        #expect(try tool.read(id: 9, item: "Baud_Rate", baud: 500_000).value == 1)
    }

    @Test func dynamixelToolScanFindsTheKochModels() throws {
        let rig = try Rig(DynamixelResponder(bank: Self.koch))
        rig.transport.close()
        let tool = BusTool(path: rig.link, family: .dynamixel, configuration: Self.configuration)
        let found = try tool.scan(bauds: BusTool.commonBauds(.dynamixel), windowNanoseconds: 100_000_000)
        #expect(found.map(\.id) == Self.ids)
        #expect(found.map(\.model) == ["XL430-W250", "XL430-W250", "XL330-M288", "XL330-M288", "XL330-M288", "XL330-M288"])
        let moved = try tool.setID(6, to: 12, baud: 1_000_000)
        #expect(moved.model == "XL330-M288")
        #expect(try tool.write(id: 12, item: "Homing_Offset", value: -77, baud: 1_000_000).value == -77)
        #expect(try tool.setBaud(12, from: 1_000_000, to: 57_600).baud == 57_600)
    }

    @Test func toolNamesAMissingPort() throws {
        let tool = BusTool(path: "/nonexistent/ttyUSB9", family: .dynamixel)
        do {
            _ = try tool.read(id: 1, item: "ID", baud: 1_000_000)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .transport)
            #expect(error.transportError?.code == .notFound)
        }
    }
}
