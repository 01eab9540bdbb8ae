/// What the control thread reports about its own timing, published as one value (see
/// `ControlLoopRunner`): wake-up latency (actual wake − deadline) and compute time per tick.
public struct LoopStatistics: Sendable, BitwiseCopyable {
    public var ticks: UInt64 = 0
    /// Ticks that finished after the next deadline, plus periods skipped to catch up.
    public var overruns: UInt64 = 0
    /// Longest run of consecutive overrunning ticks.
    public var worstOverrunStreak: UInt64 = 0
    public var wakeLatency = LatencyHistogram()
    public var computeTime = LatencyHistogram()
    /// Heap allocations made by the control thread while ticking (should stay 0), when the
    /// runner can count them; ticks over which they were counted.
    public var allocations: UInt64 = 0
    public var allocationCountedTicks: UInt64 = 0
    /// Transitions the rings refused because their consumer fell behind.
    public var ringDrops: UInt64 = 0

    public init() {}
}
