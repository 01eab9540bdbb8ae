/// Instruction codes of Dynamixel Protocol 2.0 (`robotis_def.py`, e-Manual protocol 2.0).
public struct DynamixelInstruction: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let ping = Self(rawValue: 0x01)
    public static let read = Self(rawValue: 0x02)
    public static let write = Self(rawValue: 0x03)
    public static let regWrite = Self(rawValue: 0x04)
    public static let action = Self(rawValue: 0x05)
    public static let factoryReset = Self(rawValue: 0x06)
    public static let reboot = Self(rawValue: 0x08)
    public static let clear = Self(rawValue: 0x10)
    public static let controlTableBackup = Self(rawValue: 0x20)
    /// The marker in the instruction position of every status packet.
    public static let status = Self(rawValue: 0x55)
    public static let syncRead = Self(rawValue: 0x82)
    public static let syncWrite = Self(rawValue: 0x83)
    public static let fastSyncRead = Self(rawValue: 0x8A)
    public static let bulkRead = Self(rawValue: 0x92)
    public static let bulkWrite = Self(rawValue: 0x93)
    public static let fastBulkRead = Self(rawValue: 0x9A)

    public var description: String {
        switch self {
        case .ping: "PING"
        case .read: "READ"
        case .write: "WRITE"
        case .regWrite: "REG_WRITE"
        case .action: "ACTION"
        case .factoryReset: "FACTORY_RESET"
        case .reboot: "REBOOT"
        case .clear: "CLEAR"
        case .controlTableBackup: "CONTROL_TABLE_BACKUP"
        case .status: "STATUS"
        case .syncRead: "SYNC_READ"
        case .syncWrite: "SYNC_WRITE"
        case .fastSyncRead: "FAST_SYNC_READ"
        case .bulkRead: "BULK_READ"
        case .bulkWrite: "BULK_WRITE"
        case .fastBulkRead: "FAST_BULK_READ"
        default: "0x" + String(rawValue, radix: 16, uppercase: true)
        }
    }
}

/// Bus ids: 0…252 address one servo, 0xFE (254) is broadcast; 0xFD and 0xFF are never ids.
public enum DynamixelID {
    public static let broadcast: UInt8 = 0xFE
    public static let maxServo: UInt8 = 0xFC
}
