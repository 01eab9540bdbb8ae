import ServoProtocol
import Testing

@Suite struct FeetechServoBankTests {
    func status(_ reply: FeetechReply, count: Int? = nil) throws -> FeetechStatus {
        try FeetechDecoder.decodeStatus(reply.bytes, expectedID: reply.id, expectedParameterCount: count).get()
    }

    func write(_ bank: inout FeetechServoBank, _ id: UInt8, _ item: FeetechItem, _ value: Int) throws -> [FeetechReply] {
        var data: [UInt8] = []
        STS3215.series.append(item.raw(fromValue: value)!, size: item.size, to: &data)
        return bank.handle(packet: try FeetechEncoder.write(id: id, address: item.address, data: data))
    }

    @Test func answersThePingAndModelReadLikeTheNotesVectors() throws {
        var bank = FeetechServoBank(ids: 1...6)
        #expect(bank.handle(packet: feetechHex("FF FF 01 02 01 FB")).map(\.bytes) == [feetechHex("FF FF 01 02 00 FC")])
        #expect(bank.handle(packet: feetechHex("FF FF 01 04 02 03 02 F3")).map(\.bytes) == [feetechHex("FF FF 01 04 00 09 03 EE")])
        #expect(bank.handle(packet: feetechHex("FF FF 01 04 02 38 02 BE")).map(\.bytes) == [feetechHex("FF FF 01 04 00 00 08 F2")])
        #expect(bank.handle(packet: try FeetechEncoder.ping(id: 9)).isEmpty)
        #expect(bank.handle(packet: try FeetechEncoder.ping(id: FeetechPacket.broadcastID)).map(\.id) == [1, 2, 3, 4, 5, 6])
        var corrupt = feetechHex("FF FF 01 02 01 FB"); corrupt[5] = 0xFA
        #expect(bank.handle(packet: corrupt).isEmpty)
        #expect(bank.value(STS3215.model, id: 3) == 777 && bank.value(STS3215.firmwareMajor, id: 3) == 3)
    }

    @Test func syncReadRepliesInListOrderWithEachReturnDelay() throws {
        var bank = FeetechServoBank(ids: 1...6)
        for id in UInt8(1)...6 { bank.setPresentPosition(1000 + Int(id), id: id) }
        bank.setPresentPosition(-1234, id: 4)
        let unlock = try write(&bank, 5, STS3215.lock, 0)
        #expect(unlock.count == 1)
        _ = try write(&bank, 5, STS3215.returnDelayTime, 25)
        #expect(bank.returnDelayMicroseconds(id: 5) == 50)
        let replies = bank.handle(packet: try FeetechEncoder.syncRead(address: 56, length: 2, ids: [6, 4, 9, 5, 1]))
        #expect(replies.map(\.id) == [6, 4, 5, 1])
        #expect(replies.map(\.returnDelayMicroseconds) == [0, 0, 50, 0])
        let positions = try replies.map { STS3215.presentPosition.value(fromRaw: STS3215.series.value(try status($0, count: 2).parameters)!) }
        #expect(positions == [1006, -1234, 1005, 1001])
        // The bytes of -1234: sign bit 15 over magnitude 1234 = 0x04D2, little-endian.
        #expect(try status(replies[1]).parameters == [0xD2, 0x84])
    }

    @Test func syncWriteSetsSignedGoalsAndIsNotAnswered() throws {
        var bank = FeetechServoBank(ids: 1...3)
        var data: [UInt8] = []
        for v in [100, -300, 4095] { STS3215.series.append(STS3215.goalPosition.raw(fromValue: v)!, size: 2, to: &data) }
        #expect(bank.handle(packet: try FeetechEncoder.syncWrite(address: 42, length: 2, ids: [1, 2, 3], data: data)).isEmpty)
        #expect((1...3).map { bank.goalPosition(id: $0) } == [100, -300, 4095])
        _ = try write(&bank, 2, STS3215.goalVelocity, -50)
        _ = try write(&bank, 2, STS3215.acceleration, 254)
        #expect(bank.goalVelocity(id: 2) == -50 && bank.acceleration(id: 2) == 254)
    }

    @Test func eepromRefusesWritesWhileLockedOrTorqueIsOn() throws {
        var bank = FeetechServoBank(ids: [1])
        // Locked at power-on: the ID does not change, the reply still comes.
        #expect(try write(&bank, 1, STS3215.maxPositionLimit, 3000).count == 1)
        #expect(bank.value(STS3215.maxPositionLimit, id: 1) == 4095)
        _ = try write(&bank, 1, STS3215.lock, 0)
        _ = try write(&bank, 1, STS3215.torqueEnable, 1)
        _ = try write(&bank, 1, STS3215.maxPositionLimit, 3000)
        #expect(bank.value(STS3215.maxPositionLimit, id: 1) == 4095)
        #expect(bank.torqueEnabled(id: 1) == true)
        _ = try write(&bank, 1, STS3215.torqueEnable, 0)
        _ = try write(&bank, 1, STS3215.maxPositionLimit, 3000)
        _ = try write(&bank, 1, STS3215.homingOffset, -100)
        #expect(bank.value(STS3215.maxPositionLimit, id: 1) == 3000)
        #expect(bank.homingOffset(id: 1) == -100)
        // Read-only items ignore writes from the bus.
        _ = try write(&bank, 1, STS3215.presentPosition, 5)
        _ = bank.handle(packet: try FeetechEncoder.write(id: 1, address: 3, data: [0, 0]))
        #expect(bank.value(STS3215.presentPosition, id: 1) == 2048 && bank.value(STS3215.model, id: 1) == 777)
        // A new ID: the reply comes from the old one, then the servo answers to the new one.
        let replies = try write(&bank, 1, STS3215.id, 7)
        #expect(replies.map(\.id) == [1] && bank.ids == [7])
        #expect(bank.handle(packet: try FeetechEncoder.ping(id: 7)).count == 1)
        #expect(bank.handle(packet: try FeetechEncoder.ping(id: 1)).isEmpty)
    }

    @Test func statusReturnLevelZeroAnswersOnlyPingAndReads() throws {
        var bank = FeetechServoBank(ids: [1, 2], eepromLocked: false)
        #expect(try write(&bank, 1, STS3215.responseStatusLevel, 0).count == 1)
        #expect(try write(&bank, 1, STS3215.torqueEnable, 1).isEmpty)
        #expect(bank.torqueEnabled(id: 1) == true)
        #expect(bank.handle(packet: try FeetechEncoder.regWrite(id: 1, address: 42, data: [0x10, 0x00])).isEmpty)
        #expect(bank.goalPosition(id: 1) == 2048)
        #expect(bank.handle(packet: try FeetechEncoder.action()).isEmpty)
        #expect(bank.goalPosition(id: 1) == 16)
        #expect(bank.handle(packet: try FeetechEncoder.ping(id: 1)).count == 1)
        #expect(bank.handle(packet: try FeetechEncoder.read(id: 1, address: 40, length: 1)).count == 1)
        #expect(bank.handle(packet: try FeetechEncoder.syncRead(address: 56, length: 2, ids: [1, 2])).count == 2)
        // Broadcast writes are never answered.
        #expect(bank.handle(packet: try FeetechEncoder.write(id: 0xFE, address: 40, data: [0])).isEmpty)
        #expect(bank.torqueEnabled(id: 1) == false && bank.torqueEnabled(id: 2) == false)
        #expect(try write(&bank, 2, STS3215.torqueEnable, 1).count == 1)
    }

    @Test func injectedFaultsAppearInEveryReplyAndRegister65() throws {
        var bank = FeetechServoBank(ids: 1...2)
        let known = bank.setFaults([.overload, .overheat], id: 2), unknown = bank.setFaults(.voltage, id: 9)
        #expect(known && !unknown)
        let replies = bank.handle(packet: try FeetechEncoder.syncRead(address: 56, length: 8, ids: [1, 2]))
        #expect(try replies.map { try status($0, count: 8).error } == [[], [.overload, .overheat]])
        #expect(bank.value(STS3215.status, id: 2) == 0x24)
        bank.setFaults([], id: 2)
        #expect(try status(bank.handle(packet: try FeetechEncoder.ping(id: 2))[0]).error == [])
    }

    @Test func hostSettersClampAndUseTheSignConventions() throws {
        var bank = FeetechServoBank(ids: [1])
        bank.setPresentLoad(-250, id: 1)
        bank.setPresentVelocity(-40, id: 1)
        bank.setPresentVoltage(121, id: 1)
        bank.setPresentTemperature(300, id: 1)
        let reply = bank.handle(packet: try FeetechEncoder.read(id: 1, address: 56, length: 8))
        let p = try status(reply[0], count: 8).parameters
        #expect(STS3215.presentVelocity.value(fromRaw: STS3215.series.value(p[2..<4])!) == -40)
        let load = STS3215.series.value(p[4..<6])
        #expect(load == UInt32(0x0400 | 250))
        #expect(p[6] == 121 && p[7] == 255)
        #expect(bank.value(STS3215.presentLoad, id: 1) == -250)
        bank.setPresentLoad(5000, id: 1)
        #expect(bank.value(STS3215.presentLoad, id: 1) == 1023)
        // Reads past the address space are zeros; a read longer than a packet is cut to fit.
        let far = bank.handle(packet: try FeetechEncoder.read(id: 1, address: 250, length: 10))
        #expect(try status(far[0]).parameters == [UInt8](repeating: 0, count: 10))
        let long = bank.handle(packet: try FeetechEncoder.read(id: 1, address: 0, length: 255))
        #expect(try status(long[0]).parameters.count == FeetechPacket.maxParameterCount)
    }

    @Test func tableLooksUpByNameAndAddress() {
        #expect(STS3215.item(named: "goal_position") == STS3215.goalPosition)
        #expect(FeetechModel.name(STS3215.modelNumber) == "STS3215" && FeetechModel.name(1) == "model 1")
        #expect(STS3215.item(named: "nope") == nil)
        #expect(STS3215.item(at: 43) == STS3215.goalPosition)
        #expect(STS3215.item(at: 50) == nil)
        #expect(STS3215.items.filter { $0.storage == .eeprom }.allSatisfy { $0.address < STS3215.firstRAMAddress })
        #expect(STS3215.items.filter { $0.storage == .ram }.allSatisfy { $0.address >= STS3215.firstRAMAddress })
        // No two items overlap.
        for (a, b) in zip(STS3215.items, STS3215.items.dropFirst()) {
            #expect(Int(a.address) + a.size <= Int(b.address), "\(a.name) overlaps \(b.name)")
        }
    }
}
