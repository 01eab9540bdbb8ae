import ServoProtocol
import Testing

/// The emulated servo bank's semantics against the e-Manual's (protocol 2.0, X-series tables).
@Suite struct DynamixelServoBankTests {
    typealias T = DynamixelControlTable

    /// Koch v1.1 follower: ids 1–2 XL430-W250, 3–6 XL330-M288 at 1 Mbps.
    static func koch(returnDelayTime: UInt8 = 0) -> DynamixelServoBank {
        DynamixelServoBank((1...6).map {
            .init(id: $0, model: $0 <= 2 ? .xl430W250 : .xl330M288, returnDelayTime: returnDelayTime)
        })
    }

    static func status(_ r: DynamixelServoBank.Reply) throws -> DynamixelStatusPacket {
        try DynamixelDecoder.decodeStatus(r.bytes, expectedID: r.id)
    }

    @Test func pingRepliesModelAndFirmwareAsTheSDKVector() throws {
        var bank = Self.koch()
        let r = bank.handle(bytes: DynamixelEncoder.ping(id: 1))
        #expect(r.map(\.bytes) == [hex("FF FF FD 00 01 07 00 55 00 24 04 34 A1 5F")])
        #expect(bank.handle(bytes: DynamixelEncoder.ping(id: 7)).isEmpty)
        let all = bank.handle(bytes: DynamixelEncoder.ping(id: 0xFE))
        #expect(all.map(\.id) == [1, 2, 3, 4, 5, 6])
        #expect(try Self.status(all[3]).parameters == [0xB0, 0x04, 46])  // 1200 = XL330-M288
        #expect(bank.value(1, T.baudRate) == 3 && bank.value(1, T.statusReturnLevel) == 2)
        #expect(bank.bitsPerSecond(1) == 1_000_000 && T.baudRateCode(bitsPerSecond: 57600) == 1)
        #expect(T.bitsPerSecond(baudRateCode: 8) == nil)
    }

    @Test func readAndWrite() throws {
        var bank = Self.koch()
        bank.setPresentPosition(3, -1234)
        let r = bank.handle(bytes: DynamixelEncoder.read(id: 3, address: 132, length: 4))
        let s = try Self.status(r[0])
        #expect(s.parameters == T.presentPosition.bytes(-1234))
        let w = bank.handle(bytes: DynamixelEncoder.write(id: 3, address: 116, data: T.goalPosition.bytes(-77)))
        #expect(try Self.status(w[0]).error == .none)
        #expect(bank.goalPosition(3) == -77)
    }

    @Test func eepromIsLockedWhileTorqueIsOn() throws {
        var bank = Self.koch()
        _ = bank.handle(bytes: DynamixelEncoder.write(id: 1, address: 64, data: [1]))
        #expect(bank.torqueEnabled(1) == true)
        let refused = bank.handle(bytes: DynamixelEncoder.write(id: 1, address: 11, data: [4]))
        #expect(try Self.status(refused[0]).error.reason == .accessError)
        #expect(bank.operatingMode(1) == 3)
        _ = bank.handle(bytes: DynamixelEncoder.write(id: 1, address: 64, data: [0]))
        let accepted = bank.handle(bytes: DynamixelEncoder.write(id: 1, address: 11, data: [4]))
        #expect(try Self.status(accepted[0]).error == .none)
        #expect(bank.operatingMode(1) == 4)
    }

    @Test func refusedWrites() throws {
        var bank = Self.koch()
        func reason(_ bytes: [UInt8]) throws -> DynamixelStatusError.Reason? {
            try Self.status(bank.handle(bytes: bytes)[0]).error.reason
        }
        #expect(try reason(DynamixelEncoder.write(id: 1, address: 132, data: [0, 0, 0, 0])) == .accessError)  // read-only
        #expect(try reason(DynamixelEncoder.write(id: 1, address: 14, data: [0])) == .accessError)  // no item
        #expect(try reason(DynamixelEncoder.write(id: 1, address: 102, data: [0, 0])) == .accessError)  // no Goal Current on XL430
        #expect(try reason(DynamixelEncoder.write(id: 1, address: 117, data: [0])) == .dataLength)  // inside an item
        #expect(try reason(DynamixelEncoder.write(id: 1, address: 116, data: [0, 0])) == .dataLength)
        #expect(try reason(DynamixelEncoder.write(id: 1, address: 68, data: [3])) == .dataRange)
        #expect(try reason(DynamixelEncoder.write(id: 1, address: 11, data: [0])) == .dataRange)  // XL430 has no current mode
        #expect(try reason(DynamixelEncoder.write(id: 3, address: 11, data: [0])) == nil)
        #expect(try reason(DynamixelEncoder.action(id: 1)) == .instructionError)  // no REG_WRITE before
        #expect(try reason(DynamixelEncoder.reboot(id: 1) .replacingCRC()) == .crcError)
        var unknown: [UInt8] = []
        DynamixelEncoder.instruction(id: 1, DynamixelInstruction(rawValue: 0x77), parameters: [], into: &unknown)
        #expect(try reason(unknown) == .instructionError)
    }

    @Test func writingTheIDMovesTheServo() {
        var bank = Self.koch()
        _ = bank.handle(bytes: DynamixelEncoder.write(id: 6, address: 7, data: [9]))
        #expect(bank.ids == [1, 2, 3, 4, 5, 9])
        #expect(bank.handle(bytes: DynamixelEncoder.ping(id: 9)).count == 1)
    }

    @Test func statusReturnLevels() {
        for level: UInt8 in 0...2 {
            var bank = DynamixelServoBank([.init(id: 1, model: .xm430W350, statusReturnLevel: level)])
            #expect(bank.handle(bytes: DynamixelEncoder.ping(id: 1)).count == 1)
            #expect(bank.handle(bytes: DynamixelEncoder.read(id: 1, address: 132, length: 4)).count == (level >= 1 ? 1 : 0))
            #expect(bank.handle(bytes: DynamixelEncoder.syncRead(address: 132, length: 4, ids: [1])).count == (level >= 1 ? 1 : 0))
            #expect(bank.handle(bytes: DynamixelEncoder.write(id: 1, address: 65, data: [1])).count == (level == 2 ? 1 : 0))
            #expect(bank.value(1, T.led) == 1)
        }
    }

    @Test func broadcastWritesAreSilent() {
        var bank = Self.koch()
        #expect(bank.handle(bytes: DynamixelEncoder.write(id: 0xFE, address: 64, data: [1])).isEmpty)
        #expect(bank.ids.allSatisfy { bank.torqueEnabled($0) == true })
    }

    @Test func syncReadRepliesInListOrderWithReturnDelays() throws {
        var bank = Self.koch(returnDelayTime: 250)
        for id in bank.ids { bank.setPresentPosition(id, 2148 + 100 * Int32(id - 1)) }
        let r = bank.handle(bytes: DynamixelEncoder.syncRead(address: 132, length: 4, ids: [5, 2, 7, 3]))
        #expect(r.map(\.id) == [5, 2, 3])
        #expect(r.allSatisfy { $0.returnDelayMicroseconds == 500 })
        #expect(try r.map { try Self.status($0).parameters } == [2548, 2248, 2348].map { T.presentPosition.bytes($0) })
        #expect(bank.handle(bytes: DynamixelEncoder.syncRead(address: 132, length: 4, ids: [1]).unicast(1)).isEmpty)
        // The notes' fake bus reply for id 1.
        #expect(bank.handle(bytes: DynamixelEncoder.syncRead(address: 132, length: 4, ids: [1]))[0].bytes
                == hex("FF FF FD 00 01 08 00 55 00 64 08 00 00 0E E8"))
    }

    @Test func fastSyncReadIsOneCombinedReply() throws {
        var bank = Self.koch()
        for id in bank.ids { bank.setPresentPosition(id, Int32(id) * 1000) }
        let r = bank.handle(bytes: DynamixelEncoder.fastSyncRead(address: 132, length: 4, ids: [6, 1, 4]))
        #expect(r.count == 1 && r[0].id == 0xFE)
        let reply = try DynamixelDecoder.decodeFastSyncReadReply(r[0].bytes, ids: [6, 1, 4], dataLength: 4)
        #expect(reply.blocks.map(\.data) == [6000, 1000, 4000].map { T.presentPosition.bytes($0) })
    }

    @Test func syncWriteBulkReadBulkWrite() throws {
        var bank = Self.koch()
        var packet: [UInt8] = []
        DynamixelEncoder.syncWrite(address: 116, width: 4, ids: [1, 2, 3], values: [100, -200, 300], into: &packet)
        #expect(bank.handle(bytes: packet).isEmpty)
        #expect([1, 2, 3].map { bank.goalPosition($0) } == [100, -200, 300])
        #expect(bank.handle(bytes: DynamixelEncoder.bulkWrite([
            .init(id: 4, address: 65, data: [1]), .init(id: 5, address: 104, data: T.goalVelocity.bytes(-50)),
        ])).isEmpty)
        #expect(bank.value(4, T.led) == 1 && bank.goalVelocity(5) == -50)
        let r = bank.handle(bytes: DynamixelEncoder.bulkRead([
            .init(id: 5, address: 104, length: 4), .init(id: 2, address: 116, length: 4), .init(id: 4, address: 65, length: 1),
        ]))
        #expect(try r.map { try Self.status($0).parameters } == [T.goalVelocity.bytes(-50), T.goalPosition.bytes(-200), [1]])
        let fast = bank.handle(bytes: DynamixelEncoder.fastBulkRead([.init(id: 5, address: 104, length: 4), .init(id: 4, address: 65, length: 1)]))
        let decoded = try DynamixelDecoder.decodeFastReply(fast[0].bytes, ids: [5, 4], lengths: [4, 1])
        #expect(decoded.blocks.map(\.data) == [T.goalVelocity.bytes(-50), [1]])
    }

    @Test func regWriteWaitsForAction() {
        var bank = Self.koch()
        _ = bank.handle(bytes: DynamixelEncoder.regWrite(id: 2, address: 116, data: T.goalPosition.bytes(1234)))
        #expect(bank.goalPosition(2) == 0 && bank.value(2, T.registeredInstruction) == 1)
        #expect(bank.handle(bytes: DynamixelEncoder.action(id: 0xFE)).isEmpty)
        #expect(bank.goalPosition(2) == 1234 && bank.value(2, T.registeredInstruction) == 0)
    }

    @Test func hardwareErrorsSetTheAlertAndRebootClearsThem() throws {
        var bank = Self.koch()
        _ = bank.handle(bytes: DynamixelEncoder.write(id: 3, address: 64, data: [1]))
        _ = bank.handle(bytes: DynamixelEncoder.write(id: 3, address: 116, data: T.goalPosition.bytes(99)))
        bank.injectHardwareError(3, .overload)
        #expect(bank.torqueEnabled(3) == false)  // overload is in the factory Shutdown mask
        let s = try Self.status(bank.handle(bytes: DynamixelEncoder.ping(id: 3))[0])
        #expect(s.error.alert && s.error.succeeded)
        let hw = try Self.status(bank.handle(bytes: DynamixelEncoder.read(id: 3, address: 70, length: 1))[0])
        #expect(DynamixelHardwareError(rawValue: hw.parameters[0]) == .overload)
        bank.injectHardwareError(4, .inputVoltage)  // not in the mask: torque stays as it was
        #expect(bank.hardwareError(4) == .inputVoltage)
        _ = bank.handle(bytes: DynamixelEncoder.reboot(id: 3))
        #expect(bank.hardwareError(3) == [])
        #expect(bank.goalPosition(3) == 0)  // RAM back to factory values
        #expect(bank.value(3, T.baudRate) == 3)  // EEPROM kept
        #expect(try !Self.status(bank.handle(bytes: DynamixelEncoder.ping(id: 3))[0]).error.alert)
    }
}

extension Array where Element == UInt8 {
    /// The packet with its CRC bytes inverted.
    func replacingCRC() -> [UInt8] {
        var p = self
        p[p.count - 1] ^= 0xFF
        return p
    }

    /// The packet re-encoded to `id` (to send a group instruction to one servo).
    func unicast(_ id: UInt8) -> [UInt8] {
        let p = try! DynamixelDecoder.decodeInstruction(self)
        var out: [UInt8] = []
        DynamixelEncoder.instruction(id: id, p.instruction, parameters: p.parameters, into: &out)
        return out
    }
}
