/// A robot's hardware interface, in the spirit of ros2_control's: a lifecycle
/// (`configure` → `activate` → `deactivate` → `cleanup`) around a cyclic `read(into:)` / `write(_:)`.
///
/// Failures are lifecycle events: a failed read or write throws `DriverError`, and the control
/// loop moves to `faulted`, commands the safe value and deactivates the driver. A driver never
/// crashes the process and never reports stale data as fresh.
public protocol RobotDriver: ~Copyable, SendableMetatype {
    /// Joint names in command/state order, with the modes this driver accepts.
    var description: DriverDescription { get }

    /// Opens the hardware (or builds the simulation) and checks it matches the description.
    /// - Warning: Not real-time safe.
    mutating func configure() throws(DriverError)

    /// Enables the actuators in `mode` (torque on). Entry starts from the measured state.
    /// - Warning: Not real-time safe.
    mutating func activate(mode: CommandMode) throws(DriverError)

    /// Disables the actuators (torque off). Safe to call in any state; never throws.
    /// - Warning: Not real-time safe.
    mutating func deactivate()

    /// Releases the hardware. Safe to call in any state.
    /// - Warning: Not real-time safe.
    mutating func cleanup()

    /// Reads the newest joint state into preallocated buffers.
    /// - Note: Real-time safe: no allocation, no locks, no syscalls other than the driver's.
    mutating func read(into state: inout JointState) throws(DriverError)

    /// Sends one command. Its `mode` must be the active mode.
    /// - Note: Real-time safe: no allocation, no locks, no syscalls other than the driver's.
    mutating func write(_ command: JointCommand) throws(DriverError)
}

/// Static facts about a driver's robot.
public struct DriverDescription: Sendable, Equatable {
    public var name: String
    public var jointNames: [String]
    public var supportedModes: [CommandMode]

    public init(name: String, jointNames: [String], supportedModes: [CommandMode]) {
        self.name = name
        self.jointNames = jointNames
        self.supportedModes = supportedModes
    }

    public var dof: Int { jointNames.count }
}

/// A driver failure. Equality compares codes only.
public struct DriverError: Error, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Raw: Hashable, Sendable {
            case notConfigured, notActive, unsupportedMode, dimensionMismatch, invalidCommand
            case communication, hardware, timeout
        }
        let raw: Raw
        /// A lifecycle call came in the wrong state (e.g. `read` before `configure`).
        public static let notConfigured = Code(raw: .notConfigured)
        /// `write` while the actuators are disabled.
        public static let notActive = Code(raw: .notActive)
        /// The command's mode is not supported or not the active one.
        public static let unsupportedMode = Code(raw: .unsupportedMode)
        /// A command or state buffer has the wrong number of joints.
        public static let dimensionMismatch = Code(raw: .dimensionMismatch)
        /// A command value is NaN or infinite.
        public static let invalidCommand = Code(raw: .invalidCommand)
        /// The bus or link failed (I/O error, corrupt frame).
        public static let communication = Code(raw: .communication)
        /// The actuator reported a fault (overload, overheating, …).
        public static let hardware = Code(raw: .hardware)
        /// No reply within the deadline.
        public static let timeout = Code(raw: .timeout)

        public var description: String { "\(raw)" }
    }

    public var code: Code
    /// Static text so that building the error allocates nothing on the control thread.
    public var message: StaticString
    /// Joint index the error concerns, or −1.
    public var joint: Int

    public init(_ code: Code, _ message: StaticString, joint: Int = -1) {
        self.code = code
        self.message = message
        self.joint = joint
    }

    public static func == (a: DriverError, b: DriverError) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String {
        joint >= 0 ? "\(code): \(message) (joint \(joint))" : "\(code): \(message)"
    }
}
