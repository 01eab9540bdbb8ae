/// What a driver measured in one read: joint positions (rad or m), velocities (rad/s or m/s) and
/// efforts (N·m or N), in the robot description's joint order, plus the driver's timestamp.
///
/// Buffers are sized once (`init(dof:)`) and overwritten by `RobotDriver.read(into:)`.
public struct JointState: Sendable, Equatable {
    public var position: [Double]
    public var velocity: [Double]
    public var effort: [Double]
    /// Monotonic time of the sample in nanoseconds, in the driver's clock.
    public var timestampNanoseconds: UInt64
    /// Whether the sample is fresh; a driver never reports stale data as valid.
    public var isValid: Bool

    public init(dof: Int) {
        position = Array(repeating: 0, count: dof)
        velocity = Array(repeating: 0, count: dof)
        effort = Array(repeating: 0, count: dof)
        timestampNanoseconds = 0
        isValid = false
    }

    public var dof: Int { position.count }

    /// Whether every number is finite.
    public var isFinite: Bool {
        position.allSatisfy(\.isFinite) && velocity.allSatisfy(\.isFinite) && effort.allSatisfy(\.isFinite)
    }
}

/// How a command's values are interpreted by the driver.
public enum CommandMode: String, Sendable, Equatable, CaseIterable, BitwiseCopyable {
    /// Joint efforts (N·m or N) applied directly.
    case torque
    /// Goal positions (rad or m) tracked by the actuator's own servo loop.
    case position
    /// Goal velocities (rad/s or m/s) tracked by the actuator's own servo loop.
    case velocity
}

/// One command for every joint, in the robot description's joint order.
public struct JointCommand: Sendable, Equatable {
    public var mode: CommandMode
    /// Efforts, goal positions or goal velocities according to `mode`.
    public var values: [Double]
    /// Optional feed-forward effort added by drivers that support it in position/velocity mode
    /// (e.g. gravity compensation); zeros otherwise.
    public var feedforwardEffort: [Double]

    public init(mode: CommandMode, dof: Int) {
        self.mode = mode
        values = Array(repeating: 0, count: dof)
        feedforwardEffort = Array(repeating: 0, count: dof)
    }

    public init(mode: CommandMode, values: [Double]) {
        self.mode = mode
        self.values = values
        feedforwardEffort = Array(repeating: 0, count: values.count)
    }
}
