import RobotInterface

/// Most joints a fixed-size record carries. Arms in scope have 5–7 joints; the spare keeps a
/// gripper or a torso joint.
public let transitionMaxJoints = 8

/// One tick, fixed-size and trivially copyable so that rings move it without allocation or
/// reference counting: time, measured state, the command sent, mode and provenance (which
/// model or policy produced the command, and whether a person did). Written by the tick; what
/// the learner and the recorder consume.
public struct Transition: Sendable, BitwiseCopyable {
    /// Seconds since the loop started.
    public var time: Double
    /// Tick number.
    public var tick: UInt64
    public var dof: UInt8
    public var mode: Mode
    /// `Flags` bits.
    public var flags: UInt8
    /// Measured positions, velocities, efforts (first `dof` entries valid): the tick's fresh
    /// measurement, or the last one when `Flags.heldState` is set.
    public var position: InlineArray<8, Double>
    public var velocity: InlineArray<8, Double>
    public var effort: InlineArray<8, Double>
    /// The command written to the driver (after the limiter), in `commandMode`.
    public var command: InlineArray<8, Double>
    /// The command the active controller, policy or operator asked for, before the limiter
    /// (equal to `command` unless `Flags.limited`); zero while the actuators are off.
    public var requested: InlineArray<8, Double>
    /// How the driver interprets `command`; nil while the actuators are off (`command` zero).
    public var commandMode: CommandMode?
    /// Version of the learned dynamics model behind the plan that produced the command (`mpc`;
    /// 0 = the rigid-body model alone, or no plan), and of the policy that produced it (`policy`;
    /// the `PolicySlot` install number, 0 = none).
    public var modelVersion: UInt32
    public var policyVersion: UInt32

    public struct Flags {
        /// The limiter changed the command.
        public static let limited: UInt8 = 1 << 0
        /// A person produced the command (teleop, or a policy operated by a person).
        public static let intervention: UInt8 = 1 << 1
        /// The tick overran its deadline.
        public static let overrun: UInt8 = 1 << 2
        /// The driver's sample was invalid or stale: the state is the last fresh one and the
        /// command the previous one, re-sent. Not a measurement of this tick.
        public static let heldState: UInt8 = 1 << 3
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
        requested = InlineArray(repeating: 0)
        commandMode = nil
        modelVersion = 0
        policyVersion = 0
    }
}
