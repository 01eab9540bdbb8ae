import ControlProtocol
import ControlSocket
import Foundation
import Platform

/// Load on a daemon's control socket, as many users put it there: `clients` connections, each
/// subscribed to telemetry at `telemetryHz` and sending `status` at `requestHz` (staggered over one
/// period), until `stop()`. Used by `robotd bench socket` (in a child process of its own, so the
/// load's CPU is not the measuring client's) and by `robotd bench loop --with socket`.
///
/// One thread drives every connection (non-blocking sockets and `poll`), so the generator costs
/// the machine little beside the daemon it loads: the figures are the daemon's, not 64 client
/// threads' context switches.
///
/// ```swift
/// let load = try SocketLoad.start(socket: path, clients: 63, telemetryHz: 100, requestHz: 50)
/// … measure …
/// let stats = load.stop()   // stats.json for a report
/// ```
public final class SocketLoad: @unchecked Sendable {
    /// What the load saw, from the first request slot to `stop()`.
    public struct Stats: Sendable {
        public var clients = 0
        public var seconds = 0.0
        public var telemetryHz = 0
        public var requestHz = 0.0
        /// `status` round trips (ns), unsorted.
        public var rtts: [UInt64] = []
        /// Telemetry notifications received inside the window, and what the rate promises for it.
        public var telemetryDelivered = 0
        public var telemetryExpected = 0
        public var errors: [String] = []

        /// `{"clients", "seconds", "requests", "status_rtt_us": {p50, p90, p99, max}, "telemetry_delivered",
        /// "telemetry_expected", "errors", "first_errors"}`.
        public var json: [String: Any] {
            [
                "clients": clients, "seconds": seconds, "telemetry_hz_per_client": telemetryHz, "request_hz_per_client": requestHz,
                "requests": rtts.count, "status_rtt_us": RTTSummary(rtts).json,
                "telemetry_delivered": telemetryDelivered, "telemetry_expected": telemetryExpected,
                "errors": errors.count, "first_errors": Array(errors.prefix(5)),
            ]
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let thread: Thread
    private let stopFlag: Flag
    private let resultBox: ResultBox

    private init(run: @escaping @Sendable (Flag) -> Stats) {
        let flag = Flag(), box = ResultBox()
        stopFlag = flag
        resultBox = box
        thread = Thread { box.stats = run(flag) }
        thread.stackSize = 1 << 20
    }

    /// Connects `clients` connections to `socket`, subscribes each (when `telemetryHz` > 0) and
    /// starts sending `status` `requestHz` times a second on each (0: none).
    /// - Throws: `Failure` when a connection or a subscription fails.
    public static func start(socket: String, clients: Int, telemetryHz: Int, requestHz: Double) throws -> SocketLoad {
        precondition(clients > 0 && telemetryHz >= 0 && requestHz >= 0)
        var connections: [Connection] = []
        do {
            for _ in 0 ..< clients { connections.append(try Connection(path: socket, telemetryHz: telemetryHz)) }
        } catch {
            for c in connections { Glibc.close(c.fd) }
            throw error
        }
        let prepared = Prepared(connections: connections)
        let load = SocketLoad { flag in
            var generator = Generator(connections: prepared.connections, telemetryHz: telemetryHz, requestHz: requestHz)
            return generator.run(until: flag)
        }
        load.thread.start()
        return load
    }

    /// Stops the load, closes its connections and returns what it saw.
    public func stop() -> Stats {
        stopFlag.set()
        while !thread.isFinished { usleep(1000) }
        return resultBox.stats
    }

    // MARK: - Internals

    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.lock(); value = true; lock.unlock() }
        var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    }

    private final class ResultBox: @unchecked Sendable {
        var stats = Stats()
    }

    private struct Prepared: @unchecked Sendable {
        var connections: [Connection]
    }

    /// One connection, subscribed (blocking) before the generator takes it over.
    struct Connection {
        let fd: Int32
        var pending: [UInt8] = []
        var inFlight = false
        var sentAt: UInt64 = 0
        var nextSend = 0.0
        var nextID = 2
        var subscribedAt = 0.0

        init(path: String, telemetryHz: Int) throws(Failure) {
            let address: UnixSocketAddress
            do { address = try UnixSocketAddress(path: path) } catch { throw Failure(description: "socket \(path): \(error)") }
            fd = UnixSocketAddress.streamSocket()
            guard fd >= 0 else { throw Failure(description: "socket(): \(ControlClient.errorText(errno))") }
            guard address.connect(fd) == 0 else {
                let e = errno
                Glibc.close(fd)
                throw Failure(description: "connect \(path): \(ControlClient.errorText(e))")
            }
            if telemetryHz > 0 {
                let line = Array(#"{"jsonrpc":"2.0","id":1,"method":"\#(ControlMethod.telemetrySubscribe)","params":{"rate_hz":\#(telemetryHz)}}"#.utf8) + [10]
                guard Self.writeAll(fd, line) else { Glibc.close(fd); throw Failure(description: "telemetry.subscribe: cannot send") }
                // The reply is the first line: nothing else is sent before it.
                var byte: UInt8 = 0
                var reply: [UInt8] = []
                while true {
                    let n = read(fd, &byte, 1)
                    guard n == 1 else { Glibc.close(fd); throw Failure(description: "telemetry.subscribe: connection closed") }
                    if byte == 10 { break }
                    reply.append(byte)
                }
                guard reply.starts(with: Array(#"{"id":1,"#.utf8)) else {
                    Glibc.close(fd)
                    throw Failure(description: "telemetry.subscribe: \(String(decoding: reply, as: UTF8.self))")
                }
                subscribedAt = MonotonicClock.seconds()
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }

        static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
            var off = 0
            while off < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
                if n < 0, errno == EINTR || errno == EAGAIN { usleep(100); continue }
                guard n > 0 else { return false }
                off += n
            }
            return true
        }
    }

    private struct Generator {
        var connections: [Connection]
        let telemetryHz: Int
        let requestHz: Double

        static let notificationPrefix = Array(#"{"jsonrpc":"2.0","method""#.utf8)
        static let errorPrefix = Array(#"{"error""#.utf8)

        mutating func run(until stop: Flag) -> Stats {
            var stats = Stats()
            stats.clients = connections.count
            stats.telemetryHz = telemetryHz
            stats.requestHz = requestHz
            let start = MonotonicClock.seconds()
            let period = requestHz > 0 ? 1 / requestHz : .infinity
            for k in connections.indices {
                connections[k].nextSend = start + (requestHz > 0 ? Double(k) / Double(connections.count) * period : .infinity)
            }
            stats.rtts.reserveCapacity(Int(min(1e7, Double(connections.count) * (requestHz * 60 + 16))))
            var fds = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var notifications = 0
            var closed = Set<Int>()
            // The load stands for other processes, which may run on any CPU: a daemon in this
            // process that reserves its loop's CPU (RealtimeThread.Options.reserveCPU) moves this
            // thread off it too, so it takes back the mask it started with once a second.
            let cpus = RealtimeThread.currentThreadCPUs()
            var nextWiden = start + 1
            while !stop.isSet {
                var now = MonotonicClock.seconds()
                if now >= nextWiden, !cpus.isEmpty {
                    _ = RealtimeThread.setCurrentThreadCPUs(cpus)
                    nextWiden = now + 1
                }
                var wake = now + 0.005
                for k in connections.indices where !closed.contains(k) && !connections[k].inFlight {
                    if now >= connections[k].nextSend {
                        let id = connections[k].nextID
                        connections[k].nextID += 1
                        let line = Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(ControlMethod.status)"}"#.utf8) + [10]
                        connections[k].sentAt = MonotonicClock.now()
                        guard Connection.writeAll(connections[k].fd, line) else {
                            stats.errors.append("client \(k): write failed: \(ControlClient.errorText(errno))")
                            closed.insert(k)
                            continue
                        }
                        connections[k].inFlight = true
                        // A late client skips the slots it missed instead of bursting.
                        connections[k].nextSend = max(connections[k].nextSend + period, now)
                    } else {
                        wake = min(wake, connections[k].nextSend)
                    }
                }
                now = MonotonicClock.seconds()
                // Millisecond resolution (poll): a request may leave up to 1 ms after its slot.
                let ready = poll(&fds, nfds_t(fds.count), Int32((max(0, wake - now) * 1000).rounded(.up)))
                guard ready > 0 else { continue }
                for k in fds.indices where fds[k].revents != 0 {
                    fds[k].revents = 0
                    while true {
                        let n = buffer.withUnsafeMutableBytes { read(connections[k].fd, $0.baseAddress!, $0.count) }
                        if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) {
                            stats.errors.append("client \(k): connection closed by the daemon")
                            fds[k].fd = -1
                            closed.insert(k)
                            break
                        }
                        if n < 0 { break }
                        let received = MonotonicClock.now()
                        scan(k, buffer[0 ..< n], received: received, notifications: &notifications, stats: &stats)
                        if n < buffer.count { break }
                    }
                }
            }
            let end = MonotonicClock.seconds()
            stats.seconds = end - start
            stats.telemetryDelivered = notifications
            if telemetryHz > 0 {
                stats.telemetryExpected = connections.reduce(0) { $0 + Int((end - max($1.subscribedAt, start)) * Double(telemetryHz)) }
            }
            for c in connections { Glibc.close(c.fd) }
            return stats
        }

        /// Splits what arrived into lines: notifications are counted, a reply ends the round trip.
        mutating func scan(_ k: Int, _ bytes: ArraySlice<UInt8>, received: UInt64, notifications: inout Int, stats: inout Stats) {
            var lineStart = bytes.startIndex
            for i in bytes.indices where bytes[i] == 10 {
                let line: ArraySlice<UInt8>
                if connections[k].pending.isEmpty {
                    line = bytes[lineStart ..< i]
                } else {
                    connections[k].pending.append(contentsOf: bytes[lineStart ..< i])
                    line = connections[k].pending[...]
                }
                if line.starts(with: Self.notificationPrefix) {
                    notifications += 1
                } else if connections[k].inFlight {
                    connections[k].inFlight = false
                    if line.starts(with: Self.errorPrefix) {
                        stats.errors.append(String(decoding: line.prefix(300), as: UTF8.self))
                    } else {
                        stats.rtts.append(received &- connections[k].sentAt)
                    }
                }
                connections[k].pending.removeAll(keepingCapacity: true)
                lineStart = i + 1
            }
            connections[k].pending.append(contentsOf: bytes[lineStart...])
        }
    }
}

/// Quantiles of round-trip times in µs: p50, p90, p99 and max (nearest rank).
struct RTTSummary {
    var sorted: [UInt64]
    init(_ rtts: [UInt64]) { sorted = rtts.sorted() }

    func quantile(_ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return Double(sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]) / 1000
    }

    var json: [String: Any] {
        ["p50": quantile(0.5), "p90": quantile(0.9), "p99": quantile(0.99), "max": Double(sorted.last ?? 0) / 1000, "count": sorted.count]
    }
}
