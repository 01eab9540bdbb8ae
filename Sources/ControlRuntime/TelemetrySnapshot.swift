/// The newest state of the loop as other threads see it, published every tick through a
/// `SeqLock` (readers never disturb the control thread).
public struct TelemetrySnapshot: Sendable, BitwiseCopyable {
    public var tick: UInt64 = 0
    /// The loop's clock (s): seconds since the loop started, less the time lost to stalls
    /// (`stalledTime`). Plans and moves are timed on it.
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
    /// Gaps of more than 1.5 periods between ticks, and the time they lost in all (s).
    public var stalls: UInt64 = 0
    public var stalledTime: Double = 0
    /// Ticks whose driver sample was invalid or stale (older than `maxStateAge`) since start.
    public var staleStates: UInt64 = 0
    /// Falls from a moving mode back to `hold` that nobody asked for (`mpc` without a valid plan
    /// covering the loop time: late, withdrawn or none), the mode left by the newest one and its
    /// loop time (s). The supervisor logs each with the planner's account of why.
    public var fallbacks: UInt64 = 0
    public var lastFallbackFrom: Mode = .idle
    public var lastFallbackTime: Double = 0

    public init() {}
}
