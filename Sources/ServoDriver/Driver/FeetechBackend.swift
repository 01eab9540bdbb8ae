import ServoBus
import ServoProtocol

/// The driver's transactions on a Feetech STS bus (STS3215).
///
/// State block: one SYNC_READ of 56…63 (Present_Position, Present_Velocity, Present_Load,
/// Present_Voltage, Present_Temperature; 8 bytes per servo), so voltage and temperature come
/// with every cycle; every reply's ERR byte carries the servo's faults. Diagnostics add a
/// SYNC_READ of register 65 (Status, the same bits).
final class FeetechBackend: ServoBusBackend {
    let options: ServoArmOptions
    let client: FeetechBusClient
    private var stateGroup: FeetechSyncRead
    private var statusGroup: FeetechSyncRead
    private var goalGroup: FeetechSyncWrite
    private var torqueGroup: FeetechSyncWrite

    /// The ERR bits that are faults (voltage, angle sensor, overheat, overcurrent, overload);
    /// bits 4, 6 and 7 have no documented meaning.
    static let faultMask: UInt8 = FeetechStatusError([.voltage, .angleSensor, .overheat, .overcurrent, .overload]).rawValue
    /// Model numbers of the STS family (same control table, little-endian, SYNC_READ).
    static let stsModels: Set<UInt16> = [777, 2825]

    init(transport: any SerialTransport, options: ServoArmOptions) throws(ServoArmError) {
        self.options = options
        client = FeetechBusClient(transport: transport)
        do throws(ServoBusError) {
            stateGroup = try FeetechSyncRead(ids: options.ids, items: [
                STS3215.presentPosition, STS3215.presentVelocity, STS3215.presentLoad, STS3215.presentVoltage, STS3215.presentTemperature,
            ])
            statusGroup = try FeetechSyncRead(ids: options.ids, items: [STS3215.status])
            goalGroup = try FeetechSyncWrite(ids: options.ids, item: STS3215.goalPosition)
            torqueGroup = try FeetechSyncWrite(ids: options.ids, item: STS3215.torqueEnable)
        } catch {
            throw ServoArmError(.invalidOptions, port: options.port, message: "\(options.robotName): \(error.message)")
        }
    }

    var transport: any SerialTransport { client.bus.transport }
    var health: BusHealth { client.health }
    var transactionConfiguration: TransactionConfiguration {
        get { client.bus.configuration }
        set { client.bus.configuration = newValue }
    }
    var cycleWireBytes: Int { stateGroup.wireBytes + goalGroup.wireBytes }
    var calibrationBus: any CalibrationBus { client }
    var canReboot: Bool { false }

    func identify() throws(ServoArmError) {
        for (i, id) in options.ids.enumerated() {
            let reply = try configuring("PING") { () throws(ServoBusError) in try client.ping(id) }
            guard Self.stsModels.contains(reply.modelNumber) else {
                throw ServoArmError(
                    .wrongModel, port: options.port, servoID: id, joint: i,
                    message: "\(options.robotName) on \(options.port): \(options.servoName(i)) is a \(reply.modelName) (model \(reply.modelNumber)), "
                        + "not an STS-series Feetech servo (STS3215 is model 777): check the servo and the bus protocol")
            }
        }
    }

    func latchedErrors() throws(ServoArmError) -> [(joint: Int, bits: UInt8)] {
        var out: [(joint: Int, bits: UInt8)] = []
        for (i, id) in options.ids.enumerated() {
            let status = try configuring("the read of Status (65)") { () throws(ServoBusError) in try client.read(id, STS3215.status) }
            let bits = (UInt8(truncatingIfNeeded: status) | client.lastStatus.rawValue) & Self.faultMask
            if bits != 0 { out.append((i, bits)) }
        }
        return out
    }

    func torqueEnabled(joint i: Int) throws(ServoArmError) -> Bool {
        try configuring("the read of Torque_Enable") { () throws(ServoBusError) in try client.read(options.ids[i], STS3215.torqueEnable) } != 0
    }

    func reboot(joint i: Int) throws(ServoArmError) {
        throw ServoArmError(.hardwareError, port: options.port, servoID: options.ids[i], joint: i,
                            message: "\(options.servoName(i)): Feetech servos have no REBOOT; power-cycle the arm")
    }

    /// EEPROM: Return_Delay_Time 0, Operating_Mode 0 (position), P/D coefficients; written with
    /// torque off and the EEPROM unlocked (55 = 0, then 1), only where they differ, and read
    /// back (a locked servo acknowledges and ignores). RAM: Torque_Limit (0.1 %), Acceleration
    /// (100 step/s², 0 = unlimited), Goal_Velocity (step/s, 0 = unlimited).
    func applySettings() throws(ServoArmError) {
        let stepRadians = 2 * Double.pi / Double(STS3215.countsPerRevolution)
        for (i, id) in options.ids.enumerated() {
            var eeprom: [(FeetechItem, Int)] = [(STS3215.returnDelayTime, 0), (STS3215.operatingMode, 0)]
            if let p = options.positionP?[i] { eeprom.append((STS3215.pCoefficient, p)) }
            if let d = options.positionD?[i] { eeprom.append((STS3215.dCoefficient, d)) }
            var differing: [(FeetechItem, Int)] = []
            for (item, value) in eeprom {
                let now = try configuring("the read of \(item.name)") { () throws(ServoBusError) in try client.read(id, item) }
                if now != value { differing.append((item, value)) }
            }
            if !differing.isEmpty {
                try configuring("writing EEPROM settings (torque off, unlock)") { () throws(ServoBusError) in
                    try client.write(id, STS3215.torqueEnable, 0)
                    try client.write(id, STS3215.lock, 0)
                    for (item, value) in differing { try client.write(id, item, value) }
                    try client.write(id, STS3215.lock, 1)
                }
                for (item, value) in differing {
                    let now = try configuring("the read-back of \(item.name)") { () throws(ServoBusError) in try client.read(id, item) }
                    guard now == value else {
                        throw ServoArmError(.settings, port: options.port, servoID: id, joint: i,
                                            message: "\(options.robotName): \(options.servoName(i)) kept \(item.name) = \(now) after a write of \(value) (EEPROM locked?)")
                    }
                }
            }
            var ram: [(FeetechItem, Int)] = []
            if let f = options.torqueLimit?[i] { ram.append((STS3215.torqueLimit, Int((f * 1000).rounded()))) }
            if let a = options.profileAcceleration { ram.append((STS3215.acceleration, min(254, Int((a / (100 * stepRadians)).rounded())))) }
            if let v = options.profileVelocity { ram.append((STS3215.goalVelocity, min(32767, Int((v / stepRadians).rounded())))) }
            for (item, value) in ram {
                try configuring("the write of \(item.name) = \(value)") { () throws(ServoBusError) in try client.write(id, item, value) }
            }
        }
    }

    func setTorque(_ on: Bool) throws(ServoBusError) {
        for i in 0..<torqueGroup.values.count { torqueGroup.values[i] = on ? 1 : 0 }
        try client.syncWrite(&torqueGroup)
    }

    func writeGoals(_ counts: UnsafePointer<Int32>) throws(ServoBusError) {
        for i in 0..<goalGroup.values.count { goalGroup.values[i] = Int(counts[i]) }
        try client.syncWrite(&goalGroup)
    }

    func readState() throws(ServoBusError) -> Int { try client.syncRead(&stateGroup) }
    func stateValid(_ i: Int) -> Bool { stateGroup.valid[i] }
    func presentCount(_ i: Int) -> Int { stateGroup.values[i * 5] }
    func velocityCountsPerSecond(_ i: Int) -> Double { Double(stateGroup.values[i * 5 + 1]) }
    func effortRaw(_ i: Int) -> Double { Double(stateGroup.values[i * 5 + 2]) }
    func statusFault(_ i: Int) -> UInt8 { stateGroup.valid[i] ? stateGroup.errors[i].rawValue & Self.faultMask : 0 }

    func readHardwareError(joint i: Int) throws(ServoBusError) -> UInt8 {
        UInt8(truncatingIfNeeded: try client.read(options.ids[i], STS3215.status)) & Self.faultMask
    }

    func readDiagnostics() throws(ServoBusError) -> Bool { try client.syncRead(&statusGroup) == options.ids.count }
    func voltage(_ i: Int) -> Double? { stateGroup.valid[i] ? Double(stateGroup.values[i * 5 + 3]) * 0.1 : nil }
    func temperature(_ i: Int) -> Double? { stateGroup.valid[i] ? Double(stateGroup.values[i * 5 + 4]) : nil }
    func hardwareError(_ i: Int) -> UInt8? {
        statusGroup.valid[i] ? (UInt8(truncatingIfNeeded: statusGroup.values[i]) | statusGroup.errors[i].rawValue) & Self.faultMask : nil
    }
    /// Present_Load is 0.1 % of the stall torque.
    func effortPerUnit(joint i: Int, effortLimit: Double) -> Double { effortLimit / 1000 }
    func hardwareErrorReasons(_ bits: UInt8) -> [String] { FeetechStatusError(rawValue: bits).reasons }
}
