import ControlSocket
import Foundation
import CLinuxRT
import Glibc
import Logging
import Platform
import Testing

@Suite struct FixedRateScheduleTests {
    @Test func onTimeTicksKeepTheSchedule() {
        var s = FixedRateSchedule(periodNanoseconds: 1_000_000, start: 0)
        let d300_000 = s.next(afterTickEndingAt: 300_000)
        #expect(d300_000 == 1_000_000)
        let d1_400_000 = s.next(afterTickEndingAt: 1_400_000)
        #expect(d1_400_000 == 2_000_000)
        #expect(s.overruns == 0 && !s.lastOverran)
    }

    /// A tick that ends 3.5 periods late: with skip, the missed periods are counted and the next
    /// deadline is the first one still ahead; with burst, the schedule is kept.
    @Test func lateTickSkipsOrBursts() {
        var skip = FixedRateSchedule(periodNanoseconds: 1_000, start: 0, catchUp: .skip)
        let d4_500 = skip.next(afterTickEndingAt: 4_500)
        #expect(d4_500 == 5_000)
        #expect(skip.lastOverran && skip.overruns == 4)
        #expect(skip.lateTicks == 1, "one late tick, however many periods it missed")
        var burst = FixedRateSchedule(periodNanoseconds: 1_000, start: 0, catchUp: .burst)
        let b4_500 = burst.next(afterTickEndingAt: 4_500)
        #expect(b4_500 == 1_000)
        #expect(burst.lastOverran && burst.overruns == 1)
        let d4_600 = burst.next(afterTickEndingAt: 4_600)
        #expect(d4_600 == 2_000)
        #expect(burst.overruns == 2 && burst.lateTicks == 2)
        let onTime = burst.next(afterTickEndingAt: 2_100)
        #expect(onTime == 3_000 && !burst.lastOverran && burst.lateTicks == 2)
    }
}

@Suite struct WatchdogFeederTests {
    @Test func feedsOnlyWhileTheLoopAdvances() {
        var w = WatchdogFeeder()
        let decisions = [0, 10, 20, 20, 20, 21].map { w.shouldFeed(tickCount: UInt64($0)) }
        // No tick yet; advancing; advancing; stalled (let the watchdog fire) ×2; advancing again.
        #expect(decisions == [false, true, true, false, false, true])
    }
}

@Suite struct MonotonicClockTests {
    @Test func sleepsUntilTheAbsoluteDeadlineNotBefore() {
        for _ in 0 ..< 20 {
            let deadline = MonotonicClock.now() + 2_000_000
            MonotonicClock.sleep(untilNanoseconds: deadline)
            #expect(MonotonicClock.now() >= deadline)
        }
        // A past deadline returns without sleeping. (A deadline taken as relative would sleep for
        // the machine's uptime; the bound is loose because a loaded CI machine may preempt the
        // thread for milliseconds — latency is measured by `robotd bench loop`, not here.)
        let t0 = MonotonicClock.now()
        MonotonicClock.sleep(untilNanoseconds: t0 - 1_000)
        #expect(MonotonicClock.now() - t0 < 100_000_000, "a past deadline returns at once")
    }

    /// `loop.early_wake`'s spin: never returns before the deadline, reports the time it spun
    /// (from its own first clock reading to the deadline or later), and 0 for a past deadline.
    @Test func spinsToTheDeadlineNotBeforeAndReportsTheTimeSpun() {
        for _ in 0 ..< 20 {
            let before = MonotonicClock.now()
            let deadline = before + 200_000
            let spun = MonotonicClock.spin(untilNanoseconds: deadline)
            let after = MonotonicClock.now()
            #expect(after >= deadline)
            // The spin's first reading is at or after `before`: it spun at most after − before,
            // and from that reading to the deadline at least.
            #expect(spun <= after - before)
            #expect(spun + (after - before) >= deadline - before)
        }
        #expect(MonotonicClock.spin(untilNanoseconds: MonotonicClock.now() - 1_000) == 0)
    }
}

@Suite struct RealtimeThreadTests {
    /// Whatever the sandbox grants, the report matches what the thread observes of itself.
    @Test func reportsWhatTheKernelGranted() {
        var options = RealtimeThread.Options()
        options.priority = 50
        options.cpu = 0
        options.lockMemory = false
        let observed = Observed()
        let t = RealtimeThread.start(options: options) { _ in
            observed.set(policy: sched_getscheduler(0), cpu: sched_getcpu())
        }
        t.join()
        let (policy, cpu) = observed.get()
        switch t.result.scheduler {
        case .fifo(let p):
            #expect(policy == SCHED_FIFO && p == 50)
        case .other:
            #expect(policy == SCHED_OTHER)
            #expect(!t.result.warnings.isEmpty, "a refused SCHED_FIFO is reported")
        }
        if t.result.cpu == 0 { #expect(cpu == 0) }
    }

    /// The control thread's timer slack is 1 ns whatever the scheduler (0 where the kernel
    /// zeroes a SCHED_FIFO thread's), and the report says what the thread itself reads.
    @Test func setsOneNanosecondTimerSlack() {
        for priority in [Int32?.none, 50] {
            var options = RealtimeThread.Options()
            options.priority = priority
            options.lockMemory = false
            let observed = Observed()
            let t = RealtimeThread.start(options: options) { _ in
                observed.set(policy: sched_getscheduler(0), cpu: Int32(CLinuxRT_timerSlack()))
            }
            t.join()
            let (_, slack) = observed.get()
            #expect(slack == 0 || slack == 1, "timer slack \(slack) ns")
            #expect(t.result.timerSlackNanoseconds == Int(slack))
            if priority == nil { #expect(slack == 1) }
        }
    }

    final class Observed: @unchecked Sendable {
        private let lock = NSLock()
        private var policy: Int32 = -1, cpu: Int32 = -1
        func set(policy: Int32, cpu: Int32) { lock.lock(); self.policy = policy; self.cpu = cpu; lock.unlock() }
        func get() -> (Int32, Int32) { lock.lock(); defer { lock.unlock() }; return (policy, cpu) }
    }
}

/// sd_notify against a fake NOTIFY_SOCKET: a datagram socket bound in a temp directory, as
/// systemd would provide. The environment is process-wide, so these run one at a time.
@Suite(.serialized) struct SystemdNotifierTests {
    @Test func sendsReadyStatusWatchdogStopping() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-notify-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("notify.sock").path
        let fd = try bindDatagramSocket(path)
        defer { close(fd) }
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        let n = SystemdNotifier()
        #expect(n.ready(status: "hold at 1000 Hz"))
        #expect(n.watchdog())
        #expect(n.stopping())
        #expect(receive(fd) == "READY=1\nSTATUS=hold at 1000 Hz")
        #expect(receive(fd) == "WATCHDOG=1")
        #expect(receive(fd) == "STOPPING=1")
    }

    @Test func isANoOpWithoutNotifySocket() {
        unsetenv("NOTIFY_SOCKET")
        let n = SystemdNotifier()
        #expect(!n.isEnabled)
        #expect(!n.ready(status: "x"))
        #expect(n.watchdogInterval == nil)
        #expect(n.listenFileDescriptors().isEmpty)
    }

    func bindDatagramSocket(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        let rc = try UnixSocketAddress(path: path).bind(fd)
        try #require(rc == 0, "bind failed: \(errno)")
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    func receive(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0 ..< n], as: UTF8.self) : nil
    }
}

@Suite struct JournaldLogHandlerTests {
    @Test func buildsStructuredFields() {
        let fields = JournaldLogHandler.fields(level: .warning, message: "overrun", label: "robotd.loop",
                                               metadata: ["mode": "hold", "tick-count": "42"], file: "Loop.swift", function: "tick()", line: 7)
        #expect(fields.contains("MESSAGE=overrun"))
        #expect(fields.contains("PRIORITY=4"))
        #expect(fields.contains("SYSLOG_IDENTIFIER=robotd"))
        #expect(fields.contains("ROBOTD_MODE=hold"))
        #expect(fields.contains("ROBOTD_TICK_COUNT=42"))
        #expect(fields.contains("CODE_LINE=7"))
        #expect(JournaldLogHandler.syslogPriority(.critical) == 2 && JournaldLogHandler.syslogPriority(.debug) == 7)
    }

    @Test func stderrIsNotTheJournalWithoutJournalStream() {
        unsetenv("JOURNAL_STREAM")
        #expect(!LoggingSetup.stderrIsJournal())
    }
}
