/// The ERR byte of a Feetech status packet, and register 65 "Status", which uses the same layout
/// (hardware-notes §2.1; `ERRBIT_*` in the SDK's `protocol_packet_handler.py`). Bits 4, 6 and 7
/// have no documented meaning; they survive decoding and print as "bit N". The SDK rejects a reply
/// whose ERR byte is above 0x7F.
public struct FeetechStatusError: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Input voltage outside the voltage limits (`ERRBIT_VOLTAGE`).
    public static let voltage = FeetechStatusError(rawValue: 1 << 0)
    /// Angle (magnetic encoder) sensor fault (`ERRBIT_ANGLE`).
    public static let angleSensor = FeetechStatusError(rawValue: 1 << 1)
    /// Temperature above the limit (`ERRBIT_OVERHEAT`).
    public static let overheat = FeetechStatusError(rawValue: 1 << 2)
    /// Current above the protection current (`ERRBIT_OVERELE`).
    public static let overcurrent = FeetechStatusError(rawValue: 1 << 3)
    /// Load above the overload torque for the protection time (`ERRBIT_OVERLOAD`).
    public static let overload = FeetechStatusError(rawValue: 1 << 5)

    static let named: [(FeetechStatusError, String)] = [
        (.voltage, "input voltage"), (.angleSensor, "angle sensor"), (.overheat, "overheating"),
        (.overcurrent, "overcurrent"), (.overload, "overload"),
    ]

    /// The named reasons, in bit order, then any undocumented bits as "bit N".
    public var reasons: [String] {
        var out: [String] = []
        var rest = rawValue
        for bit in 0..<8 {
            let mask = UInt8(1) << bit
            guard rest & mask != 0 else { continue }
            rest &= ~mask
            if let name = Self.named.first(where: { $0.0.rawValue == mask })?.1 { out.append(name) } else { out.append("bit \(bit)") }
        }
        return out
    }

    public var description: String { isEmpty ? "no error" : reasons.joined(separator: ", ") }
}
