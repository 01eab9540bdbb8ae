import ServoProtocol
import Testing

/// "FF FF FD 00" → [0xFF, 0xFF, 0xFD, 0x00] (spaces optional).
func hex(_ s: String) -> [UInt8] {
    let digits = Array(s.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0..<$0 + 2]), radix: 16)! }
}

/// The known-answer vectors of hardware-notes §1.4 and §1.6 (e-Manual, SDK code, SDK wire bytes).
@Suite struct DynamixelVectorTests {
    @Test func crcIsBuypassWithTheSDKTable() {
        #expect(DynamixelCRC.checksum(Array("123456789".utf8)) == 0xFEE8)
        #expect(Array(DynamixelCRC.table.prefix(8)) == [0x0000, 0x8005, 0x800F, 0x000A, 0x801B, 0x001E, 0x0014, 0x8011])
        #expect(DynamixelCRC.table.count == 256)
    }

    @Test func pingPackets() {
        #expect(DynamixelEncoder.ping(id: 1) == hex("FF FF FD 00 01 03 00 01 19 4E"))
        #expect(DynamixelEncoder.ping(id: 0xFE) == hex("FF FF FD 00 FE 03 00 01 31 42"))
    }

    @Test func pingStatusPackets() throws {
        let xm = hex("FF FF FD 00 01 07 00 55 00 06 04 26 65 5D")
        #expect(DynamixelEncoder.status(id: 1, parameters: [0x06, 0x04, 0x26]) == xm)
        let s = try DynamixelDecoder.decodeStatus(xm, expectedID: 1, expectedParameterCount: 3)
        #expect(s.id == 1 && s.error == .none && s.parameters == [0x06, 0x04, 0x26] && s.range == 0..<14)
        let xl = hex("FF FF FD 00 01 07 00 55 00 24 04 34 A1 5F")
        #expect(DynamixelEncoder.status(id: 1, parameters: [0x24, 0x04, 52]) == xl)
    }

    @Test func readAndItsStatus() throws {
        #expect(DynamixelEncoder.read(id: 1, address: 132, length: 4) == hex("FF FF FD 00 01 07 00 02 84 00 04 00 1D 15"))
        let st = hex("FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0")
        #expect(DynamixelEncoder.status(id: 1, parameters: [0xA6, 0, 0, 0]) == st)
        #expect(try DynamixelDecoder.decodeStatus(st, expectedID: 1, expectedParameterCount: 4).parameters == [0xA6, 0, 0, 0])
        let fake = hex("FF FF FD 00 01 08 00 55 00 64 08 00 00 0E E8")
        #expect(DynamixelEncoder.status(id: 1, parameters: DynamixelControlTable.presentPosition.bytes(2148)) == fake)
    }

    @Test func writeAndItsStatus() throws {
        #expect(DynamixelEncoder.write(id: 1, address: 116, data: DynamixelControlTable.goalPosition.bytes(512))
                == hex("FF FF FD 00 01 09 00 03 74 00 00 02 00 00 CA 89"))
        #expect(DynamixelEncoder.write(id: 1, address: 64, data: [1]) == hex("FF FF FD 00 01 06 00 03 40 00 01 DB 66"))
        let ok = hex("FF FF FD 00 01 04 00 55 00 A1 0C")
        #expect(DynamixelEncoder.status(id: 1) == ok)
        let s = try DynamixelDecoder.decodeStatus(ok, expectedID: 1, expectedParameterCount: 0)
        #expect(s.error.succeeded && !s.error.alert)
    }

    @Test func syncReadPackets() {
        #expect(DynamixelEncoder.syncRead(address: 132, length: 4, ids: [1, 2]) == hex("FF FF FD 00 FE 09 00 82 84 00 04 00 01 02 CE FA"))
        #expect(DynamixelEncoder.syncRead(address: 132, length: 4, ids: [1, 2, 3, 4, 5, 6])
                == hex("FF FF FD 00 FE 0D 00 82 84 00 04 00 01 02 03 04 05 06 B2 9B"))
        #expect(DynamixelEncoder.syncRead(address: 128, length: 8, ids: [1, 2, 3, 4, 5, 6])
                == hex("FF FF FD 00 FE 0D 00 82 80 00 08 00 01 02 03 04 05 06 CC DB"))
        #expect(DynamixelEncoder.fastSyncRead(address: 132, length: 4, ids: [1, 2, 3, 4, 5, 6])
                == hex("FF FF FD 00 FE 0D 00 8A 84 00 04 00 01 02 03 04 05 06 B1 B1"))
    }

    @Test func syncWritePacket() {
        let expected = hex("FF FF FD 00 FE 11 00 83 74 00 04 00 01 96 00 00 00 02 AA 00 00 00 82 87")
        #expect(DynamixelEncoder.syncWrite(address: 116, length: 4, ids: [1, 2], data: [0x96, 0, 0, 0, 0xAA, 0, 0, 0]) == expected)
        var out: [UInt8] = []
        DynamixelEncoder.syncWrite(address: 116, width: 4, ids: [1, 2], values: [150, 170], into: &out)
        #expect(out == expected)
    }

    @Test func byteStuffingBothWays() throws {
        let stuffed = hex("FF FF FD 00 01 0A 00 03 74 00 FF FF FD FD 00 21 E7")
        #expect(DynamixelEncoder.write(id: 1, address: 0x74, data: [0xFF, 0xFF, 0xFD, 0x00]) == stuffed)
        let p = try DynamixelDecoder.decodeInstruction(stuffed)
        #expect(p.id == 1 && p.instruction == .write && p.parameters == [0x74, 0x00, 0xFF, 0xFF, 0xFD, 0x00])
        #expect(try DynamixelCommand(p) == .write(address: 0x74, data: [0xFF, 0xFF, 0xFD, 0x00]))
        // The same body in a status packet.
        let st = DynamixelEncoder.status(id: 3, parameters: [0xFF, 0xFF, 0xFD, 0x00])
        #expect(st.count == 16 && st[5] == 9)
        #expect(try DynamixelDecoder.decodeStatus(st).parameters == [0xFF, 0xFF, 0xFD, 0x00])
        // An unstuffed FF FF FD inside a body is refused (the CRC is made valid on purpose).
        var bad = hex("FF FF FD 00 01 09 00 03 74 00 FF FF FD 00")
        let crc = DynamixelCRC.checksum(bad)
        bad += [UInt8(crc & 0xFF), UInt8(crc >> 8)]
        #expect(throws: DynamixelDecodeError.badStuffing(offset: 12)) { try DynamixelDecoder.decodeInstruction(bad) }
    }

    @Test func fastSyncReadReplyOfTheEManual() throws {
        let reply = hex("FF FF FD 00 FE 19 00 55 00 03 A6 00 00 00 84 08 00 07 1F 08 00 00 16 CA 00 04 FF 03 00 00 D1 9E")
        let blocks = [
            DynamixelFastReplyBlock(id: 3, error: .none, data: DynamixelControlTable.presentPosition.bytes(166)),
            DynamixelFastReplyBlock(id: 7, error: .none, data: DynamixelControlTable.presentPosition.bytes(2079)),
            DynamixelFastReplyBlock(id: 4, error: .none, data: DynamixelControlTable.presentPosition.bytes(1023)),
        ]
        // Including the cumulative intermediate CRCs 0x0884 and 0xCA16.
        #expect(DynamixelEncoder.fastReply(blocks) == reply)
        let decoded = try DynamixelDecoder.decodeFastSyncReadReply(reply, ids: [3, 7, 4], dataLength: 4)
        #expect(decoded.blocks == blocks)
        #expect(throws: DynamixelDecodeError.wrongID(expected: 4, received: 7)) {
            try DynamixelDecoder.decodeFastSyncReadReply(reply, ids: [3, 4, 7], dataLength: 4)
        }
        #expect(throws: DynamixelDecodeError.wrongLength(expected: 28, received: 25)) {
            try DynamixelDecoder.decodeFastSyncReadReply(reply, ids: [3, 7, 4], dataLength: 5)
        }
        // A single-status decoder names it.
        #expect(throws: DynamixelDecodeError.combinedFastReply) { try DynamixelDecoder.decodeStatus(reply) }
    }

    @Test func typedErrors() {
        let ok = hex("FF FF FD 00 01 04 00 55 00 A1 0C")
        #expect(throws: DynamixelDecodeError.garbageBeforeHeader(offset: 2)) { try DynamixelDecoder.decodeStatus([0x12, 0x34] + ok) }
        #expect((try? DynamixelDecoder.decodeStatus([0x12, 0x34] + ok, skippingGarbage: true))?.range == 2..<13)
        #expect(throws: DynamixelDecodeError.truncated(needed: 11, available: 10)) { try DynamixelDecoder.decodeStatus(Array(ok.dropLast())) }
        #expect(throws: DynamixelDecodeError.noHeader(discardable: 2)) { try DynamixelDecoder.decodeStatus([1, 2, 0xFF, 0xFF]) }
        #expect(throws: DynamixelDecodeError.noHeader(discardable: 0)) { try DynamixelDecoder.decodeStatus([]) }
        #expect(throws: DynamixelDecodeError.wrongID(expected: 2, received: 1)) { try DynamixelDecoder.decodeStatus(ok, expectedID: 2) }
        #expect(throws: DynamixelDecodeError.wrongLength(expected: 4, received: 0)) {
            try DynamixelDecoder.decodeStatus(ok, expectedParameterCount: 4)
        }
        var flipped = ok
        flipped[8] ^= 0x01
        #expect(throws: DynamixelDecodeError.badCRC(computed: DynamixelCRC.checksum(flipped[..<9]), received: 0x0CA1)) {
            try DynamixelDecoder.decodeStatus(flipped)
        }
        let ping = DynamixelEncoder.ping(id: 1)
        #expect(throws: DynamixelDecodeError.echoedInstruction(.ping)) { try DynamixelDecoder.decodeStatus(ping) }
        // The TX echo followed by the reply: skipping is the caller's choice after the typed error.
        #expect(throws: DynamixelDecodeError.unexpectedStatus) { try DynamixelDecoder.decodeInstruction(ok) }
    }

    @Test func statusErrorAndHardwareErrorNames() {
        let e = DynamixelStatusError(rawValue: 0x87)
        #expect(e.alert && e.reason == .accessError && !e.succeeded)
        #expect(DynamixelStatusError(rawValue: 0x80).succeeded)
        #expect(DynamixelStatusError(.dataRange, alert: true).rawValue == 0x84)
        let reasons: [DynamixelStatusError.Reason] = [.resultFail, .instructionError, .crcError, .dataRange, .dataLength, .dataLimit, .accessError]
        #expect(reasons.map(\.rawValue) == [1, 2, 3, 4, 5, 6, 7])
        #expect(DynamixelHardwareError.factoryShutdown.rawValue == 52)
        let h = DynamixelHardwareError(rawValue: 0b0011_1101)
        #expect(h == [.inputVoltage, .overheating, .encoder, .electricalShock, .overload])
        #expect(DynamixelHardwareError.overload.description == "overload")
    }

    @Test func controlTable() {
        #expect(DynamixelControlTable.item(named: "goal_position")?.address == 116)
        #expect(DynamixelControlTable.item(named: "Goal_Current", model: .xl430W250) == nil)
        #expect(DynamixelControlTable.item(named: "Goal_Current", model: .xl330M288)?.address == 102)
        #expect(DynamixelControlTable.torqueEnable.area == .ram && DynamixelControlTable.operatingMode.area == .eeprom)
        #expect(DynamixelControlTable.presentPosition.access == .read)
        #expect(DynamixelModel(rawValue: 1060) == .xl430W250 && DynamixelModel.xl330M077.rawValue == 1190)
        #expect(DynamixelControlTable.presentPosition.value(in: Array(repeating: 0xFF, count: 256)) == -1)
        // Items do not overlap.
        for model in DynamixelModel.allCases {
            let items = DynamixelControlTable.items(for: model).sorted { $0.address < $1.address }
            for (a, b) in zip(items, items.dropFirst()) { #expect(Int(a.address) + a.size <= Int(b.address), "\(a) overlaps \(b)") }
        }
    }
}
