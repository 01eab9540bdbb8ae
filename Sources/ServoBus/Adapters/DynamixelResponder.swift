import ServoProtocol

/// A bank of emulated Dynamixel X-series servos as the emulator host's `BusResponder`: cuts whole
/// Protocol 2.0 instruction packets out of the received byte stream and answers each with the
/// bank's status packets.
///
/// Framing, as a servo's firmware does it: a packet starts at `FF FF FD 00` and is
/// `7 + LEN` bytes long (LEN counts the stuffed bytes). Bytes before a header are noise and are
/// skipped; a LEN below 3 (instruction + CRC) or above `DynamixelDecoder.maximumLength` is not a
/// packet and only the header's first byte is skipped. A whole packet goes to the bank even with a
/// bad CRC (the bank answers a CRC-error status, as the servo does) and counts as one request.
/// A partial packet older than `interByteTimeoutNanoseconds` when more bytes arrive is dropped, as
/// the firmware's packet timeout does, so a noise header cannot hold the bus forever.
public struct DynamixelResponder: BusResponder, Sendable {
    public var bank: DynamixelServoBank
    /// Gap after which an unfinished packet is abandoned (ns).
    public var interByteTimeoutNanoseconds: UInt64
    /// Keeps every framed request in `recordedRequests` (a test's or `robotd emulate
    /// --record-requests`' view of what a client put on the wire).
    public var recordsRequests = false
    /// The framed requests received while `recordsRequests` (the owner empties it).
    public var recordedRequests: [[UInt8]] = []
    var pending: [UInt8] = []
    var lastArrival: UInt64 = 0

    static let header: [UInt8] = [0xFF, 0xFF, 0xFD, 0x00]

    public init(bank: DynamixelServoBank, interByteTimeoutNanoseconds: UInt64 = 50_000_000) {
        self.bank = bank
        self.interByteTimeoutNanoseconds = interByteTimeoutNanoseconds
        pending.reserveCapacity(2 * DynamixelDecoder.maximumLength)
    }

    public mutating func receive(_ bytes: UnsafeBufferPointer<UInt8>, atNanoseconds time: UInt64) -> [BusResponse] {
        if !pending.isEmpty && time &- lastArrival > interByteTimeoutNanoseconds && time > lastArrival {
            pending.removeAll(keepingCapacity: true)
        }
        lastArrival = time
        pending.append(contentsOf: bytes)
        var responses: [BusResponse] = []
        while let packet = nextPacket() {
            if recordsRequests { recordedRequests.append(packet) }
            let replies = bank.handle(bytes: packet)
            responses.append(BusResponse(replies.map {
                // A fast sync/bulk read's combined reply (id 0xFE) is no single servo's.
                let combined = $0.id == DynamixelID.broadcast
                return BusReply(servoID: combined ? nil : $0.id, delaySeconds: Double($0.returnDelayMicroseconds) / 1_000_000,
                                bytes: $0.bytes, combinedServoIDs: combined ? Self.fastReadIDs(packet) : [])
            }))
        }
        return responses
    }

    /// The servo's line rate filter: see `DynamixelServoBank.lineRate`.
    public mutating func setLineRate(_ bitsPerSecond: Int?) { bank.lineRate = bitsPerSecond }

    /// The ids a fast sync/bulk read lists, in chain order ([] for any other packet).
    static func fastReadIDs(_ packet: [UInt8]) -> [UInt8] {
        guard let decoded = try? DynamixelDecoder.decodeInstruction(packet),
              let command = try? DynamixelCommand(decoded) else { return [] }
        switch command {
        case let .fastSyncRead(_, _, list): return list
        case let .fastBulkRead(entries): return entries.map(\.id)
        default: return []
        }
    }

    /// The next whole packet at the front of `pending` (removed), skipping noise; nil when more
    /// bytes are needed.
    mutating func nextPacket() -> [UInt8]? {
        while true {
            guard let start = Self.headerStart(pending) else {
                // Keep a tail that may be the beginning of a header.
                let keep = Self.partialHeaderSuffix(pending)
                pending.removeFirst(pending.count - keep)
                return nil
            }
            if start > 0 { pending.removeFirst(start) }
            guard pending.count >= 7 else { return nil }
            let length = Int(pending[5]) | Int(pending[6]) << 8
            guard length >= 3, length <= DynamixelDecoder.maximumLength else {
                pending.removeFirst(1)
                continue
            }
            let total = 7 + length
            guard pending.count >= total else { return nil }
            let packet = Array(pending[0..<total])
            pending.removeFirst(total)
            return packet
        }
    }

    static func headerStart(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 0xFF && b[i + 1] == 0xFF && b[i + 2] == 0xFD && b[i + 3] == 0x00 {
            return i
        }
        return nil
    }

    /// How many trailing bytes of `b` are a proper prefix of the header.
    static func partialHeaderSuffix(_ b: [UInt8]) -> Int {
        for k in stride(from: min(3, b.count), to: 0, by: -1) where Array(b.suffix(k)) == Array(header.prefix(k)) {
            return k
        }
        return 0
    }
}
