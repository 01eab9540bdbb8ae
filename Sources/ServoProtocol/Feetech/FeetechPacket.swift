/// Feetech SCS/STS framing (hardware-notes §2.1), derived from Dynamixel Protocol 1.0: no byte
/// stuffing, no CRC.
///
///     instruction: FF FF | ID | LEN | INST | P1…Pn | CHK
///     status:      FF FF | ID | LEN | ERR  | P1…Pn | CHK
///     LEN = n + 2        CHK = ~(ID + LEN + INST/ERR + ΣP) & 0xFF
///
/// IDs run 0–253, 0xFE is broadcast; a whole packet is at most 250 bytes (the SDK's limit), so
/// n ≤ 244. Addresses and lengths are one byte each.
public enum FeetechPacket {
    public static let header: UInt8 = 0xFF
    public static let broadcastID: UInt8 = 0xFE
    /// The largest ID a servo can have (0xFE is broadcast; the SDK rejects replies from ID > 0xFD).
    public static let maxServoID: UInt8 = 0xFD
    /// The SDK's TXPACKET_MAX_LEN / RXPACKET_MAX_LEN.
    public static let maxPacketLength = 250
    /// Header (2), ID, LEN, INST/ERR and checksum.
    public static let overhead = 6
    public static let maxParameterCount = maxPacketLength - overhead

    /// The checksum over the bytes from ID up to the last parameter: `~Σ & 0xFF`.
    @inlinable
    public static func checksum<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
        var sum: UInt8 = 0
        for b in bytes { sum &+= b }
        return ~sum
    }
}

/// The instruction byte (INST in `scservo_def.py`). 0x06 reset is listed by Feetech but used by
/// neither the SDK nor LeRobot; it is decoded so the emulator can name it.
public enum FeetechInstruction: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case ping = 0x01
    case read = 0x02
    case write = 0x03
    case regWrite = 0x04
    case action = 0x05
    case reset = 0x06
    case syncRead = 0x82
    case syncWrite = 0x83

    public var description: String {
        switch self {
        case .ping: "PING"
        case .read: "READ"
        case .write: "WRITE"
        case .regWrite: "REG_WRITE"
        case .action: "ACTION"
        case .reset: "RESET"
        case .syncRead: "SYNC_READ"
        case .syncWrite: "SYNC_WRITE"
        }
    }
}

/// The two Feetech families differ on the wire only in the byte order of multi-byte items; this
/// is the one place that knows it (the SDK's module-global `SCS_END`).
public enum FeetechSeries: Sendable, Hashable, CaseIterable {
    /// STS/SMS (STS3215): little-endian (`SCS_END = 0`, LeRobot protocol 0). Has sync read.
    case sts
    /// SCS (SCS0009): big-endian (`SCS_END = 1`, LeRobot protocol 1). No sync read.
    case scs

    /// The two bytes of a 16-bit item in wire order.
    @inlinable
    public func bytes(of word: UInt16) -> (UInt8, UInt8) {
        let lo = UInt8(truncatingIfNeeded: word), hi = UInt8(truncatingIfNeeded: word >> 8)
        return self == .sts ? (lo, hi) : (hi, lo)
    }

    /// The 16-bit item from its two bytes in wire order.
    @inlinable
    public func word(_ first: UInt8, _ second: UInt8) -> UInt16 {
        self == .sts ? UInt16(first) | UInt16(second) << 8 : UInt16(second) | UInt16(first) << 8
    }

    /// An item of 1, 2 or 4 bytes (4 = two words, low word first, as the SDK's SCS_MAKEDWORD)
    /// from `bytes` in wire order; nil for any other count.
    public func value<C: Collection>(_ bytes: C) -> UInt32? where C.Element == UInt8 {
        var it = bytes.makeIterator()
        switch bytes.count {
        case 1: return UInt32(it.next()!)
        case 2: return UInt32(word(it.next()!, it.next()!))
        case 4:
            let low = word(it.next()!, it.next()!)
            return UInt32(low) | UInt32(word(it.next()!, it.next()!)) << 16
        default: return nil
        }
    }

    /// Appends an item of `size` 1, 2 or 4 bytes in wire order (higher bits are dropped).
    public func append(_ value: UInt32, size: Int, to buffer: inout [UInt8]) {
        switch size {
        case 1: buffer.append(UInt8(truncatingIfNeeded: value))
        case 2:
            let (a, b) = bytes(of: UInt16(truncatingIfNeeded: value))
            buffer.append(a); buffer.append(b)
        default:
            precondition(size == 4, "Feetech items are 1, 2 or 4 bytes, not \(size)")
            let (a, b) = bytes(of: UInt16(truncatingIfNeeded: value))
            let (c, d) = bytes(of: UInt16(truncatingIfNeeded: value >> 16))
            buffer.append(a); buffer.append(b); buffer.append(c); buffer.append(d)
        }
    }
}

/// STS sign-magnitude (LeRobot `encode/decode_sign_magnitude`, SDK `SCS_TOSCS`/`SCS_TOHOST`): bit
/// `signBit` is the sign, the bits below it the magnitude. Sign bit 15 for goal/present position
/// and velocity, 10 for present load, 11 for the homing offset (hardware-notes §2.2).
public enum FeetechSignMagnitude {
    /// The register value for `value`, or nil when |value| does not fit below the sign bit.
    @inlinable
    public static func encode(_ value: Int, signBit: Int) -> UInt16? {
        precondition((1...15).contains(signBit), "sign bit \(signBit) outside 1…15")
        let magnitude = value.magnitude
        guard magnitude < (1 << signBit) else { return nil }
        return UInt16(magnitude) | (value < 0 ? UInt16(1) << signBit : 0)
    }

    /// The signed value of a register; bits above the sign bit are ignored (as LeRobot does).
    @inlinable
    public static func decode(_ raw: UInt16, signBit: Int) -> Int {
        precondition((1...15).contains(signBit), "sign bit \(signBit) outside 1…15")
        let magnitude = Int(raw & ((1 << signBit) - 1))
        return raw & (1 << signBit) != 0 ? -magnitude : magnitude
    }
}
