/// The X-series servo models robotd knows, by their Model Number (control table address 0).
public enum DynamixelModel: UInt16, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case xl330M077 = 1190
    case xl330M288 = 1200
    case xl430W250 = 1060
    case xm430W350 = 1020
    case xm540W270 = 1120

    public var description: String {
        switch self {
        case .xl330M077: "XL330-M077"
        case .xl330M288: "XL330-M288"
        case .xl430W250: "XL430-W250"
        case .xm430W350: "XM430-W350"
        case .xm540W270: "XM540-W270"
        }
    }

    /// XL430 has no current sensing: no Current Limit (38) nor Goal Current (102); its 126 is
    /// Present Load (0.1 %).
    public var hasCurrentControl: Bool { self != .xl430W250 }

    /// The firmware version the emulator reports: XL430 52 (as in the notes' ping vector); the
    /// others at the first version with FAST_SYNC_READ (X330 ≥ 46, X430/540 ≥ 45).
    public var emulatedFirmware: UInt8 {
        switch self {
        case .xl430W250: 52
        case .xl330M077, .xl330M288: 46
        case .xm430W350, .xm540W270: 46
        }
    }
}

/// One item of the X-series control table (e-Manual `xl430-w250.md`, `xl330-m288.md`,
/// `xm430-w350.md`; LeRobot `motors/dynamixel/tables.py`). Values are little-endian; signed items
/// are two's complement at their width.
public struct DynamixelControlItem: Hashable, Sendable, CustomStringConvertible {
    public enum Area: Hashable, Sendable { case eeprom, ram }
    public enum Access: Hashable, Sendable { case read, readWrite }

    public var name: String
    public var address: UInt16
    public var size: Int
    public var access: Access
    public var signed: Bool
    /// The models that have the item; nil means every X-series model.
    public var models: Set<DynamixelModel>?

    /// Addresses below 64 are EEPROM: writable only while Torque Enable is 0, kept across reboot.
    public var area: Area { address < 64 ? .eeprom : .ram }

    public func exists(on model: DynamixelModel) -> Bool { models?.contains(model) ?? true }

    public var description: String { name }

    public init(_ name: String, _ address: UInt16, _ size: Int, _ access: Access = .readWrite,
                signed: Bool = false, models: Set<DynamixelModel>? = nil) {
        self.name = name; self.address = address; self.size = size; self.access = access
        self.signed = signed; self.models = models
    }
}

/// The X-series control table: items by name and address, and the factory values the emulator
/// starts from.
public enum DynamixelControlTable {
    static let withCurrent: Set<DynamixelModel> = [.xl330M077, .xl330M288, .xm430W350, .xm540W270]
    static let xl330: Set<DynamixelModel> = [.xl330M077, .xl330M288]

    public static let modelNumber = DynamixelControlItem("Model_Number", 0, 2, .read)
    public static let modelInformation = DynamixelControlItem("Model_Information", 2, 4, .read)
    public static let firmwareVersion = DynamixelControlItem("Firmware_Version", 6, 1, .read)
    public static let id = DynamixelControlItem("ID", 7, 1)
    public static let baudRate = DynamixelControlItem("Baud_Rate", 8, 1)
    /// 2 µs units.
    public static let returnDelayTime = DynamixelControlItem("Return_Delay_Time", 9, 1)
    public static let driveMode = DynamixelControlItem("Drive_Mode", 10, 1)
    public static let operatingMode = DynamixelControlItem("Operating_Mode", 11, 1)
    public static let secondaryID = DynamixelControlItem("Secondary_ID", 12, 1)
    public static let protocolType = DynamixelControlItem("Protocol_Type", 13, 1)
    public static let homingOffset = DynamixelControlItem("Homing_Offset", 20, 4, signed: true)
    public static let movingThreshold = DynamixelControlItem("Moving_Threshold", 24, 4)
    public static let temperatureLimit = DynamixelControlItem("Temperature_Limit", 31, 1)
    public static let maxVoltageLimit = DynamixelControlItem("Max_Voltage_Limit", 32, 2)
    public static let minVoltageLimit = DynamixelControlItem("Min_Voltage_Limit", 34, 2)
    public static let pwmLimit = DynamixelControlItem("PWM_Limit", 36, 2)
    public static let currentLimit = DynamixelControlItem("Current_Limit", 38, 2, models: withCurrent)
    public static let velocityLimit = DynamixelControlItem("Velocity_Limit", 44, 4)
    public static let maxPositionLimit = DynamixelControlItem("Max_Position_Limit", 48, 4)
    public static let minPositionLimit = DynamixelControlItem("Min_Position_Limit", 52, 4)
    public static let startupConfiguration = DynamixelControlItem("Startup_Configuration", 60, 1, models: xl330)
    public static let shutdown = DynamixelControlItem("Shutdown", 63, 1)
    public static let torqueEnable = DynamixelControlItem("Torque_Enable", 64, 1)
    public static let led = DynamixelControlItem("LED", 65, 1)
    public static let statusReturnLevel = DynamixelControlItem("Status_Return_Level", 68, 1)
    public static let registeredInstruction = DynamixelControlItem("Registered_Instruction", 69, 1, .read)
    public static let hardwareErrorStatus = DynamixelControlItem("Hardware_Error_Status", 70, 1, .read)
    public static let velocityIGain = DynamixelControlItem("Velocity_I_Gain", 76, 2)
    public static let velocityPGain = DynamixelControlItem("Velocity_P_Gain", 78, 2)
    public static let positionDGain = DynamixelControlItem("Position_D_Gain", 80, 2)
    public static let positionIGain = DynamixelControlItem("Position_I_Gain", 82, 2)
    public static let positionPGain = DynamixelControlItem("Position_P_Gain", 84, 2)
    public static let feedforward2ndGain = DynamixelControlItem("Feedforward_2nd_Gain", 88, 2)
    public static let feedforward1stGain = DynamixelControlItem("Feedforward_1st_Gain", 90, 2)
    /// 20 ms units.
    public static let busWatchdog = DynamixelControlItem("Bus_Watchdog", 98, 1, signed: true)
    public static let goalPWM = DynamixelControlItem("Goal_PWM", 100, 2, signed: true)
    public static let goalCurrent = DynamixelControlItem("Goal_Current", 102, 2, signed: true, models: withCurrent)
    public static let goalVelocity = DynamixelControlItem("Goal_Velocity", 104, 4, signed: true)
    public static let profileAcceleration = DynamixelControlItem("Profile_Acceleration", 108, 4)
    public static let profileVelocity = DynamixelControlItem("Profile_Velocity", 112, 4)
    public static let goalPosition = DynamixelControlItem("Goal_Position", 116, 4, signed: true)
    public static let realtimeTick = DynamixelControlItem("Realtime_Tick", 120, 2, .read)
    public static let moving = DynamixelControlItem("Moving", 122, 1, .read)
    public static let movingStatus = DynamixelControlItem("Moving_Status", 123, 1, .read)
    public static let presentPWM = DynamixelControlItem("Present_PWM", 124, 2, .read, signed: true)
    /// Present Current on current-sensing models (XL330 1 mA, XM ≈2.69 mA); Present Load (0.1 %)
    /// on XL430.
    public static let presentCurrent = DynamixelControlItem("Present_Current", 126, 2, .read, signed: true)
    /// 0.229 rpm.
    public static let presentVelocity = DynamixelControlItem("Present_Velocity", 128, 4, .read, signed: true)
    /// 4096 pulses per revolution.
    public static let presentPosition = DynamixelControlItem("Present_Position", 132, 4, .read, signed: true)
    public static let velocityTrajectory = DynamixelControlItem("Velocity_Trajectory", 136, 4, .read, signed: true)
    public static let positionTrajectory = DynamixelControlItem("Position_Trajectory", 140, 4, .read, signed: true)
    /// 0.1 V.
    public static let presentInputVoltage = DynamixelControlItem("Present_Input_Voltage", 144, 2, .read)
    /// 1 °C.
    public static let presentTemperature = DynamixelControlItem("Present_Temperature", 146, 1, .read)

    /// Bits per second of a Baud Rate (8) code: 0 = 9600, 1 = 57 600 (factory), 2 = 115 200,
    /// 3 = 1 M, 4 = 2 M, 5 = 3 M, 6 = 4 M, 7 = 4.5 M; nil for another code.
    public static func bitsPerSecond(baudRateCode code: UInt8) -> Int? {
        let rates = [9600, 57600, 115_200, 1_000_000, 2_000_000, 3_000_000, 4_000_000, 4_500_000]
        return Int(code) < rates.count ? rates[Int(code)] : nil
    }

    /// The Baud Rate code of `bitsPerSecond`, nil when the X series has none.
    public static func baudRateCode(bitsPerSecond: Int) -> UInt8? {
        (0...7).first { Self.bitsPerSecond(baudRateCode: UInt8($0)) == bitsPerSecond }.map(UInt8.init)
    }

    /// Every item, by address.
    public static let items: [DynamixelControlItem] = [
        modelNumber, modelInformation, firmwareVersion, id, baudRate, returnDelayTime, driveMode, operatingMode,
        secondaryID, protocolType, homingOffset, movingThreshold, temperatureLimit, maxVoltageLimit,
        minVoltageLimit, pwmLimit, currentLimit, velocityLimit, maxPositionLimit, minPositionLimit,
        startupConfiguration, shutdown, torqueEnable, led, statusReturnLevel, registeredInstruction,
        hardwareErrorStatus, velocityIGain, velocityPGain, positionDGain, positionIGain, positionPGain,
        feedforward2ndGain, feedforward1stGain, busWatchdog, goalPWM, goalCurrent, goalVelocity,
        profileAcceleration, profileVelocity, goalPosition, realtimeTick, moving, movingStatus, presentPWM,
        presentCurrent, presentVelocity, presentPosition, velocityTrajectory, positionTrajectory,
        presentInputVoltage, presentTemperature,
    ]

    /// The items of one model.
    public static func items(for model: DynamixelModel) -> [DynamixelControlItem] {
        items.filter { $0.exists(on: model) }
    }

    /// The item named `name` (as in the e-Manual with underscores, e.g. "Goal_Position";
    /// case-insensitive), if `model` has it.
    public static func item(named name: String, model: DynamixelModel? = nil) -> DynamixelControlItem? {
        let key = name.lowercased()
        return items.first { $0.name.lowercased() == key && (model.map($0.exists(on:)) ?? true) }
    }

    /// The item that starts at `address` on `model`.
    public static func item(at address: UInt16, model: DynamixelModel) -> DynamixelControlItem? {
        items.first { $0.address == address && $0.exists(on: model) }
    }

    /// The factory value of every writable item and of the fixed read-only ones (e-Manual
    /// defaults; the present values are plausible idle readings for the emulator).
    public static func factoryValues(for model: DynamixelModel) -> [(DynamixelControlItem, Int64)] {
        var v: [(DynamixelControlItem, Int64)] = [
            (modelNumber, Int64(model.rawValue)), (firmwareVersion, Int64(model.emulatedFirmware)), (id, 1),
            (baudRate, 1), (returnDelayTime, 250), (driveMode, 0), (operatingMode, 3), (secondaryID, 255),
            (protocolType, 2), (homingOffset, 0), (movingThreshold, 10), (pwmLimit, 885),
            (maxPositionLimit, 4095), (minPositionLimit, 0), (shutdown, 52), (torqueEnable, 0), (led, 0),
            (statusReturnLevel, 2), (registeredInstruction, 0), (hardwareErrorStatus, 0), (busWatchdog, 0),
            (goalPWM, 885), (goalVelocity, 0), (profileAcceleration, 0), (profileVelocity, 0),
            (feedforward2ndGain, 0), (feedforward1stGain, 0),
        ]
        switch model {
        case .xl430W250:
            v += [(temperatureLimit, 72), (maxVoltageLimit, 140), (minVoltageLimit, 60), (velocityLimit, 265),
                  (velocityIGain, 1000), (velocityPGain, 100), (positionDGain, 4000), (positionIGain, 0),
                  (positionPGain, 640), (presentInputVoltage, 120), (presentTemperature, 28)]
        case .xl330M077, .xl330M288:
            v += [(temperatureLimit, 70), (maxVoltageLimit, 70), (minVoltageLimit, 35), (currentLimit, 1750),
                  (velocityLimit, 445), (velocityIGain, 1000), (velocityPGain, 100), (positionDGain, 0),
                  (positionIGain, 0), (positionPGain, 400), (goalCurrent, 1750), (startupConfiguration, 0),
                  (presentInputVoltage, 50), (presentTemperature, 28)]
        case .xm430W350, .xm540W270:
            v += [(temperatureLimit, 80), (maxVoltageLimit, 160), (minVoltageLimit, 95),
                  (currentLimit, model == .xm430W350 ? 1193 : 2047), (velocityLimit, model == .xm430W350 ? 200 : 128),
                  (velocityIGain, 1920), (velocityPGain, 100), (positionDGain, 0), (positionIGain, 0),
                  (positionPGain, 800), (goalCurrent, model == .xm430W350 ? 1193 : 2047),
                  (presentInputVoltage, 120), (presentTemperature, 28)]
        }
        return v
    }
}

extension DynamixelControlItem {
    /// Reads the item from a control-table image, sign-extended when the item is signed.
    public func value(in memory: [UInt8]) -> Int64? {
        let a = Int(address)
        guard a + size <= memory.count else { return nil }
        var u: UInt64 = 0
        for k in 0..<size { u |= UInt64(memory[a + k]) << (8 * UInt64(k)) }
        if signed {
            let shift = UInt64(64 - 8 * size)
            return Int64(bitPattern: u << shift) >> Int64(shift)
        }
        return Int64(bitPattern: u)
    }

    /// The item's little-endian bytes for `value` (truncated to the width).
    public func bytes(_ value: Int64) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> (8 * UInt64($0))) }
    }
}
