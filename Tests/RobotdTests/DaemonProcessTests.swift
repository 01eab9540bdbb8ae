import ControlProtocol
import ControlSocket
import Foundation
import TestProcess
import BuildInfo
import Testing

/// A datagram socket standing in for systemd's NOTIFY_SOCKET (never boot systemd).
final class FakeNotifySocket {
    let path: String
    let directory: String
    private let fd: Int32

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("robotd-notify-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        let rc = try UnixSocketAddress(path: path).bind(fd)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    deinit {
        close(fd)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The next notification, or nil after `timeout` seconds.
    func receive(timeout: Double) -> String? {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0 ..< n], as: UTF8.self) : nil
    }

    /// Notifications until one satisfies `stop` (included) or `timeout` seconds pass.
    func receive(until stop: (String) -> Bool, timeout: Double) -> [String] {
        let end = Date().addingTimeInterval(timeout)
        var out: [String] = []
        while Date() < end, let m = receive(timeout: max(0.01, end.timeIntervalSinceNow)) {
            out.append(m)
            if stop(m) { break }
        }
        return out
    }
}

/// `robotd run` as a child process with its own environment; stderr is collected.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    private let errPipe = Pipe()
    private let lock = NSLock()
    private var errData = Data()
    private var reader: Thread?

    init(arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: TestSupport.robotdPath)
        process.arguments = arguments
        process.currentDirectoryURL = TestSupport.repoRoot
        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM"] {
            env[key] = nil
        }
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardError = errPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let handle = errPipe.fileHandleForReading
        let t = Thread { [self] in
            while true {
                let d = handle.readSomeRetryingEINTR()
                if d.isEmpty { break }
                lock.lock(); errData.append(d); lock.unlock()
            }
        }
        t.start()
        reader = t
    }

    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: errData, as: UTF8.self) }

    func signal(_ s: Int32) { kill(process.processIdentifier, s) }

    /// Waits for exit (killing the child after `timeout` s); returns the exit status.
    func wait(timeout: Double = 15) -> Int32 {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < end { usleep(5000) }
        if process.isRunning { process.terminate(); kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        while let r = reader, !r.isFinished { usleep(1000) }
        return process.terminationStatus
    }
}

/// The daemon as a real process: start-up notifications, the watchdog, signals, exit statuses.
@Suite struct DaemonProcessTests {
    /// A configuration for tests: the shipped sim6 arm, no RT privileges needed, tolerant of a
    /// busy test machine (it must not fault on missed deadlines while tests run in parallel).
    static func writeConfig(extra: String = "", loop: String = "", in directory: String) throws -> String {
        // Each daemon gets its own control socket (the default ./run/robotd.sock is shared).
        let socket = extra.contains("socket:") ? "" : "socket: {path: \(directory)/robotd.sock}"
        let yaml = """
            robot: {urdf: \(TestSupport.urdfPath("sim6"))}
            loop: {rate_hz: 500, lock_memory: false, overrun_fault_threshold: 1000\(loop.isEmpty ? "" : ", " + loop)}
            data_directory: \(directory)/data
            \(socket)
            \(extra)
            """
        let path = directory + "/robotd.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func notifiesReadyFeedsTheWatchdogAndStopsCleanlyOnSIGTERM() throws {
        let notify = try FakeNotifySocket()
        let config = try Self.writeConfig(in: notify.directory)
        let daemon = try DaemonProcess(arguments: ["run", "--config", config],
                                       environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "300000"])
        let startup = notify.receive(until: { $0.hasPrefix("READY=1") }, timeout: 20)
        let ready = try #require(startup.last, "no READY=1; stderr:\n\(daemon.stderr)")
        #expect(ready.hasPrefix("READY=1\nSTATUS=hold · 500 Hz"))

        // WATCHDOG=1 every 150 ms while the loop runs; STATUS lines in between.
        var watchdogs = 0, statuses: [String] = []
        let end = Date().addingTimeInterval(1.2)
        while Date() < end, let m = notify.receive(timeout: 1) {
            if m == "WATCHDOG=1" { watchdogs += 1 } else if m.hasPrefix("STATUS=") { statuses.append(m) }
        }
        #expect(watchdogs >= 4, "\(watchdogs) WATCHDOG=1 in 1.2 s at WATCHDOG_USEC=300000")
        #expect(statuses.contains { $0.contains("hold · 500 Hz") && $0.contains("ticks") })

        daemon.signal(SIGTERM)
        let stopping = notify.receive(until: { $0 == "STOPPING=1" }, timeout: 10)
        #expect(stopping.last == "STOPPING=1")
        #expect(daemon.wait() == 0)
        let log = daemon.stderr
        #expect(log.contains("stopping on signal 15"))
        #expect(log.contains("stopped"))
        #expect(!log.contains("faulted"), "\(log)")
    }

    @Test func sigintAlsoStopsWithStatusZeroAndWithoutSystemdNothingIsSent() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try Self.writeConfig(in: dir)
        let daemon = try DaemonProcess(arguments: ["run", "--config", config])
        #expect(Self.waitFor(seconds: 20) { daemon.stderr.contains("control loop running") }, "\(daemon.stderr)")
        usleep(300_000)
        daemon.signal(SIGINT)
        #expect(daemon.wait() == 0)
        #expect(daemon.stderr.contains("stopping on signal 2"))
    }

    /// SIGTERM in the middle of start-up or right after: never a crash, always exit 0 once
    /// running. OpenBLAS starts threads before `main`; the signal must reach the watcher anyway.
    @Test func repeatedSignalsDuringShutdownAreHarmless() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try Self.writeConfig(in: dir)
        let daemon = try DaemonProcess(arguments: ["run", "--config", config])
        #expect(Self.waitFor(seconds: 20) { daemon.stderr.contains("control loop running") })
        for _ in 0 ..< 5 { daemon.signal(SIGTERM) }
        daemon.signal(SIGHUP)
        #expect(daemon.wait() == 0, "\(daemon.stderr)")
    }

    @Test func stopAfterRunsForTheGivenTime() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try Self.writeConfig(in: dir)
        let started = Date()
        let daemon = try DaemonProcess(arguments: ["run", "--config", config, "--stop-after", "0.5"])
        #expect(daemon.wait(timeout: 30) == 0)
        #expect(Date().timeIntervalSince(started) >= 0.5)
        #expect(daemon.stderr.contains("stopped"))
    }

    /// A broken configuration is rejected before anything moves, with exit status 78 (which the
    /// service's RestartPreventExitStatus keeps from restart-looping) and an error naming the
    /// file, line and key.
    @Test func aBadConfigurationExits78NamingTheKeyAndLine() throws {
        let notify = try FakeNotifySocket()
        let path = notify.directory + "/bad.yaml"
        try "loop:\n  rate_hz: 1000\n  rt_prio: 80\n".write(toFile: path, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["run", "--config", path], environment: ["NOTIFY_SOCKET": notify.path])
        #expect(daemon.wait() == 78)
        #expect(daemon.stderr.contains("bad.yaml:3"), "\(daemon.stderr)")
        #expect(daemon.stderr.contains("loop.rt_prio"))
        #expect(notify.receive(timeout: 0.2) == nil, "nothing may be announced for a rejected configuration")
    }

    @Test func aMissingRobotDescriptionExits78() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/robotd.yaml"
        try "robot: {urdf: \(dir)/missing.urdf}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(arguments: ["run", "--config", path])
        #expect(daemon.wait() == 78)
        #expect(daemon.stderr.contains("robot.urdf") && daemon.stderr.contains("missing.urdf"))
    }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("robotd-daemon-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}

/// `robotd bench loop`: the JSON report, and the allocation proof it carries.
@Suite struct LoopBenchmarkCLITests {
    @Test func reportsLatencyOverrunsAndZeroAllocationsPerTick() throws {
        let r = try TestSupport.run(TestSupport.robotdPath, ["bench", "loop", "--rate", "500", "--seconds", "1.5", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try TestSupport.json(r.stdout) as? [String: Any])
        let ticks = try #require(json["ticks"] as? Int)
        #expect(ticks > 300 && ticks <= 760)
        #expect(json["rate_hz"] as? Int == 500)
        for key in ["wake_latency_us", "compute_us"] {
            let q = try #require(json[key] as? [String: Double])
            #expect(Set(q.keys).isSuperset(of: ["p50", "p99", "p99_9", "max"]))
            #expect(q["p50"]! <= q["p99"]! && q["p99"]! <= q["p99_9"]! && q["p99_9"]! <= q["max"]!)
        }
        #expect(json["allocation_counter_verified"] as? Bool == true)
        #expect(json["moves"] as? Int ?? 0 >= 1)
        #expect(["fifo", "other"].contains(json["scheduler"] as? String ?? ""))
        if BuildConfiguration.isOptimized {
            #expect(json["allocations"] as? Int == 0, "\(r.stdout)")
            #expect(json["allocations_per_tick"] as? Double == 0)
        }
    }

    /// An executable `cyclictest` running `script`, in a fresh directory (the caller removes it).
    static func fakeCyclictest(_ script: String) throws -> (directory: URL, path: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-fake-cyclictest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let fake = dir.appendingPathComponent("cyclictest").path
        try script.write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        return (dir, fake)
    }

    /// A stand-in cyclictest (ROBOTD_CYCLICTEST) that records its arguments and prints a known
    /// histogram: the anchor's figures are that histogram's, merged over the rounds, and it was
    /// asked for the loop's period, length, priority and memory locking.
    @Test func cyclictestAnchorIsParsedAndGetsTheLoopsSettings() throws {
        // 100 samples a run: 50 at 10 µs, 45 at 20 µs, 3 at 2.5 ms, 1 at 4.1 ms, 1 over the limit.
        let (dir, fake) = try Self.fakeCyclictest("""
            #!/bin/sh
            if [ "$1" = "--help" ]; then echo "cyclictest V 9.99"; exit 0; fi
            echo "$*" >> "$0.args"
            echo "# Histogram"
            echo "000010 000050"; echo "000020 000045"; echo "002500 000003"; echo "004100 000001"
            echo "# Total: 000000099"; echo "# Min Latencies: 00010"; echo "# Avg Latencies: 00100"
            echo "# Max Latencies: 50000"; echo "# Histogram Overflows: 00001"
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try TestSupport.run("/usr/bin/env", ["ROBOTD_CYCLICTEST=\(fake)", TestSupport.robotdPath,
                                                     "bench", "loop", "--rate", "500", "--seconds", "1", "--rounds", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try TestSupport.json(r.stdout) as? [String: Any])
        let anchor = try #require(json["anchor"] as? [String: Any])
        #expect(anchor["available"] as? Bool == true, "\(anchor)")
        #expect(anchor["version"] as? String == "9.99")
        #expect(anchor["samples"] as? Int == 200)
        let wake = try #require(anchor["wake_latency_us"] as? [String: Double])
        #expect(wake["p50"] == 10.5 && wake["p99"] == 4100.5 && wake["max"] == 50000)
        // Over one period (2 ms): 3 + 1 + 1 a run. Periods spanned: 3·1 + 1·2 + 1·⌊40 000 / 2000⌋.
        #expect(anchor["samples_over_period"] as? Int == 10)
        let versus = try #require(json["overruns_vs_anchor"] as? [String: Any])
        #expect(versus["anchor_samples_over_period"] as? Int == 10)
        #expect(versus["anchor_periods_missed"] as? Int == 50)
        #expect(versus["loop_late_ticks"] as? Int == json["late_ticks"] as? Int)
        let ratios = try #require(json["time_ratio_to_anchor"] as? [String: Any])
        for key in ["wake_p50", "wake_p99", "wake_p99_9", "wake_max", "wake_p99_median_of_rounds"] {
            #expect((ratios[key] as? Double ?? 0) > 0, "\(key)")
        }
        #expect((json["per_round"] as? [[String: Any]])?.count == 2)
        let runs = try String(contentsOfFile: fake + ".args", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(runs.count == 2)
        for args in runs {
            let words = args.split(separator: " ").map(String.init)
            #expect(args.contains("-i 2000") && args.contains("-l 250") && args.contains("-q") && words.contains("--default-system"), "\(args)")
            #expect(words.contains("-m") == (json["memory_locked"] as? Bool == true), "\(args)")
            if json["scheduler"] as? String == "fifo" { #expect(args.contains("-p 80"), "\(args)") } else { #expect(words.contains("--policy=other"), "\(args)") }
        }
    }

    /// cyclictest refusing to run (as it does without root) is not an error: the loop's figures
    /// stand and the anchor says why it is missing.
    @Test func cyclictestRefusedIsReportedNotFatal() throws {
        let (dir, fake) = try Self.fakeCyclictest("""
            #!/bin/sh
            echo "Unable to change scheduling policy!" >&2
            exit 1
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try TestSupport.run("/usr/bin/env", ["ROBOTD_CYCLICTEST=\(fake)", TestSupport.robotdPath,
                                                     "bench", "loop", "--rate", "500", "--seconds", "0.5", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try TestSupport.json(r.stdout) as? [String: Any])
        let anchor = try #require(json["anchor"] as? [String: Any])
        #expect(anchor["available"] as? Bool == false)
        #expect((anchor["reason"] as? String ?? "").contains("Unable to change scheduling policy"), "\(anchor)")
        #expect(json["time_ratio_to_anchor"] == nil)
        #expect(json["ticks"] as? Int ?? 0 > 100)
    }

    @Test func rejectsAnUnknownLoad() throws {
        let r = try TestSupport.run(TestSupport.robotdPath, ["bench", "loop", "--with", "mpc,bogus", "--seconds", "1", "--json"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("bogus"), "\(r.stderr)")
    }

    /// The loop with the planner in mode `mpc`, the learner and socket clients beside it: each
    /// load reports that it ran, and the tick still allocates nothing.
    @Test func runsWithMPCLearningAndSocketLoad() throws {
        let r = try TestSupport.run(TestSupport.robotdPath, ["bench", "loop", "--rate", "500", "--seconds", "2", "--rounds", "1",
                                                           "--no-anchor", "--with", "mpc,learning,socket", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try TestSupport.json(r.stdout) as? [String: Any])
        #expect(json["with"] as? [String] == ["mpc", "learning", "socket"])
        let mpc = try #require(json["mpc"] as? [String: Any])
        #expect(mpc["solves"] as? Int ?? 0 > 0 && mpc["ticks_in_mpc"] as? Int ?? 0 > 0, "\(mpc)")
        #expect(json["learning"] is [String: Any])
        let socket = try #require(json["socket"] as? [String: Any])
        #expect(socket["clients"] as? Int == 64 && socket["requests"] as? Int ?? 0 > 0, "\(socket)")
        #expect((json["anchor"] as? [String: Any])?["available"] as? Bool == false)
        if BuildConfiguration.isOptimized { #expect(json["allocations"] as? Int == 0, "\(r.stdout)") }
    }
}

