/// Encoders of Dynamixel Protocol 2.0 packets (e-Manual protocol 2.0; byte-identical to
/// `protocol2_packet_handler.py` of dynamixel-sdk 4.1.0 for the same calls).
///
///   FF FF FD 00 | ID | LEN_L LEN_H | INST | P1…Pn | CRC_L CRC_H      LEN = stuffed(INST…Pn) + 2
///
/// Every `…(into:)` form *appends* one whole packet to `out` and allocates nothing once `out` has
/// the capacity (clear it with `removeAll(keepingCapacity: true)` to reuse a transmit buffer); the
/// forms without `into:` return a new array. Byte stuffing (an `FD` after every `FF FF FD` in
/// INST…Pn) is applied on the fly and LEN counts the stuffed bytes, as the CRC does.
/// Passing parameters that cannot form a packet (more than 65,535 bytes, data whose count is not
/// the declared length) is a programmer error and traps.
public enum DynamixelEncoder {
    /// The largest LEN of a packet the SDKs accept (their TX/RX buffers are 1 KiB).
    public static let maximumLength = 1024 - 7

    // MARK: core

    /// Appends `FF FF FD 00 ID LEN LEN` (LEN patched by `finish`) and returns the packet's start.
    @inlinable
    static func begin(_ out: inout [UInt8], id: UInt8, instruction: UInt8) -> Int {
        let start = out.count
        out.append(0xFF); out.append(0xFF); out.append(0xFD); out.append(0x00)
        out.append(id); out.append(0); out.append(0)
        out.append(instruction)
        return start
    }

    /// Appends one byte of the stuffed region, inserting an extra `FD` after `FF FF FD`.
    /// `run` counts the trailing `FF`s (at most 2) of the region emitted so far.
    @inlinable
    static func put(_ b: UInt8, _ out: inout [UInt8], _ run: inout Int) {
        out.append(b)
        if b == 0xFF {
            run = min(run + 1, 2)
        } else {
            if b == 0xFD && run == 2 { out.append(0xFD) }
            run = 0
        }
    }

    @inlinable
    static func putLE(_ v: UInt16, _ out: inout [UInt8], _ run: inout Int) {
        put(UInt8(truncatingIfNeeded: v), &out, &run)
        put(UInt8(truncatingIfNeeded: v >> 8), &out, &run)
    }

    /// Patches LEN and appends the CRC of the packet that starts at `start`.
    @inlinable
    static func finish(_ out: inout [UInt8], start: Int) {
        let length = out.count - start - 7 + 2
        precondition(length <= Int(UInt16.max), "Dynamixel packet longer than 65,535 bytes")
        out[start + 5] = UInt8(truncatingIfNeeded: length)
        out[start + 6] = UInt8(truncatingIfNeeded: length >> 8)
        let crc = out.withUnsafeBufferPointer { DynamixelCRC.update(0, $0, start..<out.count) }
        out.append(UInt8(truncatingIfNeeded: crc))
        out.append(UInt8(truncatingIfNeeded: crc >> 8))
    }

    /// Appends an instruction packet with the given (unstuffed) parameters.
    @inlinable
    public static func instruction(
        id: UInt8, _ instruction: DynamixelInstruction, parameters: some Collection<UInt8>, into out: inout [UInt8]
    ) {
        let start = begin(&out, id: id, instruction: instruction.rawValue)
        var run = 0
        for b in parameters { put(b, &out, &run) }
        finish(&out, start: start)
    }

    /// Appends a status packet (`INST = 0x55`, then the error byte, then the parameters), stuffed.
    @inlinable
    public static func status(
        id: UInt8, error: DynamixelStatusError, parameters: some Collection<UInt8>, into out: inout [UInt8]
    ) {
        let start = begin(&out, id: id, instruction: DynamixelInstruction.status.rawValue)
        var run = 0
        put(error.rawValue, &out, &run)
        for b in parameters { put(b, &out, &run) }
        finish(&out, start: start)
    }

    // MARK: single-servo instructions

    @inlinable public static func ping(id: UInt8, into out: inout [UInt8]) {
        instruction(id: id, .ping, parameters: EmptyCollection(), into: &out)
    }

    @inlinable public static func read(id: UInt8, address: UInt16, length: UInt16, into out: inout [UInt8]) {
        let start = begin(&out, id: id, instruction: DynamixelInstruction.read.rawValue)
        var run = 0
        putLE(address, &out, &run); putLE(length, &out, &run)
        finish(&out, start: start)
    }

    @inlinable public static func write(id: UInt8, address: UInt16, data: some Collection<UInt8>, into out: inout [UInt8]) {
        addressed(.write, id: id, address: address, data: data, into: &out)
    }

    @inlinable public static func regWrite(id: UInt8, address: UInt16, data: some Collection<UInt8>, into out: inout [UInt8]) {
        addressed(.regWrite, id: id, address: address, data: data, into: &out)
    }

    @inlinable static func addressed(
        _ inst: DynamixelInstruction, id: UInt8, address: UInt16, data: some Collection<UInt8>, into out: inout [UInt8]
    ) {
        let start = begin(&out, id: id, instruction: inst.rawValue)
        var run = 0
        putLE(address, &out, &run)
        for b in data { put(b, &out, &run) }
        finish(&out, start: start)
    }

    @inlinable public static func action(id: UInt8, into out: inout [UInt8]) {
        instruction(id: id, .action, parameters: EmptyCollection(), into: &out)
    }

    @inlinable public static func reboot(id: UInt8, into out: inout [UInt8]) {
        instruction(id: id, .reboot, parameters: EmptyCollection(), into: &out)
    }

    /// `option`: 0xFF resets everything, 0x01 all but the id, 0x02 all but the id and baud rate.
    @inlinable public static func factoryReset(id: UInt8, option: UInt8, into out: inout [UInt8]) {
        instruction(id: id, .factoryReset, parameters: CollectionOfOne(option), into: &out)
    }

    // MARK: group instructions (always to the broadcast id)

    /// SYNC_READ: `addr(2) len(2) id…`; every listed servo answers with a status packet, in list order.
    @inlinable public static func syncRead(address: UInt16, length: UInt16, ids: some Collection<UInt8>, into out: inout [UInt8]) {
        groupRead(.syncRead, address: address, length: length, ids: ids, into: &out)
    }

    /// FAST_SYNC_READ: parameters as SYNC_READ; the servos answer with one combined packet.
    @inlinable public static func fastSyncRead(address: UInt16, length: UInt16, ids: some Collection<UInt8>, into out: inout [UInt8]) {
        groupRead(.fastSyncRead, address: address, length: length, ids: ids, into: &out)
    }

    @inlinable static func groupRead(
        _ inst: DynamixelInstruction, address: UInt16, length: UInt16, ids: some Collection<UInt8>, into out: inout [UInt8]
    ) {
        let start = begin(&out, id: DynamixelID.broadcast, instruction: inst.rawValue)
        var run = 0
        putLE(address, &out, &run); putLE(length, &out, &run)
        for id in ids { put(id, &out, &run) }
        finish(&out, start: start)
    }

    /// SYNC_WRITE: `addr(2) len(2) [id data(len)]…`; `data` holds `ids.count · length` bytes, the
    /// servos' data one after another in the order of `ids`. No servo replies.
    @inlinable public static func syncWrite(
        address: UInt16, length: UInt16, ids: some Collection<UInt8>, data: some Collection<UInt8>, into out: inout [UInt8]
    ) {
        precondition(data.count == ids.count * Int(length), "sync write data is not ids.count × length bytes")
        let start = begin(&out, id: DynamixelID.broadcast, instruction: DynamixelInstruction.syncWrite.rawValue)
        var run = 0
        putLE(address, &out, &run); putLE(length, &out, &run)
        var d = data.makeIterator()
        for id in ids {
            put(id, &out, &run)
            for _ in 0..<Int(length) { put(d.next()!, &out, &run) }
        }
        finish(&out, start: start)
    }

    /// SYNC_WRITE of one integer item per servo (`values[i]` to `ids[i]`), each written
    /// little-endian, two's complement, at `width` bytes (1, 2 or 4) as the X-series table wants.
    @inlinable public static func syncWrite(
        address: UInt16, width: Int, ids: some Collection<UInt8>, values: some Collection<Int32>, into out: inout [UInt8]
    ) {
        precondition(width == 1 || width == 2 || width == 4, "item width must be 1, 2 or 4")
        precondition(values.count == ids.count, "one value per id")
        let start = begin(&out, id: DynamixelID.broadcast, instruction: DynamixelInstruction.syncWrite.rawValue)
        var run = 0
        putLE(address, &out, &run); putLE(UInt16(width), &out, &run)
        var v = values.makeIterator()
        for id in ids {
            put(id, &out, &run)
            let bits = UInt32(bitPattern: v.next()!)
            for k in 0..<width { put(UInt8(truncatingIfNeeded: bits >> (8 * UInt32(k))), &out, &run) }
        }
        finish(&out, start: start)
    }

    /// BULK_READ: `[id addr(2) len(2)]…`; one status packet per entry, in order.
    @inlinable public static func bulkRead(_ entries: some Collection<DynamixelBulkReadEntry>, into out: inout [UInt8]) {
        bulk(.bulkRead, entries, into: &out)
    }

    /// FAST_BULK_READ: as BULK_READ; one combined reply.
    @inlinable public static func fastBulkRead(_ entries: some Collection<DynamixelBulkReadEntry>, into out: inout [UInt8]) {
        bulk(.fastBulkRead, entries, into: &out)
    }

    @inlinable static func bulk(
        _ inst: DynamixelInstruction, _ entries: some Collection<DynamixelBulkReadEntry>, into out: inout [UInt8]
    ) {
        let start = begin(&out, id: DynamixelID.broadcast, instruction: inst.rawValue)
        var run = 0
        for e in entries {
            put(e.id, &out, &run); putLE(e.address, &out, &run); putLE(e.length, &out, &run)
        }
        finish(&out, start: start)
    }

    /// BULK_WRITE: `[id addr(2) len(2) data(len)]…`; no servo replies.
    @inlinable public static func bulkWrite(_ entries: some Collection<DynamixelBulkWriteEntry>, into out: inout [UInt8]) {
        let start = begin(&out, id: DynamixelID.broadcast, instruction: DynamixelInstruction.bulkWrite.rawValue)
        var run = 0
        for e in entries {
            precondition(e.data.count <= Int(UInt16.max), "bulk write data longer than 65,535 bytes")
            put(e.id, &out, &run); putLE(e.address, &out, &run); putLE(UInt16(e.data.count), &out, &run)
            for b in e.data { put(b, &out, &run) }
        }
        finish(&out, start: start)
    }

    /// The combined reply of FAST_SYNC_READ / FAST_BULK_READ (never stuffed):
    ///
    ///   FF FF FD 00 FE LEN LEN 55 [ERR₁ ID₁ data₁ CRC₁] … [ERRₙ IDₙ dataₙ CRCₙ]
    ///
    /// LEN = 1 + Σ(len(dataᵢ) + 4). CRCᵢ is cumulative: the CRC of the packet from its first
    /// header byte up to that point; the last one is the packet CRC.
    public static func fastReply(_ blocks: some Collection<DynamixelFastReplyBlock>, into out: inout [UInt8]) {
        let start = begin(&out, id: DynamixelID.broadcast, instruction: DynamixelInstruction.status.rawValue)
        var length = 1
        for b in blocks { length += b.data.count + 4 }
        precondition(length <= Int(UInt16.max), "fast reply longer than 65,535 bytes")
        out[start + 5] = UInt8(truncatingIfNeeded: length)
        out[start + 6] = UInt8(truncatingIfNeeded: length >> 8)
        var crc: UInt16 = 0
        var crcFrom = start
        for b in blocks {
            out.append(b.error.rawValue); out.append(b.id)
            out.append(contentsOf: b.data)
            crc = out.withUnsafeBufferPointer { DynamixelCRC.update(crc, $0, crcFrom..<out.count) }
            crcFrom = out.count  // the next CRC covers this one's bytes too
            out.append(UInt8(truncatingIfNeeded: crc)); out.append(UInt8(truncatingIfNeeded: crc >> 8))
        }
        if blocks.isEmpty {
            crc = out.withUnsafeBufferPointer { DynamixelCRC.update(0, $0, start..<out.count) }
            out.append(UInt8(truncatingIfNeeded: crc)); out.append(UInt8(truncatingIfNeeded: crc >> 8))
        }
    }
}

/// One servo's part of a BULK_READ / FAST_BULK_READ.
public struct DynamixelBulkReadEntry: Hashable, Sendable {
    public var id: UInt8
    public var address: UInt16
    public var length: UInt16
    public init(id: UInt8, address: UInt16, length: UInt16) {
        self.id = id; self.address = address; self.length = length
    }
}

/// One servo's part of a BULK_WRITE.
public struct DynamixelBulkWriteEntry: Hashable, Sendable {
    public var id: UInt8
    public var address: UInt16
    public var data: [UInt8]
    public init(id: UInt8, address: UInt16, data: [UInt8]) {
        self.id = id; self.address = address; self.data = data
    }
}

/// One servo's block of a fast (combined) reply.
public struct DynamixelFastReplyBlock: Hashable, Sendable {
    public var id: UInt8
    public var error: DynamixelStatusError
    public var data: [UInt8]
    public init(id: UInt8, error: DynamixelStatusError, data: [UInt8]) {
        self.id = id; self.error = error; self.data = data
    }
}

extension DynamixelEncoder {
    // Array-returning conveniences for tools and tests.
    public static func ping(id: UInt8) -> [UInt8] { var o: [UInt8] = []; ping(id: id, into: &o); return o }
    public static func read(id: UInt8, address: UInt16, length: UInt16) -> [UInt8] {
        var o: [UInt8] = []; read(id: id, address: address, length: length, into: &o); return o
    }
    public static func write(id: UInt8, address: UInt16, data: [UInt8]) -> [UInt8] {
        var o: [UInt8] = []; write(id: id, address: address, data: data, into: &o); return o
    }
    public static func regWrite(id: UInt8, address: UInt16, data: [UInt8]) -> [UInt8] {
        var o: [UInt8] = []; regWrite(id: id, address: address, data: data, into: &o); return o
    }
    public static func action(id: UInt8) -> [UInt8] { var o: [UInt8] = []; action(id: id, into: &o); return o }
    public static func reboot(id: UInt8) -> [UInt8] { var o: [UInt8] = []; reboot(id: id, into: &o); return o }
    public static func syncRead(address: UInt16, length: UInt16, ids: [UInt8]) -> [UInt8] {
        var o: [UInt8] = []; syncRead(address: address, length: length, ids: ids, into: &o); return o
    }
    public static func fastSyncRead(address: UInt16, length: UInt16, ids: [UInt8]) -> [UInt8] {
        var o: [UInt8] = []; fastSyncRead(address: address, length: length, ids: ids, into: &o); return o
    }
    public static func syncWrite(address: UInt16, length: UInt16, ids: [UInt8], data: [UInt8]) -> [UInt8] {
        var o: [UInt8] = []; syncWrite(address: address, length: length, ids: ids, data: data, into: &o); return o
    }
    public static func bulkRead(_ entries: [DynamixelBulkReadEntry]) -> [UInt8] {
        var o: [UInt8] = []; bulkRead(entries, into: &o); return o
    }
    public static func fastBulkRead(_ entries: [DynamixelBulkReadEntry]) -> [UInt8] {
        var o: [UInt8] = []; fastBulkRead(entries, into: &o); return o
    }
    public static func bulkWrite(_ entries: [DynamixelBulkWriteEntry]) -> [UInt8] {
        var o: [UInt8] = []; bulkWrite(entries, into: &o); return o
    }
    public static func status(id: UInt8, error: DynamixelStatusError = .none, parameters: [UInt8] = []) -> [UInt8] {
        var o: [UInt8] = []; status(id: id, error: error, parameters: parameters, into: &o); return o
    }
    public static func fastReply(_ blocks: [DynamixelFastReplyBlock]) -> [UInt8] {
        var o: [UInt8] = []; fastReply(blocks, into: &o); return o
    }
}
