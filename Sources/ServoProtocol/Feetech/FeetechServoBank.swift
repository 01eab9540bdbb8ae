/// One reply of the emulated bus. The host puts `bytes` on the wire `returnDelayMicroseconds`
/// after the bytes before it (the instruction, or the previous reply of a sync read) have left,
/// so a sync read's replies come back chained in list order, as real servos send them.
public struct FeetechReply: Sendable, Hashable {
    public var id: UInt8
    public var bytes: [UInt8]
    public var returnDelayMicroseconds: Int
}

/// The emulator's brain: STS3215 servos on one bus as a pure state machine, instruction packet
/// in, replies out (hardware-notes §2, §5). No clock and no I/O: the host paces the wire, moves
/// the joints (reading goals, writing present values) and injects faults.
///
/// What it does as the real servo does:
/// - Memory initialised like a factory STS3215 (model 777, the firmware given, 1 Mbaud, return
///   delay 0, status return level 1, limits 0…4095, P32 D32 I0); the numbers not in the notes are
///   typical values, not a datasheet's.
/// - EEPROM bytes (addresses 0–39) ignore writes while torque is on or Lock (55) is 1; read-only
///   items (model, firmware, present values, status) ignore writes. Neither sets an error bit:
///   Feetech has none for it, so a client reads back to check.
/// - Status return level (8): 0 answers only PING and READ (and SYNC_READ); 1 answers every
///   instruction addressed to one servo. Broadcast instructions are never answered, except PING
///   (every servo) and SYNC_READ (the listed servos, in list order).
/// - The ERR byte of every reply carries the injected faults, mirrored in register 65.
/// - A packet that does not decode (bad checksum, garbage) gets no reply.
/// - Writing a new ID: the reply comes from the old ID, later packets must use the new one.
/// - A servo hears only packets sent at its Baud_Rate (`lineRate`).
///
/// Not emulated: RESET (answered, changes nothing), Torque_Enable = 128 (set the midpoint), the
/// servo's own overload/overheat detection (the host injects those faults), persistence.
public struct FeetechServoBank: Sendable {
    /// The address space (addresses and lengths are one byte); reads past it return zeros.
    public static let memorySize = 256

    struct Servo: Sendable {
        var memory: [UInt8]
        var faults: FeetechStatusError = []
        var pending: (address: UInt8, data: [UInt8])?
        var id: UInt8 { memory[Int(STS3215.id.address)] }
    }

    var servos: [Servo]
    let series = STS3215.series
    /// The line rate (bits/s) the packets being handled were sent at. A servo set to another
    /// Baud_Rate sees framing errors: it neither acts on nor answers them. nil: every servo hears
    /// (the default, for hosts that cannot tell the rate).
    public var lineRate: Int?

    /// - Parameters:
    ///   - ids: one servo per ID, in bus order (broadcast PING replies come in this order).
    ///   - firmware: registers 0 and 1.
    ///   - eepromLocked: Lock (55) at power-on. Locked by default, the cautious reading: Feetech's
    ///     examples and LeRobot unlock explicitly before any EEPROM write, so correct clients work
    ///     either way and a client that forgets is caught here rather than on the bench.
    public init<S: Sequence>(ids: S, firmware: (major: UInt8, minor: UInt8) = (3, 10), eepromLocked: Bool = true)
        where S.Element == UInt8 {
        servos = []
        for id in ids {
            var s = Servo(memory: [UInt8](repeating: 0, count: Self.memorySize))
            func put(_ item: FeetechItem, _ value: Int) { Self.store(item, value, in: &s.memory, series: series) }
            put(STS3215.firmwareMajor, Int(firmware.major)); put(STS3215.firmwareMinor, Int(firmware.minor))
            put(STS3215.model, Int(STS3215.modelNumber)); put(STS3215.id, Int(id))
            put(STS3215.baudRate, 0); put(STS3215.returnDelayTime, 0); put(STS3215.responseStatusLevel, 1)
            put(STS3215.minPositionLimit, 0); put(STS3215.maxPositionLimit, 4095)
            put(STS3215.maxTemperatureLimit, 70); put(STS3215.maxVoltageLimit, 140); put(STS3215.minVoltageLimit, 40)
            put(STS3215.maxTorqueLimit, 1000); put(STS3215.phase, 12); put(STS3215.unloadingCondition, 44)
            put(STS3215.ledAlarmCondition, 47); put(STS3215.pCoefficient, 32); put(STS3215.dCoefficient, 32)
            put(STS3215.iCoefficient, 0); put(STS3215.minimumStartupForce, 16); put(STS3215.cwDeadZone, 1)
            put(STS3215.ccwDeadZone, 1); put(STS3215.protectionCurrent, 500); put(STS3215.angularResolution, 1)
            put(STS3215.protectiveTorque, 20); put(STS3215.protectionTime, 200); put(STS3215.overloadTorque, 80)
            put(STS3215.velocityP, 10); put(STS3215.overCurrentProtectionTime, 200); put(STS3215.velocityI, 200)
            put(STS3215.goalPosition, 2048); put(STS3215.torqueLimit, 1000)
            put(STS3215.lock, eepromLocked ? 1 : 0); put(STS3215.presentPosition, 2048)
            put(STS3215.presentVoltage, 120); put(STS3215.presentTemperature, 25)
            servos.append(s)
        }
    }

    /// The servos' current IDs, in bus order.
    public var ids: [UInt8] { servos.map(\.id) }

    // MARK: the bus side

    /// Decodes `packet` and answers it; an undecodable packet gets no reply, as on a real bus.
    public mutating func handle<C: Collection>(packet: C) -> [FeetechReply] where C.Element == UInt8 {
        switch FeetechDecoder.decodeInstruction(packet) {
        case let .success(command): handle(command)
        case .failure: []
        }
    }

    public mutating func handle(_ command: FeetechCommand) -> [FeetechReply] {
        var replies: [FeetechReply] = []
        switch command {
        case let .ping(id):
            for i in indices(of: id) { replies.append(reply(i, parameters: EmptyCollection())) }
        case let .read(id, address, length):
            for i in indices(of: id) { replies.append(reply(i, parameters: bytes(i, address, length))) }
        case let .write(id, address, data):
            for i in indices(of: id) {
                // The reply reflects the servo before the write: its old ID and level.
                let before = reply(i, parameters: EmptyCollection()), level = statusReturnLevel(i)
                apply(i, address, data)
                if id != FeetechPacket.broadcastID, level >= 1 { replies.append(before) }
            }
        case let .regWrite(id, address, data):
            for i in indices(of: id) {
                servos[i].pending = (address, data)
                if id != FeetechPacket.broadcastID, statusReturnLevel(i) >= 1 {
                    replies.append(reply(i, parameters: EmptyCollection()))
                }
            }
        case let .action(id):
            for i in indices(of: id) {
                let before = reply(i, parameters: EmptyCollection()), level = statusReturnLevel(i)
                if let p = servos[i].pending { apply(i, p.address, p.data); servos[i].pending = nil }
                if id != FeetechPacket.broadcastID, level >= 1 { replies.append(before) }
            }
        case let .reset(id):
            for i in indices(of: id) where id != FeetechPacket.broadcastID && statusReturnLevel(i) >= 1 {
                replies.append(reply(i, parameters: EmptyCollection()))
            }
        case let .syncRead(address, length, ids):
            for id in ids {
                for i in indices(of: id) { replies.append(reply(i, parameters: bytes(i, address, length))) }
            }
        case let .syncWrite(address, length, ids, data):
            let n = Int(length)
            for (k, id) in ids.enumerated() {
                for i in indices(of: id) { apply(i, address, data[(k * n)..<((k + 1) * n)]) }
            }
        }
        return replies
    }

    // MARK: the host side (physics glue, fault injection)

    /// The servo's whole memory, or nil for an unknown ID.
    public func memory(of id: UInt8) -> [UInt8]? { index(of: id).map { servos[$0].memory } }

    /// An item's value (signed where the item is), or nil for an unknown ID.
    public func value(_ item: FeetechItem, id: UInt8) -> Int? {
        guard let i = index(of: id) else { return nil }
        return Self.load(item, from: servos[i].memory, series: series)
    }

    /// Sets an item as the servo itself would (present values, status), bypassing write
    /// protection; values that do not fit are clamped to the item's range. False for an
    /// unknown ID.
    @discardableResult
    public mutating func setValue(_ item: FeetechItem, id: UInt8, _ value: Int) -> Bool {
        guard let i = index(of: id) else { return false }
        Self.store(item, value, in: &servos[i].memory, series: series)
        return true
    }

    public func goalPosition(id: UInt8) -> Int? { value(STS3215.goalPosition, id: id) }
    public func goalVelocity(id: UInt8) -> Int? { value(STS3215.goalVelocity, id: id) }
    public func acceleration(id: UInt8) -> Int? { value(STS3215.acceleration, id: id) }
    public func torqueLimit(id: UInt8) -> Int? { value(STS3215.torqueLimit, id: id) }
    public func torqueEnabled(id: UInt8) -> Bool? { value(STS3215.torqueEnable, id: id).map { $0 != 0 } }
    /// Present = actual − offset; the host converts its joint angle with it.
    public func homingOffset(id: UInt8) -> Int? { value(STS3215.homingOffset, id: id) }

    @discardableResult public mutating func setPresentPosition(_ v: Int, id: UInt8) -> Bool { setValue(STS3215.presentPosition, id: id, v) }
    @discardableResult public mutating func setPresentVelocity(_ v: Int, id: UInt8) -> Bool { setValue(STS3215.presentVelocity, id: id, v) }
    @discardableResult public mutating func setPresentLoad(_ v: Int, id: UInt8) -> Bool { setValue(STS3215.presentLoad, id: id, v) }
    @discardableResult public mutating func setPresentVoltage(_ v: Int, id: UInt8) -> Bool { setValue(STS3215.presentVoltage, id: id, v) }
    @discardableResult public mutating func setPresentTemperature(_ v: Int, id: UInt8) -> Bool { setValue(STS3215.presentTemperature, id: id, v) }
    @discardableResult public mutating func setPresentCurrent(_ v: Int, id: UInt8) -> Bool { setValue(STS3215.presentCurrent, id: id, v) }
    @discardableResult public mutating func setMoving(_ moving: Bool, id: UInt8) -> Bool { setValue(STS3215.moving, id: id, moving ? 1 : 0) }

    /// The faults every reply of this servo reports (and register 65 shows) until cleared.
    public func faults(id: UInt8) -> FeetechStatusError? { index(of: id).map { servos[$0].faults } }

    @discardableResult
    public mutating func setFaults(_ faults: FeetechStatusError, id: UInt8) -> Bool {
        guard let i = index(of: id) else { return false }
        servos[i].faults = faults
        servos[i].memory[Int(STS3215.status.address)] = faults.rawValue
        return true
    }

    /// Return_Delay_Time × 2 µs.
    public func returnDelayMicroseconds(id: UInt8) -> Int? { value(STS3215.returnDelayTime, id: id).map { $0 * 2 } }

    /// The Baud_Rate index the servo is set to (`STS3215.baudRates`).
    public func baudIndex(id: UInt8) -> Int? { value(STS3215.baudRate, id: id) }

    // MARK: internals

    func index(of id: UInt8) -> Int? { servos.firstIndex { $0.id == id } }

    /// The servos a packet to `id` reaches: those with that id (or all, for broadcast) that hear
    /// the line rate.
    func indices(of id: UInt8) -> [Int] {
        servos.indices.filter { (id == FeetechPacket.broadcastID || servos[$0].id == id) && hears($0) }
    }

    func hears(_ i: Int) -> Bool {
        guard let lineRate else { return true }
        let index = Int(servos[i].memory[Int(STS3215.baudRate.address)])
        return index < STS3215.baudRates.count && STS3215.baudRates[index] == lineRate
    }

    func statusReturnLevel(_ i: Int) -> UInt8 { servos[i].memory[Int(STS3215.responseStatusLevel.address)] }

    func bytes(_ i: Int, _ address: UInt8, _ length: UInt8) -> [UInt8] {
        (Int(address)..<(Int(address) + Int(length))).map { $0 < Self.memorySize ? servos[i].memory[$0] : 0 }
    }

    func reply<C: Collection>(_ i: Int, parameters: C) -> FeetechReply where C.Element == UInt8 {
        let s = servos[i]
        // Parameters are at most 255 bytes from one READ; a reply longer than a packet can be is
        // cut to the limit rather than dropped, so the client sees .wrongLength, not silence.
        let params = Array(parameters.prefix(FeetechPacket.maxParameterCount))
        let bytes = (try? FeetechEncoder.status(id: s.id, error: s.faults.rawValue, parameters: params)) ?? []
        return FeetechReply(id: s.id, bytes: bytes,
                            returnDelayMicroseconds: Int(s.memory[Int(STS3215.returnDelayTime.address)]) * 2)
    }

    /// A write from the bus: EEPROM bytes only with torque off and unlocked; read-only items never.
    mutating func apply<C: Collection>(_ i: Int, _ address: UInt8, _ data: C) where C.Element == UInt8 {
        let torqueOn = servos[i].memory[Int(STS3215.torqueEnable.address)] != 0
        let locked = servos[i].memory[Int(STS3215.lock.address)] != 0
        var a = Int(address)
        for byte in data {
            defer { a += 1 }
            guard a < Self.memorySize else { break }
            if a < Int(STS3215.firstRAMAddress), torqueOn || locked { continue }
            if let item = STS3215.item(at: UInt8(a)), item.access == .readOnly { continue }
            servos[i].memory[a] = byte
        }
    }

    static func load(_ item: FeetechItem, from memory: [UInt8], series: FeetechSeries) -> Int {
        let a = Int(item.address)
        let raw = series.value(memory[a..<(a + item.size)]) ?? 0
        return item.value(fromRaw: raw)
    }

    static func store(_ item: FeetechItem, _ value: Int, in memory: inout [UInt8], series: FeetechSeries) {
        let clamped: Int
        switch item.encoding {
        case .unsigned: clamped = min(max(value, 0), (1 << (8 * item.size)) - 1)
        case let .signMagnitude(bit): clamped = min(max(value, -((1 << bit) - 1)), (1 << bit) - 1)
        }
        var out: [UInt8] = []
        series.append(item.raw(fromValue: clamped) ?? 0, size: item.size, to: &out)
        for (k, b) in out.enumerated() { memory[Int(item.address) + k] = b }
    }
}
