import ServoBus

/// Why a servo arm could not be connected or configured. The description is a sentence for the
/// operator that names the port or the servo (id and joint) and, where there is one, the fix.
///
/// Equality compares the code and the servo id only.
public struct ServoArmError: Error, Hashable, CustomStringConvertible, Sendable {
    public enum Code: Hashable, Sendable {
        /// Nothing at the port's path (adapter unplugged, emulator not running).
        case portMissing
        /// Another process holds the port.
        case portBusy
        /// The user may not open the port (dialout group, udev rule).
        case portForbidden
        /// The port went away while in use.
        case portVanished
        /// Any other failure to open or use the port (not a tty, baud refused, …).
        case port
        /// A servo did not answer.
        case noReply
        /// A servo answered as a model of another family than the bus expects.
        case wrongModel
        /// A servo reports a hardware error (overload, overheating, voltage, …).
        case hardwareError
        /// A setting could not be written or did not stick.
        case settings
        /// The options contradict themselves or the calibration.
        case invalidOptions
        /// The calibration does not allow enabling torque.
        case invalidCalibration
        /// Any other bus failure.
        case bus
    }

    public let code: Code
    /// The port as configured.
    public let port: String
    /// The servo concerned, nil for the whole bus.
    public let servoID: UInt8?
    /// The joint index concerned, −1 for none.
    public let joint: Int
    public let message: String

    public init(_ code: Code, port: String, servoID: UInt8? = nil, joint: Int = -1, message: String) {
        self.code = code
        self.port = port
        self.servoID = servoID
        self.joint = joint
        self.message = message
    }

    public var description: String { message }

    public static func == (a: Self, b: Self) -> Bool { a.code == b.code && a.servoID == b.servoID }
    public func hash(into h: inout Hasher) {
        h.combine(code)
        h.combine(servoID)
    }

    /// A bus client's error, with the joint named where the servo is one of the arm's.
    static func bus(_ e: ServoBusError, options: ServoArmOptions, doing what: String) -> ServoArmError {
        if let t = e.transportError { return port(t, options: options) }
        let joint = e.servoID.flatMap { options.ids.firstIndex(of: $0) } ?? -1
        let code: Code = e.code == .noReply ? .noReply : .bus
        let who = joint >= 0 ? options.servoName(joint) : e.servoID.map { "servo \($0)" } ?? "the bus"
        return ServoArmError(code, port: options.port, servoID: e.servoID, joint: joint,
                             message: "\(options.robotName) on \(options.port): \(what) failed for \(who): \(e.message)")
    }

    /// A port error (its message already names the path and the fix).
    static func port(_ e: SerialTransportError, options: ServoArmOptions) -> ServoArmError {
        let code: Code
        switch e.code {
        case .notFound: code = .portMissing
        case .busy: code = .portBusy
        case .permissionDenied: code = .portForbidden
        case .vanished: code = .portVanished
        default: code = .port
        }
        return ServoArmError(code, port: options.port, message: "\(options.robotName): \(e.message)")
    }
}
