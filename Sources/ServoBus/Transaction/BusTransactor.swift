import Platform

/// Timing and robustness settings of a `BusTransactor`.
public struct TransactionConfiguration: Sendable, Equatable {
    /// How long an attempt waits for all its replies after the request was written (ns).
    /// The SDKs use `10000/baud·bytes + 34 ms`; a bus with latency_timer 1 and return delay 0
    /// answers a 6-servo sync read in ~2 ms, so 20 ms is generous without hiding faults.
    public var timeoutNanoseconds: UInt64 = 20_000_000
    /// Attempts after the first when one times out.
    public var retries = 0
    /// After a timeout (or leftover bytes), the line must stay quiet this long before the next
    /// request is written; bytes arriving meanwhile are discarded and restart the wait. A late
    /// reply slower than timeout + settle cannot be told from a fresh one (neither protocol has
    /// sequence numbers), so this bounds the stale-reply window (hardware-notes §5 pitfall 4).
    public var settleNanoseconds: UInt64 = 20_000_000
    /// The longest settle wait, so a chattering line cannot stall the bus forever (ns).
    public var maximumSettleNanoseconds: UInt64 = 200_000_000
    /// The adapter echoes what it transmits (some one-wire hacks): the echoed request is
    /// consumed before framing (Feetech cannot tell an echo from a reply; hardware-notes §5.5).
    public var adapterEchoes = false
    /// Receive buffer size: the largest total reply of one transaction plus noise.
    public var receiveCapacity = 4096

    public init() {}
}

/// What one call of `transact` achieved.
public enum TransactionOutcome: Sendable, Equatable {
    /// Every expected reply arrived, in order, from the expected ids.
    case complete
    /// The last attempt's deadline passed with only `received` of the expected replies; those
    /// are readable with `withReply` (validity is explicit, never a cached value).
    case timedOut(received: Int)
}

/// The protocol-agnostic transaction layer: one request out, its replies in.
///
/// Every attempt (1) waits for the line to settle if the previous attempt timed out or left
/// bytes behind, (2) discards pending input, (3) writes the whole request, (4) reads until the
/// framer has found one reply per expected id, in order, or the deadline passes. Replies from
/// other ids are dropped and counted. So a reply that arrives late is never taken for the
/// answer to the next request (the stale-reply bug of dynamixel-sdk ≤ 4.0.4 and
/// feetech-servo-sdk 1.0.0, hardware-notes §0.4) as long as it is later by less than
/// timeout + settle.
///
/// One thread uses a transactor at a time. The receive buffer is allocated once.
public final class BusTransactor<Framer: ReplyFramer> {
    public let transport: any SerialTransport
    public private(set) var framer: Framer
    public var configuration: TransactionConfiguration
    public private(set) var health = BusHealth()

    private let buffer: UnsafeMutableRawBufferPointer
    /// Replies of the last attempt: (start, length) into `buffer`. Capacity reserved up front.
    private var replies: [(start: Int, length: Int)] = []
    /// The line may still carry bytes of an earlier exchange; settle before writing.
    private var unsettled = false
    /// When the last byte arrived (or the attempt ended) while unsettled.
    private var lastActivity: UInt64 = 0

    /// - Parameters:
    ///   - transport: an open port; the transactor uses it exclusively from now on.
    ///   - framer: the protocol's reply framer.
    ///   - configuration: timeouts, retries, settle time.
    public init(transport: any SerialTransport, framer: Framer, configuration: TransactionConfiguration = .init()) {
        precondition(configuration.receiveCapacity > 0, "receiveCapacity must be positive")
        self.transport = transport
        self.framer = framer
        self.configuration = configuration
        buffer = .allocate(byteCount: configuration.receiveCapacity, alignment: 16)
        replies.reserveCapacity(256)
    }

    deinit { buffer.deallocate() }

    /// The number of replies of the last attempt that `withReply` can read.
    public var replyCount: Int { replies.count }

    /// Lends reply `index` (0-based, in request order) of the last attempt.
    /// - Note: The bytes stay valid until the next `transact`.
    public func withReply<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        precondition(index >= 0 && index < replies.count, "reply \(index) of \(replies.count)")
        let r = replies[index]
        let bytes = UnsafeBufferPointer(rebasing: buffer.bindMemory(to: UInt8.self)[r.start..<(r.start + r.length)])
        return try body(bytes)
    }

    /// Reply `index` copied into an array (tools and tests; allocates).
    public func reply(_ index: Int) -> [UInt8] { withReply(index) { Array($0) } }

    /// Sends `request` and collects one reply per id in `expectedIDs`, in that order (a sync
    /// read of ids 1…6 expects `[1, 2, 3, 4, 5, 6]`; a fast sync read `[0xFE]`; a sync write or a
    /// broadcast write `[]`, which only writes).
    /// - Returns: `.complete`, or `.timedOut(received:)` after the last retry.
    /// - Throws: `SerialTransportError` when the port fails (vanished, write timeout); the bus
    ///   is then unusable until reopened.
    /// - Note: Allocates nothing after `init` on success or timeout (errors carry strings). It
    ///   blocks in `poll` up to `timeoutNanoseconds` per attempt, plus the settle wait after a
    ///   failed one: call it from the bus's own thread at the servo rate, never from the 1 kHz
    ///   tick.
    public func transact(_ request: [UInt8], expectedIDs: [UInt8]) throws(SerialTransportError) -> TransactionOutcome {
        health.transactions += 1
        var attempt = 0
        while true {
            let outcome: TransactionOutcome
            do throws(SerialTransportError) {
                outcome = try attemptOnce(request, expectedIDs: expectedIDs)
            } catch {
                health.transportErrors += 1
                unsettled = true
                throw error
            }
            if outcome == .complete {
                health.completed += 1
                return outcome
            }
            health.timeouts += 1
            if attempt >= configuration.retries {
                health.failures += 1
                return outcome
            }
            attempt += 1
            health.retries += 1
        }
    }

    /// Sends `request` and keeps every valid reply, from any id, that arrives within
    /// `windowNanoseconds` (up to `maximumReplies`): a broadcast ping, where the servos present
    /// are what the caller wants to learn. The window always runs to its end unless
    /// `maximumReplies` arrive first; replies are readable with `withReply`, in arrival order.
    /// - Returns: the number of replies.
    /// - Throws: `SerialTransportError` when the port fails.
    public func collect(_ request: [UInt8], windowNanoseconds: UInt64, maximumReplies: Int) throws(SerialTransportError) -> Int {
        health.transactions += 1
        do throws(SerialTransportError) {
            _ = try attemptOnce(request, expectedIDs: [], collecting: (windowNanoseconds, max(0, maximumReplies)))
        } catch {
            health.transportErrors += 1
            unsettled = true
            throw error
        }
        health.completed += 1
        return replies.count
    }

    private func attemptOnce(
        _ request: [UInt8], expectedIDs: [UInt8], collecting: (window: UInt64, limit: Int)? = nil
    ) throws(SerialTransportError) -> TransactionOutcome {
        replies.removeAll(keepingCapacity: true)
        if unsettled { try settle() }
        try transport.discardInput()
        let writeDeadline = MonotonicClock.now() &+ configuration.timeoutNanoseconds
        // withUnsafeBytes is `rethrows` (untyped): carry the typed error out in a Result.
        let written: Result<Void, SerialTransportError> = request.withUnsafeBytes { bytes in
            do throws(SerialTransportError) {
                try transport.write(bytes, deadlineNanoseconds: writeDeadline)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try written.get()
        let deadline = MonotonicClock.now() &+ (collecting?.window ?? configuration.timeoutNanoseconds)
        let wanted = collecting?.limit ?? expectedIDs.count
        if wanted == 0 { return .complete }

        let bytes = buffer.bindMemory(to: UInt8.self)
        var echoLeft = configuration.adapterEchoes ? request.count : 0
        var start = 0  // first unconsumed byte
        var end = 0  // one past the last received byte
        var keep = 0  // bytes [0, keep) hold accepted replies and must not move
        while true {
            // Frame everything received so far.
            while start < end && replies.count < wanted {
                if echoLeft > 0 {
                    let echoed = request.count - echoLeft
                    if bytes[start] == request[echoed] {
                        start += 1
                        echoLeft -= 1
                        continue
                    }
                    echoLeft = 0  // not an echo after all: let the framer judge these bytes
                }
                let view = UnsafeBufferPointer(rebasing: bytes[start..<end])
                switch framer.frame(view) {
                case .needMore:
                    break
                case .garbage(let skip):
                    let n = min(max(skip, 1), end - start)
                    health.garbageBytes += n
                    start += n
                    continue
                case .complete(let length, let id):
                    guard length > 0 && length <= end - start else {
                        // A framer bug must not trap the daemon: treat the byte as noise.
                        health.garbageBytes += 1
                        start += 1
                        continue
                    }
                    if collecting != nil || id == expectedIDs[replies.count] {
                        if start != keep {
                            // Keep accepted replies contiguous at the front of the buffer.
                            UnsafeMutableRawBufferPointer(rebasing: buffer[keep..<(keep + length)])
                                .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + length)]))
                        }
                        replies.append((keep, length))
                        keep += length
                    } else {
                        health.unexpectedReplies += 1
                    }
                    start += length
                    continue
                }
                break
            }
            if replies.count == wanted {
                if start < end {
                    // More than the expected replies: someone else's bytes are on the line.
                    health.discardedBytes += end - start
                    markUnsettled()
                }
                return .complete
            }
            // Compact the unconsumed tail behind the accepted replies, then read more.
            if start > keep {
                let pending = end - start
                if pending > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: buffer[keep..<(keep + pending)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[start..<end]))
                }
                start = keep
                end = keep + pending
            }
            if end == buffer.count {
                // A "reply" longer than the buffer cannot be ours: drop its first byte and reframe.
                health.garbageBytes += 1
                start += 1
                continue
            }
            let n = try transport.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]), deadlineNanoseconds: deadline)
            if n == 0 {
                if collecting != nil {
                    // The window ended: a partial reply left behind belongs to nobody.
                    if start < end { markUnsettled() }
                    return .complete
                }
                markUnsettled()
                return .timedOut(received: replies.count)
            }
            end += n
        }
    }

    private func markUnsettled() {
        unsettled = true
        lastActivity = MonotonicClock.now()
    }

    /// Waits until the line has been quiet for `settleNanoseconds`, discarding what arrives.
    private func settle() throws(SerialTransportError) {
        let limit = lastActivity &+ configuration.maximumSettleNanoseconds
        var quietUntil = lastActivity &+ configuration.settleNanoseconds
        let scratch = UnsafeMutableRawBufferPointer(rebasing: buffer[0...])
        while true {
            let n = try transport.read(into: scratch, deadlineNanoseconds: min(quietUntil, limit))
            if n == 0 { break }
            health.discardedBytes += n
            let now = MonotonicClock.now()
            if now >= limit { break }
            quietUntil = now &+ configuration.settleNanoseconds
        }
        unsettled = false
    }
}
