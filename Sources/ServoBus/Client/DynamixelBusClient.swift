import ServoProtocol

/// What a Dynamixel servo says to a PING.
public struct DynamixelPingReply: Sendable, Hashable {
    public var id: UInt8
    /// Control-table Model Number (1060 = XL430-W250, 1200 = XL330-M288, …).
    public var modelNumber: UInt16
    public var firmware: UInt8
    /// The model, nil when robotd does not know the number.
    public var model: DynamixelModel? { DynamixelModel(rawValue: modelNumber) }
    public var modelName: String { model?.description ?? "model \(modelNumber)" }
}

/// A group of consecutive control-table items read from several servos at once (SYNC_READ, or
/// FAST_SYNC_READ: one combined reply). Built once; `DynamixelBusClient.syncRead` refills it
/// without allocating.
///
/// Validity is explicit: a servo that did not answer keeps `valid[i] == false` and its values
/// are not to be used (0 is a valid position, hardware-notes §1.5).
public struct DynamixelSyncRead {
    public let ids: [UInt8]
    public let items: [DynamixelControlItem]
    public let address: UInt16
    /// Bytes per servo: the items' sizes summed.
    public let length: Int
    public let fast: Bool
    let request: [UInt8]
    let offsets: [Int]
    /// (ids.count × items.count), row-major: `values[i * items.count + k]` is item k of servo i,
    /// sign-extended where the table says the item is signed.
    public internal(set) var values: [Int64]
    /// Whether servo i answered the last read.
    public internal(set) var valid: [Bool]
    /// Servo i's status error byte in the last read (alert = a hardware fault is latched).
    public internal(set) var errors: [DynamixelStatusError]

    /// - Parameters:
    ///   - ids: the servos, in the order they are to answer.
    ///   - items: consecutive items (each starts where the previous ends), lowest address first.
    ///   - fast: use FAST_SYNC_READ (X430/540 firmware ≥ 45, X330 ≥ 46).
    /// - Throws: `.invalidRequest` for no ids, no items, a gap between items, or an id above 252.
    public init(ids: [UInt8], items: [DynamixelControlItem], fast: Bool = false) throws(ServoBusError) {
        guard !ids.isEmpty, !items.isEmpty else {
            throw ServoBusError(.invalidRequest, servoID: nil, message: "a sync read needs at least one id and one item")
        }
        if let bad = ids.first(where: { $0 > DynamixelID.maxServo }) {
            throw ServoBusError(.invalidRequest, servoID: bad, message: "servo id \(bad) is not a Dynamixel id (0…252)")
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
        self.fast = fast
        address = items[0].address
        length = next - Int(items[0].address)
        self.offsets = offsets
        request = fast
            ? DynamixelEncoder.fastSyncRead(address: address, length: UInt16(length), ids: ids)
            : DynamixelEncoder.syncRead(address: address, length: UInt16(length), ids: ids)
        values = Array(repeating: 0, count: ids.count * items.count)
        valid = Array(repeating: false, count: ids.count)
        errors = Array(repeating: .none, count: ids.count)
    }

    /// Item `k` of servo `i`, nil when the servo did not answer.
    public func value(servo i: Int, item k: Int) -> Int64? { valid[i] ? values[i * items.count + k] : nil }

    /// Bytes on the wire for one read: request plus replies (for timing budgets).
    public var wireBytes: Int {
        request.count + (fast ? 8 + ids.count * (length + 4) : ids.count * (11 + length))
    }

    /// Decodes servo `i`'s data (`length` bytes) into its values.
    mutating func store(servo i: Int, data: UnsafeBufferPointer<UInt8>, error: DynamixelStatusError) {
        for k in 0..<items.count {
            let item = items[k]
            var u: UInt64 = 0
            for j in 0..<item.size { u |= UInt64(data[offsets[k] + j]) << (8 * UInt64(j)) }
            var v = Int64(bitPattern: u)
            if item.signed {
                let shift = Int64(64 - 8 * item.size)
                v = (v << shift) >> shift
            }
            values[i * items.count + k] = v
        }
        valid[i] = true
        errors[i] = error
    }
}

/// The same item written to several servos at once (SYNC_WRITE; no servo replies). Set
/// `values`, then call `DynamixelBusClient.syncWrite`; nothing allocates after `init`.
public struct DynamixelSyncWrite {
    public let ids: [UInt8]
    public let item: DynamixelControlItem
    /// One value per id, in the item's units; truncated to the item's width on the wire.
    public var values: [Int32]

    /// - Throws: `.invalidRequest` for no ids, an id above 252 or a read-only item.
    public init(ids: [UInt8], item: DynamixelControlItem) throws(ServoBusError) {
        guard !ids.isEmpty else { throw ServoBusError(.invalidRequest, servoID: nil, message: "a sync write needs at least one id") }
        if let bad = ids.first(where: { $0 > DynamixelID.maxServo }) {
            throw ServoBusError(.invalidRequest, servoID: bad, message: "servo id \(bad) is not a Dynamixel id (0…252)")
        }
        guard item.access == .readWrite, [1, 2, 4].contains(item.size) else {
            throw ServoBusError(.readOnly, servoID: nil, message: "\(item.name) is read-only")
        }
        self.ids = ids
        self.item = item
        values = Array(repeating: 0, count: ids.count)
    }

    /// Bytes on the wire: FF FF FD 00 FE LEN(2) 83 addr(2) len(2) [id data]… CRC(2).
    public var wireBytes: Int { 14 + ids.count * (1 + item.size) }
}

/// A Dynamixel Protocol 2.0 bus: ping, item read/write, sync read/write, fast sync read, reboot,
/// over a `BusTransactor` (which discards stale input, matches reply ids and retries).
///
/// One thread uses a client at a time.
public final class DynamixelBusClient {
    public let bus: BusTransactor<DynamixelFramer>
    /// Status Return Level of the servos (68): 2 (factory) means writes and reboots answer; below
    /// 2 they are sent without waiting.
    public var statusReturnLevel = 2
    /// The status error byte of the last unicast reply (an alert means a latched hardware fault).
    public private(set) var lastStatus = DynamixelStatusError.none
    /// The transmit buffer, reused for every request.
    private var tx: [UInt8] = []
    /// Un-stuffed reply parameters.
    private var parameters: [UInt8] = []

    /// - Parameters:
    ///   - transport: an open port at the servos' baud.
    ///   - configuration: timeouts and retries of every transaction.
    public init(transport: any SerialTransport, configuration: TransactionConfiguration = .init()) {
        bus = BusTransactor(transport: transport, framer: DynamixelFramer(), configuration: configuration)
        tx.reserveCapacity(DynamixelEncoder.maximumLength + 7)
        parameters.reserveCapacity(DynamixelDecoder.maximumLength + 8)
    }

    public var health: BusHealth { bus.health }

    private var attempts: Int { bus.configuration.retries + 1 }

    /// One request to one servo; returns its status error and leaves the parameters in
    /// `parameters`. `expectedCount` nil accepts any. An alert alone (a latched hardware fault)
    /// does not fail the call: the servo still executed it.
    private func unicast(_ id: UInt8, expectedCount: Int?, what: @autoclosure () -> String) throws(ServoBusError) -> DynamixelStatusError {
        let outcome: TransactionOutcome
        do throws(SerialTransportError) { outcome = try bus.transact(tx, expectedIDs: [id]) } catch { throw .transport(error) }
        guard outcome == .complete else { throw .noReply(id, what(), attempts: attempts) }
        let decoded: Result<DynamixelStatusHeader, DynamixelDecodeError> = bus.withReply(0) { b in
            do throws(DynamixelDecodeError) {
                return .success(try DynamixelDecoder.decodeStatus(b, expectedID: id, expectedParameterCount: expectedCount, into: &parameters))
            } catch { return .failure(error) }
        }
        switch decoded {
        case let .success(h):
            lastStatus = h.error
            if !h.error.succeeded {
                throw ServoBusError(.status, servoID: id, message: "servo \(id) refused \(what()): \(Self.describe(h.error))")
            }
            return h.error
        case let .failure(e):
            throw ServoBusError(.malformedReply, servoID: id, message: "servo \(id) answered \(what()) with an unexpected packet: \(e)")
        }
    }

    /// "accessError (read-only or undefined address, or an EEPROM write while torque is on)".
    static func describe(_ e: DynamixelStatusError) -> String {
        var parts: [String] = []
        if let r = e.reason {
            let why: String
            switch r {
            case .resultFail: why = "the instruction failed"
            case .instructionError: why = "undefined instruction, or ACTION without REG_WRITE"
            case .crcError: why = "the servo saw a bad CRC"
            case .dataRange: why = "the value is outside the item's range"
            case .dataLength: why = "the data is shorter than the item"
            case .dataLimit: why = "the value exceeds a limit item"
            case .accessError: why = "read-only or undefined address, or an EEPROM write while torque is on"
            }
            parts.append("\(r) (\(why))")
        } else if e.number != 0 {
            parts.append("error \(e.number)")
        }
        if e.alert { parts.append("alert: a hardware fault is latched (read Hardware_Error_Status; reboot clears it)") }
        return parts.joined(separator: "; ")
    }

    // MARK: single servo

    /// PING: model number and firmware.
    /// - Throws: `.noReply` when nothing answers; `.transport` when the port fails.
    public func ping(_ id: UInt8) throws(ServoBusError) -> DynamixelPingReply {
        tx.removeAll(keepingCapacity: true)
        DynamixelEncoder.ping(id: id, into: &tx)
        _ = try unicast(id, expectedCount: 3, what: "PING")
        return DynamixelPingReply(id: id, modelNumber: UInt16(parameters[0]) | UInt16(parameters[1]) << 8, firmware: parameters[2])
    }

    /// Broadcast PING: every servo present answers. Waits the whole window (the SDK's
    /// `14·252·tx + 3·252 + 16` ms is ≈ 0.81 s at 1 Mbps), or until `maximumServos` answered.
    public func broadcastPing(windowNanoseconds: UInt64, maximumServos: Int = 253) throws(ServoBusError) -> [DynamixelPingReply] {
        tx.removeAll(keepingCapacity: true)
        DynamixelEncoder.ping(id: DynamixelID.broadcast, into: &tx)
        let n: Int
        do throws(SerialTransportError) {
            n = try bus.collect(tx, windowNanoseconds: windowNanoseconds, maximumReplies: maximumServos)
        } catch { throw .transport(error) }
        var found: [DynamixelPingReply] = []
        for i in 0..<n {
            let bytes = bus.reply(i)
            if let s = try? DynamixelDecoder.decodeStatus(bytes, expectedParameterCount: 3) {
                let p = s.parameters
                found.append(DynamixelPingReply(id: s.id, modelNumber: UInt16(p[0]) | UInt16(p[1]) << 8, firmware: p[2]))
            }
        }
        return found.sorted { $0.id < $1.id }
    }

    /// READ of `length` bytes at `address`.
    public func readBytes(_ id: UInt8, address: UInt16, length: Int) throws(ServoBusError) -> [UInt8] {
        tx.removeAll(keepingCapacity: true)
        DynamixelEncoder.read(id: id, address: address, length: UInt16(length), into: &tx)
        _ = try unicast(id, expectedCount: length, what: "READ of \(length) bytes at \(address)")
        return parameters
    }

    /// READ of one item, sign-extended where the table says it is signed.
    public func read(_ id: UInt8, _ item: DynamixelControlItem) throws(ServoBusError) -> Int64 {
        let bytes = try readBytes(id, address: item.address, length: item.size)
        var memory = [UInt8](repeating: 0, count: Int(item.address) + item.size)
        memory.replaceSubrange(Int(item.address)..., with: bytes)
        return item.value(in: memory) ?? 0
    }

    /// WRITE of one item.
    /// - Throws: `.readOnly`, `.valueOutOfRange` (the value does not fit the item's width and
    ///   sign), `.status` when the servo refuses (EEPROM while torque is on: accessError).
    public func write(_ id: UInt8, _ item: DynamixelControlItem, _ value: Int64) throws(ServoBusError) {
        guard item.access == .readWrite else {
            throw ServoBusError(.readOnly, servoID: id, message: "\(item.name) is read-only")
        }
        let range = Self.range(of: item)
        guard range.contains(value) else {
            throw ServoBusError(.valueOutOfRange, servoID: id, message: "\(value) does not fit \(item.name) (\(range.lowerBound)…\(range.upperBound))")
        }
        tx.removeAll(keepingCapacity: true)
        DynamixelEncoder.write(id: id, address: item.address, data: item.bytes(value), into: &tx)
        if statusReturnLevel < 2 || id == DynamixelID.broadcast {
            try sendOnly()
            return
        }
        _ = try unicast(id, expectedCount: 0, what: "WRITE of \(item.name)")
    }

    /// The values an item can hold: its width, two's complement if signed.
    public static func range(of item: DynamixelControlItem) -> ClosedRange<Int64> {
        let bits = Int64(8 * item.size)
        return item.signed ? -(1 << (bits - 1))...((1 << (bits - 1)) - 1) : 0...((1 << bits) - 1)
    }

    /// WRITE without checking the status (an ID change answers from an id the caller cannot
    /// predict on every firmware, a baud change maybe not at all): a reply from any id within the
    /// timeout is absorbed; the caller verifies afterwards.
    public func writeUnacknowledged(_ id: UInt8, _ item: DynamixelControlItem, _ value: Int64) throws(ServoBusError) {
        tx.removeAll(keepingCapacity: true)
        DynamixelEncoder.write(id: id, address: item.address, data: item.bytes(value), into: &tx)
        try sendAbsorbingOneReply()
    }

    /// Sends `tx` and waits up to the timeout for one reply from any id, which is dropped: so a
    /// late status cannot be taken for the answer to the next request.
    private func sendAbsorbingOneReply() throws(ServoBusError) {
        do throws(SerialTransportError) {
            _ = try bus.collect(tx, windowNanoseconds: bus.configuration.timeoutNanoseconds, maximumReplies: 1)
        } catch { throw .transport(error) }
    }

    /// REBOOT: clears a latched hardware fault (the servo restarts with torque off).
    public func reboot(_ id: UInt8) throws(ServoBusError) {
        tx.removeAll(keepingCapacity: true)
        DynamixelEncoder.reboot(id: id, into: &tx)
        if statusReturnLevel < 2 || id == DynamixelID.broadcast {
            try sendOnly()
            return
        }
        _ = try unicast(id, expectedCount: 0, what: "REBOOT")
    }

    private func sendOnly() throws(ServoBusError) {
        do throws(SerialTransportError) { _ = try bus.transact(tx, expectedIDs: []) } catch { throw .transport(error) }
    }

    // MARK: groups

    /// SYNC_WRITE of `group.values` (no replies).
    /// - Throws: `.transport` only.
    /// - Note: Allocates nothing after the first call with a group of this size.
    public func syncWrite(_ group: DynamixelSyncWrite) throws(ServoBusError) {
        tx.removeAll(keepingCapacity: true)
        DynamixelEncoder.syncWrite(address: group.item.address, width: group.item.size, ids: group.ids, values: group.values, into: &tx)
        try sendOnly()
    }

    /// SYNC_READ or FAST_SYNC_READ into `group`. Servos that did not answer (or answered with a
    /// malformed packet) are marked invalid; the others' values are fresh.
    /// - Returns: the number of servos that answered.
    /// - Throws: `.transport` only: a missing servo is data (`valid`), not an exception.
    /// - Note: Allocates nothing after `init` of the group (on success and on timeout).
    public func syncRead(_ group: inout DynamixelSyncRead) throws(ServoBusError) -> Int {
        for i in 0..<group.valid.count { group.valid[i] = false }
        let outcome: TransactionOutcome
        do throws(SerialTransportError) {
            outcome = try bus.transact(group.request, expectedIDs: group.fast ? Self.fastIDs : group.ids)
        } catch { throw .transport(error) }
        if group.fast {
            guard outcome == .complete else { return 0 }
            return bus.withReply(0) { b in Self.storeFast(b, into: &group) }
        }
        let received: Int
        switch outcome {
        case .complete: received = group.ids.count
        case let .timedOut(r): received = r
        }
        var answered = 0
        for i in 0..<received {
            let id = group.ids[i]
            let header: DynamixelStatusHeader? = bus.withReply(i) { b in
                try? DynamixelDecoder.decodeStatus(b, expectedID: id, expectedParameterCount: group.length, into: &parameters)
            }
            guard let header else { continue }
            parameters.withUnsafeBufferPointer { group.store(servo: i, data: $0, error: header.error) }
            answered += 1
        }
        return answered
    }

    private static let fastIDs: [UInt8] = [DynamixelID.broadcast]

    /// Walks a fast sync read's combined reply (never stuffed, CRC checked by the framer):
    /// `FF FF FD 00 FE LEN LEN 55 [ERR ID data(N) CRC(2)]…`.
    private static func storeFast(_ b: UnsafeBufferPointer<UInt8>, into group: inout DynamixelSyncRead) -> Int {
        let n = group.length
        guard b.count == 8 + group.ids.count * (n + 4) else { return 0 }
        var at = 8
        var answered = 0
        for i in 0..<group.ids.count {
            guard b[at + 1] == group.ids[i] else { return answered }
            group.store(servo: i, data: UnsafeBufferPointer(rebasing: b[(at + 2)..<(at + 2 + n)]), error: DynamixelStatusError(rawValue: b[at]))
            answered += 1
            at += n + 4
        }
        return answered
    }
}
