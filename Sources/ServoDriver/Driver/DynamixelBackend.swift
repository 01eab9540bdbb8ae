import Glibc
import Platform
import ServoBus
import ServoProtocol

/// The driver's transactions on a Dynamixel Protocol 2.0 bus (X series).
///
/// State block: one SYNC_READ of 126…135 (Present_Current or, on XL430, Present_Load;
/// Present_Velocity; Present_Position; 10 bytes per servo). A status with the alert bit means
/// a latched hardware fault: Hardware_Error_Status (70) says which. Diagnostics: SYNC_READs of
/// 70 and of 144…146 (Present_Input_Voltage, Present_Temperature).
final class DynamixelBackend: ServoBusBackend {
    let options: ServoArmOptions
    let client: DynamixelBusClient
    private var stateGroup: DynamixelSyncRead
    private var errorGroup: DynamixelSyncRead
    private var powerGroup: DynamixelSyncRead
    private var goalGroup: DynamixelSyncWrite
    private var torqueGroup: DynamixelSyncWrite
    private(set) var models: [DynamixelModel] = []

    /// Present_Velocity unit (0.229 rpm) in counts per second: 0.229 · 4096 / 60.
    static let countsPerSecondPerVelocityUnit = 0.229 * 4096 / 60
    /// Profile_Velocity unit (0.229 rpm) in rad/s.
    static let profileVelocityUnit = 0.229 * 2 * Double.pi / 60
    /// Profile_Acceleration unit (214.577 rev/min²) in rad/s².
    static let profileAccelerationUnit = 214.577 * 2 * Double.pi / 3600

    init(transport: any SerialTransport, options: ServoArmOptions) throws(ServoArmError) {
        self.options = options
        client = DynamixelBusClient(transport: transport)
        do throws(ServoBusError) {
            stateGroup = try DynamixelSyncRead(ids: options.ids, items: [
                DynamixelControlTable.presentCurrent, DynamixelControlTable.presentVelocity, DynamixelControlTable.presentPosition,
            ])
            errorGroup = try DynamixelSyncRead(ids: options.ids, items: [DynamixelControlTable.hardwareErrorStatus])
            powerGroup = try DynamixelSyncRead(ids: options.ids, items: [DynamixelControlTable.presentInputVoltage, DynamixelControlTable.presentTemperature])
            goalGroup = try DynamixelSyncWrite(ids: options.ids, item: DynamixelControlTable.goalPosition)
            torqueGroup = try DynamixelSyncWrite(ids: options.ids, item: DynamixelControlTable.torqueEnable)
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
    var canReboot: Bool { true }

    func identify() throws(ServoArmError) {
        var found: [DynamixelModel] = []
        for (i, id) in options.ids.enumerated() {
            let reply = try configuring("PING") { () throws(ServoBusError) in try client.ping(id) }
            guard let model = reply.model else {
                throw ServoArmError(
                    .wrongModel, port: options.port, servoID: id, joint: i,
                    message: "\(options.robotName) on \(options.port): \(options.servoName(i)) is model \(reply.modelNumber), "
                        + "not an X-series Dynamixel robotd knows (XL330-M077/M288, XL430-W250, XM430-W350, XM540-W270)")
            }
            found.append(model)
        }
        models = found
    }

    func latchedErrors() throws(ServoArmError) -> [(joint: Int, bits: UInt8)] {
        var out: [(joint: Int, bits: UInt8)] = []
        for (i, id) in options.ids.enumerated() {
            let bits = try configuring("the read of Hardware_Error_Status") { () throws(ServoBusError) in
                try client.read(id, DynamixelControlTable.hardwareErrorStatus)
            }
            if bits != 0 { out.append((i, UInt8(truncatingIfNeeded: bits))) }
        }
        return out
    }

    func torqueEnabled(joint i: Int) throws(ServoArmError) -> Bool {
        try configuring("the read of Torque_Enable") { () throws(ServoBusError) in
            try client.read(options.ids[i], DynamixelControlTable.torqueEnable)
        } != 0
    }

    func reboot(joint i: Int) throws(ServoArmError) {
        let id = options.ids[i]
        try configuring("REBOOT") { () throws(ServoBusError) in try client.reboot(id) }
        // The servo restarts (about 0.5 s on hardware): ping until it answers again.
        let deadline = MonotonicClock.now() &+ 3_000_000_000
        while true {
            do throws(ServoBusError) {
                _ = try client.ping(id)
                return
            } catch {
                if error.transportError != nil || MonotonicClock.now() > deadline {
                    throw ServoArmError.bus(error, options: options, doing: "waiting for the servo after REBOOT")
                }
                usleep(50_000)
            }
        }
    }

    /// EEPROM (torque off for the servos where they differ): Return_Delay_Time 0, Operating_Mode
    /// 3 or 5 (5 only on models with current control). RAM: Position P/D gains, Profile
    /// velocity/acceleration, and the torque limit as Goal_PWM = f · PWM_Limit (mode 3) or
    /// Goal_Current = f · Current_Limit (mode 5).
    func applySettings() throws(ServoArmError) {
        for (i, id) in options.ids.enumerated() {
            let model = i < models.count ? models[i] : .xl430W250
            let currentMode = options.positionMode == .currentBasedPosition && model.hasCurrentControl
            let eeprom: [(DynamixelControlItem, Int64)] = [
                (DynamixelControlTable.returnDelayTime, 0), (DynamixelControlTable.operatingMode, currentMode ? 5 : 3),
            ]
            var differing: [(DynamixelControlItem, Int64)] = []
            for (item, value) in eeprom {
                let now = try configuring("the read of \(item.name)") { () throws(ServoBusError) in try client.read(id, item) }
                if now != value { differing.append((item, value)) }
            }
            if !differing.isEmpty {
                try configuring("writing EEPROM settings (torque off)") { () throws(ServoBusError) in
                    try client.write(id, DynamixelControlTable.torqueEnable, 0)
                    for (item, value) in differing { try client.write(id, item, value) }
                }
            }
            var ram: [(DynamixelControlItem, Int64)] = []
            if let p = options.positionP?[i] { ram.append((DynamixelControlTable.positionPGain, Int64(p))) }
            if let d = options.positionD?[i] { ram.append((DynamixelControlTable.positionDGain, Int64(d))) }
            if let v = options.profileVelocity {
                ram.append((DynamixelControlTable.profileVelocity, min(32767, Int64((v / Self.profileVelocityUnit).rounded()))))
            }
            if let a = options.profileAcceleration {
                ram.append((DynamixelControlTable.profileAcceleration, min(32767, Int64((a / Self.profileAccelerationUnit).rounded()))))
            }
            if let f = options.torqueLimit?[i] {
                if currentMode {
                    let limit = try configuring("the read of Current_Limit") { () throws(ServoBusError) in try client.read(id, DynamixelControlTable.currentLimit) }
                    ram.append((DynamixelControlTable.goalCurrent, Int64((f * Double(limit)).rounded())))
                } else {
                    let limit = try configuring("the read of PWM_Limit") { () throws(ServoBusError) in try client.read(id, DynamixelControlTable.pwmLimit) }
                    ram.append((DynamixelControlTable.goalPWM, Int64((f * Double(limit)).rounded())))
                }
            }
            for (item, value) in ram {
                try configuring("the write of \(item.name) = \(value)") { () throws(ServoBusError) in try client.write(id, item, value) }
            }
        }
    }

    func setTorque(_ on: Bool) throws(ServoBusError) {
        for i in 0..<torqueGroup.values.count { torqueGroup.values[i] = on ? 1 : 0 }
        try client.syncWrite(torqueGroup)
    }

    func writeGoals(_ counts: UnsafePointer<Int32>) throws(ServoBusError) {
        for i in 0..<goalGroup.values.count { goalGroup.values[i] = counts[i] }
        try client.syncWrite(goalGroup)
    }

    func readState() throws(ServoBusError) -> Int { try client.syncRead(&stateGroup) }
    func stateValid(_ i: Int) -> Bool { stateGroup.valid[i] }
    func presentCount(_ i: Int) -> Int { Int(stateGroup.values[i * 3 + 2]) }
    func velocityCountsPerSecond(_ i: Int) -> Double { Double(stateGroup.values[i * 3 + 1]) * Self.countsPerSecondPerVelocityUnit }
    func effortRaw(_ i: Int) -> Double { Double(stateGroup.values[i * 3]) }
    func statusFault(_ i: Int) -> UInt8 { stateGroup.valid[i] && stateGroup.errors[i].alert ? 0x80 : 0 }

    func readHardwareError(joint i: Int) throws(ServoBusError) -> UInt8 {
        UInt8(truncatingIfNeeded: try client.read(options.ids[i], DynamixelControlTable.hardwareErrorStatus))
    }

    func readDiagnostics() throws(ServoBusError) -> Bool {
        let errors = try client.syncRead(&errorGroup)
        let power = try client.syncRead(&powerGroup)
        return errors == options.ids.count && power == options.ids.count
    }
    func voltage(_ i: Int) -> Double? { powerGroup.valid[i] ? Double(powerGroup.values[i * 2]) * 0.1 : nil }
    func temperature(_ i: Int) -> Double? { powerGroup.valid[i] ? Double(powerGroup.values[i * 2 + 1]) : nil }
    func hardwareError(_ i: Int) -> UInt8? { errorGroup.valid[i] ? UInt8(truncatingIfNeeded: errorGroup.values[i]) : nil }

    /// XL430: Present_Load, 0.1 % of the stall torque; current models: Present_Current in
    /// 1 mA (XL330) or 2.69 mA (XM) units through the datasheet current per torque.
    func effortPerUnit(joint i: Int, effortLimit: Double) -> Double {
        switch i < models.count ? models[i] : .xl430W250 {
        case .xl430W250: effortLimit / 1000
        case .xl330M288: 1 / ServoUnits.xl330M288MilliampsPerNewtonMetre
        case .xl330M077: 1 / ServoUnits.xl330M077MilliampsPerNewtonMetre
        case .xm430W350: 2.69 / ServoUnits.xm430W350MilliampsPerNewtonMetre
        case .xm540W270: 2.69 / ServoUnits.xm540W270MilliampsPerNewtonMetre
        }
    }

    func hardwareErrorReasons(_ bits: UInt8) -> [String] {
        let named: [(DynamixelHardwareError, String)] = [
            (.inputVoltage, "input voltage"), (.overheating, "overheating"), (.encoder, "encoder"),
            (.electricalShock, "electrical shock"), (.overload, "overload"),
        ]
        let e = DynamixelHardwareError(rawValue: bits)
        var out = named.filter { e.contains($0.0) }.map(\.1)
        let unknown = bits & ~named.reduce(0) { $0 | $1.0.rawValue }
        if unknown != 0 { out.append("bits 0x" + String(unknown, radix: 16)) }
        return out
    }
}
