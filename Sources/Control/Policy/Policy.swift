import RobotInterface

/// A controller the tick runs in `policy` mode: observation in, action out (docs/architecture.md §2).
/// A learned MLP (`MLPPolicy`) is one; teleoperation (a leader arm's positions) and imitation
/// policies are others. The tick holds whichever is installed as `any Policy` and calls
/// `action(into:observation:)` once per tick on the control thread.
///
/// Identity: `name` says which policy this is (a file path, "teleop"); the slot that publishes
/// policies numbers them (`PolicySlot`'s version, recorded in every `Transition`), as the learner
/// numbers dynamics models.
///
/// A policy owns its scratch (created before it reaches the control thread) and is used by one
/// thread at a time: conformers are classes, `@unchecked Sendable`, mutated only inside `action`.
public protocol Policy: AnyObject, Sendable {
    /// Which policy this is, for status and recordings.
    var name: String { get }
    /// Joints it commands (the action's length).
    var dof: Int { get }
    /// What its action values are: efforts (N·m), goal positions (rad) or goal velocities (rad/s).
    /// The tick applies an action only in the driver's command mode of the same kind.
    var actionKind: CommandMode { get }
    /// The optional observation parts it reads; the tick fills only these (forward kinematics
    /// and the target's seqlock read cost time).
    var needs: PolicyObservation.Needs { get }
    /// Whether a person produces the actions (teleoperation): the tick records its ticks as
    /// interventions.
    var isOperatedByPerson: Bool { get }

    /// Writes the action for `observation` into `action` (`dof` values, caller-owned).
    /// - Returns: false when it has no action this tick (e.g. a teleop stream went stale); the
    ///   tick then holds instead and `action`'s contents are ignored.
    /// - Note: Real-time safe: no allocation, no locks, no syscalls (called from the tick).
    func action(into action: UnsafeMutableBufferPointer<Double>, observation: borrowing PolicyObservation) -> Bool
}

extension Policy {
    public var isOperatedByPerson: Bool { false }
}
