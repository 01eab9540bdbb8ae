import ServoProtocol

/// What a Feetech servo says to PING plus the reads of its model number and firmware (the SDK's
/// `ping()` also reads the model: a PING reply carries no data).
public struct FeetechPingReply: Sendable, Hashable {
    public var id: UInt8
    /// Register 3–4 (777 = STS3215).
    public var modelNumber: UInt16
    public var firmwareMajor: UInt8
    public var firmwareMinor: UInt8
    public var modelName: String { FeetechModel.name(modelNumber) }
    public var firmware: String { "\(firmwareMajor).\(firmwareMinor)" }
}

/// A group of consecutive memory-table items read from several servos at once (SYNC_READ, STS
/// only). Built once; `FeetechBusClient.syncRead` refills it without allocating.
///
/// Validity is explicit: a servo that did not answer keeps `valid[i] == false`.
public struct FeetechSyncRead {
    public let ids: [UInt8]
    public let items: [FeetechItem]
    public let address: UInt8
    /// Bytes per servo.
    public let length: Int
    let request: [UInt8]
    let offsets: [Int]
    /// (ids.count × items.count), row-major: `values[i * items.count + k]` is item k of servo i,
    /// decoded (sign-magnitude where the table says so).
    public internal(set) var values: [Int]
    public internal(set) var valid: [Bool]
    /// Servo i's ERR byte in the last read (overload, overheating, …).
    public internal(set) var errors: [FeetechStatusError]

    /// - Throws: `.invalidRequest` for no ids, no items, a gap between items, an id above 253.
    public init(ids: [UInt8], items: [FeetechItem]) throws(ServoBusError) {
        guard !ids.isEmpty, !items.isEmpty else {
            throw ServoBusError(.invalidRequest, servoID: nil, message: "a sync read needs at least one id and one item")
        }
        var offsets: [Int] = []
        var next = Int(items[0].address)
        for item in items {
            guard Int(item.address) == next else {
                throw ServoBusError(
                    .invalidRequest, servoID: nil,
                    message: "sync read items must be consecutive: \(item.name) starts at \(item.address), expected \(next)")
            }
            offsets.append(next - Int(items[0].address))
            next += item.size
        }
        self.ids = ids
        self.items = items
        address = items[0].address
        length = next - Int(items[0].address)
        self.offsets = offsets
        do throws(FeetechEncodeError) {
            request = try FeetechEncoder.syncRead(address: address, length: UInt8(length), ids: ids)
        } catch {
            throw ServoBusError(.invalidRequest, servoID: nil, message: error.description)
        }
        values = Array(repeating: 0, count: ids.count * items.count)
        valid = Array(repeating: false, count: ids.count)
        errors = Array(repeating: [], count: ids.count)
    }

    public func value(servo i: Int, item k: Int) -> Int? { valid[i] ? values[i * items.count + k] : nil }

    /// Bytes on the wire for one read: request plus replies (6 + length each).
    public var wireBytes: Int { request.count + ids.count * (6 + length) }

    mutating func store(servo i: Int, data: UnsafeBufferPointer<UInt8>, error: FeetechStatusError) {
        for k in 0..<items.count {
            let item = items[k]
            let o = offsets[k]
            let raw: UInt32 = item.size == 1 ? UInt32(data[o]) : UInt32(STS3215.series.word(data[o], data[o + 1]))
            values[i * items.count + k] = item.value(fromRaw: raw)
        }
        valid[i] = true
        errors[i] = error
    }
}

/// The same item written to several servos at once (SYNC_WRITE; no servo replies). Set
/// `values`, then call `FeetechBusClient.syncWrite`; nothing allocates after `init`.
public struct FeetechSyncWrite {
    public let ids: [UInt8]
    public let item: FeetechItem
    /// One value per id, in the item's units (signed where the item is sign-magnitude).
    public var values: [Int]
    /// The items' wire bytes, (ids.count × item.size).
    var data: [UInt8]

    public init(ids: [UInt8], item: FeetechItem) throws(ServoBusError) {
        guard !ids.isEmpty else { throw ServoBusError(.invalidRequest, servoID: nil, message: "a sync write needs at least one id") }
        guard item.access == .readWrite else { throw ServoBusError(.readOnly, servoID: nil, message: "\(item.name) is read-only") }
        self.ids = ids
        self.item = item
        values = Array(repeating: 0, count: ids.count)
        data = Array(repeating: 0, count: ids.count * item.size)
    }

    /// Bytes on the wire: FF FF FE LEN 83 addr len [id data]… CHK.
    public var wireBytes: Int { 8 + ids.count * (1 + item.size) }
}

/// A Feetech STS bus (STS3215): ping, item read/write, sync read/write, over a `BusTransactor`.
///
/// One thread uses a client at a time.
public final class FeetechBusClient {
    public let bus: BusTransactor<FeetechFramer>
    /// Response Status Level (8): 1 (factory) means writes answer; 0 only PING and READ do.
    public var responseStatusLevel = 1
    /// The ERR byte of the last unicast reply.
    public private(set) var lastStatus: FeetechStatusError = []
    private var tx: [UInt8] = []
    /// Parameters of the last unicast reply.
    private var parameters: [UInt8] = []

    public init(transport: any SerialTransport, configuration: TransactionConfiguration = .init()) {
        bus = BusTransactor(transport: transport, framer: FeetechFramer(), configuration: configuration)
        tx.reserveCapacity(FeetechPacket.maxPacketLength)
        parameters.reserveCapacity(FeetechPacket.maxPacketLength)
    }

    public var health: BusHealth { bus.health }

    private var attempts: Int { bus.configuration.retries + 1 }

    private func encode(_ id: UInt8, _ body: (inout [UInt8]) throws(FeetechEncodeError) -> Void) throws(ServoBusError) {
        do throws(FeetechEncodeError) { try body(&tx) } catch {
            throw ServoBusError(.invalidRequest, servoID: id, message: error.description)
        }
    }

    /// Sends `tx` to one servo and leaves its reply's parameters in `parameters`.
    private func unicast(_ id: UInt8, expectedCount: Int, what: @autoclosure () -> String) throws(ServoBusError) {
        let outcome: TransactionOutcome
        do throws(SerialTransportError) { outcome = try bus.transact(tx, expectedIDs: [id]) } catch { throw .transport(error) }
        guard outcome == .complete else { throw .noReply(id, what(), attempts: attempts) }
        let result: Result<FeetechStatusFrame, FeetechDecodeError> = bus.withReply(0) { b in
            let r = FeetechDecoder.decodeStatusFrame(b, expectedID: id, expectedParameterCount: expectedCount)
            if case let .success(f) = r {
                parameters.removeAll(keepingCapacity: true)
                for j in 0..<f.parameterCount { parameters.append(b[f.parameterOffset + j]) }
            }
            return r
        }
        switch result {
        case let .success(f): lastStatus = f.error
        case let .failure(e):
            throw ServoBusError(.malformedReply, servoID: id, message: "servo \(id) answered \(what()) with an unexpected packet: \(e)")
        }
    }

    private func sendOnly() throws(ServoBusError) {
        do throws(SerialTransportError) { _ = try bus.transact(tx, expectedIDs: []) } catch { throw .transport(error) }
    }

    // MARK: single servo

    /// PING, then READs of the model number (3, 2 bytes) and firmware (0, 2 bytes).
    public func ping(_ id: UInt8) throws(ServoBusError) -> FeetechPingReply {
        try encode(id) { (b) throws(FeetechEncodeError) in try FeetechEncoder.ping(id: id, into: &b) }
        try unicast(id, expectedCount: 0, what: "PING")
        let model = try readBytes(id, address: STS3215.model.address, length: 2)
        let firmware = try readBytes(id, address: STS3215.firmwareMajor.address, length: 2)
        return FeetechPingReply(id: id, modelNumber: STS3215.series.word(model[0], model[1]),
                                firmwareMajor: firmware[0], firmwareMinor: firmware[1])
    }

    /// Broadcast PING: the ids of every servo that answers within the window (LeRobot waits
    /// `6·252·tx + 3·252 + 16` ms ≈ 0.79 s at 1 Mbps), or until `maximumServos` answered.
    public func broadcastPing(windowNanoseconds: UInt64, maximumServos: Int = 254) throws(ServoBusError) -> [UInt8] {
        try encode(FeetechPacket.broadcastID) { (b) throws(FeetechEncodeError) in try FeetechEncoder.ping(id: FeetechPacket.broadcastID, into: &b) }
        let n: Int
        do throws(SerialTransportError) {
            n = try bus.collect(tx, windowNanoseconds: windowNanoseconds, maximumReplies: maximumServos)
        } catch { throw .transport(error) }
        var ids: [UInt8] = []
        for i in 0..<n {
            if case let .success(s) = FeetechDecoder.decodeStatus(bus.reply(i), expectedParameterCount: 0) { ids.append(s.id) }
        }
        return Array(Set(ids)).sorted()
    }

    public func readBytes(_ id: UInt8, address: UInt8, length: Int) throws(ServoBusError) -> [UInt8] {
        try encode(id) { (b) throws(FeetechEncodeError) in try FeetechEncoder.read(id: id, address: address, length: UInt8(length), into: &b) }
        try unicast(id, expectedCount: length, what: "READ of \(length) bytes at \(address)")
        return parameters
    }

    /// READ of one item, decoded (sign-magnitude where the table says so).
    public func read(_ id: UInt8, _ item: FeetechItem) throws(ServoBusError) -> Int {
        let b = try readBytes(id, address: item.address, length: item.size)
        let raw: UInt32 = item.size == 1 ? UInt32(b[0]) : UInt32(STS3215.series.word(b[0], b[1]))
        return item.value(fromRaw: raw)
    }

    /// WRITE of one item. EEPROM items (below 40) need torque off and Lock (55) = 0 first; a
    /// locked servo acknowledges and ignores the write, so verify by reading back.
    /// - Throws: `.readOnly`, `.valueOutOfRange`, `.noReply`, `.transport`.
    public func write(_ id: UInt8, _ item: FeetechItem, _ value: Int) throws(ServoBusError) {
        let data = try Self.wireBytes(item, value, id: id)
        try encode(id) { (b) throws(FeetechEncodeError) in try FeetechEncoder.write(id: id, address: item.address, data: data, into: &b) }
        if responseStatusLevel < 1 || id == FeetechPacket.broadcastID {
            try sendOnly()
            return
        }
        try unicast(id, expectedCount: 0, what: "WRITE of \(item.name)")
    }

    /// WRITE without checking the status (an ID or baud change: the caller verifies afterwards);
    /// a reply from any id within the timeout is absorbed, so it cannot answer the next request.
    public func writeUnacknowledged(_ id: UInt8, _ item: FeetechItem, _ value: Int) throws(ServoBusError) {
        let data = try Self.wireBytes(item, value, id: id)
        try encode(id) { (b) throws(FeetechEncodeError) in try FeetechEncoder.write(id: id, address: item.address, data: data, into: &b) }
        do throws(SerialTransportError) {
            _ = try bus.collect(tx, windowNanoseconds: bus.configuration.timeoutNanoseconds, maximumReplies: 1)
        } catch { throw .transport(error) }
    }

    static func wireBytes(_ item: FeetechItem, _ value: Int, id: UInt8?) throws(ServoBusError) -> [UInt8] {
        guard item.access == .readWrite else { throw ServoBusError(.readOnly, servoID: id, message: "\(item.name) is read-only") }
        guard let raw = item.raw(fromValue: value) else {
            let range: String
            switch item.encoding {
            case .unsigned: range = "0…\((1 << (8 * item.size)) - 1)"
            case let .signMagnitude(bit): range = "−\((1 << bit) - 1)…\((1 << bit) - 1)"
            }
            throw ServoBusError(.valueOutOfRange, servoID: id, message: "\(value) does not fit \(item.name) (\(range))")
        }
        var out: [UInt8] = []
        STS3215.series.append(raw, size: item.size, to: &out)
        return out
    }

    // MARK: groups

    /// SYNC_WRITE of `group.values` (no replies).
    /// - Throws: `.valueOutOfRange` naming the servo whose value does not fit; `.transport`.
    /// - Note: Allocates nothing after the first call with a group of this size (errors aside).
    public func syncWrite(_ group: inout FeetechSyncWrite) throws(ServoBusError) {
        let item = group.item
        for i in 0..<group.ids.count {
            guard let raw = item.raw(fromValue: group.values[i]) else {
                _ = try Self.wireBytes(item, group.values[i], id: group.ids[i])
                return
            }
            if item.size == 1 {
                group.data[i] = UInt8(truncatingIfNeeded: raw)
            } else {
                let (a, b) = STS3215.series.bytes(of: UInt16(truncatingIfNeeded: raw))
                group.data[2 * i] = a
                group.data[2 * i + 1] = b
            }
        }
        let address = item.address, length = UInt8(item.size)
        do throws(FeetechEncodeError) {
            try FeetechEncoder.syncWrite(address: address, length: length, ids: group.ids, data: group.data, into: &tx)
        } catch {
            throw ServoBusError(.invalidRequest, servoID: nil, message: error.description)
        }
        try sendOnly()
    }

    /// SYNC_READ into `group`; servos that did not answer are marked invalid.
    /// - Returns: the number of servos that answered.
    /// - Throws: `.transport` only.
    /// - Note: Allocates nothing after `init` of the group.
    public func syncRead(_ group: inout FeetechSyncRead) throws(ServoBusError) -> Int {
        for i in 0..<group.valid.count { group.valid[i] = false }
        let outcome: TransactionOutcome
        do throws(SerialTransportError) { outcome = try bus.transact(group.request, expectedIDs: group.ids) } catch {
            throw .transport(error)
        }
        let received: Int
        switch outcome {
        case .complete: received = group.ids.count
        case let .timedOut(r): received = r
        }
        var answered = 0
        for i in 0..<received {
            let id = group.ids[i], length = group.length
            let ok: Bool = bus.withReply(i) { b in
                guard case let .success(f) = FeetechDecoder.decodeStatusFrame(b, expectedID: id, expectedParameterCount: length) else {
                    return false
                }
                group.store(servo: i, data: UnsafeBufferPointer(rebasing: b[f.parameterOffset..<(f.parameterOffset + f.parameterCount)]), error: f.error)
                return true
            }
            if ok { answered += 1 }
        }
        return answered
    }
}
