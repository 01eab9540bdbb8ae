import ServoProtocol

/// A bank of emulated Feetech STS servos as the emulator host's `BusResponder`: cuts whole
/// instruction packets out of the received byte stream and answers each with the bank's replies.
///
/// Framing: a packet is `FF FF ID LEN INST params CHK`, `4 + LEN` bytes. Feetech packets have no
/// CRC-protected header, so a candidate whose checksum fails is treated as noise: one byte is
/// skipped and the search goes on (a servo discards it silently too, so it is not a request).
/// ID 0xFF and LEN < 2 are never a packet. A partial packet older than
/// `interByteTimeoutNanoseconds` when more bytes arrive is dropped.
public struct FeetechResponder: BusResponder, Sendable {
    public var bank: FeetechServoBank
    /// Gap after which an unfinished packet is abandoned (ns).
    public var interByteTimeoutNanoseconds: UInt64
    /// Keeps every framed request in `recordedRequests` (a test's or `robotd emulate
    /// --record-requests`' view of what a client put on the wire).
    public var recordsRequests = false
    /// The framed requests received while `recordsRequests` (the owner empties it).
    public var recordedRequests: [[UInt8]] = []
    var pending: [UInt8] = []
    var lastArrival: UInt64 = 0

    public init(bank: FeetechServoBank, interByteTimeoutNanoseconds: UInt64 = 50_000_000) {
        self.bank = bank
        self.interByteTimeoutNanoseconds = interByteTimeoutNanoseconds
        pending.reserveCapacity(1024)
    }

    public mutating func receive(_ bytes: UnsafeBufferPointer<UInt8>, atNanoseconds time: UInt64) -> [BusResponse] {
        if !pending.isEmpty && time > lastArrival && time - lastArrival > interByteTimeoutNanoseconds {
            pending.removeAll(keepingCapacity: true)
        }
        lastArrival = time
        pending.append(contentsOf: bytes)
        var responses: [BusResponse] = []
        while let packet = nextPacket() {
            if recordsRequests { recordedRequests.append(packet) }
            let replies = bank.handle(packet: packet)
            responses.append(BusResponse(replies.map {
                BusReply(servoID: $0.id, delaySeconds: Double($0.returnDelayMicroseconds) / 1_000_000, bytes: $0.bytes)
            }))
        }
        return responses
    }

    /// The servo's line rate filter: see `FeetechServoBank.lineRate`.
    public mutating func setLineRate(_ bitsPerSecond: Int?) { bank.lineRate = bitsPerSecond }

    /// The next packet with a valid checksum at the front of `pending` (removed), skipping
    /// noise; nil when more bytes are needed.
    mutating func nextPacket() -> [UInt8]? {
        while true {
            var start = 0
            while start + 1 < pending.count && !(pending[start] == 0xFF && pending[start + 1] == 0xFF) { start += 1 }
            if start + 1 >= pending.count {
                // No header: keep a trailing FF that may begin one.
                let keep = pending.last == 0xFF ? 1 : 0
                pending.removeFirst(pending.count - keep)
                return nil
            }
            if start > 0 { pending.removeFirst(start) }
            guard pending.count >= 4 else { return nil }
            let id = pending[2], length = Int(pending[3])
            guard id != 0xFF, length >= 2 else {
                pending.removeFirst(1)
                continue
            }
            let total = 4 + length
            guard pending.count >= total else { return nil }
            var sum: UInt8 = 0
            for i in 2..<(total - 1) { sum &+= pending[i] }
            guard ~sum == pending[total - 1] else {
                pending.removeFirst(1)
                continue
            }
            let packet = Array(pending[0..<total])
            pending.removeFirst(total)
            return packet
        }
    }
}
