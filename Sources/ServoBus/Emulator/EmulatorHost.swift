import Glibc
import Platform
import Synchronization

/// Settings of an `EmulatorHost`.
public struct EmulatorHostConfiguration: Sendable, Equatable {
    /// Where the slave's path is published as a symlink (`./run/<arm>.tty` by convention);
    /// nil publishes nothing (use `EmulatorHost.slavePath`).
    public var linkPath: String?
    /// The emulated line rate; replies are paced at 10 bits per byte (8N1). 0 disables pacing.
    /// The pty's slave starts at this rate (1 000 000 when 0). Which servos hear a request is
    /// decided by the rate the client set on the slave (`BusResponder.setLineRate`), not by this.
    public var baud: Int = 1_000_000
    /// Faults to inject.
    public var faults = FaultPlan()
    /// Writes every received byte straight back, as a one-wire adapter that hears its own
    /// transmission does (hardware-notes §5 pitfall 5).
    public var echoesRequests = false

    public init(linkPath: String? = nil, baud: Int = 1_000_000, faults: FaultPlan = FaultPlan(), echoesRequests: Bool = false) {
        self.linkPath = linkPath
        self.baud = baud
        self.faults = faults
        self.echoesRequests = echoesRequests
    }

    /// The conventional link of an emulated arm: `./run/<arm>.tty`.
    public static func defaultLinkPath(arm: String) -> String { "./run/\(arm).tty" }
}

/// Hosts an emulated servo bus on a pseudo-terminal: reads requests from the master, hands them
/// to a `BusResponder`, and writes its replies back paced at the baud with the configured faults,
/// on its own thread until `stop()`.
///
/// Timing model (half-duplex, 10 bits per byte): a request occupies the wire for its bytes'
/// time after it arrived; each reply starts its return delay after the wire is free and is
/// written, whole, when its last byte would have left the servo. A pty carries bytes instantly
/// and ignores the baud (hardware-notes §5 pitfall 2), so this pacing is all the timing there is.
/// The rate a client sets is still kept in the pty's termios: the host reads it (through its own
/// slave descriptor) as each chunk arrives and hands it to the responder, whose servos at another
/// rate neither act nor answer, as real servos that see only framing errors.
public final class EmulatorHost<Responder: BusResponder & SendableMetatype>: @unchecked Sendable {
    /// Counters for tests and the bench.
    public struct Statistics: Sendable, Equatable {
        /// Complete requests the responder reported.
        public var requests = 0
        /// Reply packets written.
        public var repliesSent = 0
        /// Faults applied, by kind (silenced servos count as `.dropReply`).
        public var faultsInjected = 0
        /// Reply packets suppressed because their servo is silent.
        public var silencedReplies = 0
    }

    private struct Control {
        var stopRequested = false
        var vanishRequested = false
        var vanished = false
        var faults: FaultPlan
        var statistics = Statistics()
        /// Changes to the responder waiting for the host thread (`withResponder`).
        var edits: [@Sendable (inout Responder) -> Void] = []
    }

    /// A packet waiting for its time on the wire.
    private struct Pending {
        var due: UInt64
        var bytes: [UInt8]
    }

    /// The pty's slave path (`/dev/pts/N`), valid until `stop()`.
    public let slavePath: String
    /// The published link, if any.
    public let linkPath: String?
    public let baud: Int
    private let echoesRequests: Bool

    private let pty: PseudoTerminal
    private let control: Mutex<Control>
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private var thread: RealtimeThread?
    /// Touched only by the host thread.
    private var responder: Responder
    private var random: SplitMix64

    /// Opens the pty, publishes the link and starts the host thread.
    /// - Throws: `SerialTransportError` when the pty or the link cannot be created (the link
    ///   path exists and is not a symlink, or its directory cannot be made).
    /// - Warning: Not real-time safe.
    public init(responder: Responder, configuration: EmulatorHostConfiguration) throws(SerialTransportError) {
        pty = try PseudoTerminal(bitsPerSecond: configuration.baud > 0 ? configuration.baud : 1_000_000)
        slavePath = pty.slavePath
        linkPath = configuration.linkPath
        baud = configuration.baud
        echoesRequests = configuration.echoesRequests
        self.responder = responder
        random = SplitMix64(state: configuration.faults.seed)
        control = Mutex(Control(faults: configuration.faults))
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw SerialTransportError(.system(errno: errno), path: slavePath, message: "emulator: pipe failed: \(errnoText(errno))")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        if let link = configuration.linkPath {
            do throws(SerialTransportError) {
                try Self.publish(link: link, target: slavePath)
            } catch {
                Glibc.close(wakeRead)
                Glibc.close(wakeWrite)
                throw error
            }
        }
        var options = RealtimeThread.Options()
        options.priority = nil
        options.lockMemory = false
        options.name = "servo-emulator"
        thread = RealtimeThread.start(options: options) { [self] _ in run() }
    }

    deinit {
        stop()
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    /// Stops the thread, closes the pty and removes the link (if it still points at our pty).
    /// Idempotent.
    public func stop() {
        let already = control.withLock { c in
            let was = c.stopRequested
            c.stopRequested = true
            return was
        }
        // Only the first stop unlinks: once our pty is closed, a new host's pty may reuse
        // /dev/pts/N, and its link at the same path would then look like ours.
        guard !already else { return }
        wake()
        thread?.join()
        thread = nil
        // Unlink while our pty still holds its number, for the same reason; a vanished host
        // closed its pty and unlinked already.
        if !control.withLock({ $0.vanished }) { unpublishLink() }
        pty.close()
    }

    /// Makes the port disappear now: the master closes and the link goes (an unplugged adapter).
    public func vanish() {
        control.withLock { $0.vanishRequested = true }
        wake()
        // Wait for the host thread to act, so a caller can rely on it afterwards.
        while !control.withLock({ $0.vanished || $0.stopRequested }) { usleep(1000) }
    }

    /// Silences or revives a servo by id (a servo that stops answering).
    public func setSilent(_ id: UInt8, _ silent: Bool) {
        control.withLock { c in
            if silent { c.faults.silentServos.insert(id) } else { c.faults.silentServos.remove(id) }
        }
    }

    /// Scripts `fault` for request number `request` (1-based, counted since start).
    public func inject(_ fault: BusFault, atRequest request: Int) {
        control.withLock { $0.faults.scripted[request] = fault }
    }

    /// Replaces the fault plan (keeps the request count).
    public func setFaults(_ faults: FaultPlan) { control.withLock { $0.faults = faults } }

    public var statistics: Statistics { control.withLock { $0.statistics } }

    /// Runs `body` on the responder on the host thread, between requests, and returns its result
    /// (nil once the host has stopped): how a test or `robotd emulate --hand` reaches into the
    /// emulated servos while they serve.
    public func withResponder<R: Sendable>(_ body: @escaping @Sendable (inout Responder) -> R) -> R? {
        let handOff = HandOff<R>()
        control.withLock { c in
            c.edits.append { responder in
                let value = body(&responder)
                handOff.slot.withLock { $0 = value }
            }
        }
        wake()
        while true {
            if let value = handOff.slot.withLock({ $0 }) { return value }
            if control.withLock({ $0.stopRequested }) { return nil }
            usleep(500)
        }
    }

    /// How often a quiet host lets the responder catch up with time (`BusResponder.idle`), so
    /// that no request waits for more than this much emulated physics before it is answered.
    public static var idlePeriodNanoseconds: UInt64 { 2_000_000 }

    // MARK: host thread

    private func run() {
        var pending: [Pending] = []
        var busyUntil: UInt64 = 0
        var lastIdle: UInt64 = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        let nsPerByte: UInt64 = baud > 0 ? WireTime.nanoseconds(bytes: 1, baud: baud) : 0
        while true {
            let (stop, vanish, edits) = control.withLock { c in
                defer { c.edits.removeAll() }
                return (c.stopRequested, c.vanishRequested && !c.vanished, c.edits)
            }
            if stop { return }
            for edit in edits { edit(&responder) }
            if vanish {
                unpublishLink()
                pty.close()
                pending.removeAll()
                control.withLock { $0.vanished = true }
            }
            if control.withLock({ $0.vanished }) {
                waitForWake(timeoutMilliseconds: 100)
                continue
            }
            // Send what is due; sleep precisely (not in poll's whole milliseconds) when the next
            // packet is due within 2 ms.
            var now = MonotonicClock.now()
            if let next = pending.min(by: { $0.due < $1.due }), next.due <= now &+ 2_000_000 {
                if next.due > now { MonotonicClock.sleep(untilNanoseconds: next.due) }
                now = MonotonicClock.now()
                var index = 0
                while index < pending.count {
                    if pending[index].due <= now {
                        writeAll(pending[index].bytes)
                        pending.remove(at: index)
                    } else {
                        index += 1
                    }
                }
                continue
            }
            if now &- lastIdle >= Self.idlePeriodNanoseconds {
                responder.idle(atNanoseconds: now)
                lastIdle = now
            }
            let idleMilliseconds = Int32(Self.idlePeriodNanoseconds / 1_000_000)
            let timeout: Int32 = min(
                idleMilliseconds,
                pending.min(by: { $0.due < $1.due }).map { Int32(clamping: ($0.due - now) / 1_000_000 - 1) } ?? idleMilliseconds)
            var fds = [
                pollfd(fd: pty.master, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let r = poll(&fds, 2, max(timeout, 0))
            if r <= 0 { continue }
            if fds[1].revents != 0 { drainWake() }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(pty.master, $0.baseAddress, $0.count) }
            guard n > 0 else {
                // EIO with no slave open cannot happen while the keep-alive descriptor is held;
                // if the kernel says so anyway, back off instead of spinning on poll.
                if n < 0 && errno == EIO { waitForWake(timeoutMilliseconds: 10) }
                continue
            }
            if echoesRequests { writeAll(Array(chunk[0..<n]), countAsReply: false) }
            let arrival = MonotonicClock.now()
            // The request occupied the wire for its bytes' time before its last byte arrived.
            busyUntil = max(busyUntil, arrival) &+ UInt64(n) &* nsPerByte
            // The servos hear only what is sent at their own rate: tell them the client's.
            responder.setLineRate(pty.lineRate())
            let responses = chunk.withUnsafeBufferPointer { responder.receive(UnsafeBufferPointer(rebasing: $0[0..<n]), atNanoseconds: arrival) }
            for response in responses {
                schedule(response, busyUntil: &busyUntil, nsPerByte: nsPerByte, into: &pending)
            }
        }
    }

    private func schedule(_ response: BusResponse, busyUntil: inout UInt64, nsPerByte: UInt64, into pending: inout [Pending]) {
        let (fault, silent) = control.withLock { c -> (BusFault?, Set<UInt8>) in
            c.statistics.requests += 1
            var fault = c.faults.scripted[c.statistics.requests]
            if fault == nil {
                for candidate in c.faults.random where random.unit() < candidate.probability {
                    fault = candidate.fault
                    break
                }
            }
            if fault != nil { c.statistics.faultsInjected += 1 }
            return (fault, c.faults.silentServos)
        }
        var replies = response.replies.filter { reply in
            // A combined (fast read) reply is cut when any servo of its chain is silent.
            let silenced = reply.servoID.map { silent.contains($0) } ?? reply.combinedServoIDs.contains { silent.contains($0) }
            guard silenced else { return true }
            control.withLock { $0.statistics.silencedReplies += 1 }
            return false
        }
        var extraDelay: UInt64 = 0
        var detached: UInt64? = nil
        switch fault {
        case .dropReply?:
            return
        case .vanish?:
            control.withLock { $0.vanishRequested = true }
            return
        case .corruptChecksum?:
            for i in replies.indices where !replies[i].bytes.isEmpty {
                replies[i].bytes[replies[i].bytes.count - 1] ^= 0xFF
            }
        case .delay(let s)?:
            extraDelay = UInt64(max(0, s) * 1e9)
        case .staleReply(let s)?:
            detached = UInt64(max(0, s) * 1e9)
        case .garbage(let count)?:
            let noise = (0..<max(0, count)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            busyUntil = busyUntil &+ UInt64(noise.count) &* nsPerByte
            pending.append(Pending(due: busyUntil, bytes: noise))
        case nil:
            break
        }
        // A detached (stale) reply does not hold the wire: later requests are answered first.
        var clock = busyUntil &+ extraDelay
        for reply in replies {
            clock = clock &+ UInt64(max(0, reply.delaySeconds) * 1e9) &+ UInt64(reply.bytes.count) &* nsPerByte
            pending.append(Pending(due: clock &+ (detached ?? 0), bytes: reply.bytes))
        }
        if detached == nil { busyUntil = clock }
    }

    private func writeAll(_ bytes: [UInt8], countAsReply: Bool = true) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(pty.master, $0.baseAddress! + done, $0.count - done) }
            if n > 0 {
                done += n
            } else if n < 0 && (errno == EINTR) {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                var p = pollfd(fd: pty.master, events: Int16(POLLOUT), revents: 0)
                if poll(&p, 1, 100) <= 0 { return }  // nobody drains the slave: drop the rest
            } else {
                return
            }
        }
        if countAsReply { control.withLock { $0.statistics.repliesSent += 1 } }
    }

    private func wake() {
        var b: UInt8 = 1
        _ = Glibc.write(wakeWrite, &b, 1)
    }

    private func drainWake() {
        var b = [UInt8](repeating: 0, count: 64)
        while b.withUnsafeMutableBytes({ Glibc.read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }

    private func waitForWake(timeoutMilliseconds: Int32) {
        var p = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, timeoutMilliseconds) > 0 { drainWake() }
    }

    // MARK: the link

    /// Creates `link` → `target`, making its directory and replacing a stale symlink (one left
    /// by an emulator that was killed). Refuses to replace anything that is not a symlink.
    static func publish(link: String, target: String) throws(SerialTransportError) {
        let directory = link.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !directory.isEmpty { try makeDirectories(directory, for: link) }
        var st = stat()
        if lstat(link, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFLNK else {
                throw SerialTransportError(
                    .configuration, path: link,
                    message: "emulator: \(link) exists and is not a symlink; remove it or choose another --link")
            }
            unlink(link)
        }
        if symlink(target, link) != 0 {
            throw SerialTransportError(.system(errno: errno), path: link, message: "emulator: cannot create the link \(link) → \(target): \(errnoText(errno))")
        }
    }

    private static func makeDirectories(_ path: String, for link: String) throws(SerialTransportError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw SerialTransportError(.system(errno: errno), path: link, message: "emulator: cannot create \(prefix) for the link \(link): \(errnoText(errno))")
            }
            prefix += "/"
        }
    }

    private func unpublishLink() {
        guard let link = linkPath else { return }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(link, &buffer, buffer.count - 1)
        guard n > 0 else { return }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if target == slavePath { unlink(link) }
    }
}

/// A result handed from the host thread to a `withResponder` caller.
private final class HandOff<R: Sendable>: Sendable {
    let slot = Mutex<R?>(nil)
}
