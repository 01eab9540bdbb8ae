/// The newest state of the loop as other threads see it, published every tick through a
/// `SeqLock` (readers never disturb the control thread).
public struct TelemetrySnapshot: Sendable, BitwiseCopyable {
    public var tick: UInt64 = 0
    /// Seconds since the loop started.
    public var time: Double = 0
    public var mode: Mode = .idle
    /// Valid when `mode == .faulted`.
    public var fault: FaultReason = .nonFiniteState
    public var hasFault = false
    public var dof: UInt8 = 0
    public var position = InlineArray<8, Double>(repeating: 0)
    public var velocity = InlineArray<8, Double>(repeating: 0)
    public var effort = InlineArray<8, Double>(repeating: 0)
    public var command = InlineArray<8, Double>(repeating: 0)
    /// End-effector frame in the base frame: position (m) and rotation (row-major).
    public var endEffectorPosition = InlineArray<3, Double>(repeating: 0)
    public var endEffectorRotation = InlineArray<9, Double>(repeating: 0)
    public var overruns: UInt64 = 0

    public init() {}
}
