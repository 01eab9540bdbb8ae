/// The servo-bus protocols robotd speaks (docs/servo-buses.md). Pure: bytes in, typed values
/// out; transports and timing live in ServoBus.
public enum ServoProtocolFamily: String, Sendable, CaseIterable {
    /// ROBOTIS Dynamixel Protocol 2.0 (X-series: XL330, XL430, XM430, …; Koch v1.1).
    case dynamixel
    /// Feetech SCS/STS (STS3215: SO-100, SO-101).
    case feetech
}
