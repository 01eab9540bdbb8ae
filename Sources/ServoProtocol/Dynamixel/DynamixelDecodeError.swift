/// Why a byte sequence is not the Dynamixel packet the caller expected. Every decoder returns
/// one of these for any input instead of trapping; offsets are into the bytes passed in.
public enum DynamixelDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No `FF FF FD` header anywhere: the first `discardable` bytes can be dropped (a trailing
    /// `FF`, `FF FF` or `FF FF FD` is kept as the possible start of a header).
    case noHeader(discardable: Int)
    /// A header starts at `offset` > 0: the bytes before it are garbage (drop them and decode again).
    case garbageBeforeHeader(offset: Int)
    /// The packet is incomplete: `needed` bytes are required, `available` are there.
    case truncated(needed: Int, available: Int)
    /// The byte after the header is not 0x00.
    case reservedNotZero(UInt8)
    /// The id byte is not a servo id (0…252) or broadcast (where allowed).
    case invalidID(UInt8)
    /// The packet is from/to another id than expected.
    case wrongID(expected: UInt8, received: UInt8)
    /// LEN (or the parameter count) is impossible for this packet.
    case wrongLength(expected: Int, received: Int)
    /// The CRC does not match.
    case badCRC(computed: UInt16, received: UInt16)
    /// An instruction packet (e.g. the TX echo of a one-wire adapter) where a status was expected.
    case echoedInstruction(DynamixelInstruction)
    /// A status packet where an instruction was expected.
    case unexpectedStatus
    /// The combined reply of a FAST_SYNC_READ / FAST_BULK_READ (status from id 0xFE) where one
    /// servo's status was expected; `DynamixelDecoder.decodeFastReply` reads it.
    case combinedFastReply
    /// `FF FF FD` not followed by the stuffing `FD` inside the body.
    case badStuffing(offset: Int)
    /// The parameters do not fit the instruction's layout.
    case malformedParameters(DynamixelInstruction)
    /// An instruction code this decoder does not know.
    case unknownInstruction(UInt8)

    public var description: String {
        switch self {
        case let .noHeader(n): "no Dynamixel header (FF FF FD) in the bytes (\(n) discardable)"
        case let .garbageBeforeHeader(o): "\(o) garbage bytes before the Dynamixel header"
        case let .truncated(n, a): "truncated Dynamixel packet: \(a) of \(n) bytes"
        case let .reservedNotZero(b): "Dynamixel reserved byte is \(b), not 0"
        case let .invalidID(id): "invalid Dynamixel id \(id)"
        case let .wrongID(e, r): "Dynamixel packet from id \(r), expected id \(e)"
        case let .wrongLength(e, r): "Dynamixel length \(r), expected \(e)"
        case let .badCRC(c, r): "Dynamixel CRC mismatch: computed 0x\(String(c, radix: 16)), received 0x\(String(r, radix: 16))"
        case let .echoedInstruction(i): "echoed \(i) instruction packet where a status packet was expected"
        case .unexpectedStatus: "status packet where an instruction packet was expected"
        case .combinedFastReply: "combined fast-read reply where a single status packet was expected"
        case let .badStuffing(o): "unstuffed FF FF FD at byte \(o) of the Dynamixel packet"
        case let .malformedParameters(i): "malformed parameters of Dynamixel \(i)"
        case let .unknownInstruction(c): "unknown Dynamixel instruction 0x\(String(c, radix: 16))"
        }
    }
}
