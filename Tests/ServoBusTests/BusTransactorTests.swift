import Glibc
import Platform
import Testing
@testable import ServoBus

/// A transport that hands out scripted chunks, one per read, and records writes and flushes:
/// the transaction layer's logic without a pty or timing.
final class ScriptedTransport: SerialTransport {
    let path = "scripted"
    let baud = 1_000_000
    var chunks: [[UInt8]]
    var written: [[UInt8]] = []
    var flushes = 0

    init(_ chunks: [[UInt8]]) { self.chunks = chunks }

    func discardInput() throws(SerialTransportError) { flushes += 1 }
    func write(_ bytes: UnsafeRawBufferPointer, deadlineNanoseconds: UInt64) throws(SerialTransportError) {
        written.append(Array(bytes))
    }
    func read(into buffer: UnsafeMutableRawBufferPointer, deadlineNanoseconds: UInt64) throws(SerialTransportError) -> Int {
        guard !chunks.isEmpty else { return 0 }
        // A chunk larger than the space offered is handed out in parts, as read(2) would.
        let chunk = chunks.removeFirst()
        let n = min(chunk.count, buffer.count)
        buffer.copyBytes(from: chunk.prefix(n))
        if n < chunk.count { chunks.insert(Array(chunk.dropFirst(n)), at: 0) }
        return n
    }
    func close() {}
}

/// A framer that claims impossible lengths, as a buggy adapter might.
struct LyingFramer: ReplyFramer {
    let claim: Int
    func frame(_ buffer: UnsafeBufferPointer<UInt8>) -> FrameResult {
        buffer.count >= 1 && buffer[0] == 0xEE ? .complete(length: claim, id: 1) : LengthPrefixed.frame(buffer)
    }
}

@Suite struct BusTransactorTests {
    @Test func aReplyFromAnotherIDIsDroppedAndTheExpectedOneDelivered() throws {
        let other = LengthPrefixed.packet(id: 7, payload: [1])
        let mine = LengthPrefixed.packet(id: 3, payload: [2])
        let transport = ScriptedTransport([other + Array(mine.prefix(4)), Array(mine.dropFirst(4))])
        let bus = BusTransactor(transport: transport, framer: LengthPrefixedFramer())
        #expect(try bus.transact(LengthPrefixed.packet(id: 3, payload: [0]), expectedIDs: [3]) == .complete)
        #expect(bus.reply(0) == mine)
        #expect(bus.health.unexpectedReplies == 1)
        #expect(transport.flushes == 1, "input is discarded before the request goes out")
        #expect(transport.written == [LengthPrefixed.packet(id: 3, payload: [0])])
    }

    @Test(arguments: [0, -5, 100_000])
    func aFramerClaimingAnImpossibleLengthDoesNotTrap(_ claim: Int) throws {
        let mine = LengthPrefixed.packet(id: 1, payload: [9])
        let transport = ScriptedTransport([[0xEE, 0xEE] + mine])
        let bus = BusTransactor(transport: transport, framer: LyingFramer(claim: claim))
        #expect(try bus.transact([0], expectedIDs: [1]) == .complete)
        #expect(bus.reply(0) == mine)
        #expect(bus.health.garbageBytes == 2)
    }

    @Test func bytesBeyondTheExpectedRepliesMakeTheNextTransactionSettleFirst() throws {
        let mine = LengthPrefixed.packet(id: 1, payload: [1])
        let extra = LengthPrefixed.packet(id: 1, payload: [0])
        var c = TransactionConfiguration()
        c.settleNanoseconds = 1_000_000
        let transport = ScriptedTransport([mine + extra])
        let bus = BusTransactor(transport: transport, framer: LengthPrefixedFramer(), configuration: c)
        #expect(try bus.transact([0], expectedIDs: [1]) == .complete)
        #expect(bus.health.discardedBytes == extra.count)
        // The settle wait reads (and discards) what is on the line before the next request.
        transport.chunks = [[0x55, 0x55], LengthPrefixed.packet(id: 1, payload: [2])]
        #expect(try bus.transact([0], expectedIDs: [1]) == .timedOut(received: 0))
        #expect(bus.health.discardedBytes == extra.count + 2 + extra.count)
    }

    @Test func replyBuffersLargerThanCapacityAreReframedNotOverrun() throws {
        var c = TransactionConfiguration()
        c.receiveCapacity = 16
        // A header announcing 200 bytes never completes in a 16-byte buffer: it is shed byte by
        // byte and the real reply behind it is found.
        var fake = LengthPrefixed.packet(id: 1, payload: [UInt8](repeating: 0, count: 200))
        fake = Array(fake.prefix(10))
        let mine = LengthPrefixed.packet(id: 1, payload: [4])
        let bus = BusTransactor(transport: ScriptedTransport([fake, mine]), framer: LengthPrefixedFramer(), configuration: c)
        #expect(try bus.transact([0], expectedIDs: [1]) == .complete)
        #expect(bus.reply(0) == mine)
    }
}
