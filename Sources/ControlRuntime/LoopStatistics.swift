/// What the control thread reports about its own timing, published as one value (see
/// `ControlLoopRunner`): wake-up latency (actual wake − deadline) and compute time per tick.
public struct LoopStatistics: Sendable, BitwiseCopyable {
    public var ticks: UInt64 = 0
    /// Ticks that finished after the next deadline, plus periods skipped to catch up.
    public var overruns: UInt64 = 0
    /// Ticks that ended after the next deadline (a stall of n periods counts 1 here, n in
    /// `overruns`): comparable with a timer benchmark's samples over one period.
    public var lateTicks: UInt64 = 0
    /// Longest run of consecutive overrunning ticks.
    public var worstOverrunStreak: UInt64 = 0
    public var wakeLatency = LatencyHistogram()
    /// Wake-up to end of tick on the monotonic clock: includes any time the thread was not
    /// running (preempted, or the VM stalled it).
    public var computeTime = LatencyHistogram()
    /// The tick's own work on the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID): what the code
    /// controls, whatever the machine did meanwhile.
    public var computeCPUTime = LatencyHistogram()
    /// Ticks whose wall-clock compute time exceeded their CPU time by half a period or more:
    /// the thread lost the CPU mid-tick (an overrun the tick's work did not cause).
    public var preemptedTicks: UInt64 = 0
    /// Heap allocations made by the control thread while ticking (should stay 0), when the
    /// runner can count them; ticks over which they were counted.
    public var allocations: UInt64 = 0
    public var allocationCountedTicks: UInt64 = 0
    /// Transitions the rings refused because their consumer fell behind.
    public var ringDrops: UInt64 = 0
    /// Time spent spinning before deadlines (`loop.early_wake`), ns: the CPU that costs.
    public var spinTime: UInt64 = 0

    public init() {}

    /// Adds a later run's statistics (another session of the same loop): counts add, histograms
    /// merge, the worst streak is the worse of the two.
    public mutating func merge(_ other: LoopStatistics) {
        ticks &+= other.ticks
        overruns &+= other.overruns
        lateTicks &+= other.lateTicks
        worstOverrunStreak = Swift.max(worstOverrunStreak, other.worstOverrunStreak)
        wakeLatency.merge(other.wakeLatency)
        computeTime.merge(other.computeTime)
        computeCPUTime.merge(other.computeCPUTime)
        preemptedTicks &+= other.preemptedTicks
        allocations &+= other.allocations
        allocationCountedTicks &+= other.allocationCountedTicks
        spinTime &+= other.spinTime
        ringDrops &+= other.ringDrops
    }
}
