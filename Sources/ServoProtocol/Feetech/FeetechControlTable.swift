/// One item of a Feetech memory table.
public struct FeetechItem: Sendable, Hashable {
    public enum Storage: Sendable, Hashable {
        /// Saved across power cycles; writable only with torque off and the EEPROM unlocked
        /// (register 55 "Lock" = 0).
        case eeprom
        case ram
    }

    public enum Access: Sendable, Hashable { case readOnly, readWrite }

    public enum Encoding: Sendable, Hashable {
        case unsigned
        /// Sign-magnitude with the sign in this bit (`FeetechSignMagnitude`).
        case signMagnitude(signBit: Int)
    }

    /// LeRobot's name (`tables.py`), which `robotd bus read|write` accepts.
    public var name: String
    public var address: UInt8
    /// 1 or 2 bytes.
    public var size: Int
    public var storage: Storage
    public var access: Access
    public var encoding: Encoding

    public init(_ name: String, _ address: UInt8, _ size: Int, _ storage: Storage, _ access: Access,
                _ encoding: Encoding = .unsigned) {
        self.name = name; self.address = address; self.size = size
        self.storage = storage; self.access = access; self.encoding = encoding
    }

    /// The signed (or unsigned) value of the item's register value.
    public func value(fromRaw raw: UInt32) -> Int {
        switch encoding {
        case .unsigned: Int(raw)
        case let .signMagnitude(bit): FeetechSignMagnitude.decode(UInt16(truncatingIfNeeded: raw), signBit: bit)
        }
    }

    /// The register value for `value`, or nil when it does not fit the item.
    public func raw(fromValue value: Int) -> UInt32? {
        switch encoding {
        case .unsigned:
            guard value >= 0, value < 1 << (8 * size) else { return nil }
            return UInt32(value)
        case let .signMagnitude(bit):
            return FeetechSignMagnitude.encode(value, signBit: bit).map(UInt32.init)
        }
    }
}

/// Feetech model numbers (register 3) a bus scan can name (hardware-notes §2.3).
public enum FeetechModel {
    public static let names: [UInt16: String] = [777: "STS3215", 2825: "STS3250", 1284: "SCS0009"]

    /// "STS3215", or "model N" for a number robotd does not know.
    public static func name(_ number: UInt16) -> String { names[number] ?? "model \(number)" }
}

/// The STS3215 memory table (hardware-notes §2.3; LeRobot `STS_SMS_SERIES_CONTROL_TABLE`, the
/// Feetech memory-table analysis): addresses 0–39 EEPROM, 40–70 RAM. Two-byte items are
/// little-endian on the wire (`FeetechSeries.sts`).
public enum STS3215 {
    /// Register 3–4 of an STS3215 (the STS3250 reads 2825, the SCS0009 1284).
    public static let modelNumber: UInt16 = 777
    public static let series = FeetechSeries.sts
    /// Position counts per revolution (0.087° per count).
    public static let countsPerRevolution = 4096

    public static let firmwareMajor = FeetechItem("Firmware_Major_Version", 0, 1, .eeprom, .readOnly)
    public static let firmwareMinor = FeetechItem("Firmware_Minor_Version", 1, 1, .eeprom, .readOnly)
    public static let model = FeetechItem("Model_Number", 3, 2, .eeprom, .readOnly)
    public static let id = FeetechItem("ID", 5, 1, .eeprom, .readWrite)
    /// 0 = 1 M, 1 = 500 k, 2 = 250 k, 3 = 128 k, 4 = 115 200, 5 = 76 800, 6 = 57 600, 7 = 38 400
    /// (Feetech's headers; LeRobot's table disagrees from 5 on).
    public static let baudRate = FeetechItem("Baud_Rate", 6, 1, .eeprom, .readWrite)
    /// In units of 2 µs.
    public static let returnDelayTime = FeetechItem("Return_Delay_Time", 7, 1, .eeprom, .readWrite)
    /// 0: only PING and READ reply; 1: every instruction addressed to one servo replies.
    public static let responseStatusLevel = FeetechItem("Response_Status_Level", 8, 1, .eeprom, .readWrite)
    public static let minPositionLimit = FeetechItem("Min_Position_Limit", 9, 2, .eeprom, .readWrite)
    public static let maxPositionLimit = FeetechItem("Max_Position_Limit", 11, 2, .eeprom, .readWrite)
    public static let maxTemperatureLimit = FeetechItem("Max_Temperature_Limit", 13, 1, .eeprom, .readWrite)
    public static let maxVoltageLimit = FeetechItem("Max_Voltage_Limit", 14, 1, .eeprom, .readWrite)
    public static let minVoltageLimit = FeetechItem("Min_Voltage_Limit", 15, 1, .eeprom, .readWrite)
    public static let maxTorqueLimit = FeetechItem("Max_Torque_Limit", 16, 2, .eeprom, .readWrite)
    /// Bit flags; bit 4 = "feedback full angle" (LeRobot clears it).
    public static let phase = FeetechItem("Phase", 18, 1, .eeprom, .readWrite)
    public static let unloadingCondition = FeetechItem("Unloading_Condition", 19, 1, .eeprom, .readWrite)
    public static let ledAlarmCondition = FeetechItem("LED_Alarm_Condition", 20, 1, .eeprom, .readWrite)
    public static let pCoefficient = FeetechItem("P_Coefficient", 21, 1, .eeprom, .readWrite)
    public static let dCoefficient = FeetechItem("D_Coefficient", 22, 1, .eeprom, .readWrite)
    public static let iCoefficient = FeetechItem("I_Coefficient", 23, 1, .eeprom, .readWrite)
    public static let minimumStartupForce = FeetechItem("Minimum_Startup_Force", 24, 2, .eeprom, .readWrite)
    public static let cwDeadZone = FeetechItem("CW_Dead_Zone", 26, 1, .eeprom, .readWrite)
    public static let ccwDeadZone = FeetechItem("CCW_Dead_Zone", 27, 1, .eeprom, .readWrite)
    public static let protectionCurrent = FeetechItem("Protection_Current", 28, 2, .eeprom, .readWrite)
    public static let angularResolution = FeetechItem("Angular_Resolution", 30, 1, .eeprom, .readWrite)
    /// Present = actual − offset (the opposite sign to Dynamixel).
    public static let homingOffset = FeetechItem("Homing_Offset", 31, 2, .eeprom, .readWrite, .signMagnitude(signBit: 11))
    /// 0 position, 1 velocity, 2 PWM, 3 step.
    public static let operatingMode = FeetechItem("Operating_Mode", 33, 1, .eeprom, .readWrite)
    public static let protectiveTorque = FeetechItem("Protective_Torque", 34, 1, .eeprom, .readWrite)
    public static let protectionTime = FeetechItem("Protection_Time", 35, 1, .eeprom, .readWrite)
    public static let overloadTorque = FeetechItem("Overload_Torque", 36, 1, .eeprom, .readWrite)
    public static let velocityP = FeetechItem("Velocity_closed_loop_P_proportional_coefficient", 37, 1, .eeprom, .readWrite)
    public static let overCurrentProtectionTime = FeetechItem("Over_Current_Protection_Time", 38, 1, .eeprom, .readWrite)
    public static let velocityI = FeetechItem("Velocity_closed_loop_I_integral_coefficient", 39, 1, .eeprom, .readWrite)

    public static let torqueEnable = FeetechItem("Torque_Enable", 40, 1, .ram, .readWrite)
    /// ×100 step/s².
    public static let acceleration = FeetechItem("Acceleration", 41, 1, .ram, .readWrite)
    public static let goalPosition = FeetechItem("Goal_Position", 42, 2, .ram, .readWrite, .signMagnitude(signBit: 15))
    public static let goalTime = FeetechItem("Goal_Time", 44, 2, .ram, .readWrite)
    /// step/s.
    public static let goalVelocity = FeetechItem("Goal_Velocity", 46, 2, .ram, .readWrite, .signMagnitude(signBit: 15))
    public static let torqueLimit = FeetechItem("Torque_Limit", 48, 2, .ram, .readWrite)
    /// EEPROM write protection: 0 unlocked, 1 locked.
    public static let lock = FeetechItem("Lock", 55, 1, .ram, .readWrite)
    public static let presentPosition = FeetechItem("Present_Position", 56, 2, .ram, .readOnly, .signMagnitude(signBit: 15))
    /// step/s, sign bit 15.
    public static let presentVelocity = FeetechItem("Present_Velocity", 58, 2, .ram, .readOnly, .signMagnitude(signBit: 15))
    /// 0.1 %, sign bit 10.
    public static let presentLoad = FeetechItem("Present_Load", 60, 2, .ram, .readOnly, .signMagnitude(signBit: 10))
    /// 0.1 V.
    public static let presentVoltage = FeetechItem("Present_Voltage", 62, 1, .ram, .readOnly)
    /// °C.
    public static let presentTemperature = FeetechItem("Present_Temperature", 63, 1, .ram, .readOnly)
    /// The ERR-byte layout (`FeetechStatusError`).
    public static let status = FeetechItem("Status", 65, 1, .ram, .readOnly)
    public static let moving = FeetechItem("Moving", 66, 1, .ram, .readOnly)
    public static let presentCurrent = FeetechItem("Present_Current", 69, 2, .ram, .readOnly)

    /// Every item, by address.
    public static let items: [FeetechItem] = [
        firmwareMajor, firmwareMinor, model, id, baudRate, returnDelayTime, responseStatusLevel,
        minPositionLimit, maxPositionLimit, maxTemperatureLimit, maxVoltageLimit, minVoltageLimit,
        maxTorqueLimit, phase, unloadingCondition, ledAlarmCondition, pCoefficient, dCoefficient,
        iCoefficient, minimumStartupForce, cwDeadZone, ccwDeadZone, protectionCurrent, angularResolution,
        homingOffset, operatingMode, protectiveTorque, protectionTime, overloadTorque, velocityP,
        overCurrentProtectionTime, velocityI,
        torqueEnable, acceleration, goalPosition, goalTime, goalVelocity, torqueLimit, lock,
        presentPosition, presentVelocity, presentLoad, presentVoltage, presentTemperature, status,
        moving, presentCurrent,
    ]

    /// The item called `name` (LeRobot's spelling, case-insensitive), or nil.
    public static func item(named name: String) -> FeetechItem? {
        let key = name.lowercased()
        return items.first { $0.name.lowercased() == key }
    }

    /// The item that holds `address`, or nil for a gap in the table.
    public static func item(at address: UInt8) -> FeetechItem? {
        items.first { address >= $0.address && Int(address) < Int($0.address) + $0.size }
    }

    /// Baud rate of each Baud_Rate index (Feetech's headers).
    public static let baudRates = [1_000_000, 500_000, 250_000, 128_000, 115_200, 76_800, 57_600, 38_400]

    /// Addresses below this are EEPROM.
    public static let firstRAMAddress: UInt8 = 40
}
