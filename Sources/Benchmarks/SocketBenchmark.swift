import ControlProtocol
import ControlSocket
import ControlRuntime
import ControlServer
import Foundation
import Logging
import Platform
import RobotDaemon
import RobotdConfig

/// `robotd bench socket`: many clients on the control socket at once, each subscribed to
/// telemetry and issuing `status` requests; reports the `status` round-trip time, throughput,
/// and whether the control loop missed deadlines because of the load.
///
/// Against a running daemon (`socket`), or against one built in-process from `config` (the same
/// loop, runner and server as `robotd run`, on a private socket).
public enum SocketBenchmark {
    public struct Settings: Sendable {
        public var clients = 64
        public var seconds = 10.0
        /// Telemetry rate every client subscribes to (Hz); 0 = no subscription.
        public var telemetryHz = 100
        /// `status` requests per second per client; 0 = closed loop (next request as soon as
        /// the reply arrives: maximum throughput, RTT then includes queueing behind the others).
        public var requestHz = 50.0
        public init() {}
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs against the daemon listening on `socket`.
    public static func run(socket: String, settings: Settings) throws -> [String: Any] {
        let before = try timing(socket)
        let clients = runClients(socket: socket, settings: settings)
        let after = try timing(socket)
        return report(settings: settings, clients: clients, before: before, after: after, target: socket)
    }

    /// Builds the daemon from `config` in this process, serves on a private socket, runs the
    /// clients, stops it.
    public static func runInProcess(config: DaemonConfiguration, configPath: String, settings: Settings) throws -> [String: Any] {
        var config = config
        config.loop.overrunFaultThreshold = 1000
        config.socket.maxConnections = max(config.socket.maxConnections, settings.clients + 4)
        // The benchmark measures the server, not its rate limiter.
        config.socket.maxRequestsPerSecond = 100_000
        var logger = Logger(label: "robotd-bench")
        logger.logLevel = .warning
        let parts = try DaemonAssembly.parts(config, logger: logger)
        let (loop, limits) = (parts.loop, parts.limits)
        try loop.start()
        let runner = DaemonAssembly.runner(config, loop: loop, rampTicks: 0)
        let achieved = runner.start(options: DaemonAssembly.threadOptions(config))
        let dir = "/tmp/robotd-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/robotd.sock"
        let server = Daemon.makeServer(config: config, configPath: configPath, socketPath: path, loop: loop, runner: runner,
                                       achieved: achieved, limits: limits, faults: FaultLog(),
                                       policy: AccessPolicy(operators: [], observers: []), logger: logger)
        try server.start()
        defer {
            server.shutdown()
            runner.requestStop()
            runner.join()
        }
        usleep(200_000)
        var out = try run(socket: path, settings: settings)
        out["daemon"] = "in-process"
        out["scheduler"] = achieved.schedulerName
        return out
    }

    struct ClientResult {
        var rtts: [UInt64] = []
        var notifications = 0
        var errors: [String] = []
    }

    static func runClients(socket: String, settings: Settings) -> [ClientResult] {
        let results = ResultBox(count: settings.clients)
        let start = MonotonicClock.seconds() + 0.3
        let end = start + settings.seconds
        var threads: [Thread] = []
        for k in 0 ..< settings.clients {
            let t = Thread {
                results.set(k, client(socket: socket, settings: settings, start: start, end: end, index: k))
            }
            t.stackSize = 256 * 1024
            threads.append(t)
            t.start()
        }
        while threads.contains(where: { !$0.isFinished }) { usleep(10_000) }
        return results.all
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [ClientResult]
        init(count: Int) { values = Array(repeating: ClientResult(), count: count) }
        func set(_ i: Int, _ r: ClientResult) { lock.lock(); values[i] = r; lock.unlock() }
        var all: [ClientResult] { lock.lock(); defer { lock.unlock() }; return values }
    }

    static func client(socket: String, settings: Settings, start: Double, end: Double, index: Int) -> ClientResult {
        var r = ClientResult()
        r.rtts.reserveCapacity(Int(settings.seconds * max(settings.requestHz, 100)) + 16)
        let c: ControlClient
        do {
            c = try ControlClient(path: socket, timeout: 5)
        } catch {
            r.errors.append("\(error)")
            return r
        }
        defer { c.close() }
        var id = 0
        if settings.telemetryHz > 0 {
            id += 1
            guard case .reply? = try? c.benchmarkCall(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(ControlMethod.telemetrySubscribe)","params":{"rate_hz":\#(settings.telemetryHz)}}"#, id: id, notifications: &r.notifications) else {
                r.errors.append("telemetry.subscribe failed")
                return r
            }
        }
        while MonotonicClock.seconds() < start { usleep(1000) }
        // Stagger paced clients over one period so their requests do not arrive in lockstep.
        var next = start + (settings.requestHz > 0 ? Double(index) / Double(settings.clients) / settings.requestHz : 0)
        while true {
            let now = MonotonicClock.seconds()
            if now >= end { break }
            if settings.requestHz > 0, now < next {
                // Keep draining telemetry while waiting for the next request slot.
                c.drain(until: next, notifications: &r.notifications)
                continue
            }
            id += 1
            let t0 = MonotonicClock.now()
            do {
                switch try c.benchmarkCall(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(ControlMethod.status)"}"#, id: id, notifications: &r.notifications) {
                case .reply: r.rtts.append(MonotonicClock.now() - t0)
                case let .error(e): r.errors.append(e)
                }
            } catch {
                r.errors.append("\(error)")
                return r
            }
            if settings.requestHz > 0 { next += 1 / settings.requestHz }
        }
        return r
    }

    static func timing(_ socket: String) throws -> JSONValue {
        let c = try ControlClient(path: socket, timeout: 5)
        defer { c.close() }
        let result = try c.call(ControlMethod.timing)
        guard case .object = result else { throw Failure(description: "timing: unexpected reply") }
        return result
    }

    static func report(settings: Settings, clients: [ClientResult], before: JSONValue, after: JSONValue, target: String) -> [String: Any] {
        var rtts = clients.flatMap(\.rtts)
        rtts.sort()
        func q(_ p: Double) -> Double {
            guard !rtts.isEmpty else { return 0 }
            return Double(rtts[min(rtts.count - 1, Int((p * Double(rtts.count)).rounded(.up)) - 1)]) / 1000
        }
        let errors = clients.flatMap(\.errors)
        let overrunsBefore = before["overruns"]?.intValue ?? 0
        let overrunsAfter = after["overruns"]?.intValue ?? 0
        let ticksBefore = before["ticks"]?.intValue ?? 0
        let ticksAfter = after["ticks"]?.intValue ?? 0
        return [
            "socket": target,
            "clients": settings.clients,
            "seconds": settings.seconds,
            "telemetry_hz_per_client": settings.telemetryHz,
            "request_hz_per_client": settings.requestHz,
            "requests": rtts.count,
            "requests_per_s": Double(rtts.count) / settings.seconds,
            "status_rtt_us": ["p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": rtts.isEmpty ? 0 : Double(rtts.last!) / 1000],
            "telemetry_notifications": clients.reduce(0) { $0 + $1.notifications },
            "telemetry_per_s": Double(clients.reduce(0) { $0 + $1.notifications }) / settings.seconds,
            "errors": errors.count,
            "first_errors": Array(errors.prefix(5)),
            "overruns_before": overrunsBefore,
            "overruns_during": overrunsAfter - overrunsBefore,
            "loop_ticks_during": ticksAfter - ticksBefore,
        ]
    }
}

/// The benchmark's side of a connection: requests are pre-rendered lines and replies are found
/// by scanning for their id, so the measured round trip holds no client-side JSON parsing.
extension ControlClient {
    enum BenchmarkReply {
        case reply(String)
        case error(String)
    }

    private static let notificationPrefix = Array(#"{"jsonrpc":"2.0","method""#.utf8)

    /// Sends one request line and reads lines until the reply carrying `id`; notifications
    /// in between are counted.
    func benchmarkCall(_ request: String, id: Int, notifications: inout Int) throws(ControlClientError) -> BenchmarkReply {
        try sendRaw(Array(request.utf8) + [UInt8(ascii: "\n")])
        let idKey = Array("\"id\":\(id),".utf8)
        while true {
            let line = try readLine(within: timeout, waitingFor: "the reply to request \(id)")
            if line.starts(with: Self.notificationPrefix) {
                notifications += 1
                continue
            }
            // Replies are serialised with sorted keys: `{"error":…,"id":N,…}` or `{"id":N,…,"result":…}`.
            guard line.firstRange(of: idKey) != nil else { continue }
            let text = String(decoding: line, as: UTF8.self)
            return line.starts(with: Array(#"{"error""#.utf8)) ? .error(text) : .reply(text)
        }
    }

    /// Reads (and counts) notifications until `deadline` (monotonic seconds).
    func drain(until deadline: Double, notifications: inout Int) {
        while true {
            let remaining = deadline - MonotonicClock.seconds()
            if remaining <= 0 { return }
            guard let line = try? readLine(within: remaining, waitingFor: "telemetry") else { return }
            if line.starts(with: Self.notificationPrefix) { notifications += 1 }
        }
    }
}
