import ServoProtocol
import Testing

/// Hex string ("FF FF 01 …") to bytes.
func feetechHex(_ s: String) -> [UInt8] { s.split(separator: " ").map { UInt8($0, radix: 16)! } }

/// The known-answer vectors of hardware-notes §2.5: bytes the Feetech SDK put on the wire.
@Suite struct FeetechKnownAnswerTests {
    @Test func ping() throws {
        #expect(try FeetechEncoder.ping(id: 1) == feetechHex("FF FF 01 02 01 FB"))
        let reply = feetechHex("FF FF 01 02 00 FC")
        #expect(try FeetechEncoder.status(id: 1, error: 0, parameters: []) == reply)
        let status = try FeetechDecoder.decodeStatus(reply, expectedID: 1, expectedParameterCount: 0).get()
        #expect(status.id == 1 && status.error.isEmpty && status.parameters.isEmpty && status.frameLength == 6)
    }

    @Test func readModelNumber() throws {
        #expect(try FeetechEncoder.read(id: 1, address: 3, length: 2) == feetechHex("FF FF 01 04 02 03 02 F3"))
        let reply = feetechHex("FF FF 01 04 00 09 03 EE")
        let status = try FeetechDecoder.decodeStatus(reply, expectedID: 1, expectedParameterCount: 2).get()
        #expect(FeetechSeries.sts.value(status.parameters) == 777)
        #expect(try FeetechEncoder.status(id: 1, error: 0, parameters: [0x09, 0x03]) == reply)
    }

    @Test func readPresentPosition() throws {
        #expect(try FeetechEncoder.read(id: 1, address: STS3215.presentPosition.address, length: 2)
            == feetechHex("FF FF 01 04 02 38 02 BE"))
        let reply = feetechHex("FF FF 01 04 00 00 08 F2")
        let status = try FeetechDecoder.decodeStatus(reply, expectedID: 1, expectedParameterCount: 2).get()
        #expect(STS3215.presentPosition.value(fromRaw: FeetechSeries.sts.value(status.parameters)!) == 2048)
    }

    @Test func writeTorqueEnable() throws {
        #expect(try FeetechEncoder.write(id: 1, address: STS3215.torqueEnable.address, data: [1])
            == feetechHex("FF FF 01 04 03 28 01 CE"))
    }

    @Test func writeGoalPosition() throws {
        var data: [UInt8] = []
        FeetechSeries.sts.append(STS3215.goalPosition.raw(fromValue: 2048)!, size: 2, to: &data)
        #expect(try FeetechEncoder.write(id: 1, address: 42, data: data) == feetechHex("FF FF 01 05 03 2A 00 08 C4"))
    }

    @Test func syncRead() throws {
        #expect(try FeetechEncoder.syncRead(address: 56, length: 2, ids: [1, 2, 3, 4, 5, 6])
            == feetechHex("FF FF FE 0A 82 38 02 01 02 03 04 05 06 26"))
        #expect(try FeetechEncoder.syncRead(address: 56, length: 4, ids: [1, 2, 3, 4, 5, 6])
            == feetechHex("FF FF FE 0A 82 38 04 01 02 03 04 05 06 24"))
    }

    @Test func syncWrite() throws {
        #expect(try FeetechEncoder.syncWrite(address: 42, length: 2, ids: [1, 2], data: [0x00, 0x08, 0x00, 0x04])
            == feetechHex("FF FF FE 0A 83 2A 02 01 00 08 02 00 04 39"))
        var data: [UInt8] = []
        for v in 1001...1006 { FeetechSeries.sts.append(UInt32(v), size: 2, to: &data) }
        #expect(try FeetechEncoder.syncWrite(address: 42, length: 2, ids: Array(1...6), data: data)
            == feetechHex("FF FF FE 16 83 2A 02 01 E9 03 02 EA 03 03 EB 03 04 EC 03 05 ED 03 06 EE 03 90"))
    }

    @Test func everyVectorChecksums() {
        let vectors = [
            "FF FF 01 02 01 FB", "FF FF 01 02 00 FC", "FF FF 01 04 02 03 02 F3", "FF FF 01 04 00 09 03 EE",
            "FF FF 01 04 02 38 02 BE", "FF FF 01 04 00 00 08 F2", "FF FF 01 04 03 28 01 CE",
            "FF FF 01 05 03 2A 00 08 C4", "FF FF FE 0A 82 38 02 01 02 03 04 05 06 26",
            "FF FF FE 0A 82 38 04 01 02 03 04 05 06 24", "FF FF FE 0A 83 2A 02 01 00 08 02 00 04 39",
        ]
        for v in vectors.map(feetechHex) {
            #expect(FeetechPacket.checksum(v[2..<(v.count - 1)]) == v.last!)
        }
    }
}

@Suite struct FeetechEncodingTests {
    @Test func byteOrderIsLittleForSTSAndBigForSCS() {
        #expect(FeetechSeries.sts.bytes(of: 0x0309) == (0x09, 0x03))
        #expect(FeetechSeries.scs.bytes(of: 0x0309) == (0x03, 0x09))
        #expect(FeetechSeries.sts.word(0x09, 0x03) == 777)
        #expect(FeetechSeries.scs.word(0x03, 0x09) == 777)
        var b: [UInt8] = []
        FeetechSeries.scs.append(0x1234_5678, size: 4, to: &b)
        #expect(b == [0x56, 0x78, 0x12, 0x34])
        #expect(FeetechSeries.scs.value(b) == 0x1234_5678)
        #expect(FeetechSeries.sts.value([1, 2, 3]) == nil)
    }

    @Test func signMagnitudeMatchesTheSDK() {
        // SCS_TOSCS(-100, 15) = 100 | 0x8000; SCS_TOHOST inverts it.
        #expect(FeetechSignMagnitude.encode(-100, signBit: 15) == 0x8064)
        #expect(FeetechSignMagnitude.encode(100, signBit: 15) == 100)
        #expect(FeetechSignMagnitude.decode(0x8064, signBit: 15) == -100)
        #expect(FeetechSignMagnitude.encode(-5, signBit: 10) == 0x0405)
        #expect(FeetechSignMagnitude.decode(0x0405, signBit: 10) == -5)
        #expect(FeetechSignMagnitude.encode(-2047, signBit: 11) == 0x0FFF)
        #expect(FeetechSignMagnitude.encode(2048, signBit: 11) == nil)
        #expect(FeetechSignMagnitude.decode(0x8000, signBit: 15) == 0)
        for bit in [10, 11, 15] {
            for v in -((1 << bit) - 1)..<(1 << bit) where v % 7 == 0 {
                #expect(FeetechSignMagnitude.decode(FeetechSignMagnitude.encode(v, signBit: bit)!, signBit: bit) == v)
            }
        }
        #expect(STS3215.presentLoad.value(fromRaw: 0x0405) == -5)
        #expect(STS3215.homingOffset.raw(fromValue: -1) == 0x0801)
        #expect(STS3215.presentVoltage.raw(fromValue: 256) == nil)
    }

    @Test func encoderRefusesWhatTheWireCannotCarry() throws {
        #expect(throws: FeetechEncodeError.invalidID(0xFF, instruction: .ping)) { try FeetechEncoder.ping(id: 0xFF) }
        #expect(throws: FeetechEncodeError.invalidID(0xFE, instruction: .read)) {
            try FeetechEncoder.read(id: 0xFE, address: 0, length: 1)
        }
        #expect(throws: FeetechEncodeError.empty(instruction: .syncRead)) {
            try FeetechEncoder.syncRead(address: 56, length: 2, ids: [UInt8]())
        }
        #expect(throws: FeetechEncodeError.dataCountMismatch(expected: 4, got: 3)) {
            try FeetechEncoder.syncWrite(address: 42, length: 2, ids: [1, 2], data: [1, 2, 3])
        }
        #expect(throws: FeetechEncodeError.tooLong(instruction: .write, parameterCount: 245)) {
            try FeetechEncoder.write(id: 1, address: 0, data: [UInt8](repeating: 0, count: 244))
        }
        #expect(throws: FeetechEncodeError.tooLong(instruction: .syncWrite, parameterCount: 245)) {
            try FeetechEncoder.syncWrite(address: 0, length: 2, ids: [UInt8](repeating: 1, count: 81),
                                         data: [UInt8](repeating: 0, count: 162))
        }
        // The longest packets fit exactly in 250 bytes.
        #expect(try FeetechEncoder.write(id: 1, address: 0, data: [UInt8](repeating: 0, count: 243)).count == 250)
        let e = FeetechEncodeError.invalidID(0xFF, instruction: .ping)
        #expect(e.description.contains("255") && e.description.contains("PING"))
    }

    @Test func encodersRoundTripThroughTheInstructionDecoder() throws {
        let cases: [([UInt8], FeetechCommand)] = [
            (try FeetechEncoder.ping(id: 7), .ping(id: 7)),
            (try FeetechEncoder.ping(id: 0xFE), .ping(id: 0xFE)),
            (try FeetechEncoder.read(id: 3, address: 56, length: 8), .read(id: 3, address: 56, length: 8)),
            (try FeetechEncoder.write(id: 2, address: 42, data: [1, 2]), .write(id: 2, address: 42, data: [1, 2])),
            (try FeetechEncoder.regWrite(id: 2, address: 42, data: [9]), .regWrite(id: 2, address: 42, data: [9])),
            (try FeetechEncoder.action(), .action(id: 0xFE)),
            (try FeetechEncoder.syncRead(address: 56, length: 8, ids: [6, 1, 3]),
             .syncRead(address: 56, length: 8, ids: [6, 1, 3])),
            (try FeetechEncoder.syncWrite(address: 42, length: 2, ids: [1, 2, 3], data: [1, 2, 3, 4, 5, 6]),
             .syncWrite(address: 42, length: 2, ids: [1, 2, 3], data: [1, 2, 3, 4, 5, 6])),
        ]
        for (bytes, command) in cases {
            #expect(FeetechDecoder.decodeInstruction(bytes) == .success(command))
        }
    }

    @Test func bufferFormsReuseTheBuffer() throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(64)
        let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
        let data = [UInt8](repeating: 7, count: 12)
        try FeetechEncoder.syncWrite(address: 42, length: 2, ids: ids, data: data, into: &buffer)
        let base = buffer.withUnsafeBufferPointer { $0.baseAddress }
        try FeetechEncoder.syncRead(address: 56, length: 8, ids: ids, into: &buffer)
        #expect(buffer == (try FeetechEncoder.syncRead(address: 56, length: 8, ids: ids)))
        try FeetechEncoder.syncWrite(address: 42, length: 2, ids: ids, data: data, into: &buffer)
        #expect(buffer.withUnsafeBufferPointer { $0.baseAddress } == base)
    }
}

@Suite struct FeetechDecoderTests {
    let reply = feetechHex("FF FF 01 04 00 00 08 F2")

    @Test func namesEachWayAReplyCanBeWrong() {
        func decode(_ b: [UInt8], id: UInt8? = 1, count: Int? = 2, sent: [UInt8]? = nil) -> FeetechDecodeError? {
            if case let .failure(e) = FeetechDecoder.decodeStatus(b, expectedID: id, expectedParameterCount: count, sent: sent) { return e }
            return nil
        }
        #expect(decode([]) == .truncated(needed: 6, have: 0))
        #expect(decode([0x12, 0xFF]) == .badHeader(offset: 0, byte: 0x12))
        #expect(decode([0xFF, 0x00]) == .badHeader(offset: 1, byte: 0x00))
        #expect(decode(Array(reply.prefix(5))) == .truncated(needed: 8, have: 5))
        #expect(decode(Array(reply.prefix(3))) == .truncated(needed: 6, have: 3))
        #expect(decode(feetechHex("FF FF 01 01 00 FD")) == .badLength(1))
        #expect(decode(feetechHex("FF FF 01 F7 00")) == .badLength(0xF7))
        var flipped = reply; flipped[5] ^= 0x01
        #expect(decode(flipped) == .badChecksum(expected: 0xF1, got: 0xF2))
        #expect(decode(reply, id: 2) == .wrongID(expected: 2, got: 1))
        #expect(decode(reply, count: 4) == .wrongLength(expected: 4, got: 2))
        let ping = feetechHex("FF FF 01 02 01 FB")
        #expect(decode(ping, count: 0, sent: ping) == .echoedInstruction(.ping))
        // Without knowing what was sent, an echoed PING looks like a reply with a voltage error
        // (hardware-notes §5 pitfall 5); sync instructions give themselves away.
        #expect(FeetechDecoder.decodeStatus(ping).map(\.error) == .success(.voltage))
        let sync = feetechHex("FF FF FE 0A 82 38 02 01 02 03 04 05 06 26")
        #expect(decode(sync, id: nil, count: nil) == .echoedInstruction(.syncRead))
        let write = feetechHex("FF FF 01 04 03 28 01 CE")
        #expect(decode(write, count: nil, sent: write) == .echoedInstruction(.write))
        let broadcastWrite = try! FeetechEncoder.write(id: 0xFE, address: 40, data: [0])
        #expect(decode(broadcastWrite, id: nil, count: nil) == .echoedInstruction(.write))
        let highError = try! FeetechEncoder.status(id: 1, error: 0x90, parameters: [])
        #expect(decode(highError, count: 0) == .invalidErrorByte(0x90))
    }

    @Test func decodesAtTheStartAndReportsTheFrameLength() throws {
        let two = reply + feetechHex("FF FF 02 04 00 00 04 F5")
        let first = try FeetechDecoder.decodeStatus(two).get()
        #expect(first.frameLength == 8)
        let second = try FeetechDecoder.decodeStatus(two[first.frameLength...], expectedID: 2).get()
        #expect(second.parameters == [0x00, 0x04])
        #expect(FeetechDecoder.headerOffset(in: [0x00, 0xFF, 0x12, 0xFF, 0xFF, 0x01]) == 3)
        #expect(FeetechDecoder.headerOffset(in: [0xFF]) == nil)
    }

    @Test func errorByteNamesItsReasons() throws {
        let status = try FeetechDecoder.decodeStatus(try FeetechEncoder.status(id: 3, error: 0x25, parameters: [])).get()
        #expect(status.error == [.voltage, .overheat, .overload])
        #expect(status.error.reasons == ["input voltage", "overheating", "overload"])
        #expect(FeetechStatusError(rawValue: 0x1A).reasons == ["angle sensor", "overcurrent", "bit 4"])
        #expect(FeetechStatusError().description == "no error")
    }

    @Test func instructionDecoderNamesBadParameters() {
        func decode(_ b: [UInt8]) -> FeetechDecodeError? {
            if case let .failure(e) = FeetechDecoder.decodeInstruction(b) { return e }
            return nil
        }
        func framed(_ id: UInt8, _ body: [UInt8]) -> [UInt8] {
            var b: [UInt8] = [0xFF, 0xFF, id, UInt8(body.count + 1)] + body
            b.append(FeetechPacket.checksum(b[2...]))
            return b
        }
        #expect(decode(framed(1, [0x02, 56])) == .badParameters(.read, count: 1))
        #expect(decode(framed(1, [0x02, 56, 0])) == .badParameters(.read, count: 2))
        #expect(decode(framed(0xFE, [0x02, 56, 2])) == .invalidID(0xFE))
        #expect(decode(framed(0xFF, [0x01])) == .invalidID(0xFF))
        #expect(decode(framed(1, [0x01, 0])) == .badParameters(.ping, count: 1))
        #expect(decode(framed(1, [0x03, 40])) == .badParameters(.write, count: 1))
        #expect(decode(framed(1, [0x82, 56, 2, 1])) == .invalidID(1))
        #expect(decode(framed(0xFE, [0x83, 42, 2, 1, 0])) == .badParameters(.syncWrite, count: 4))
        #expect(decode(framed(0xFE, [0x83, 42, 0])) == .badParameters(.syncWrite, count: 2))
        #expect(decode(framed(0xFE, [0x82, 56, 2, 0xFE])) == .badParameters(.syncRead, count: 3))
        #expect(decode(framed(1, [0x00])) == .unknownInstruction(0x00))
        #expect(decode(framed(1, [0x07])) == .unknownInstruction(0x07))
        #expect(FeetechDecodeError.unknownInstruction(7).description.contains("0x07"))
    }
}
