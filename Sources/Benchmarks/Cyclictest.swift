import Foundation

/// cyclictest (Debian rt-tests), the anchor of `bench loop`: a bare timer thread that sleeps to
/// absolute deadlines (`clock_nanosleep(TIMER_ABSTIME)`) and records how late it woke. Run with
/// the loop's CPU, SCHED_FIFO priority, period and memory locking, it shows what the host alone
/// does to a thread's wake-up; the loop's figures over it are what robotd adds.
///
/// It needs root (or RLIMIT_RTPRIO and RLIMIT_MEMLOCK) even for its SCHED_OTHER policy: without,
/// it exits with "Unable to change scheduling policy!" and the anchor is reported unavailable
/// with that reason.
///
/// By default cyclictest holds /dev/cpu_dma_latency at 0 µs while it runs, which the loop does
/// not: on a KVM guest with cpuidle-haltpoll an idle vCPU then polls instead of halting, so
/// cyclictest would be measured under another power-management regime than the loop.
/// `--default-system` (`holdsLatencyTarget` false, the default here) leaves it as the loop finds it.
public enum Cyclictest {
    /// What cyclictest is asked to do: the loop's own settings.
    public struct Settings: Sendable, Equatable {
        /// CPU to pin the measuring thread to (`-a`); nil = unpinned.
        public var cpu: Int?
        /// SCHED_FIFO priority (`-p`); nil = SCHED_OTHER (`--policy=other`).
        public var priority: Int32?
        /// The period (`-i`, µs).
        public var intervalMicroseconds: Int
        /// Wake-ups to measure (`-l`).
        public var loops: Int
        /// mlockall (`-m`).
        public var lockMemory: Bool
        /// Latencies at or above this (µs) are counted as histogram overflows (`-h`).
        public var histogramMicroseconds: Int
        /// Let cyclictest hold /dev/cpu_dma_latency at 0 (its default); false = `--default-system`.
        public var holdsLatencyTarget = false

        public init(cpu: Int?, priority: Int32?, intervalMicroseconds: Int, loops: Int, lockMemory: Bool,
                    histogramMicroseconds: Int? = nil) {
            self.cpu = cpu
            self.priority = priority
            self.intervalMicroseconds = intervalMicroseconds
            self.loops = loops
            self.lockMemory = lockMemory
            // Wide enough that stalls of many periods are still binned (`periodsMissed`).
            self.histogramMicroseconds = histogramMicroseconds ?? max(2000, 20 * intervalMicroseconds)
        }

        /// The command line (quiet, histogram on standard output, one thread).
        public var arguments: [String] {
            var a: [String] = []
            if lockMemory { a.append("-m") }
            if !holdsLatencyTarget { a.append("--default-system") }
            if let priority { a += ["-p", "\(priority)"] } else { a.append("--policy=other") }
            if let cpu { a += ["-a", "\(cpu)"] }
            a += ["-i", "\(intervalMicroseconds)", "-l", "\(loops)", "-q", "-h", "\(histogramMicroseconds)"]
            return a
        }
    }

    /// cyclictest's latency histogram: samples per whole microsecond (it truncates), the samples
    /// at or over the histogram's limit, and its own maximum.
    public struct Histogram: Sendable, Equatable {
        /// µs → samples (only non-empty buckets).
        public var counts: [Int: UInt64] = [:]
        public var overflows: UInt64 = 0
        /// The largest latency it saw (µs, `# Max Latencies`), which overflows do not hide.
        public var maxMicroseconds = 0

        public init() {}

        public var total: UInt64 { counts.values.reduce(0, +) &+ overflows }

        /// The latency (µs) at quantile q: bucket k holds [k, k + 1) µs, so its midpoint; in the
        /// overflow, the maximum.
        public func quantile(_ q: Double) -> Double {
            let n = total
            guard n > 0 else { return 0 }
            let rank = max(1, UInt64((q * Double(n)).rounded(.up)))
            var seen: UInt64 = 0
            for k in counts.keys.sorted() {
                seen &+= counts[k]!
                if seen >= rank { return min(Double(k) + 0.5, Double(maxMicroseconds) + 0.5) }
            }
            return Double(maxMicroseconds)
        }

        public var mean: Double {
            let inRange = counts.reduce(0.0) { $0 + (Double($1.key) + 0.5) * Double($1.value) }
            let n = total
            return n == 0 ? 0 : (inRange + Double(overflows) * Double(maxMicroseconds)) / Double(n)
        }

        /// Samples that woke `microseconds` or more late (overflows count: the limit is above it).
        public func samples(atLeast microseconds: Int) -> UInt64 {
            counts.reduce(overflows) { $1.key >= microseconds ? $0 &+ $1.value : $0 }
        }

        /// Deadlines a fixed-rate loop would have missed behind these wake-ups: Σ ⌊latency / period⌋
        /// (cyclictest, like the loop's `skip` policy, drops the periods a late wake-up overran;
        /// the loop counts each as an overrun). Overflows count as ⌊limit / period⌋, a lower bound.
        public func periodsMissed(periodMicroseconds p: Int, limitMicroseconds: Int) -> UInt64 {
            precondition(p > 0)
            return counts.reduce(overflows &* UInt64(limitMicroseconds / p)) { $0 &+ $1.value &* UInt64($1.key / p) }
        }

        /// The histogram of both runs' samples.
        public mutating func merge(_ other: Histogram) {
            for (k, v) in other.counts { counts[k, default: 0] &+= v }
            overflows &+= other.overflows
            maxMicroseconds = max(maxMicroseconds, other.maxMicroseconds)
        }
    }

    public enum Outcome: Sendable {
        case ran(Histogram)
        case unavailable(String)
    }

    /// Parses `cyclictest -q -h N` output: lines `000123 000045` (µs, samples) for one thread,
    /// then `# Total:`, `# Max Latencies:`, `# Histogram Overflows:`. nil when there is no
    /// `# Histogram` section.
    public static func parse(_ text: String) -> Histogram? {
        var h = Histogram()
        var sawHistogram = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#") {
                if line.hasPrefix("# Histogram") && !line.contains(":") { sawHistogram = true }
                func value() -> UInt64? {
                    line.split(separator: ":").last.flatMap { UInt64($0.split(separator: " ").first ?? "") }
                }
                if line.hasPrefix("# Max Latencies:"), let v = value() { h.maxMicroseconds = Int(v) }
                if line.hasPrefix("# Histogram Overflows:"), let v = value() { h.overflows = v }
                continue
            }
            let fields = line.split(separator: " ")
            guard sawHistogram, fields.count == 2, let k = Int(fields[0]), let v = UInt64(fields[1]) else { continue }
            if v > 0 { h.counts[k, default: 0] &+= v }
        }
        guard sawHistogram else { return nil }
        if h.maxMicroseconds == 0, let top = h.counts.keys.max() { h.maxMicroseconds = top }
        return h
    }

    /// The executable: `$ROBOTD_CYCLICTEST` if set, else cyclictest on $PATH.
    public static func executable() -> String? {
        if let env = ProcessInfo.processInfo.environment["ROBOTD_CYCLICTEST"], !env.isEmpty { return Anchor.which(env) }
        return Anchor.which("cyclictest")
    }

    /// Its version from the first line of `--help` ("cyclictest V 2.40"), when it says.
    public static func version(_ executable: String) -> String? {
        guard let text = capture(executable, ["--help"], timeout: 10)?.stdout else { return nil }
        guard let first = text.split(separator: "\n").first, let v = first.split(separator: " ").last, first.contains(" V ") else { return nil }
        return String(v)
    }

    /// Runs cyclictest once with `settings` and parses its histogram.
    public static func run(_ executable: String, _ settings: Settings) -> Outcome {
        let timeout = Double(settings.loops) * Double(settings.intervalMicroseconds) * 1e-6 * 2 + 30
        guard let r = capture(executable, settings.arguments, timeout: timeout) else {
            return .unavailable("could not start \(executable)")
        }
        let stderrTail = r.stderr.split(separator: "\n").suffix(3).joined(separator: " | ")
        guard r.status == 0 else {
            return .unavailable("cyclictest exited \(r.status): \(stderrTail)"
                                + (geteuid() == 0 ? "" : " (it needs root, or RLIMIT_RTPRIO and RLIMIT_MEMLOCK, even for SCHED_OTHER)"))
        }
        guard let h = parse(r.stdout), h.total > 0 else {
            return .unavailable("cyclictest printed no histogram: \(stderrTail)")
        }
        return .ran(h)
    }

    /// Runs a program to completion (SIGKILL after `timeout` s), its output through temporary
    /// files: the histogram is larger than a pipe holds, and the benchmark's thread must not be
    /// one more reader running beside the measurement.
    static func capture(_ executable: String, _ arguments: [String], timeout: Double) -> (status: Int32, stdout: String, stderr: String)? {
        let dir = FileManager.default.temporaryDirectory
        let tag = "robotd-cyclictest-\(getpid())-\(UInt64.random(in: 0 ... .max))"
        let outURL = dir.appendingPathComponent(tag + ".out"), errURL = dir.appendingPathComponent(tag + ".err")
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
              FileManager.default.createFile(atPath: errURL.path, contents: nil),
              let out = try? FileHandle(forWritingTo: outURL), let err = try? FileHandle(forWritingTo: errURL) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL) }
            usleep(20_000)
        }
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return (process.terminationStatus, stdout, stderr)
    }
}
