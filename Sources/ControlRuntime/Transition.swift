/// Most joints a fixed-size record carries. Arms in scope have 5–7 joints; the spare keeps a
/// gripper or a torso joint.
public let transitionMaxJoints = 8

/// One tick, fixed-size and trivially copyable so that rings move it without allocation or
/// reference counting: time, measured state, the command sent, mode and provenance.
public struct Transition: Sendable, BitwiseCopyable {
    /// Seconds since the loop started.
    public var time: Double
    /// Tick number.
    public var tick: UInt64
    public var dof: UInt8
    public var mode: Mode
    /// `Flags` bits.
    public var flags: UInt8
    /// Measured positions, velocities, efforts (first `dof` entries valid).
    public var position: InlineArray<8, Double>
    public var velocity: InlineArray<8, Double>
    public var effort: InlineArray<8, Double>
    /// The command written to the driver (after the limiter), in `commandMode`.
    public var command: InlineArray<8, Double>
    public var commandMode: UInt8
    /// Version of the dynamics model and of the policy in use (0 = none).
    public var modelVersion: UInt32
    public var policyVersion: UInt32

    public struct Flags {
        /// The limiter changed the command.
        public static let limited: UInt8 = 1 << 0
        /// A person intervened (teleop takeover).
        public static let intervention: UInt8 = 1 << 1
        /// The tick overran its deadline.
        public static let overrun: UInt8 = 1 << 2
    }

    public init() {
        time = 0
        tick = 0
        dof = 0
        mode = .idle
        flags = 0
        position = InlineArray(repeating: 0)
        velocity = InlineArray(repeating: 0)
        effort = InlineArray(repeating: 0)
        command = InlineArray(repeating: 0)
        commandMode = 0
        modelVersion = 0
        policyVersion = 0
    }
}
