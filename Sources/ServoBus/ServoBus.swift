import ServoProtocol

/// The I/O side of the servo buses: transports, the transaction layer and the emulator's host.
public enum ServoBus {
    public static let protocols = ServoProtocolFamily.allCases
}
