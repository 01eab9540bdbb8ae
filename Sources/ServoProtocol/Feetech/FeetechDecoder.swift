/// Why bytes are not the packet that was expected. Every decoder returns one of these for any
/// input instead of trapping.
public enum FeetechDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes do not start with the FF FF header (garbage, or a lost first byte).
    case badHeader(offset: Int, byte: UInt8)
    /// The packet is cut short: `needed` bytes (as far as the bytes so far tell), `have` present.
    case truncated(needed: Int, have: Int)
    /// LEN is below 2 or makes the packet longer than 250 bytes.
    case badLength(UInt8)
    case badChecksum(expected: UInt8, got: UInt8)
    /// The reply came from another servo.
    case wrongID(expected: UInt8, got: UInt8)
    /// The reply holds `got` parameter bytes where `expected` were asked for.
    case wrongLength(expected: Int, got: Int)
    /// A reply was expected but these bytes are an instruction (our own transmission echoed by
    /// the adapter, or another master's): identical to what was sent, from the broadcast ID, or
    /// with an instruction code (≥ 0x80) in the ERR byte. Feetech's header alone cannot tell.
    case echoedInstruction(FeetechInstruction)
    /// An ID no packet of this kind can carry (0xFF; broadcast where a servo ID is needed).
    case invalidID(UInt8)
    /// An ERR byte above 0x7F that is no instruction code (the SDK rejects these too).
    case invalidErrorByte(UInt8)
    case unknownInstruction(UInt8)
    /// The parameters do not fit the instruction (READ without exactly address and length, a
    /// SYNC_WRITE whose entries do not divide evenly, a zero length, …).
    case badParameters(FeetechInstruction, count: Int)

    public var description: String {
        switch self {
        case let .badHeader(offset, byte):
            "Feetech packet: byte \(offset) is \(feetechHexByte(byte)), expected the FF FF header"
        case let .truncated(needed, have):
            "Feetech packet truncated: \(have) bytes of \(needed)"
        case let .badLength(len):
            "Feetech packet: LEN \(len) is outside 2…\(FeetechPacket.maxPacketLength - 4)"
        case let .badChecksum(expected, got):
            "Feetech packet: checksum \(feetechHexByte(got)), expected \(feetechHexByte(expected))"
        case let .wrongID(expected, got):
            "Feetech reply from ID \(got), expected ID \(expected)"
        case let .wrongLength(expected, got):
            "Feetech reply with \(got) data bytes, expected \(expected)"
        case let .echoedInstruction(instruction):
            "Feetech reply expected, got an instruction packet (\(instruction)): is the adapter echoing what it sends?"
        case let .invalidID(id):
            "Feetech packet: ID \(id) is not valid here"
        case let .invalidErrorByte(byte):
            "Feetech reply: ERR byte \(feetechHexByte(byte)) is above 0x7F"
        case let .unknownInstruction(byte):
            "Feetech packet: unknown instruction \(feetechHexByte(byte))"
        case let .badParameters(instruction, count):
            "Feetech \(instruction): \(count) parameter bytes do not fit the instruction"
        }
    }
}

/// "0x1F": a byte as the notes and the SDK print it.
func feetechHexByte(_ b: UInt8) -> String {
    let digits: [Character] = Array("0123456789ABCDEF")
    return "0x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
}

/// Where a status packet's parts sit in the decoded bytes; no copy, so a transport can decode
/// replies in its receive buffer without allocating.
public struct FeetechStatusFrame: Sendable, Hashable {
    public var id: UInt8
    public var error: FeetechStatusError
    /// Index of P1 relative to the start of the decoded bytes.
    public var parameterOffset: Int
    public var parameterCount: Int
    /// Bytes the packet occupies (LEN + 4); the next packet starts there.
    public var frameLength: Int
}

/// A decoded status packet with its parameters copied out.
public struct FeetechStatus: Sendable, Hashable {
    public var id: UInt8
    public var error: FeetechStatusError
    public var parameters: [UInt8]
    public var frameLength: Int

    public init(id: UInt8, error: FeetechStatusError, parameters: [UInt8], frameLength: Int) {
        self.id = id; self.error = error; self.parameters = parameters; self.frameLength = frameLength
    }
}

/// A decoded instruction packet: what the emulator's servos receive.
public enum FeetechCommand: Sendable, Hashable {
    case ping(id: UInt8)
    case read(id: UInt8, address: UInt8, length: UInt8)
    case write(id: UInt8, address: UInt8, data: [UInt8])
    case regWrite(id: UInt8, address: UInt8, data: [UInt8])
    case action(id: UInt8)
    case reset(id: UInt8)
    case syncRead(address: UInt8, length: UInt8, ids: [UInt8])
    /// `data` holds `length` bytes per ID, in the order of `ids`.
    case syncWrite(address: UInt8, length: UInt8, ids: [UInt8], data: [UInt8])
}

/// Status and instruction decoders (hardware-notes §2.1). They look at one packet that starts
/// at the first byte; bytes after it are left alone (`frameLength` says where the next begins).
public enum FeetechDecoder {
    /// The frame checks common to both kinds: header, LEN, completeness, checksum. Returns the
    /// frame length.
    static func checkFrame(_ p: UnsafeBufferPointer<UInt8>) -> Result<Int, FeetechDecodeError> {
        let n = p.count
        for i in 0..<min(2, n) where p[i] != FeetechPacket.header {
            return .failure(.badHeader(offset: i, byte: p[i]))
        }
        guard n >= 4 else { return .failure(.truncated(needed: FeetechPacket.overhead, have: n)) }
        let len = p[3]
        let total = Int(len) + 4
        guard len >= 2, total <= FeetechPacket.maxPacketLength else { return .failure(.badLength(len)) }
        guard n >= total else { return .failure(.truncated(needed: total, have: n)) }
        var sum: UInt8 = 0
        for i in 2..<(total - 1) { sum &+= p[i] }
        guard ~sum == p[total - 1] else { return .failure(.badChecksum(expected: ~sum, got: p[total - 1])) }
        return .success(total)
    }

    /// Decodes a status packet in place.
    /// - Parameters:
    ///   - expectedID: the servo addressed; another ID is `.wrongID`.
    ///   - expectedParameterCount: the bytes asked for (READ/SYNC_READ length; 0 for PING and
    ///     WRITE); another count is `.wrongLength`.
    ///   - sent: the instruction just transmitted; the same bytes coming back are
    ///     `.echoedInstruction`.
    public static func decodeStatusFrame(_ p: UnsafeBufferPointer<UInt8>, expectedID: UInt8? = nil,
                                         expectedParameterCount: Int? = nil,
                                         sent: UnsafeBufferPointer<UInt8>? = nil)
        -> Result<FeetechStatusFrame, FeetechDecodeError> {
        let total: Int
        switch checkFrame(p) {
        case let .success(t): total = t
        case let .failure(e): return .failure(e)
        }
        let id = p[2], err = p[4]
        if let sent, sent.count == total, (0..<total).allSatisfy({ sent[$0] == p[$0] }) {
            return .failure(.echoedInstruction(FeetechInstruction(rawValue: err) ?? .ping))
        }
        if err > 0x7F {
            if let instruction = FeetechInstruction(rawValue: err) { return .failure(.echoedInstruction(instruction)) }
            return .failure(.invalidErrorByte(err))
        }
        if id == FeetechPacket.broadcastID {
            if let instruction = FeetechInstruction(rawValue: err) { return .failure(.echoedInstruction(instruction)) }
            return .failure(.invalidID(id))
        }
        guard id <= FeetechPacket.maxServoID else { return .failure(.invalidID(id)) }
        if let expectedID, id != expectedID { return .failure(.wrongID(expected: expectedID, got: id)) }
        let count = total - FeetechPacket.overhead
        if let expectedParameterCount, count != expectedParameterCount {
            return .failure(.wrongLength(expected: expectedParameterCount, got: count))
        }
        return .success(FeetechStatusFrame(id: id, error: FeetechStatusError(rawValue: err),
                                           parameterOffset: 5, parameterCount: count, frameLength: total))
    }

    /// `decodeStatusFrame` for any bytes, with the parameters copied out.
    public static func decodeStatus<C: Collection>(_ bytes: C, expectedID: UInt8? = nil,
                                                   expectedParameterCount: Int? = nil,
                                                   sent: [UInt8]? = nil)
        -> Result<FeetechStatus, FeetechDecodeError> where C.Element == UInt8 {
        withContiguous(bytes) { p in
            let result: Result<FeetechStatusFrame, FeetechDecodeError>
            if let sent {
                result = sent.withUnsafeBufferPointer {
                    decodeStatusFrame(p, expectedID: expectedID, expectedParameterCount: expectedParameterCount, sent: $0)
                }
            } else {
                result = decodeStatusFrame(p, expectedID: expectedID, expectedParameterCount: expectedParameterCount)
            }
            return result.map { f in
                FeetechStatus(id: f.id, error: f.error,
                              parameters: Array(p[f.parameterOffset..<(f.parameterOffset + f.parameterCount)]),
                              frameLength: f.frameLength)
            }
        }
    }

    /// Decodes an instruction packet (the emulator's input).
    public static func decodeInstruction<C: Collection>(_ bytes: C) -> Result<FeetechCommand, FeetechDecodeError>
        where C.Element == UInt8 {
        withContiguous(bytes) { p in
            let total: Int
            switch checkFrame(p) {
            case let .success(t): total = t
            case let .failure(e): return .failure(e)
            }
            let id = p[2]
            guard let instruction = FeetechInstruction(rawValue: p[4]) else {
                return .failure(.unknownInstruction(p[4]))
            }
            let params = p[5..<(total - 1)]
            let count = params.count
            let broadcast = id == FeetechPacket.broadcastID
            guard id <= FeetechPacket.maxServoID || broadcast else { return .failure(.invalidID(id)) }
            let bad = FeetechDecodeError.badParameters(instruction, count: count)
            let s = params.startIndex
            switch instruction {
            case .ping, .action, .reset:
                guard count == 0 else { return .failure(bad) }
                switch instruction {
                case .ping: return .success(.ping(id: id))
                case .action: return .success(.action(id: id))
                default: return .success(.reset(id: id))
                }
            case .read:
                guard !broadcast else { return .failure(.invalidID(id)) }
                guard count == 2, params[s + 1] > 0 else { return .failure(bad) }
                return .success(.read(id: id, address: params[s], length: params[s + 1]))
            case .write, .regWrite:
                guard count >= 2 else { return .failure(bad) }
                let data = Array(params[(s + 1)...])
                return .success(instruction == .write ? .write(id: id, address: params[s], data: data)
                                                      : .regWrite(id: id, address: params[s], data: data))
            case .syncRead:
                guard broadcast else { return .failure(.invalidID(id)) }
                guard count >= 3, params[s + 1] > 0 else { return .failure(bad) }
                let ids = Array(params[(s + 2)...])
                guard ids.allSatisfy({ $0 <= FeetechPacket.maxServoID }) else { return .failure(bad) }
                return .success(.syncRead(address: params[s], length: params[s + 1], ids: ids))
            case .syncWrite:
                guard broadcast else { return .failure(.invalidID(id)) }
                guard count >= 2 else { return .failure(bad) }
                let length = Int(params[s + 1])
                let entries = count - 2
                guard length > 0, entries > 0, entries % (length + 1) == 0 else { return .failure(bad) }
                var ids: [UInt8] = [], data: [UInt8] = []
                ids.reserveCapacity(entries / (length + 1)); data.reserveCapacity(entries)
                var i = s + 2
                while i < params.endIndex {
                    guard params[i] <= FeetechPacket.maxServoID else { return .failure(bad) }
                    ids.append(params[i])
                    data.append(contentsOf: params[(i + 1)..<(i + 1 + length)])
                    i += 1 + length
                }
                return .success(.syncWrite(address: params[s], length: params[s + 1], ids: ids, data: data))
            }
        }
    }

    /// The offset of the first FF FF pair at or after `start`, for resynchronising after
    /// garbage; nil if there is none.
    public static func headerOffset<C: Collection>(in bytes: C, from start: Int = 0) -> Int?
        where C.Element == UInt8 {
        withContiguous(bytes) { p in
            var i = max(0, start)
            while i + 1 < p.count {
                if p[i] == FeetechPacket.header, p[i + 1] == FeetechPacket.header { return i }
                i += 1
            }
            return nil
        }
    }

    @inline(__always)
    static func withContiguous<C: Collection, R>(_ bytes: C, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R
        where C.Element == UInt8 {
        if let r = bytes.withContiguousStorageIfAvailable(body) { return r }
        return Array(bytes).withUnsafeBufferPointer(body)
    }
}
