/// Deadlines of a fixed-rate loop, with overrun accounting. Pure logic: times are passed in,
/// so it is tested without sleeping.
///
/// `next(afterTickEndingAt:)` is called when a tick's work is done. If the work ended before the
/// next deadline, the loop sleeps until it. If it ended after, the tick overran: with `.skip`
/// the periods that were missed entirely are counted and dropped, and the schedule realigns
/// to the first deadline still ahead (so a stall never triggers a burst of catch-up ticks);
/// with `.burst` the original schedule is kept and the missed ticks run back to back.
public struct FixedRateSchedule: Sendable, Equatable {
    public enum CatchUp: Sendable, Equatable {
        case skip
        case burst
    }

    public let periodNanoseconds: UInt64
    public let catchUp: CatchUp
    /// Deadline of the tick about to run (ns).
    public private(set) var deadline: UInt64
    /// Ticks that ended after the following deadline, plus skipped periods: every deadline
    /// missed (a stall of n periods counts n).
    public private(set) var overruns: UInt64 = 0
    /// Ticks that ended after the following deadline (a stall of n periods counts 1): the events
    /// a timer benchmark such as cyclictest counts as samples over one period.
    public private(set) var lateTicks: UInt64 = 0
    /// Whether the last finished tick overran.
    public private(set) var lastOverran = false

    public init(periodNanoseconds: UInt64, start: UInt64, catchUp: CatchUp = .skip) {
        precondition(periodNanoseconds > 0, "period must be positive")
        self.periodNanoseconds = periodNanoseconds
        self.catchUp = catchUp
        deadline = start
    }

    /// Advances to the next deadline after a tick that ended at `end`; returns it.
    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func next(afterTickEndingAt end: UInt64) -> UInt64 {
        deadline &+= periodNanoseconds
        lastOverran = end > deadline
        if lastOverran {
            overruns &+= 1
            lateTicks &+= 1
            if catchUp == .skip {
                let missed = (end - deadline) / periodNanoseconds
                overruns &+= missed
                deadline &+= (missed + 1) * periodNanoseconds
            }
        }
        return deadline
    }
}
