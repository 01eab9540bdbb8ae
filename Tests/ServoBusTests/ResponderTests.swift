import ServoProtocol
import Testing
@testable import ServoBus

/// The adapters between the pure servo banks and the emulator host: framing a byte stream into
/// requests (pieces, several at once, noise) and one response per request.
@Suite struct ResponderTests {
    static func feed<R: BusResponder>(_ r: inout R, _ bytes: [UInt8], at t: UInt64 = 1_000) -> [BusResponse] {
        bytes.withUnsafeBufferPointer { r.receive($0, atNanoseconds: t) }
    }

    static func dynamixel() -> DynamixelResponder {
        DynamixelResponder(bank: DynamixelServoBank([
            .init(id: 1, model: .xl430W250, returnDelayTime: 10), .init(id: 2, model: .xl330M288),
        ]))
    }

    static func feetech() -> FeetechResponder {
        FeetechResponder(bank: FeetechServoBank(ids: [1, 2, 3]))
    }

    static func feetechPacket(_ build: (inout [UInt8]) throws(FeetechEncodeError) -> Void) -> [UInt8] {
        var out: [UInt8] = []
        try! build(&out)
        return out
    }

    @Test func dynamixelPingSplitInPiecesAnswersOnceWithTheModel() {
        var r = Self.dynamixel()
        let ping = DynamixelEncoder.ping(id: 1)
        #expect(ping == [0xFF, 0xFF, 0xFD, 0x00, 0x01, 0x03, 0x00, 0x01, 0x19, 0x4E])
        var responses: [BusResponse] = []
        for b in ping { responses += Self.feed(&r, [b]) }
        #expect(responses.count == 1)
        let reply = responses[0].replies[0]
        #expect(reply.servoID == 1)
        #expect(reply.delaySeconds == 20e-6)  // Return Delay Time 10 × 2 µs
        let status = try! DynamixelDecoder.decodeStatus(reply.bytes)
        #expect(status.id == 1 && status.parameters == [0x24, 0x04, DynamixelModel.xl430W250.emulatedFirmware])
    }

    @Test func dynamixelTwoRequestsAtOnceAfterNoiseGiveTwoResponsesInOrder() {
        var r = Self.dynamixel()
        let noise: [UInt8] = [0x00, 0xFF, 0xFF, 0x13, 0xFD, 0xFF]
        let write = DynamixelEncoder.write(id: 2, address: 116, data: [0x00, 0x04, 0, 0])
        let read = DynamixelEncoder.read(id: 2, address: 116, length: 4)
        let responses = Self.feed(&r, noise + write + read)
        #expect(responses.count == 2)
        #expect(responses[1].replies.count == 1)
        let status = try! DynamixelDecoder.decodeStatus(responses[1].replies[0].bytes)
        #expect(status.parameters == [0x00, 0x04, 0, 0])
        #expect(r.bank.goalPosition(2) == 1024)
    }

    @Test func dynamixelSyncReadAnswersInListOrderAndFastSyncReadAsOneReply() {
        var r = Self.dynamixel()
        let sync = Self.feed(&r, DynamixelEncoder.syncRead(address: 132, length: 4, ids: [2, 1]))
        #expect(sync.count == 1 && sync[0].replies.map(\.servoID) == [2, 1])
        let fast = Self.feed(&r, DynamixelEncoder.fastSyncRead(address: 132, length: 4, ids: [1, 2]))
        #expect(fast.count == 1 && fast[0].replies.count == 1 && fast[0].replies[0].servoID == nil)
    }

    @Test func dynamixelBadCRCIsARequestAnsweredWithACRCError() {
        var r = Self.dynamixel()
        var ping = DynamixelEncoder.ping(id: 1)
        ping[ping.count - 1] ^= 0xFF
        let responses = Self.feed(&r, ping + DynamixelEncoder.ping(id: 2))
        #expect(responses.count == 2)
        let status = try! DynamixelDecoder.decodeStatus(responses[0].replies[0].bytes)
        #expect(status.error.reason == .crcError)
        #expect(responses[1].replies[0].servoID == 2)
    }

    @Test func dynamixelStalePartialPacketIsDroppedAfterTheInterByteTimeout() {
        var r = Self.dynamixel()
        // A header with a large length would wait for 500 bytes that never come.
        #expect(Self.feed(&r, [0xFF, 0xFF, 0xFD, 0x00, 0x01, 0xF4, 0x01, 0x02], at: 1_000).isEmpty)
        let responses = Self.feed(&r, DynamixelEncoder.ping(id: 1), at: 1_000 + 100_000_000)
        #expect(responses.count == 1 && responses[0].replies.count == 1)
    }

    @Test func dynamixelRandomNoiseNeverTrapsAndLeavesTheStreamUsable() {
        var r = Self.dynamixel()
        var rng = SplitMix64(state: 42)
        for k in 0..<2_000 {
            let noise = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = Self.feed(&r, noise, at: UInt64(k) * 1_000_000)
        }
        // After a pause longer than the packet timeout the next ping is answered.
        let responses = Self.feed(&r, DynamixelEncoder.ping(id: 2), at: 10_000_000_000)
        #expect(responses.last?.replies.first?.servoID == 2)
    }

    @Test func feetechPingInPiecesAfterNoiseAnswersOnce() {
        var r = Self.feetech()
        let ping = Self.feetechPacket { (o: inout [UInt8]) throws(FeetechEncodeError) in try FeetechEncoder.ping(id: 1, into: &o) }
        #expect(ping == [0xFF, 0xFF, 0x01, 0x02, 0x01, 0xFB])
        var responses = Self.feed(&r, [0x12, 0xFF, 0x00, 0xFF])
        for b in ping { responses += Self.feed(&r, [b]) }
        #expect(responses.count == 1)
        #expect(responses[0].replies == [BusReply(servoID: 1, delaySeconds: 0, bytes: [0xFF, 0xFF, 0x01, 0x02, 0x00, 0xFC])])
    }

    @Test func feetechTwoRequestsAtOnceAndSyncReadInListOrder() {
        var r = Self.feetech()
        let read = Self.feetechPacket { (o: inout [UInt8]) throws(FeetechEncodeError) in
            try FeetechEncoder.read(id: 1, address: 56, length: 2, into: &o)
        }
        #expect(read == [0xFF, 0xFF, 0x01, 0x04, 0x02, 0x38, 0x02, 0xBE])
        let sync = Self.feetechPacket { (o: inout [UInt8]) throws(FeetechEncodeError) in
            try FeetechEncoder.syncRead(address: 56, length: 2, ids: [3, 1, 2], into: &o)
        }
        let responses = Self.feed(&r, read + sync)
        #expect(responses.count == 2)
        #expect(responses[0].replies.count == 1)
        #expect(responses[1].replies.map(\.servoID) == [3, 1, 2])
    }

    @Test func feetechBadChecksumIsNoiseAndTheNextPacketIsFound() {
        var r = Self.feetech()
        var bad = Self.feetechPacket { (o: inout [UInt8]) throws(FeetechEncodeError) in try FeetechEncoder.ping(id: 2, into: &o) }
        bad[bad.count - 1] ^= 0x55
        let good = Self.feetechPacket { (o: inout [UInt8]) throws(FeetechEncodeError) in try FeetechEncoder.ping(id: 3, into: &o) }
        let responses = Self.feed(&r, bad + good)
        #expect(responses.count == 1 && responses[0].replies.first?.servoID == 3)
    }

    @Test func feetechRandomNoiseNeverTraps() {
        var r = Self.feetech()
        var rng = SplitMix64(state: 7)
        for k in 0..<2_000 {
            let noise = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = Self.feed(&r, noise, at: UInt64(k) * 1_000_000)
        }
        let ping = Self.feetechPacket { (o: inout [UInt8]) throws(FeetechEncodeError) in try FeetechEncoder.ping(id: 1, into: &o) }
        let responses = Self.feed(&r, ping, at: 10_000_000_000)
        #expect(responses.last?.replies.first?.servoID == 1)
    }
}
