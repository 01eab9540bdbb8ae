/// Decoders of Dynamixel Protocol 2.0 packets. They take any bytes and return a typed packet or
/// throw a `DynamixelDecodeError`; they never trap. Strict by default: the packet must start at
/// the first byte (`garbageBeforeHeader` tells how much to drop); `skippingGarbage: true` scans to
/// the first header instead (as the SDK's `rxPacket` does). `range` in the result is where the
/// packet lay in the input, so a reader can consume `range.upperBound` bytes.
public enum DynamixelDecoder {
    /// The largest LEN accepted (the SDKs' 1 KiB buffers).
    public static let maximumLength = 1024

    /// The fixed part of a frame after its header was validated.
    struct Frame {
        var start: Int
        var id: UInt8
        var length: Int
        var instruction: UInt8
        var end: Int { start + 7 + length }
    }

    /// Offset of the first `FF FF FD x` with x ≠ FD at or after `from`, or the `noHeader` error.
    static func findHeader(_ b: UnsafeBufferPointer<UInt8>, from: Int) -> Result<Int, DynamixelDecodeError> {
        var i = from
        while i + 2 < b.count {
            if b[i] == 0xFF && b[i + 1] == 0xFF && b[i + 2] == 0xFD {
                if i + 3 >= b.count || b[i + 3] != 0xFD { return .success(i) }
            }
            i += 1
        }
        // Keep a trailing prefix of the header: it may complete with the next bytes.
        var keep = 0
        let n = b.count
        if n >= 3 && b[n - 3] == 0xFF && b[n - 2] == 0xFF && b[n - 1] == 0xFD { keep = 3 }
        else if n >= 2 && b[n - 2] == 0xFF && b[n - 1] == 0xFF { keep = 2 }
        else if n >= 1 && b[n - 1] == 0xFF { keep = 1 }
        return .failure(.noHeader(discardable: max(from, n - keep)))
    }

    /// Finds and checks the frame: header position, reserved byte, id, LEN bounds, completeness,
    /// CRC. Id 0xFE passes here (instructions, fast replies); status decoding refuses it after
    /// the instruction byte has been looked at, so an echoed broadcast is named an echo.
    static func frame(
        _ b: UnsafeBufferPointer<UInt8>, skippingGarbage: Bool, minimumLength: Int
    ) throws(DynamixelDecodeError) -> Frame {
        let start: Int
        switch findHeader(b, from: 0) {
        case let .success(s): start = s
        case let .failure(e): throw e
        }
        if start > 0 && !skippingGarbage { throw .garbageBeforeHeader(offset: start) }
        guard b.count >= start + 8 else { throw .truncated(needed: start + 8, available: b.count) }
        if b[start + 3] != 0 { throw .reservedNotZero(b[start + 3]) }
        let id = b[start + 4]
        if id > DynamixelID.maxServo && id != DynamixelID.broadcast { throw .invalidID(id) }
        let length = Int(b[start + 5]) | Int(b[start + 6]) << 8
        if length < minimumLength { throw .wrongLength(expected: minimumLength, received: length) }
        if length > maximumLength { throw .wrongLength(expected: maximumLength, received: length) }
        let end = start + 7 + length
        guard b.count >= end else { throw .truncated(needed: end, available: b.count) }
        let computed = DynamixelCRC.update(0, b, start..<(end - 2))
        let received = UInt16(b[end - 2]) | UInt16(b[end - 1]) << 8
        if computed != received { throw .badCRC(computed: computed, received: received) }
        return Frame(start: start, id: id, length: length, instruction: b[start + 7])
    }

    /// Appends the un-stuffed bytes of `b[range]` to `out` (drops the `FD` after `FF FF FD`);
    /// an unstuffed `FF FF FD x` (x ≠ FD) inside the body is an error.
    static func unstuff(
        _ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into out: inout [UInt8]
    ) throws(DynamixelDecodeError) {
        var run = 0
        var i = range.lowerBound
        while i < range.upperBound {
            let x = b[i]
            out.append(x)
            if x == 0xFF {
                run = min(run + 1, 2)
            } else if x == 0xFD && run == 2 {
                guard i + 1 < range.upperBound, b[i + 1] == 0xFD else { throw .badStuffing(offset: i) }
                i += 1
                run = 0
            } else {
                run = 0
            }
            i += 1
        }
    }

    // MARK: status packets

    /// Decodes one status packet into `parameters` (cleared first; the error byte excluded) and
    /// returns its id, error byte and place in `bytes`. Allocation-free once `parameters` has the
    /// capacity. `expectedID` rejects a reply from another servo; `expectedParameterCount`
    /// rejects a reply of another size (the N of a READ of N bytes).
    public static func decodeStatus(
        _ bytes: UnsafeBufferPointer<UInt8>, expectedID: UInt8? = nil, expectedParameterCount: Int? = nil,
        skippingGarbage: Bool = false, into parameters: inout [UInt8]
    ) throws(DynamixelDecodeError) -> DynamixelStatusHeader {
        parameters.removeAll(keepingCapacity: true)
        let f = try frame(bytes, skippingGarbage: skippingGarbage, minimumLength: 3)
        if f.instruction != DynamixelInstruction.status.rawValue {
            throw .echoedInstruction(DynamixelInstruction(rawValue: f.instruction))
        }
        if f.id == DynamixelID.broadcast { throw .combinedFastReply }
        if f.length < 4 { throw .wrongLength(expected: 4, received: f.length) }
        if let expectedID, f.id != expectedID { throw .wrongID(expected: expectedID, received: f.id) }
        // INST…params is the stuffed region; INST (0x55) cannot take part in a pattern.
        try unstuff(bytes, (f.start + 8)..<(f.end - 2), into: &parameters)
        let error = DynamixelStatusError(rawValue: parameters.isEmpty ? 0 : parameters.removeFirst())
        if let expectedParameterCount, parameters.count != expectedParameterCount {
            throw .wrongLength(expected: expectedParameterCount, received: parameters.count)
        }
        return DynamixelStatusHeader(id: f.id, error: error, range: f.start..<f.end)
    }

    public static func decodeStatus(
        _ bytes: [UInt8], expectedID: UInt8? = nil, expectedParameterCount: Int? = nil, skippingGarbage: Bool = false
    ) throws(DynamixelDecodeError) -> DynamixelStatusPacket {
        var p: [UInt8] = []
        let h: DynamixelStatusHeader = try withBuffer(bytes) { b throws(DynamixelDecodeError) in
            try decodeStatus(b, expectedID: expectedID, expectedParameterCount: expectedParameterCount,
                             skippingGarbage: skippingGarbage, into: &p)
        }
        return DynamixelStatusPacket(id: h.id, error: h.error, parameters: p, range: h.range)
    }

    static func withBuffer<T>(
        _ bytes: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) throws(DynamixelDecodeError) -> T
    ) throws(DynamixelDecodeError) -> T {
        let r: Result<T, DynamixelDecodeError> = bytes.withUnsafeBufferPointer { b in
            do throws(DynamixelDecodeError) { return .success(try body(b)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    // MARK: fast (combined) replies

    /// Decodes the combined reply of FAST_SYNC_READ (every block `dataLength` bytes) or
    /// FAST_BULK_READ (`lengths[i]` bytes): blocks `[ERR ID data CRC]` in the order of `ids`.
    /// Checks LEN = 1 + Σ(Nᵢ + 4), the packet CRC, and each block's id; the intermediate
    /// (cumulative) CRCs are not checked, as in the SDK, since the final one covers them.
    public static func decodeFastReply(
        _ bytes: [UInt8], ids: [UInt8], lengths: [Int], skippingGarbage: Bool = false
    ) throws(DynamixelDecodeError) -> DynamixelFastReply {
        guard ids.count == lengths.count else { throw .wrongLength(expected: ids.count, received: lengths.count) }
        return try withBuffer(bytes) { b throws(DynamixelDecodeError) in
            let f = try frame(b, skippingGarbage: skippingGarbage, minimumLength: 3)
            if f.instruction != DynamixelInstruction.status.rawValue {
                throw .echoedInstruction(DynamixelInstruction(rawValue: f.instruction))
            }
            if f.id != DynamixelID.broadcast { throw .wrongID(expected: DynamixelID.broadcast, received: f.id) }
            var expected = 1
            for n in lengths { expected += n + 4 }
            if f.length != expected { throw .wrongLength(expected: expected, received: f.length) }
            var blocks: [DynamixelFastReplyBlock] = []
            blocks.reserveCapacity(ids.count)
            var i = f.start + 8
            for (k, id) in ids.enumerated() {
                let got = b[i + 1]
                if got != id { throw .wrongID(expected: id, received: got) }
                blocks.append(DynamixelFastReplyBlock(
                    id: got, error: DynamixelStatusError(rawValue: b[i]), data: Array(b[(i + 2)..<(i + 2 + lengths[k])])))
                i += lengths[k] + 4
            }
            return DynamixelFastReply(blocks: blocks, range: f.start..<f.end)
        }
    }

    public static func decodeFastSyncReadReply(
        _ bytes: [UInt8], ids: [UInt8], dataLength: Int, skippingGarbage: Bool = false
    ) throws(DynamixelDecodeError) -> DynamixelFastReply {
        try decodeFastReply(bytes, ids: ids, lengths: Array(repeating: dataLength, count: ids.count),
                            skippingGarbage: skippingGarbage)
    }

    // MARK: instruction packets

    /// Decodes one instruction packet (the servo's side, for the emulator). Unknown instruction
    /// codes decode (a servo answers them with an instruction error); `DynamixelCommand(_:)`
    /// then interprets the parameters.
    public static func decodeInstruction(
        _ bytes: [UInt8], skippingGarbage: Bool = false
    ) throws(DynamixelDecodeError) -> DynamixelInstructionPacket {
        try withBuffer(bytes) { b throws(DynamixelDecodeError) in
            let f = try frame(b, skippingGarbage: skippingGarbage, minimumLength: 3)
            if f.instruction == DynamixelInstruction.status.rawValue { throw .unexpectedStatus }
            var p: [UInt8] = []
            p.reserveCapacity(f.length - 3)
            try unstuff(b, (f.start + 8)..<(f.end - 2), into: &p)
            return DynamixelInstructionPacket(
                id: f.id, instruction: DynamixelInstruction(rawValue: f.instruction), parameters: p, range: f.start..<f.end)
        }
    }
}

/// A status packet's id, error byte and place in the decoded bytes.
public struct DynamixelStatusHeader: Hashable, Sendable {
    public var id: UInt8
    public var error: DynamixelStatusError
    public var range: Range<Int>
}

/// A decoded status packet; `parameters` excludes the error byte and is un-stuffed.
public struct DynamixelStatusPacket: Hashable, Sendable {
    public var id: UInt8
    public var error: DynamixelStatusError
    public var parameters: [UInt8]
    public var range: Range<Int>
}

/// A decoded FAST_SYNC_READ / FAST_BULK_READ reply.
public struct DynamixelFastReply: Hashable, Sendable {
    public var blocks: [DynamixelFastReplyBlock]
    public var range: Range<Int>
}

/// A decoded instruction packet; `parameters` is un-stuffed.
public struct DynamixelInstructionPacket: Hashable, Sendable {
    public var id: UInt8
    public var instruction: DynamixelInstruction
    public var parameters: [UInt8]
    public var range: Range<Int>
    public init(id: UInt8, instruction: DynamixelInstruction, parameters: [UInt8], range: Range<Int> = 0..<0) {
        self.id = id; self.instruction = instruction; self.parameters = parameters; self.range = range
    }
}
