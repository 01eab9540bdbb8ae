import ControlProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking JSON-RPC 2.0 client over robotd's Unix stream socket: one JSON object per line.
///
/// Request ids count up from 1 per connection. Notifications (objects with `method` and no `id`)
/// that arrive while a reply is awaited are skipped by `call`; `nextNotification` returns them.
/// Every system call retries on `EINTR`; the socket is close-on-exec; sends never raise SIGPIPE.
///
/// Messages are `JSONValue`s, parsed and printed by ControlProtocol (sorted keys, bounded
/// nesting). The raw operations (`sendRaw`, `readLine`, `readMessage`, `reply(to:)`) exist for
/// the socket tests and the benchmark, which speak malformed or hand-built lines on purpose.
///
/// - Warning: Not thread-safe: one thread owns a client at a time.
public final class ControlClient {
    /// Longest timeout accepted (seconds); larger values are clamped before reaching `timeval`.
    public static let maxTimeout = 1_000_000.0

    public let path: String
    /// Seconds allowed for the connect, each send and each reply.
    public let timeout: Double
    /// The daemon closed the connection (a read returned end of stream).
    public private(set) var sawEndOfStream = false
    private var fd: Int32 = -1
    private var nextID = 1
    private var buffer: [UInt8] = []
    /// Longest line accepted from the daemon; anything longer is not a reply robotd would send.
    private let maxLineBytes = 16 << 20

    /// Connects to the daemon at `path`.
    /// - Parameters:
    ///   - path: the socket file (at most `UnixSocketAddress.maxPathBytes` bytes).
    ///   - timeout: seconds for the connect (a full backlog) and, by default, each reply.
    /// - Throws: `.usage` for an unusable path, `.permissionDenied`, or `.unreachable`.
    public init(path: String, timeout: Double) throws(ControlClientError) {
        self.path = path
        self.timeout = timeout
        let address: UnixSocketAddress
        do {
            address = try UnixSocketAddress(path: path)
        } catch {
            throw .usage(error.description)
        }
        let fd = UnixSocketAddress.streamSocket()
        guard fd >= 0 else { throw .unreachable(path: path, reason: "socket(): \(Self.errorText(errno))") }
        self.fd = fd
        // SO_SNDTIMEO also bounds a blocking connect() on a Unix socket whose backlog is full.
        setTimeout(SO_SNDTIMEO, timeout)
        setTimeout(SO_RCVTIMEO, timeout)
        if address.connect(fd) != 0 {
            let code = errno
            switch code {
            case EACCES, EPERM:
                throw .permissionDenied(path: path, reason: Self.errorText(code))
            case EAGAIN, EINPROGRESS, ETIMEDOUT:
                throw .unreachable(path: path, reason: "connect timed out after \(Self.seconds(timeout)) s")
            default:
                throw .unreachable(path: path, reason: Self.errorText(code))
            }
        }
    }

    deinit { close() }

    /// Closes the connection; later calls fail with `.connectionLost`. Idempotent.
    public func close() {
        guard fd >= 0 else { return }
        _ = system_close(fd)
        fd = -1
    }

    // MARK: requests

    /// Sends `method` with `params` (a JSON object or array, or nil for none) and returns the
    /// `result` of the matching reply (possibly `.null`).
    /// - Throws: `.rpc` when the daemon answers with an error; transport and protocol errors.
    public func call(_ method: String, _ params: JSONValue? = nil) throws(ControlClientError) -> JSONValue {
        let id = try request(method, params)
        return try Self.result(of: reply(to: id, method: method), id: id, method: method)
    }

    /// Calls a file method with the file itself (docs/protocol.md, "Files"): sends the request
    /// with `"fd": true`, waits for the daemon's `fd.expect` for this id, sends one byte carrying
    /// `descriptor` (SCM_RIGHTS), and returns the reply's result. The daemon reads or writes
    /// exactly the file this process opened, never a path of its own choosing.
    public func call(_ method: String, _ params: [String: JSONValue], passing descriptor: Int32) throws(ControlClientError) -> JSONValue {
        var withFD = params
        withFD["fd"] = true
        let id = try request(method, .object(withFD))
        let deadline = Self.now() + timeout
        var sent = false
        while true {
            let message = try readMessage(deadline: deadline, waited: timeout, method: method)
            if Self.isNotification(message) {
                if !sent, message["method"] == .string(ControlMethod.fdExpect),
                   let expected = message["params"]?["id"], Self.number(expected) == Double(id) {
                    try sendDescriptor(descriptor, method: method)
                    sent = true
                }
                continue
            }
            return try Self.result(of: message, id: id, method: method)
        }
    }

    /// Sends a request with the next id (or a notification, without one) and returns the id.
    @discardableResult
    public func request(_ method: String, _ params: JSONValue? = nil, notification: Bool = false) throws(ControlClientError) -> Int {
        let id = nextID
        nextID += 1
        try send(RPCRequestLine.encode(method: method, params: params, id: notification ? nil : id) + [UInt8(ascii: "\n")], method: method)
        return id
    }

    /// The next message that is not a notification, unchecked: the reply to request `id` as the
    /// daemon sent it, error or result. Waits at most `seconds` (default: `timeout`).
    /// - Throws: `.protocolError` when its id is another request's; transport errors.
    public func reply(to id: Int, method: String, within seconds: Double? = nil) throws(ControlClientError) -> JSONValue {
        let waited = seconds ?? timeout
        let deadline = Self.now() + waited
        while true {
            let message = try readMessage(deadline: deadline, waited: waited, method: method)
            if Self.isNotification(message) { continue }
            if let replyID = message["id"], replyID != .null, Self.number(replyID) != Double(id) {
                throw .protocolError("reply id \(replyID.serialized) does not match request id \(id) (\(method))")
            }
            return message
        }
    }

    /// Waits up to `seconds` for the next notification and returns its `method` and `params`.
    /// A JSON-RPC error that arrives instead is thrown (e.g. *busy* before the daemon hangs up).
    public func nextNotification(within seconds: Double, waitingFor what: String) throws(ControlClientError) -> (method: String, params: JSONValue?) {
        let message = try readMessage(deadline: Self.now() + seconds, waited: seconds, method: what)
        if Self.isNotification(message), let method = message["method"]?.stringValue {
            return (method, message["params"])
        }
        if message["error"] != nil {
            _ = try Self.result(of: message, id: nil, method: what)
        }
        throw .protocolError("unexpected message while waiting for \(what): \(Self.excerpt(message.serialized))")
    }

    // MARK: JSON-RPC validation

    private static func isNotification(_ message: JSONValue) -> Bool {
        message["method"] != nil && message["id"] == nil
    }

    /// Checks that `message` is a JSON-RPC 2.0 response to request `id` and returns its result.
    private static func result(of message: JSONValue, id: Int?, method: String) throws(ControlClientError) -> JSONValue {
        guard message["jsonrpc"] == .string("2.0") else {
            throw .protocolError("reply to \(method) is not JSON-RPC 2.0 (no \"jsonrpc\": \"2.0\"): \(excerpt(message.serialized))")
        }
        guard let replyID = message["id"] else {
            throw .protocolError("reply to \(method) has no id: \(excerpt(message.serialized))")
        }
        let hasResult = message["result"] != nil
        let hasError = message["error"] != nil
        guard hasResult != hasError else {
            throw .protocolError("reply to \(method) must have exactly one of result and error: \(excerpt(message.serialized))")
        }
        if replyID == .null {
            // A reply the daemon could not tie to a request (parse error, busy before close): only errors.
            guard hasError else { throw .protocolError("reply to \(method) has a null id but no error") }
        } else if let id {
            guard let number = Self.number(replyID), number == Double(id) else {
                throw .protocolError("reply id \(replyID.serialized) does not match request id \(id) (\(method))")
            }
        }
        if let result = message["result"] { return result }
        let errorObject = message["error"] ?? .null
        guard case .object = errorObject, let error = RPCError(json: errorObject) else {
            throw .protocolError("malformed error object in reply to \(method): \(excerpt(errorObject.serialized))")
        }
        throw .rpc(method: method, error)
    }

    /// A JSON number (not a boolean) as a Double.
    static func number(_ value: JSONValue?) -> Double? {
        value?.doubleValue
    }

    // MARK: socket

    /// One byte with an SCM_RIGHTS control message holding `descriptor`.
    private func sendDescriptor(_ descriptor: Int32, method: String) throws(ControlClientError) {
        var control = ControlMessages.rights(holding: descriptor)
        var byte: UInt8 = 0
        var result: Int
        repeat {
            result = ControlMessages.withOneByteMessage(&byte, control: &control) { msg, _ in
                #if canImport(Glibc)
                sendmsg(fd, &msg, Int32(MSG_NOSIGNAL))
                #else
                sendmsg(fd, &msg, 0)
                #endif
            }
        } while result < 0 && errno == EINTR
        if result != 1 {
            throw .connectionLost(path: path, reason: "passing the file to \(method): \(Self.errorText(errno))")
        }
    }

    private func setTimeout(_ option: Int32, _ seconds: Double) {
        // Int(_:) traps beyond Int.max; no timeout needs more than `maxTimeout`.
        let clamped = min(max(seconds, 0.001), Self.maxTimeout)
        var tv = timeval()
        tv.tv_sec = Int(clamped.rounded(.down))
        tv.tv_usec = max(Int((clamped - clamped.rounded(.down)) * 1_000_000), 0)
        if tv.tv_sec == 0 && tv.tv_usec == 0 { tv.tv_usec = 1000 }
        _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes all of `bytes` as they are (no newline added); `method` names the write in errors.
    /// When the daemon hung up first and said why (*busy*), that error is thrown.
    public func sendRaw(_ bytes: [UInt8], method: String = "the request") throws(ControlClientError) {
        try send(bytes, method: method)
    }

    private func send(_ bytes: [UInt8], method: String) throws(ControlClientError) {
        guard fd >= 0 else { throw .connectionLost(path: path, reason: "sending \(method): the client closed it") }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                #if canImport(Glibc)
                Glibc.send(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset, Int32(MSG_NOSIGNAL))
                #else
                Darwin.send(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset, 0)
                #endif
            }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { throw .timeout(method: method, seconds: timeout) }
                if code == EPIPE || code == ECONNRESET { try reportPendingReply(method: method) }
                throw .connectionLost(path: path, reason: "sending \(method): \(Self.errorText(code))")
            }
            offset += n
        }
    }

    /// The daemon hung up before reading our request; it may have said why first (*busy* when
    /// its connection pools are full). Throws that error when it did; returns otherwise.
    private func reportPendingReply(method: String) throws(ControlClientError) {
        let wait = min(timeout, 1)
        guard let message = try? readMessage(deadline: Self.now() + wait, waited: wait, method: method),
              !Self.isNotification(message), message["error"] != nil
        else { return }
        _ = try Self.result(of: message, id: nil, method: method)
    }

    /// Reads the next non-blank line within `seconds` and parses it as a JSON object.
    public func readMessage(within seconds: Double, waitingFor what: String) throws(ControlClientError) -> JSONValue {
        try readMessage(deadline: Self.now() + seconds, waited: seconds, method: what)
    }

    private func readMessage(deadline: Double, waited: Double, method: String) throws(ControlClientError) -> JSONValue {
        while true {
            var line = try readLine(deadline: deadline, waited: waited, method: method)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard let message = try? JSONValue.parse(line) else {
                throw .protocolError("robotd sent a line that is not JSON: \(Self.excerpt(String(decoding: line, as: UTF8.self)))")
            }
            guard case .object = message else {
                throw .protocolError("robotd sent JSON that is not an object: \(Self.excerpt(String(decoding: line, as: UTF8.self)))")
            }
            return message
        }
    }

    /// The next line as sent (without its `\n`), waiting at most `seconds`.
    /// - Throws: `.timeout`, `.connectionLost` (also at end of stream), `.protocolError` for a
    ///   line longer than 16 MiB.
    public func readLine(within seconds: Double, waitingFor what: String) throws(ControlClientError) -> [UInt8] {
        try readLine(deadline: Self.now() + seconds, waited: seconds, method: what)
    }

    private func readLine(deadline: Double, waited: Double, method: String) throws(ControlClientError) -> [UInt8] {
        var scanned = 0
        while true {
            if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            scanned = buffer.count
            guard buffer.count <= maxLineBytes else {
                throw .protocolError("robotd sent a line longer than \(maxLineBytes) bytes")
            }
            guard fd >= 0, !sawEndOfStream else {
                throw .connectionLost(path: path, reason: "robotd closed it while waiting for \(method)")
            }
            let remaining = deadline - Self.now()
            guard remaining > 0 else { throw .timeout(method: method, seconds: waited) }
            setTimeout(SO_RCVTIMEO, remaining)
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[..<n])
            } else if n == 0 {
                sawEndOfStream = true
                throw .connectionLost(path: path, reason: "robotd closed it while waiting for \(method)")
            } else {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK {
                    if Self.now() >= deadline { throw .timeout(method: method, seconds: waited) }
                    continue
                }
                throw .connectionLost(path: path, reason: "reading the reply to \(method): \(Self.errorText(code))")
            }
        }
    }

    // MARK: helpers

    /// Monotonic seconds (`CLOCK_MONOTONIC`).
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// `strerror(code)`.
    public static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// Seconds for messages: whole numbers without a fraction, others rounded to three decimals
    /// without trailing zeros (`%.3f` trimmed: "0.5", "2.25").
    public static func seconds(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
        let millis = (abs(x) * 1000).rounded()
        guard x.isFinite, millis < 9e15 else { return x.description }
        let m = Int(millis)
        var text = (x < 0 && m > 0 ? "-" : "") + String(m / 1000)
        var fraction = String(m % 1000)
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        if !fraction.isEmpty { text += "." + fraction }
        return text
    }

    private static func excerpt(_ text: String, limit: Int = 200) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }
}

private func system_close(_ fd: Int32) -> Int32 {
    close(fd)
}
