import ServoProtocol

/// Finds Dynamixel Protocol 2.0 status packets in received bytes for `BusTransactor`.
///
/// Header checks first, byte by byte, so noise is dropped without waiting: `FF FF FD 00`, an id
/// that a reply can carry (0…252, or 0xFE for a fast sync read's combined packet), a LEN within
/// 4…`DynamixelDecoder.maximumLength`, and instruction byte 0x55 (an echoed instruction is
/// garbage). Then, with the whole packet present, the CRC (a bad one is `.garbage(skip: 1)`), and
/// for a single servo's status `DynamixelDecoder.decodeStatus` checks the stuffing:
///
/// | result | FrameResult |
/// | --- | --- |
/// | a status packet | `.complete(length: LEN + 7, id:)` |
/// | id 0xFE with a valid CRC (the decoder's `.combinedFastReply`) | `.complete(length: LEN + 7, id: 0xFE)` |
/// | `.truncated` | `.needMore` |
/// | anything else (CRC, stuffing, reserved byte, echo) | `.garbage(skip: 1)`: reframe from the next byte |
///
/// Skipping one byte after a bad packet is safe: inside a packet `FF FF FD` is always stuffed to
/// `FF FF FD FD`, which is no header, so the scan cannot lock onto the middle of a valid reply.
public struct DynamixelFramer: ReplyFramer {
    /// The decoder's un-stuffed parameters; capacity reserved so framing allocates nothing.
    private var scratch: [UInt8]

    public init() {
        scratch = []
        scratch.reserveCapacity(DynamixelDecoder.maximumLength + 8)
    }

    /// - Note: Real-time safe: no allocation.
    public mutating func frame(_ b: UnsafeBufferPointer<UInt8>) -> FrameResult {
        guard !b.isEmpty else { return .needMore }
        if b[0] != 0xFF {
            var skip = 1
            while skip < b.count && b[skip] != 0xFF { skip += 1 }
            return .garbage(skip: skip)
        }
        // FF FF FD 00, then the id, LEN (2) and the instruction byte.
        let header: (UInt8, UInt8, UInt8, UInt8) = (0xFF, 0xFF, 0xFD, 0x00)
        if b.count > 1 && b[1] != header.1 { return .garbage(skip: 1) }
        if b.count > 2 && b[2] != header.2 { return .garbage(skip: 1) }
        if b.count > 3 && b[3] != header.3 { return .garbage(skip: 1) }
        if b.count > 4 && b[4] > DynamixelID.maxServo && b[4] != DynamixelID.broadcast { return .garbage(skip: 1) }
        guard b.count >= 8 else { return .needMore }
        let length = Int(b[5]) | Int(b[6]) << 8
        // A status holds at least 0x55, ERR and the CRC.
        if length < 4 || length > DynamixelDecoder.maximumLength { return .garbage(skip: 1) }
        if b[7] != DynamixelInstruction.status.rawValue { return .garbage(skip: 1) }
        let total = length + 7
        guard b.count >= total else { return .needMore }
        // The CRC is checked here, not left to the decoder's error: a thrown decode error
        // allocates (measured: one allocation per `.combinedFastReply`), and the fast sync read's
        // combined reply, which the decoder refuses as a single status, arrives every cycle.
        let crc = DynamixelCRC.update(0, b, 0..<(total - 2))
        guard crc == UInt16(b[total - 2]) | UInt16(b[total - 1]) << 8 else { return .garbage(skip: 1) }
        if b[4] == DynamixelID.broadcast { return .complete(length: total, id: DynamixelID.broadcast) }
        let packet = UnsafeBufferPointer(rebasing: b[0..<total])
        do throws(DynamixelDecodeError) {
            let h = try DynamixelDecoder.decodeStatus(packet, into: &scratch)
            return .complete(length: total, id: h.id)
        } catch {
            switch error {
            case .combinedFastReply: return .complete(length: total, id: DynamixelID.broadcast)
            case .truncated: return .needMore
            default: return .garbage(skip: 1)
            }
        }
    }
}
