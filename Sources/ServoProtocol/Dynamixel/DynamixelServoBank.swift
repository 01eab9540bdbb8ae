/// A bank of emulated X-series servos on one bus: the pure state machine behind the bus
/// emulator. Bytes or decoded instruction packets in, the status packets the servos would send
/// out (in bus order, each with the return delay the host waits before sending it). Physics is
/// glued on by the host through the goal/present accessors; faults through `injectHardwareError`.
///
/// Behaviour follows the e-Manual (protocol 2.0, X-series control tables):
/// - PING always replies; READ, SYNC_READ, BULK_READ reply when Status Return Level ≥ 1; every
///   other instruction only when it is 2. Broadcast packets get replies only for PING and the reads.
/// - WRITE/REG_WRITE of an EEPROM item (address < 64) while Torque Enable is 1, of a read-only
///   item or of an address that is no item: access error, nothing written. A write that starts or
///   ends inside an item: data length error. ID > 252, Status Return Level > 2, Torque Enable > 1,
///   an unknown Baud Rate or Operating Mode: data range error.
/// - SYNC_READ / BULK_READ: one status packet per present servo, in parameter order (a missing
///   id is skipped). FAST_SYNC_READ / FAST_BULK_READ: one combined packet (id 0xFE) with the
///   cumulative block CRCs.
/// - A servo hears only packets sent at its Baud Rate (`lineRate`).
/// - Every status error byte carries the alert bit while Hardware Error Status ≠ 0; REBOOT clears
///   it, resets the RAM area to factory values and keeps EEPROM and the present values.
public struct DynamixelServoBank: Sendable {
    /// The size of the emulated control-table image (the X-series items up to Indirect Data 1).
    public static let memorySize = 256

    /// How one servo starts.
    public struct ServoConfiguration: Hashable, Sendable {
        public var id: UInt8
        public var model: DynamixelModel
        /// Baud Rate code (3 = 1 Mbps).
        public var baudRate: UInt8
        /// Return Delay Time in 2 µs units.
        public var returnDelayTime: UInt8
        public var statusReturnLevel: UInt8
        public init(id: UInt8, model: DynamixelModel, baudRate: UInt8 = 3, returnDelayTime: UInt8 = 0,
                    statusReturnLevel: UInt8 = 2) {
            self.id = id; self.model = model; self.baudRate = baudRate
            self.returnDelayTime = returnDelayTime; self.statusReturnLevel = statusReturnLevel
        }
    }

    /// One status packet a servo sends.
    public struct Reply: Hashable, Sendable {
        /// The sender (0xFE for a combined fast reply).
        public var id: UInt8
        public var bytes: [UInt8]
        /// How long the sender waits after the instruction (or, in a group read, after the
        /// previous reply) before sending: its Return Delay Time.
        public var returnDelayMicroseconds: Int
    }

    struct Servo: Sendable {
        var model: DynamixelModel
        var memory: [UInt8]
        /// The item index owning each address, -1 where the model has no item.
        var owner: [Int16]
        var registered: (address: Int, data: [UInt8])?

        init(model: DynamixelModel) {
            self.model = model
            memory = Array(repeating: 0, count: DynamixelServoBank.memorySize)
            owner = Array(repeating: -1, count: DynamixelServoBank.memorySize)
            for (k, item) in DynamixelControlTable.items.enumerated() where item.exists(on: model) {
                for a in Int(item.address)..<(Int(item.address) + item.size) { owner[a] = Int16(k) }
            }
            for (item, value) in DynamixelControlTable.factoryValues(for: model) where item.exists(on: model) {
                set(item, value)
            }
        }

        func get(_ item: DynamixelControlItem) -> Int64 { item.value(in: memory) ?? 0 }

        mutating func set(_ item: DynamixelControlItem, _ value: Int64) {
            for (k, b) in item.bytes(value).enumerated() { memory[Int(item.address) + k] = b }
        }

        var statusReturnLevel: UInt8 { memory[68] }
        var torqueOn: Bool { memory[64] != 0 }
        var alert: Bool { memory[70] != 0 }
        var returnDelayMicroseconds: Int { Int(memory[9]) * 2 }
    }

    var servos: [UInt8: Servo] = [:]

    /// The line rate (bits/s) the packets being handled were sent at. A servo set to another
    /// Baud Rate sees framing errors: it neither acts on nor answers them (and a fast group read
    /// that lists it gets no combined reply, the chain being broken). nil: every servo hears (the
    /// default, for hosts that cannot tell the rate).
    public var lineRate: Int?
    /// The servos that cannot hear the packet being executed (set only during `handle`).
    var deafIDs: Set<UInt8> = []

    public init(_ configurations: [ServoConfiguration]) {
        for c in configurations {
            var s = Servo(model: c.model)
            s.set(DynamixelControlTable.id, Int64(c.id))
            s.set(DynamixelControlTable.baudRate, Int64(c.baudRate))
            s.set(DynamixelControlTable.returnDelayTime, Int64(c.returnDelayTime))
            s.set(DynamixelControlTable.statusReturnLevel, Int64(c.statusReturnLevel))
            servos[c.id] = s
        }
    }

    // MARK: host accessors

    /// The ids on the bus, ascending.
    public var ids: [UInt8] { servos.keys.sorted() }

    public func model(_ id: UInt8) -> DynamixelModel? { servos[id]?.model }

    /// An item's value (sign-extended for signed items); nil for an unknown id or item.
    public func value(_ id: UInt8, _ item: DynamixelControlItem) -> Int64? {
        guard let s = servos[id], item.exists(on: s.model) else { return nil }
        return s.get(item)
    }

    /// Sets an item as the servo itself would (no access checks): the host's physics glue.
    public mutating func setValue(_ id: UInt8, _ item: DynamixelControlItem, _ value: Int64) {
        guard servos[id]?.model != nil, item.exists(on: servos[id]!.model) else { return }
        servos[id]!.set(item, value)
    }

    public func goalPosition(_ id: UInt8) -> Int32? { value(id, DynamixelControlTable.goalPosition).map { Int32(truncatingIfNeeded: $0) } }
    public func goalVelocity(_ id: UInt8) -> Int32? { value(id, DynamixelControlTable.goalVelocity).map { Int32(truncatingIfNeeded: $0) } }
    public func goalCurrent(_ id: UInt8) -> Int16? { value(id, DynamixelControlTable.goalCurrent).map { Int16(truncatingIfNeeded: $0) } }
    public func torqueEnabled(_ id: UInt8) -> Bool? { servos[id].map(\.torqueOn) }
    public func operatingMode(_ id: UInt8) -> UInt8? { servos[id].map { $0.memory[11] } }
    public func returnDelayMicroseconds(_ id: UInt8) -> Int? { servos[id]?.returnDelayMicroseconds }
    /// The servo's configured line rate (a Baud Rate write takes effect here at once; the host
    /// decides what a servo on another rate than the bus hears).
    public func bitsPerSecond(_ id: UInt8) -> Int? {
        servos[id].flatMap { DynamixelControlTable.bitsPerSecond(baudRateCode: $0.memory[8]) }
    }

    public mutating func setPresentPosition(_ id: UInt8, _ v: Int32) { setValue(id, DynamixelControlTable.presentPosition, Int64(v)) }
    public mutating func setPresentVelocity(_ id: UInt8, _ v: Int32) { setValue(id, DynamixelControlTable.presentVelocity, Int64(v)) }
    /// Present Current (Present Load on XL430).
    public mutating func setPresentCurrent(_ id: UInt8, _ v: Int16) { setValue(id, DynamixelControlTable.presentCurrent, Int64(v)) }
    public mutating func setPresentTemperature(_ id: UInt8, _ celsius: UInt8) { setValue(id, DynamixelControlTable.presentTemperature, Int64(celsius)) }
    /// 0.1 V units.
    public mutating func setPresentInputVoltage(_ id: UInt8, _ decivolts: UInt16) { setValue(id, DynamixelControlTable.presentInputVoltage, Int64(decivolts)) }

    /// Latches hardware faults (Hardware Error Status |= faults); those in the servo's Shutdown
    /// mask turn its torque off, as the firmware does. Every later status carries the alert bit.
    public mutating func injectHardwareError(_ id: UInt8, _ faults: DynamixelHardwareError) {
        guard var s = servos[id] else { return }
        s.memory[70] |= faults.rawValue
        if s.memory[63] & faults.rawValue != 0 { s.memory[64] = 0 }
        servos[id] = s
    }

    public func hardwareError(_ id: UInt8) -> DynamixelHardwareError? {
        servos[id].map { DynamixelHardwareError(rawValue: $0.memory[70]) }
    }

    // MARK: the bus

    /// Decodes `bytes` as one instruction packet and executes it. A packet with a bad CRC
    /// addressed to a present servo gets a CRC-error status (at Status Return Level 2); any other
    /// undecodable bytes get no reply, as on a real bus.
    public mutating func handle(bytes: [UInt8]) -> [Reply] {
        do throws(DynamixelDecodeError) {
            return handle(try DynamixelDecoder.decodeInstruction(bytes))
        } catch {
            if case .badCRC = error, bytes.count > 4, let s = servos[bytes[4]], hears(s), s.statusReturnLevel >= 2 {
                return [status(bytes[4], s, .crcError, [])]
            }
            return []
        }
    }

    /// Executes one instruction packet and returns the replies in the order they go on the wire.
    public mutating func handle(_ packet: DynamixelInstructionPacket) -> [Reply] {
        guard lineRate != nil, servos.values.contains(where: { !hears($0) }) else { return execute(packet) }
        // Servos at another rate are off the bus for this packet.
        let deaf = servos.filter { !hears($0.value) }
        for id in deaf.keys { servos[id] = nil }
        deafIDs = Set(deaf.keys)
        let replies = execute(packet)
        deafIDs = []
        for (id, s) in deaf where servos[id] == nil { servos[id] = s }
        return replies
    }

    func hears(_ s: Servo) -> Bool {
        guard let lineRate else { return true }
        return DynamixelControlTable.bitsPerSecond(baudRateCode: s.memory[8]) == lineRate
    }

    mutating func execute(_ packet: DynamixelInstructionPacket) -> [Reply] {
        let broadcast = packet.id == DynamixelID.broadcast
        guard broadcast || servos[packet.id] != nil else { return [] }
        let command: DynamixelCommand
        do throws(DynamixelDecodeError) {
            command = try DynamixelCommand(packet)
        } catch {
            guard !broadcast, let s = servos[packet.id], s.statusReturnLevel >= 2 else { return [] }
            if case .unknownInstruction = error { return [status(packet.id, s, .instructionError, [])] }
            return [status(packet.id, s, .dataLength, [])]
        }
        let targets = broadcast ? ids : [packet.id]
        switch command {
        case .ping:
            return targets.map { id in
                let s = servos[id]!
                return status(id, s, nil, [s.memory[0], s.memory[1], s.memory[6]])
            }
        case let .read(address, length):
            guard !broadcast else { return [] }
            return read(packet.id, Int(address), Int(length)).map { [$0] } ?? []
        case let .write(address, data):
            var replies: [Reply] = []
            for id in targets {
                let (result, s) = write(id, Int(address), data)
                if !broadcast && s.statusReturnLevel >= 2 { replies.append(status(id, s, result, [])) }
            }
            return replies
        case let .regWrite(address, data):
            var replies: [Reply] = []
            for id in targets {
                var s = servos[id]!
                let result = check(s, Int(address), data)
                if result == nil {
                    s.registered = (Int(address), data); s.memory[69] = 1
                    servos[id] = s
                }
                if !broadcast && s.statusReturnLevel >= 2 { replies.append(status(id, s, result, [])) }
            }
            return replies
        case .action:
            var replies: [Reply] = []
            for id in targets {
                var s = servos[id]!
                var result: DynamixelStatusError.Reason? = .instructionError
                if let r = s.registered {
                    s.registered = nil; s.memory[69] = 0
                    servos[id] = s
                    result = write(id, r.address, r.data).0
                    s = servos[id] ?? s
                }
                if !broadcast && s.statusReturnLevel >= 2 { replies.append(status(id, s, result, [])) }
            }
            return replies
        case .reboot:
            var replies: [Reply] = []
            for id in targets {
                let s = servos[id]!
                if !broadcast && s.statusReturnLevel >= 2 { replies.append(status(id, s, nil, [])) }
                reboot(id)
            }
            return replies
        case let .factoryReset(option):
            var replies: [Reply] = []
            for id in targets {
                let s = servos[id]!
                if !broadcast && s.statusReturnLevel >= 2 { replies.append(status(id, s, nil, [])) }
                factoryReset(id, option: option)
            }
            return replies
        case .clear:
            guard !broadcast, let s = servos[packet.id], s.statusReturnLevel >= 2 else { return [] }
            return [status(packet.id, s, nil, [])]
        case let .syncRead(address, length, list):
            guard broadcast else { return [] }
            return list.compactMap { read($0, Int(address), Int(length)) }
        case let .bulkRead(entries):
            guard broadcast else { return [] }
            return entries.compactMap { read($0.id, Int($0.address), Int($0.length)) }
        case let .fastSyncRead(address, length, list):
            guard broadcast else { return [] }
            return fastRead(list.map { ($0, Int(address), Int(length)) })
        case let .fastBulkRead(entries):
            guard broadcast else { return [] }
            return fastRead(entries.map { ($0.id, Int($0.address), Int($0.length)) })
        case let .syncWrite(address, _, list, data):
            guard broadcast else { return [] }
            for (id, d) in zip(list, data) where servos[id] != nil { _ = write(id, Int(address), d) }
            return []
        case let .bulkWrite(entries):
            guard broadcast else { return [] }
            for e in entries where servos[e.id] != nil { _ = write(e.id, Int(e.address), e.data) }
            return []
        }
    }

    // MARK: execution

    func status(_ id: UInt8, _ s: Servo, _ reason: DynamixelStatusError.Reason?, _ parameters: [UInt8]) -> Reply {
        Reply(id: id, bytes: DynamixelEncoder.status(id: id, error: DynamixelStatusError(reason, alert: s.alert),
                                                     parameters: parameters),
              returnDelayMicroseconds: s.returnDelayMicroseconds)
    }

    /// The reply to a read of `length` bytes at `address`, nil when the servo is absent or its
    /// Status Return Level is 0.
    func read(_ id: UInt8, _ address: Int, _ length: Int) -> Reply? {
        guard let s = servos[id], s.statusReturnLevel >= 1 else { return nil }
        guard length > 0, address + length <= s.memory.count else { return status(id, s, .accessError, []) }
        return status(id, s, nil, Array(s.memory[address..<(address + length)]))
    }

    func fastRead(_ list: [(UInt8, Int, Int)]) -> [Reply] {
        var blocks: [DynamixelFastReplyBlock] = []
        var delay: Int?
        for (id, address, length) in list {
            if deafIDs.contains(id) { return [] }
            guard let s = servos[id], s.statusReturnLevel >= 1 else { continue }
            delay = delay ?? s.returnDelayMicroseconds
            if length > 0, address + length <= s.memory.count {
                blocks.append(DynamixelFastReplyBlock(
                    id: id, error: DynamixelStatusError(nil, alert: s.alert), data: Array(s.memory[address..<(address + length)])))
            } else {
                blocks.append(DynamixelFastReplyBlock(
                    id: id, error: DynamixelStatusError(.accessError, alert: s.alert), data: Array(repeating: 0, count: max(0, length))))
            }
        }
        guard let delay else { return [] }
        return [Reply(id: DynamixelID.broadcast, bytes: DynamixelEncoder.fastReply(blocks), returnDelayMicroseconds: delay)]
    }

    /// Why the servo refuses `data` at `address`, nil when it accepts it.
    func check(_ s: Servo, _ address: Int, _ data: [UInt8]) -> DynamixelStatusError.Reason? {
        let end = address + data.count
        guard !data.isEmpty, address >= 0, end <= s.memory.count else { return .accessError }
        let items = DynamixelControlTable.items
        var image = s.memory
        image.replaceSubrange(address..<end, with: data)
        var a = address
        while a < end {
            let k = Int(s.owner[a])
            guard k >= 0 else { return .accessError }
            let item = items[k]
            if item.access == .read { return .accessError }
            if item.area == .eeprom && s.torqueOn { return .accessError }
            if Int(item.address) != a || Int(item.address) + item.size > end { return .dataLength }
            let v = item.value(in: image) ?? 0
            switch item.address {
            case DynamixelControlTable.id.address: if v > Int64(DynamixelID.maxServo) { return .dataRange }
            case DynamixelControlTable.baudRate.address: if v > (s.model == .xl330M077 || s.model == .xl330M288 ? 6 : 7) { return .dataRange }
            case DynamixelControlTable.statusReturnLevel.address: if v > 2 { return .dataRange }
            case DynamixelControlTable.torqueEnable.address: if v > 1 { return .dataRange }
            case DynamixelControlTable.operatingMode.address:
                let allowed: Set<Int64> = s.model.hasCurrentControl ? [0, 1, 3, 4, 5, 16] : [1, 3, 4, 16]
                if !allowed.contains(v) { return .dataRange }
            default: break
            }
            a += item.size
        }
        return nil
    }

    /// Writes after `check`; returns the result and the servo as it is afterwards (under its new
    /// id when the write changed the ID).
    mutating func write(_ id: UInt8, _ address: Int, _ data: [UInt8]) -> (DynamixelStatusError.Reason?, Servo) {
        var s = servos[id]!
        if let refused = check(s, address, data) { return (refused, s) }
        for (k, b) in data.enumerated() { s.memory[address + k] = b }
        let newID = s.memory[7]
        if newID != id {
            servos[id] = nil
            servos[newID] = s
        } else {
            servos[id] = s
        }
        return (nil, s)
    }

    /// Reboot: RAM (address ≥ 64) back to factory values except the present (read-only) state;
    /// EEPROM and the latched registration are kept/cleared as the firmware does.
    mutating func reboot(_ id: UInt8) {
        guard var s = servos[id] else { return }
        let fresh = Servo(model: s.model)
        for item in DynamixelControlTable.items where item.area == .ram && item.exists(on: s.model)
            && (item.access == .readWrite || item == DynamixelControlTable.hardwareErrorStatus
                || item == DynamixelControlTable.registeredInstruction) {
            for a in Int(item.address)..<(Int(item.address) + item.size) { s.memory[a] = fresh.memory[a] }
        }
        s.registered = nil
        servos[id] = s
    }

    /// Factory reset: 0xFF everything (ID 1, 57600 baud), 0x01 all but the ID, 0x02 all but ID and baud.
    mutating func factoryReset(_ id: UInt8, option: UInt8) {
        guard let old = servos[id] else { return }
        var s = Servo(model: old.model)
        for a in 120..<150 { s.memory[a] = old.memory[a] }  // present state is physics, not settings
        if option == 0x01 || option == 0x02 { s.memory[7] = old.memory[7] }
        if option == 0x02 { s.memory[8] = old.memory[8] }
        servos[id] = nil
        servos[s.memory[7]] = s
    }
}
