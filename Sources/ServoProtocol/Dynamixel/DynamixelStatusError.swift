/// The error byte of a Dynamixel status packet (e-Manual protocol 2.0 "Error"): bit 7 is the
/// alert (a hardware fault is latched; read Hardware Error Status, address 70), bits 6…0 hold
/// an error number.
public struct DynamixelStatusError: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ reason: Reason?, alert: Bool = false) {
        rawValue = (reason?.rawValue ?? 0) | (alert ? 0x80 : 0)
    }

    public static let none = Self(rawValue: 0)

    /// The error numbers of bits 6…0.
    public enum Reason: UInt8, Hashable, Sendable, CaseIterable {
        /// The instruction failed.
        case resultFail = 0x01
        /// Undefined instruction, or ACTION without a preceding REG_WRITE.
        case instructionError = 0x02
        /// The CRC of the instruction packet did not match.
        case crcError = 0x03
        /// The value is outside the item's range.
        case dataRange = 0x04
        /// The data is shorter than the item.
        case dataLength = 0x05
        /// The value exceeds a limit item.
        case dataLimit = 0x06
        /// Read-only or undefined address, or an EEPROM write while torque is on.
        case accessError = 0x07
    }

    /// A hardware fault is latched (Hardware Error Status ≠ 0).
    public var alert: Bool { rawValue & 0x80 != 0 }
    /// The error number, 0 when the instruction succeeded.
    public var number: UInt8 { rawValue & 0x7F }
    /// The named reason, nil when `number` is 0 or unknown.
    public var reason: Reason? { Reason(rawValue: number) }
    /// No error number (the alert may still be set).
    public var succeeded: Bool { number == 0 }

    public var description: String {
        var parts: [String] = []
        if number != 0 { parts.append(reason.map { "\($0)" } ?? "error \(number)") }
        if alert { parts.append("alert") }
        return parts.isEmpty ? "ok" : parts.joined(separator: ", ")
    }
}

/// Hardware Error Status (control table address 70) and the Shutdown mask (63): the latched
/// faults of an X-series servo. A REBOOT instruction clears them.
public struct DynamixelHardwareError: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Bit 0: the input voltage is outside the voltage limits.
    public static let inputVoltage = Self(rawValue: 1 << 0)
    /// Bit 2: the internal temperature is above the temperature limit.
    public static let overheating = Self(rawValue: 1 << 2)
    /// Bit 3: the motor encoder malfunctions.
    public static let encoder = Self(rawValue: 1 << 3)
    /// Bit 4: an electrical shock or insufficient power.
    public static let electricalShock = Self(rawValue: 1 << 4)
    /// Bit 5: a persistent load above the maximum.
    public static let overload = Self(rawValue: 1 << 5)

    /// The factory Shutdown mask (52): overheating, electrical shock, overload.
    public static let factoryShutdown: Self = [.overheating, .electricalShock, .overload]

    public static let named: [(Self, String)] = [
        (.inputVoltage, "inputVoltage"), (.overheating, "overheating"), (.encoder, "encoder"),
        (.electricalShock, "electricalShock"), (.overload, "overload"),
    ]

    public var description: String {
        var names = Self.named.filter { contains($0.0) }.map(\.1)
        let unknown = rawValue & ~Self.named.reduce(0) { $0 | $1.0.rawValue }
        if unknown != 0 { names.append("bits 0x" + String(unknown, radix: 16)) }
        return names.isEmpty ? "none" : names.joined(separator: ", ")
    }
}
