/// Why a packet could not be encoded. Encoders check what the wire cannot carry; they never trap.
public enum FeetechEncodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// 0xFF is never an ID, and READ/SYNC entries need a servo's ID (0…0xFD), not broadcast.
    case invalidID(UInt8, instruction: FeetechInstruction)
    /// The packet would exceed the 250-byte limit (at most 244 parameter bytes).
    case tooLong(instruction: FeetechInstruction, parameterCount: Int)
    /// A sync write's data is not `ids.count × dataLength` bytes.
    case dataCountMismatch(expected: Int, got: Int)
    /// A sync instruction with no IDs, or an item length of 0.
    case empty(instruction: FeetechInstruction)

    public var description: String {
        switch self {
        case let .invalidID(id, instruction):
            "Feetech \(instruction): ID \(id) is not valid here (servo IDs are 0…253, 254 is broadcast)"
        case let .tooLong(instruction, count):
            "Feetech \(instruction): \(count) parameter bytes exceed the \(FeetechPacket.maxParameterCount)-byte limit of a 250-byte packet"
        case let .dataCountMismatch(expected, got):
            "Feetech SYNC_WRITE: \(got) data bytes, expected \(expected) (IDs × item length)"
        case let .empty(instruction):
            "Feetech \(instruction): no IDs or a zero item length"
        }
    }
}

/// Instruction and status packet encoders (hardware-notes §2.1, the bytes the SDK puts on the
/// wire). Each `…(into:)` form replaces the buffer's contents and keeps its capacity, so a caller
/// that reuses one buffer allocates nothing after the first packet; the other forms return a new
/// array.
public enum FeetechEncoder {
    // MARK: into a caller's buffer

    public static func ping(id: UInt8, into buffer: inout [UInt8]) throws(FeetechEncodeError) {
        try checkID(id, .ping, broadcastAllowed: true)
        frame(id, .ping, into: &buffer)
    }

    public static func read(id: UInt8, address: UInt8, length: UInt8,
                            into buffer: inout [UInt8]) throws(FeetechEncodeError) {
        try checkID(id, .read, broadcastAllowed: false)
        guard length > 0 else { throw .empty(instruction: .read) }
        begin(id, .read, into: &buffer)
        buffer.append(address); buffer.append(length)
        finish(&buffer)
    }

    public static func write<C: Collection>(id: UInt8, address: UInt8, data: C,
                                            into buffer: inout [UInt8]) throws(FeetechEncodeError)
        where C.Element == UInt8 {
        try writeLike(.write, id: id, address: address, data: data, into: &buffer)
    }

    /// REG_WRITE: the servo stores the write and applies it on ACTION.
    public static func regWrite<C: Collection>(id: UInt8, address: UInt8, data: C,
                                               into buffer: inout [UInt8]) throws(FeetechEncodeError)
        where C.Element == UInt8 {
        try writeLike(.regWrite, id: id, address: address, data: data, into: &buffer)
    }

    public static func action(id: UInt8 = FeetechPacket.broadcastID,
                              into buffer: inout [UInt8]) throws(FeetechEncodeError) {
        try checkID(id, .action, broadcastAllowed: true)
        frame(id, .action, into: &buffer)
    }

    /// SYNC_READ (STS only): broadcast `address, length, id…`; each listed servo answers with an
    /// ordinary status packet, in list order.
    public static func syncRead<C: Collection>(address: UInt8, length: UInt8, ids: C,
                                               into buffer: inout [UInt8]) throws(FeetechEncodeError)
        where C.Element == UInt8 {
        // Concrete bytes from here on: iterating an unspecialised generic collection allocates.
        try FeetechDecoder.withContiguous(ids) { ids in
            syncReadCore(address: address, length: length, ids: ids, into: &buffer)
        }.get()
    }

    static func syncReadCore(address: UInt8, length: UInt8, ids: UnsafeBufferPointer<UInt8>,
                             into buffer: inout [UInt8]) -> Result<Void, FeetechEncodeError> {
        guard !ids.isEmpty, length > 0 else { return .failure(.empty(instruction: .syncRead)) }
        for id in ids where id > FeetechPacket.maxServoID { return .failure(.invalidID(id, instruction: .syncRead)) }
        let count = 2 + ids.count
        guard count <= FeetechPacket.maxParameterCount else {
            return .failure(.tooLong(instruction: .syncRead, parameterCount: count))
        }
        begin(FeetechPacket.broadcastID, .syncRead, into: &buffer)
        buffer.append(address); buffer.append(length)
        for id in ids { buffer.append(id) }
        finish(&buffer)
        return .success(())
    }

    /// SYNC_WRITE: broadcast `address, length, [id, data…]…`; `data` holds `length` bytes per ID in
    /// wire order (see `FeetechSeries.append`), in the order of `ids`. No servo replies.
    public static func syncWrite<I: Collection, D: Collection>(
        address: UInt8, length: UInt8, ids: I, data: D, into buffer: inout [UInt8]
    ) throws(FeetechEncodeError) where I.Element == UInt8, D.Element == UInt8 {
        try FeetechDecoder.withContiguous(ids) { ids in
            FeetechDecoder.withContiguous(data) { data in
                syncWriteCore(address: address, length: length, ids: ids, data: data, into: &buffer)
            }
        }.get()
    }

    static func syncWriteCore(address: UInt8, length: UInt8, ids: UnsafeBufferPointer<UInt8>,
                              data: UnsafeBufferPointer<UInt8>,
                              into buffer: inout [UInt8]) -> Result<Void, FeetechEncodeError> {
        guard !ids.isEmpty, length > 0 else { return .failure(.empty(instruction: .syncWrite)) }
        for id in ids where id > FeetechPacket.maxServoID { return .failure(.invalidID(id, instruction: .syncWrite)) }
        let n = Int(length)
        guard data.count == ids.count * n else {
            return .failure(.dataCountMismatch(expected: ids.count * n, got: data.count))
        }
        let count = 2 + ids.count * (1 + n)
        guard count <= FeetechPacket.maxParameterCount else {
            return .failure(.tooLong(instruction: .syncWrite, parameterCount: count))
        }
        begin(FeetechPacket.broadcastID, .syncWrite, into: &buffer)
        buffer.append(address); buffer.append(length)
        for (k, id) in ids.enumerated() {
            buffer.append(id)
            for j in 0..<n { buffer.append(data[k * n + j]) }
        }
        finish(&buffer)
        return .success(())
    }

    /// A status (reply) packet: what a servo sends, and what the emulator answers with.
    public static func status<C: Collection>(id: UInt8, error: UInt8, parameters: C,
                                             into buffer: inout [UInt8]) throws(FeetechEncodeError)
        where C.Element == UInt8 {
        guard id <= FeetechPacket.maxServoID else { throw .invalidID(id, instruction: .ping) }
        try FeetechDecoder.withContiguous(parameters) { p -> Result<Void, FeetechEncodeError> in
            guard p.count <= FeetechPacket.maxParameterCount else {
                return .failure(.tooLong(instruction: .read, parameterCount: p.count))
            }
            buffer.removeAll(keepingCapacity: true)
            buffer.append(FeetechPacket.header); buffer.append(FeetechPacket.header)
            buffer.append(id); buffer.append(UInt8(p.count + 2)); buffer.append(error)
            for b in p { buffer.append(b) }
            buffer.append(checksum(of: buffer))
            return .success(())
        }.get()
    }

    // MARK: returning a new array

    public static func ping(id: UInt8) throws(FeetechEncodeError) -> [UInt8] {
        var b: [UInt8] = []; try ping(id: id, into: &b); return b
    }

    public static func read(id: UInt8, address: UInt8, length: UInt8) throws(FeetechEncodeError) -> [UInt8] {
        var b: [UInt8] = []; try read(id: id, address: address, length: length, into: &b); return b
    }

    public static func write<C: Collection>(id: UInt8, address: UInt8, data: C) throws(FeetechEncodeError) -> [UInt8]
        where C.Element == UInt8 {
        var b: [UInt8] = []; try write(id: id, address: address, data: data, into: &b); return b
    }

    public static func regWrite<C: Collection>(id: UInt8, address: UInt8, data: C) throws(FeetechEncodeError) -> [UInt8]
        where C.Element == UInt8 {
        var b: [UInt8] = []; try regWrite(id: id, address: address, data: data, into: &b); return b
    }

    public static func action(id: UInt8 = FeetechPacket.broadcastID) throws(FeetechEncodeError) -> [UInt8] {
        var b: [UInt8] = []; try action(id: id, into: &b); return b
    }

    public static func syncRead<C: Collection>(address: UInt8, length: UInt8, ids: C) throws(FeetechEncodeError) -> [UInt8]
        where C.Element == UInt8 {
        var b: [UInt8] = []; try syncRead(address: address, length: length, ids: ids, into: &b); return b
    }

    public static func syncWrite<I: Collection, D: Collection>(address: UInt8, length: UInt8, ids: I, data: D)
        throws(FeetechEncodeError) -> [UInt8] where I.Element == UInt8, D.Element == UInt8 {
        var b: [UInt8] = []; try syncWrite(address: address, length: length, ids: ids, data: data, into: &b); return b
    }

    public static func status<C: Collection>(id: UInt8, error: UInt8, parameters: C) throws(FeetechEncodeError) -> [UInt8]
        where C.Element == UInt8 {
        var b: [UInt8] = []; try status(id: id, error: error, parameters: parameters, into: &b); return b
    }

    /// The packet for a decoded command (the inverse of `FeetechDecoder.decodeInstruction`).
    public static func encode(_ command: FeetechCommand) throws(FeetechEncodeError) -> [UInt8] {
        switch command {
        case let .ping(id): return try ping(id: id)
        case let .read(id, address, length): return try read(id: id, address: address, length: length)
        case let .write(id, address, data): return try write(id: id, address: address, data: data)
        case let .regWrite(id, address, data): return try regWrite(id: id, address: address, data: data)
        case let .action(id): return try action(id: id)
        case let .reset(id):
            try checkID(id, .reset, broadcastAllowed: true)
            var b: [UInt8] = []
            frame(id, .reset, into: &b)
            return b
        case let .syncRead(address, length, ids): return try syncRead(address: address, length: length, ids: ids)
        case let .syncWrite(address, length, ids, data):
            return try syncWrite(address: address, length: length, ids: ids, data: data)
        }
    }

    // MARK: framing

    @inline(__always)
    static func checkID(_ id: UInt8, _ instruction: FeetechInstruction,
                        broadcastAllowed: Bool) throws(FeetechEncodeError) {
        guard id <= FeetechPacket.maxServoID || (broadcastAllowed && id == FeetechPacket.broadcastID) else {
            throw .invalidID(id, instruction: instruction)
        }
    }

    static func writeLike<C: Collection>(_ instruction: FeetechInstruction, id: UInt8, address: UInt8, data: C,
                                         into buffer: inout [UInt8]) throws(FeetechEncodeError)
        where C.Element == UInt8 {
        try checkID(id, instruction, broadcastAllowed: true)
        try FeetechDecoder.withContiguous(data) { data -> Result<Void, FeetechEncodeError> in
            guard !data.isEmpty else { return .failure(.empty(instruction: instruction)) }
            guard 1 + data.count <= FeetechPacket.maxParameterCount else {
                return .failure(.tooLong(instruction: instruction, parameterCount: 1 + data.count))
            }
            begin(id, instruction, into: &buffer)
            buffer.append(address)
            for b in data { buffer.append(b) }
            finish(&buffer)
            return .success(())
        }.get()
    }

    /// Header, ID, a LEN placeholder and INST; the caller appends the parameters, then `finish`.
    @inline(__always)
    static func begin(_ id: UInt8, _ instruction: FeetechInstruction, into buffer: inout [UInt8]) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(FeetechPacket.header); buffer.append(FeetechPacket.header)
        buffer.append(id); buffer.append(0); buffer.append(instruction.rawValue)
    }

    /// Sets LEN (parameters + 2) and appends the checksum.
    @inline(__always)
    static func finish(_ buffer: inout [UInt8]) {
        buffer[3] = UInt8(buffer.count - 5 + 2)
        buffer.append(checksum(of: buffer))
    }

    /// The checksum of a packet under construction: every byte after the header.
    @inline(__always)
    static func checksum(of buffer: [UInt8]) -> UInt8 {
        var sum: UInt8 = 0
        for i in 2..<buffer.count { sum &+= buffer[i] }
        return ~sum
    }

    @inline(__always)
    static func frame(_ id: UInt8, _ instruction: FeetechInstruction, into buffer: inout [UInt8]) {
        begin(id, instruction, into: &buffer)
        finish(&buffer)
    }
}
