import Glibc
import CLinuxRT

/// CLOCK_MONOTONIC in nanoseconds, and absolute sleeps on it.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point (boot).
    /// - Note: Real-time safe: no allocation, no locks (a vDSO call).
    /// The corresponding C function is `clock_gettime(CLOCK_MONOTONIC, …)`.
    @inline(__always)
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// `now()` in seconds, for code that schedules in seconds (not the control tick).
    public static func seconds() -> Double { Double(now()) * 1e-9 }

    /// Sleeps until the absolute time `deadline` (ns on `now()`'s clock); returns at once if it
    /// has passed. Retries when a signal interrupts the sleep.
    /// - Note: Real-time safe: no allocation, no locks.
    /// The corresponding C function is `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, …)`.
    public static func sleep(untilNanoseconds deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    /// Spins until `deadline` on the monotonic clock (`loop.early_wake`: the last stretch before
    /// a deadline, after a sleep that ended early on purpose); returns the time spun (ns), 0 when
    /// already past it.
    /// - Note: Real-time safe: no allocation, no locks, no system call where the vDSO reads the clock.
    public static func spin(untilNanoseconds deadline: UInt64) -> UInt64 {
        let start = now()
        var t = start
        while t < deadline {
            CLinuxRT_cpuRelax()
            t = now()
        }
        return t &- start
    }

    /// CPU time consumed by the calling thread (ns): what a tick's own work costs, excluding the
    /// time the thread was preempted or the VM stalled it, which wall-clock differences include.
    /// - Note: Real-time safe: no allocation, no locks (one system call).
    /// The corresponding C function is `clock_gettime(CLOCK_THREAD_CPUTIME_ID, …)`.
    @inline(__always)
    public static func threadCPUTime() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
