import AllocationCounter
import ControlRuntime
import Platform
import RobotInterface
import Synchronization

/// Runs a `ControlLoop` on a dedicated real-time thread at a fixed rate: absolute deadlines
/// (`clock_nanosleep(TIMER_ABSTIME)`), overrun accounting with a catch-up policy, wake-up
/// latency and compute-time histograms. Statistics are published to other threads every
/// `publishEvery` ticks through a seqlock; the tick counter is an atomic the watchdog reads.
/// Heap allocations made by the thread while ticking are counted (AllocationCounter) and
/// published with the statistics: the "allocates nothing" contract is measured, in production.
public final class ControlLoopRunner<Driver: RobotDriver>: @unchecked Sendable {
    public let loop: ControlLoop<Driver>
    public let periodNanoseconds: UInt64
    public let catchUp: FixedRateSchedule.CatchUp
    /// Ticks run after a stop request, holding the arm, before the driver is deactivated.
    public let rampTicks: Int
    public let publishEvery: UInt64
    /// `loop.early_wake` (ns): the thread sleeps until this long before each deadline and spins
    /// the rest, so that a wake-up delayed by less than this (timer interrupt, a halted virtual
    /// CPU resumed, the scheduler) still starts the tick on time. 0 = sleep to the deadline.
    public let earlyWakeNanoseconds: UInt64
    public let statistics = SeqLock(LoopStatistics())
    /// Ticks before allocation counting starts.
    public static var warmUpTicks: UInt64 { 10 }

    private let stopRequested = Atomic<Bool>(false)
    private let ticks = Atomic<UInt64>(0)
    private var thread: RealtimeThread?

    public init(loop: ControlLoop<Driver>, periodNanoseconds: UInt64, catchUp: FixedRateSchedule.CatchUp = .skip,
                rampTicks: Int = 200, publishEvery: UInt64 = 50, earlyWakeNanoseconds: UInt64 = 0) {
        self.loop = loop
        self.periodNanoseconds = periodNanoseconds
        self.catchUp = catchUp
        self.rampTicks = rampTicks
        self.publishEvery = max(1, publishEvery)
        self.earlyWakeNanoseconds = min(earlyWakeNanoseconds, periodNanoseconds / 2)
    }

    /// Ticks run so far (any thread).
    public var tickCount: UInt64 { ticks.load(ordering: .relaxed) }

    /// Starts the control thread; returns what the scheduler granted. After `join()` it may be
    /// started again (a benchmark alternating the loop with its anchor does): the loop must have
    /// been `start()`ed again, and the statistics start again from zero.
    /// - Warning: Not real-time safe.
    @discardableResult
    public func start(options: RealtimeThread.Options) -> RealtimeThread.Achieved {
        precondition(thread == nil, "the control thread is already running")
        stopRequested.store(false, ordering: .releasing)
        let t = RealtimeThread.start(options: options) { [self] _ in run() }
        thread = t
        return t.result
    }

    /// Asks the thread to bring the arm to `hold`, run `rampTicks` more ticks, deactivate the
    /// driver and exit; `join()` waits for that.
    public func requestStop() { stopRequested.store(true, ordering: .releasing) }

    public func join() {
        thread?.join()
        thread = nil
    }

    private func run() {
        let start = MonotonicClock.now() + periodNanoseconds
        var schedule = FixedRateSchedule(periodNanoseconds: periodNanoseconds, start: start, catchUp: catchUp)
        var stats = LoopStatistics()
        var rampLeft = -1
        var streak: UInt64 = 0
        // Allocations are counted from the end of the warm-up ticks until the stop request: the
        // first ticks may allocate once (the Swift runtime instantiates generic metadata on first
        // use), the steady state must not; the shutdown path after the stop request may.
        while true {
            if stats.ticks == Self.warmUpTicks { AllocationCounter_start() }
            let deadline = schedule.deadline
            if earlyWakeNanoseconds > 0 {
                MonotonicClock.sleep(untilNanoseconds: deadline &- earlyWakeNanoseconds)
                stats.spinTime &+= MonotonicClock.spin(untilNanoseconds: deadline)
            } else {
                MonotonicClock.sleep(untilNanoseconds: deadline)
            }
            let wake = MonotonicClock.now()
            let cpuStart = MonotonicClock.threadCPUTime()
            let time = Double(deadline &- start) * 1e-9
            loop.tick(time: time, overran: schedule.lastOverran)
            let end = MonotonicClock.now()
            let cpu = MonotonicClock.threadCPUTime() &- cpuStart
            stats.ticks &+= 1
            stats.wakeLatency.record(wake > deadline ? wake - deadline : 0)
            stats.computeTime.record(end - wake)
            stats.computeCPUTime.record(cpu)
            if end - wake >= cpu &+ periodNanoseconds / 2 { stats.preemptedTicks &+= 1 }
            _ = schedule.next(afterTickEndingAt: end)
            if schedule.lastOverran {
                streak += 1
                stats.worstOverrunStreak = max(stats.worstOverrunStreak, streak)
            } else {
                streak = 0
            }
            stats.overruns = schedule.overruns
            stats.lateTicks = schedule.lateTicks
            if rampLeft < 0, stats.ticks > Self.warmUpTicks {
                stats.allocations = AllocationCounter_count()
                stats.allocationCountedTicks = stats.ticks - Self.warmUpTicks
            }
            ticks.store(stats.ticks, ordering: .relaxed)
            if stats.ticks % publishEvery == 0 { statistics.write(stats) }

            if rampLeft < 0, stopRequested.load(ordering: .acquiring) {
                _ = loop.commands.send(LoopCommand(id: .max, kind: .setMode, mode: .hold))
                rampLeft = rampTicks
            }
            if rampLeft >= 0 {
                if rampLeft == 0 { break }
                rampLeft -= 1
            }
        }
        _ = AllocationCounter_stop()
        statistics.write(stats)
        loop.shutdown(time: Double(schedule.deadline &- start) * 1e-9)
    }
}
