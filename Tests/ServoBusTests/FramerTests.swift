import AllocationCounter
import ServoProtocol
import Testing
@testable import ServoBus

/// The reply framers against the notes' known-answer vectors and hostile bytes.
@Suite struct FramerTests {
    static func hex(_ s: String) -> [UInt8] { s.split(separator: " ").map { UInt8($0, radix: 16)! } }

    static func frame<F: ReplyFramer>(_ framer: inout F, _ bytes: [UInt8]) -> FrameResult {
        bytes.withUnsafeBufferPointer { framer.frame($0) }
    }

    /// Frames a whole stream the way the transactor does; returns (id, length) of every reply.
    static func frameAll<F: ReplyFramer>(_ framer: inout F, _ bytes: [UInt8]) -> [(UInt8, Int)] {
        var out: [(UInt8, Int)] = []
        var start = 0
        while start < bytes.count {
            let r = Array(bytes[start...]).withUnsafeBufferPointer { framer.frame($0) }
            switch r {
            case .needMore: return out
            case let .garbage(skip):
                #expect(skip >= 1)
                start += skip
            case let .complete(length, id):
                #expect(length > 0 && length <= bytes.count - start)
                out.append((id, length))
                start += length
            }
        }
        return out
    }

    // MARK: Dynamixel

    @Test func dynamixelKnownAnswerStatusPacketsAreComplete() {
        var f = DynamixelFramer()
        for (s, id) in [("FF FF FD 00 01 07 00 55 00 06 04 26 65 5D", UInt8(1)),
                        ("FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0", 1),
                        ("FF FF FD 00 01 04 00 55 00 A1 0C", 1),
                        ("FF FF FD 00 01 08 00 55 00 64 08 00 00 0E E8", 1)] {
            let b = Self.hex(s)
            #expect(Self.frame(&f, b) == .complete(length: b.count, id: id))
        }
    }

    @Test func dynamixelFastSyncReadReplyIsOnePacketFromBroadcast() {
        var f = DynamixelFramer()
        let b = Self.hex("FF FF FD 00 FE 19 00 55 00 03 A6 00 00 00 84 08 00 07 1F 08 00 00 16 CA 00 04 FF 03 00 00 D1 9E")
        #expect(Self.frame(&f, b) == .complete(length: b.count, id: 0xFE))
    }

    @Test func dynamixelPrefixesNeedMoreAndBadPacketsAreGarbage() {
        var f = DynamixelFramer()
        let b = Self.hex("FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0")
        for n in 1..<b.count { #expect(Self.frame(&f, Array(b[0..<n])) == .needMore, "prefix \(n)") }
        var bad = b
        bad[bad.count - 1] ^= 1
        #expect(Self.frame(&f, bad) == .garbage(skip: 1))
        // An echoed instruction (READ id1 Present_Position) is not a reply.
        #expect(Self.frame(&f, Self.hex("FF FF FD 00 01 07 00 02 84 00 04 00 1D 15")) == .garbage(skip: 1))
        // Noise up to the next FF is skipped at once; a bogus reserved byte or id after FF FF FD is garbage.
        #expect(Self.frame(&f, Self.hex("12 34 56 FF FF")) == .garbage(skip: 3))
        #expect(Self.frame(&f, Self.hex("FF FF FD 01 01")) == .garbage(skip: 1))
        #expect(Self.frame(&f, Self.hex("FF FF FD 00 FD")) == .garbage(skip: 1))
        // A LEN no status can have.
        #expect(Self.frame(&f, Self.hex("FF FF FD 00 01 02 00 55")) == .garbage(skip: 1))
        #expect(Self.frame(&f, Self.hex("FF FF FD 00 01 FF FF 55")) == .garbage(skip: 1))
    }

    @Test func dynamixelStreamWithNoiseEchoAndStuffingYieldsTheReplies() {
        var f = DynamixelFramer()
        let echo = DynamixelEncoder.read(id: 1, address: 132, length: 4)
        let r1 = DynamixelEncoder.status(id: 1, parameters: [0xFF, 0xFF, 0xFD, 0x00])  // stuffed inside
        let r2 = DynamixelEncoder.status(id: 2, error: DynamixelStatusError(.accessError), parameters: [])
        let stream = [0x00, 0xFF, 0x13] + echo + r1 + [0xFF, 0xFF, 0xFD] + r2
        let got = Self.frameAll(&f, stream)
        #expect(got.map(\.0) == [1, 2])
        #expect(got.map(\.1) == [r1.count, r2.count])
    }

    @Test func dynamixelRandomBytesNeverTrapAndNeverOverrun() {
        var f = DynamixelFramer()
        var rng = SplitMix64(state: 14)
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 40)
            var b: [UInt8] = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if n > 8 && rng.next() % 2 == 0 { b.replaceSubrange(0..<4, with: [0xFF, 0xFF, 0xFD, 0x00]) }
            switch Self.frame(&f, b) {
            case .needMore: break
            case let .garbage(skip): #expect(skip >= 1 && skip <= max(1, b.count))
            case let .complete(length, _): #expect(length <= b.count)
            }
        }
    }

    // MARK: Feetech

    @Test func feetechKnownAnswerRepliesAreComplete() {
        var f = FeetechFramer()
        for s in ["FF FF 01 02 00 FC", "FF FF 01 04 00 09 03 EE", "FF FF 01 04 00 00 08 F2"] {
            let b = Self.hex(s)
            #expect(Self.frame(&f, b) == .complete(length: b.count, id: 1))
        }
    }

    @Test func feetechPrefixesNeedMoreAndBadPacketsAreGarbage() {
        var f = FeetechFramer()
        let b = Self.hex("FF FF 01 04 00 09 03 EE")
        for n in 1..<b.count { #expect(Self.frame(&f, Array(b[0..<n])) == .needMore, "prefix \(n)") }
        var bad = b
        bad[7] ^= 0x40
        #expect(Self.frame(&f, bad) == .garbage(skip: 1))
        // Broadcast instructions (sync read/write) are echoes, never replies.
        #expect(Self.frame(&f, Self.hex("FF FF FE 0A 82 38 02 01 02 03 04 05 06 26")) == .garbage(skip: 1))
        // ERR byte above 0x7F, LEN below 2, id 0xFF.
        #expect(Self.frame(&f, Self.hex("FF FF 01 02 83")) == .garbage(skip: 1))
        #expect(Self.frame(&f, Self.hex("FF FF 01 01")) == .garbage(skip: 1))
        #expect(Self.frame(&f, Self.hex("FF FF FF 01 02 00 FC")) == .garbage(skip: 1))
        #expect(Self.frame(&f, Self.hex("01 02 FF")) == .garbage(skip: 2))
    }

    @Test func feetechStreamWithNoiseYieldsTheRepliesInOrder() {
        var f = FeetechFramer()
        let replies = (1...6).map { try! FeetechEncoder.status(id: UInt8($0), error: 0, parameters: [UInt8($0), 8]) }
        let stream = [0x42, 0xFF] + Array(Self.hex("FF FF FE 0A 82 38 02 01 02 03 04 05 06 26")) + replies.joined()
        let got = Self.frameAll(&f, Array(stream))
        #expect(got.map(\.0) == [1, 2, 3, 4, 5, 6])
    }

    @Test func framingAllocatesNothing() {
        var d = DynamixelFramer()
        var fe = FeetechFramer()
        let db = Self.hex("FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0")
        let fast = Self.hex("FF FF FD 00 FE 19 00 55 00 03 A6 00 00 00 84 08 00 07 1F 08 00 00 16 CA 00 04 FF 03 00 00 D1 9E")
        let fb = Self.hex("FF FF 01 04 00 09 03 EE")
        var complete = 0
        // Warm-up: the CRC table is a lazily initialised global.
        _ = db.withUnsafeBufferPointer { d.frame($0) }
        AllocationCounter_start()
        for _ in 0..<100 {
            if case .complete = db.withUnsafeBufferPointer({ d.frame($0) }) { complete += 1 }
            if case .complete = fast.withUnsafeBufferPointer({ d.frame($0) }) { complete += 1 }
            if case .complete = fb.withUnsafeBufferPointer({ fe.frame($0) }) { complete += 1 }
        }
        let allocations = AllocationCounter_stop()
        #expect(complete == 300)
        #expect(allocations == 0)
    }
}

