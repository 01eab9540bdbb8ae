import ControlProtocol
import ControlSocket
import ControlRuntime
import ControlServer
import Foundation
import Logging
import Platform
import RobotDaemon
import RobotdConfig

/// `robotd bench socket`: the `status` round trip as a user sees it, from a client in a process of
/// its own, while other clients (in another process) each subscribe to telemetry and send `status`;
/// and whether the control loop missed deadlines because of that load.
///
/// Three processes: the daemon (built in-process from `config`, the same loop, runner and server
/// as `robotd run`, on a private socket; or a running daemon at `socket`), the load
/// (`robotd bench socket-load`, `SocketLoad`: `clients − 1` connections) and the measuring client
/// (`robotd bench socket-probe`: one connection, subscribed like the others). The probe runs twice
/// for `seconds` each: alone (`unloaded`), then under the load; the loop's overruns are read from
/// `timing` around each window (`overruns_without_load`, `overruns_during`).
public enum SocketBenchmark {
    public struct Settings: Sendable {
        /// Connections under load: `clients − 1` load connections plus the measuring client.
        public var clients = 64
        public var seconds = 10.0
        /// Telemetry rate every client subscribes to (Hz); 0 = no subscription.
        public var telemetryHz = 100
        /// `status` requests per second per load client.
        public var requestHz = 50.0
        /// `status` requests per second of the measuring client (more samples for its tail); 0 =
        /// closed loop (next request as soon as the reply arrives).
        public var probeHz = 100.0
        /// Seconds the load runs before the measured window opens (connections, subscriptions).
        public var warmUp = 1.0
        public init() {}
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs against the daemon listening on `socket`; `executable` is the robotd binary that
    /// runs the load and the probe as child processes.
    /// `daemonCPU` (seconds of CPU the daemon's process has used), when the daemon is this
    /// process, adds the CPU each window cost it.
    public static func run(socket: String, settings: Settings, executable: String, daemonCPU: (() -> Double)? = nil) throws -> [String: Any] {
        func probeArgs() -> [String] {
            ["bench", "socket-probe", "--socket", socket, "--seconds", "\(settings.seconds)", "--telemetry-hz", "\(settings.telemetryHz)",
             "--request-hz", "\(settings.probeHz)"]
        }
        let timeout = settings.seconds * 3 + 60
        var cpu: [Double] = []
        let t0 = try timing(socket)
        cpu.append(daemonCPU?() ?? 0)
        let alone = Anchor.run(executable, probeArgs(), timeout: timeout)
        cpu.append(daemonCPU?() ?? 0)
        let t1 = try timing(socket)
        let loadClients = max(0, settings.clients - 1)
        let loadOutcome = Box<Anchor.Outcome>()
        let loadThread = Thread {
            guard loadClients > 0 else { loadOutcome.value = .ran([:]); return }
            loadOutcome.value = Anchor.run(executable, [
                "bench", "socket-load", "--socket", socket, "--clients", "\(loadClients)", "--telemetry-hz", "\(settings.telemetryHz)",
                "--request-hz", "\(settings.requestHz)", "--seconds", "\(settings.warmUp + settings.seconds + 1.5)",
            ], timeout: timeout)
        }
        loadThread.start()
        usleep(UInt32(settings.warmUp * 1e6))
        let t2 = try timing(socket)
        cpu.append(daemonCPU?() ?? 0)
        let loaded = Anchor.run(executable, probeArgs(), timeout: timeout)
        cpu.append(daemonCPU?() ?? 0)
        let t3 = try timing(socket)
        while !loadThread.isFinished { usleep(10_000) }

        func figures(_ o: Anchor.Outcome?) -> [String: Any] {
            switch o {
            case let .ran(d)?: return d
            case let .unavailable(why)?: return ["failed": why]
            case nil: return ["failed": "did not run"]
            }
        }
        func delta(_ key: String, _ a: JSONValue, _ b: JSONValue) -> Int { (b[key]?.intValue ?? 0) - (a[key]?.intValue ?? 0) }
        let probe = figures(loaded), load = figures(loadOutcome.value)
        var out: [String: Any] = [
            "socket": socket,
            "clients": settings.clients,
            "load_clients": loadClients,
            "seconds": settings.seconds,
            "telemetry_hz_per_client": settings.telemetryHz,
            "request_hz_per_client": settings.requestHz,
            "probe_request_hz": settings.probeHz,
            "status_rtt_us": probe["status_rtt_us"] ?? [:],
            "status_rtt_us_unloaded": figures(alone)["status_rtt_us"] ?? [:],
            "probe": probe,
            "probe_unloaded": figures(alone),
            "load": load,
            "overruns_during": delta("overruns", t2, t3),
            "overruns_without_load": delta("overruns", t0, t1),
            // One per stall, however many periods it spanned (overruns count every period).
            "late_ticks_during": delta("late_ticks", t2, t3),
            "late_ticks_without_load": delta("late_ticks", t0, t1),
            "loop_ticks_during": delta("ticks", t2, t3),
            "loop_ticks_without_load": delta("ticks", t0, t1),
            "measured_from": "separate processes: daemon, load (robotd bench socket-load), measuring client (robotd bench socket-probe)",
        ]
        if daemonCPU != nil {
            out["daemon_cpu_s_during"] = cpu[3] - cpu[2]
            out["daemon_cpu_s_without_load"] = cpu[1] - cpu[0]
        }
        return out
    }

    /// Builds the daemon from `config` in this process, serves on a private socket, runs the
    /// load and the probe against it (child processes of `executable`), stops it.
    public static func runInProcess(config: DaemonConfiguration, configPath: String, settings: Settings, executable: String) throws -> [String: Any] {
        var config = config
        config.loop.overrunFaultThreshold = 1000
        config.socket.maxConnections = max(config.socket.maxConnections, settings.clients)
        config.socket.maxConnectionsPerUID = max(config.socket.maxConnectionsPerUID, settings.clients)
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
        // The daemon's CPU (every thread of this process: loop, event loop; the main thread waits).
        let cpuClock = { () -> Double in
            var u = rusage()
            getrusage(RUSAGE_SELF.rawValue, &u)
            return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6
        }
        var out = try run(socket: path, settings: settings, executable: executable, daemonCPU: cpuClock)
        out["daemon"] = "in-process"
        out["scheduler"] = achieved.schedulerName
        out["loop_cpu"] = achieved.cpu.map { $0 as Any } ?? "any"
        out["memory_locked"] = achieved.memoryLocked
        out["socket_limits"] = ["max_connections": config.socket.maxConnections, "max_requests_per_second": config.socket.maxRequestsPerSecond,
                                "telemetry_max_hz": config.socket.telemetryMaxHz]
        return out
    }

    /// `robotd bench socket-probe`: one client (this process) subscribed at `telemetryHz`, sending
    /// `status` at `probeHz` for `seconds`; its round trips.
    public static func probe(socket: String, settings: Settings) -> [String: Any] {
        var s = settings
        s.requestHz = settings.probeHz
        s.clients = 1
        let r = client(socket: socket, settings: s, start: MonotonicClock.seconds() + 0.3, end: MonotonicClock.seconds() + 0.3 + settings.seconds, index: 0)
        return [
            "requests": r.rtts.count, "status_rtt_us": RTTSummary(r.rtts).json, "telemetry_delivered": r.notifications,
            "telemetry_expected": Int(settings.seconds * Double(settings.telemetryHz)),
            "errors": r.errors.count, "first_errors": Array(r.errors.prefix(5)),
        ]
    }

    /// `robotd bench socket-load`: `SocketLoad` with `clients` connections for `seconds`.
    public static func load(socket: String, settings: Settings) throws -> [String: Any] {
        let load = try SocketLoad.start(socket: socket, clients: settings.clients, telemetryHz: settings.telemetryHz, requestHz: settings.requestHz)
        usleep(UInt32(settings.seconds * 1e6))
        return load.stop().json
    }

    final class Box<T>: @unchecked Sendable {
        var value: T?
    }

    struct ClientResult {
        var rtts: [UInt64] = []
        var notifications = 0
        var errors: [String] = []
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
        while MonotonicClock.seconds() < start { c.drain(until: min(start, MonotonicClock.seconds() + 0.01), notifications: &r.notifications) }
        r.notifications = 0
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
            if settings.requestHz > 0 { next = max(next + 1 / settings.requestHz, MonotonicClock.seconds()) }
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
