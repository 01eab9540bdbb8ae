import ServoProtocol

/// Finds Feetech SCS/STS status packets in received bytes for `BusTransactor`.
///
/// Header checks first, so noise is dropped without waiting: `FF FF`, a servo id (0…253; the
/// broadcast id 0xFE only appears in instructions, so it is an echo), LEN within
/// 2…246 (a packet is at most 250 bytes), an ERR byte ≤ 0x7F (above is an instruction code or
/// invalid, as the SDK rules). Then, with the whole packet present,
/// `FeetechDecoder.decodeStatusFrame` checks the checksum:
///
/// | decoder result | FrameResult |
/// | --- | --- |
/// | a status frame | `.complete(length: LEN + 4, id:)` |
/// | `.truncated` | `.needMore` |
/// | anything else (checksum, id, ERR byte, echo) | `.garbage(skip: 1)` |
///
/// An echoed unicast instruction whose INST byte is a valid ERR byte (READ = 0x02) passes for a
/// reply: Feetech's header cannot tell them apart. Set `TransactionConfiguration.adapterEchoes`
/// for such adapters (hardware-notes §0.5).
public struct FeetechFramer: ReplyFramer {
    public init() {}

    /// - Note: Real-time safe: no allocation.
    public mutating func frame(_ b: UnsafeBufferPointer<UInt8>) -> FrameResult {
        guard !b.isEmpty else { return .needMore }
        if b[0] != FeetechPacket.header {
            var skip = 1
            while skip < b.count && b[skip] != FeetechPacket.header { skip += 1 }
            return .garbage(skip: skip)
        }
        if b.count > 1 && b[1] != FeetechPacket.header { return .garbage(skip: 1) }
        if b.count > 2 && b[2] > FeetechPacket.maxServoID { return .garbage(skip: 1) }
        if b.count > 3 && (b[3] < 2 || Int(b[3]) + 4 > FeetechPacket.maxPacketLength) { return .garbage(skip: 1) }
        if b.count > 4 && b[4] > 0x7F { return .garbage(skip: 1) }
        guard b.count >= 5 else { return .needMore }
        let total = Int(b[3]) + 4
        guard b.count >= total else { return .needMore }
        switch FeetechDecoder.decodeStatusFrame(UnsafeBufferPointer(rebasing: b[0..<total])) {
        case let .success(f): return .complete(length: f.frameLength, id: f.id)
        case .failure(.truncated): return .needMore
        case .failure: return .garbage(skip: 1)
        }
    }
}
