import Platform
import ServoProtocol

/// One servo found by a scan.
public struct ScannedServo: Sendable, Hashable {
    public var id: UInt8
    public var baud: Int
    public var modelNumber: UInt16
    /// "XL430-W250", "STS3215", or "model N".
    public var model: String
    /// Dynamixel: the Firmware Version number; Feetech: "major.minor".
    public var firmware: String
}

/// A control-table item's value as the bench tools print it.
public struct ItemReading: Sendable, Hashable {
    public var id: UInt8
    public var item: String
    public var address: Int
    public var size: Int
    /// In the table's units; signed where the table says so.
    public var value: Int64
}

/// The operations behind `robotd bus …`, for either protocol: scan over baud rates, read and write
/// an item by its control-table name, change a servo's id or baud rate with the EEPROM dance
/// (torque off, unlock, write, lock, verify). Each call opens the port, does its work and closes
/// it. Errors are `ServoBusError`s whose messages name the port, the servo and the fix.
///
/// - Warning: Not real-time safe: bench tools, not the control loop.
public struct BusTool {
    public let path: String
    public let family: ServoProtocolFamily
    public var configuration: TransactionConfiguration
    /// Receives advice to print (the FTDI latency timer, a status error bit on a reply).
    public var warn: (String) -> Void

    public init(path: String, family: ServoProtocolFamily, configuration: TransactionConfiguration? = nil, warn: @escaping (String) -> Void = { _ in }) {
        self.path = path
        self.family = family
        var c = configuration ?? TransactionConfiguration()
        if configuration == nil {
            c.retries = 2
            c.timeoutNanoseconds = 50_000_000
        }
        self.configuration = c
        self.warn = warn
    }

    /// The rates `bus scan` tries without `--baud`, most likely first: for Dynamixel the rate the
    /// arms run at, then the factory default, then the rest; for Feetech the factory 1 Mbps first.
    public static func commonBauds(_ family: ServoProtocolFamily) -> [Int] {
        switch family {
        case .dynamixel: [1_000_000, 57_600, 115_200, 500_000, 2_000_000, 3_000_000, 4_000_000]
        case .feetech: [1_000_000, 500_000, 250_000, 128_000, 115_200, 57_600]
        }
    }

    /// How long a broadcast PING waits for answers: the SDKs' `n·252·tx + 3·252 + 16` ms
    /// (n = 14 bytes per Dynamixel reply, 6 per Feetech), about 0.8 s at 1 Mbps.
    public static func broadcastWindowNanoseconds(_ family: ServoProtocolFamily, baud: Int) -> UInt64 {
        let bytes = (family == .dynamixel ? 14 : 6) * 252
        return WireTime.nanoseconds(bytes: bytes, baud: baud) + (3 * 252 + 16) * 1_000_000
    }

    // MARK: opening

    func open(baud: Int) throws(ServoBusError) -> any SerialTransport {
        do throws(SerialTransportError) {
            let opened = try SerialPorts.open(path: path, baud: baud)
            for w in opened.warnings { warn(w) }
            return opened.transport
        } catch {
            throw .transport(error)
        }
    }

    func withDynamixel<R>(baud: Int, _ body: (DynamixelBusClient) throws(ServoBusError) -> R) throws(ServoBusError) -> R {
        let transport = try open(baud: baud)
        defer { transport.close() }
        return try body(DynamixelBusClient(transport: transport, configuration: configuration))
    }

    func withFeetech<R>(baud: Int, _ body: (FeetechBusClient) throws(ServoBusError) -> R) throws(ServoBusError) -> R {
        let transport = try open(baud: baud)
        defer { transport.close() }
        return try body(FeetechBusClient(transport: transport, configuration: configuration))
    }

    // MARK: scan

    /// Broadcast-pings at each rate of `bauds` in turn and returns the servos of the first rate
    /// where any answer (of every rate with `allRates`).
    /// - Parameter windowNanoseconds: the wait per rate; default `broadcastWindowNanoseconds`.
    public func scan(bauds: [Int], allRates: Bool = false, windowNanoseconds: UInt64? = nil) throws(ServoBusError) -> [ScannedServo] {
        var found: [ScannedServo] = []
        for baud in bauds {
            let window = windowNanoseconds ?? Self.broadcastWindowNanoseconds(family, baud: baud)
            let servos: [ScannedServo]
            switch family {
            case .dynamixel:
                servos = try withDynamixel(baud: baud) { (c) throws(ServoBusError) in
                    try c.broadcastPing(windowNanoseconds: window).map {
                        ScannedServo(id: $0.id, baud: baud, modelNumber: $0.modelNumber, model: $0.modelName, firmware: "\($0.firmware)")
                    }
                }
            case .feetech:
                servos = try withFeetech(baud: baud) { (c) throws(ServoBusError) in
                    var out: [ScannedServo] = []
                    for id in try c.broadcastPing(windowNanoseconds: window) {
                        let p = try c.ping(id)
                        out.append(ScannedServo(id: id, baud: baud, modelNumber: p.modelNumber, model: p.modelName, firmware: p.firmware))
                    }
                    return out
                }
            }
            found += servos
            if !servos.isEmpty && !allRates { break }
        }
        return found
    }

    // MARK: items

    /// The item called `name` on servo `id` (Dynamixel: of its model, learnt by a PING).
    enum ResolvedItem {
        case dynamixel(DynamixelControlItem)
        case feetech(FeetechItem)
    }

    static func itemNames(_ family: ServoProtocolFamily) -> String {
        switch family {
        case .dynamixel: DynamixelControlTable.items.map(\.name).joined(separator: ", ")
        case .feetech: STS3215.items.map(\.name).joined(separator: ", ")
        }
    }

    static func unknownItem(_ name: String, _ family: ServoProtocolFamily, id: UInt8?, model: String? = nil) -> ServoBusError {
        let on = model.map { " on \($0)" } ?? ""
        return ServoBusError(.unknownItem, servoID: id, message: "no control-table item \"\(name)\"\(on); items: \(itemNames(family))")
    }

    /// Reads item `name` of servo `id`.
    public func read(id: UInt8, item name: String, baud: Int) throws(ServoBusError) -> ItemReading {
        switch family {
        case .dynamixel:
            return try withDynamixel(baud: baud) { (c) throws(ServoBusError) in
                let item = try dynamixelItem(name, id: id, client: c)
                let v = try c.read(id, item)
                if c.lastStatus.alert { warn("servo \(id) reports a latched hardware fault (alert): read Hardware_Error_Status") }
                return ItemReading(id: id, item: item.name, address: Int(item.address), size: item.size, value: v)
            }
        case .feetech:
            guard let item = STS3215.item(named: name) else { throw Self.unknownItem(name, family, id: id) }
            return try withFeetech(baud: baud) { (c) throws(ServoBusError) in
                let v = try c.read(id, item)
                if !c.lastStatus.isEmpty { warn("servo \(id) reports: \(c.lastStatus)") }
                return ItemReading(id: id, item: item.name, address: Int(item.address), size: item.size, value: Int64(v))
            }
        }
    }

    func dynamixelItem(_ name: String, id: UInt8, client c: DynamixelBusClient) throws(ServoBusError) -> DynamixelControlItem {
        guard DynamixelControlTable.item(named: name) != nil else { throw Self.unknownItem(name, family, id: id) }
        let ping = try c.ping(id)
        guard let item = DynamixelControlTable.item(named: name, model: ping.model) else {
            throw Self.unknownItem(name, family, id: id, model: ping.modelName)
        }
        return item
    }

    /// Writes item `name` of servo `id` and reads it back.
    /// - Throws: `.verificationFailed` when the read-back differs (a Feetech EEPROM item while
    ///   locked or torqued: the servo acknowledges and ignores it); `.status` when a Dynamixel
    ///   servo refuses (an EEPROM item while torque is on).
    public func write(id: UInt8, item name: String, value: Int64, baud: Int) throws(ServoBusError) -> ItemReading {
        switch family {
        case .dynamixel:
            return try withDynamixel(baud: baud) { (c) throws(ServoBusError) in
                let item = try dynamixelItem(name, id: id, client: c)
                do throws(ServoBusError) {
                    try c.write(id, item, value)
                } catch where error.code == .status && item.area == .eeprom {
                    throw ServoBusError(.status, servoID: id, message: "\(error.message). \(item.name) is in EEPROM: write Torque_Enable 0 first")
                }
                let back = try c.read(id, item)
                return ItemReading(id: id, item: item.name, address: Int(item.address), size: item.size, value: back)
            }
        case .feetech:
            guard let item = STS3215.item(named: name) else { throw Self.unknownItem(name, family, id: id) }
            guard let v = Int(exactly: value) else {
                throw ServoBusError(.valueOutOfRange, servoID: id, message: "\(value) does not fit \(item.name)")
            }
            return try withFeetech(baud: baud) { (c) throws(ServoBusError) in
                try c.write(id, item, v)
                let back = try c.read(id, item)
                if back != v {
                    let hint = item.storage == .eeprom
                        ? ": \(item.name) is in EEPROM, writable only with Torque_Enable 0 and Lock 0 (write them first, Lock 1 after)"
                        : ""
                    throw ServoBusError(.verificationFailed, servoID: id, message: "servo \(id) kept \(item.name) = \(back) after a write of \(v)\(hint)")
                }
                return ItemReading(id: id, item: item.name, address: Int(item.address), size: item.size, value: Int64(back))
            }
        }
    }

    // MARK: set-up

    /// Gives servo `old` the id `new`: torque off, (Feetech) unlock, write ID, (Feetech) lock,
    /// then checks that `new` answers with the same model and `old` no longer does.
    /// - Throws: `.invalidRequest` when `new` is taken or out of range, `.verificationFailed`.
    public func setID(_ old: UInt8, to new: UInt8, baud: Int) throws(ServoBusError) -> ScannedServo {
        let maxID = family == .dynamixel ? DynamixelID.maxServo : FeetechPacket.maxServoID
        guard new <= maxID else {
            throw ServoBusError(.invalidRequest, servoID: old, message: "id \(new) is out of range (0…\(maxID))")
        }
        switch family {
        case .dynamixel:
            return try withDynamixel(baud: baud) { (c) throws(ServoBusError) in
                let before = try c.ping(old)
                if old == new { return ScannedServo(id: new, baud: baud, modelNumber: before.modelNumber, model: before.modelName, firmware: "\(before.firmware)") }
                try requireFree(new) { (id) throws(ServoBusError) in _ = try c.ping(id) }
                try c.write(old, DynamixelControlTable.torqueEnable, 0)
                try c.writeUnacknowledged(old, DynamixelControlTable.id, Int64(new))
                let after = try verifyMoved(old, new) { (id) throws(ServoBusError) in try c.ping(id) }
                guard after.modelNumber == before.modelNumber else {
                    throw ServoBusError(.verificationFailed, servoID: new, message: "id \(new) answers as \(after.modelName), servo \(old) was \(before.modelName)")
                }
                return ScannedServo(id: new, baud: baud, modelNumber: after.modelNumber, model: after.modelName, firmware: "\(after.firmware)")
            }
        case .feetech:
            return try withFeetech(baud: baud) { (c) throws(ServoBusError) in
                let before = try c.ping(old)
                if old == new { return ScannedServo(id: new, baud: baud, modelNumber: before.modelNumber, model: before.modelName, firmware: before.firmware) }
                try requireFree(new) { (id) throws(ServoBusError) in _ = try c.ping(id) }
                try c.write(old, STS3215.torqueEnable, 0)
                try c.write(old, STS3215.lock, 0)
                try c.writeUnacknowledged(old, STS3215.id, Int(new))
                let after = try verifyMoved(old, new) { (id) throws(ServoBusError) in try c.ping(id) }
                try c.write(new, STS3215.lock, 1)
                guard after.modelNumber == before.modelNumber else {
                    throw ServoBusError(.verificationFailed, servoID: new, message: "id \(new) answers as \(after.modelName), servo \(old) was \(before.modelName)")
                }
                return ScannedServo(id: new, baud: baud, modelNumber: after.modelNumber, model: after.modelName, firmware: after.firmware)
            }
        }
    }

    private func requireFree(_ id: UInt8, ping: (UInt8) throws(ServoBusError) -> Void) throws(ServoBusError) {
        do throws(ServoBusError) {
            try ping(id)
        } catch where error.code == .noReply {
            return
        }
        throw ServoBusError(.invalidRequest, servoID: id, message: "id \(id) is already taken on this bus: give that servo another id first, or choose a free one")
    }

    private func verifyMoved<P>(_ old: UInt8, _ new: UInt8, ping: (UInt8) throws(ServoBusError) -> P) throws(ServoBusError) -> P {
        let after: P
        do throws(ServoBusError) { after = try ping(new) } catch where error.code == .noReply {
            throw ServoBusError(.verificationFailed, servoID: old, message: "servo \(old) does not answer as id \(new) after the ID write (is its EEPROM locked?)")
        }
        do throws(ServoBusError) {
            _ = try ping(old)
        } catch where error.code == .noReply {
            return after
        }
        throw ServoBusError(.verificationFailed, servoID: old, message: "id \(old) still answers after servo \(old) was given id \(new): two servos shared id \(old)?")
    }

    /// Sets servo `id`'s line rate from `baud` to `newBaud`: torque off, (Feetech) unlock, write
    /// Baud_Rate, then reopen at `newBaud`, check that the servo answers there, (Feetech) lock.
    /// - Throws: `.valueOutOfRange` naming the rates the protocol has; `.verificationFailed`.
    public func setBaud(_ id: UInt8, from baud: Int, to newBaud: Int) throws(ServoBusError) -> ScannedServo {
        switch family {
        case .dynamixel:
            guard let code = DynamixelControlTable.baudRateCode(bitsPerSecond: newBaud) else {
                let rates = (0...7).compactMap { DynamixelControlTable.bitsPerSecond(baudRateCode: UInt8($0)) }
                throw ServoBusError(.valueOutOfRange, servoID: id, message: "Dynamixel servos have no \(newBaud) baud; rates: \(rates.map(String.init).joined(separator: ", "))")
            }
            try withDynamixel(baud: baud) { (c) throws(ServoBusError) in
                _ = try c.ping(id)
                try c.write(id, DynamixelControlTable.torqueEnable, 0)
                try c.writeUnacknowledged(id, DynamixelControlTable.baudRate, Int64(code))
            }
            return try withDynamixel(baud: newBaud) { (c) throws(ServoBusError) in
                let p: DynamixelPingReply
                do throws(ServoBusError) { p = try c.ping(id) } catch where error.code == .noReply {
                    throw ServoBusError(.verificationFailed, servoID: id, message: "servo \(id) does not answer at \(newBaud) baud after the Baud_Rate write")
                }
                return ScannedServo(id: id, baud: newBaud, modelNumber: p.modelNumber, model: p.modelName, firmware: "\(p.firmware)")
            }
        case .feetech:
            guard let index = STS3215.baudRates.firstIndex(of: newBaud) else {
                throw ServoBusError(.valueOutOfRange, servoID: id, message: "Feetech servos have no \(newBaud) baud; rates: \(STS3215.baudRates.map(String.init).joined(separator: ", "))")
            }
            try withFeetech(baud: baud) { (c) throws(ServoBusError) in
                _ = try c.ping(id)
                try c.write(id, STS3215.torqueEnable, 0)
                try c.write(id, STS3215.lock, 0)
                try c.writeUnacknowledged(id, STS3215.baudRate, index)
            }
            return try withFeetech(baud: newBaud) { (c) throws(ServoBusError) in
                let p: FeetechPingReply
                do throws(ServoBusError) { p = try c.ping(id) } catch where error.code == .noReply {
                    throw ServoBusError(.verificationFailed, servoID: id, message: "servo \(id) does not answer at \(newBaud) baud after the Baud_Rate write")
                }
                try c.write(id, STS3215.lock, 1)
                guard try c.read(id, STS3215.baudRate) == index else {
                    throw ServoBusError(.verificationFailed, servoID: id, message: "servo \(id) kept its Baud_Rate (is its EEPROM locked?)")
                }
                return ScannedServo(id: id, baud: newBaud, modelNumber: p.modelNumber, model: p.modelName, firmware: p.firmware)
            }
        }
    }
}
