import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that can go wrong talking to robotd, each with the exit code `robotctl` ends with.
/// The codes follow sysexits(3) where one fits; they are listed in `Robotctl`'s discussion.
enum ClientError: Error {
    /// The socket path cannot be used at all (e.g. longer than `sun_path`). Exit 64.
    case usage(String)
    /// Nothing answers at the path: missing file, refused, connect timeout. Exit 69.
    case unreachable(path: String, reason: String)
    /// Connected, but the daemon hung up (or the connection broke) before the reply. Exit 69.
    case connectionLost(path: String, reason: String)
    /// EACCES/EPERM when connecting. Exit 77.
    case permissionDenied(path: String, reason: String)
    /// The daemon answered the request with a JSON-RPC error. Exit 77 for -32001, else 1.
    case rpc(method: String, code: Int, message: String, data: String?)
    /// No reply (or telemetry sample) within the timeout. Exit 1.
    case timeout(method: String, seconds: Double)
    /// The daemon sent something that is not valid JSON-RPC 2.0. Exit 70.
    case protocolError(String)

    static let notPermittedCode = -32001

    var exitCode: Int32 {
        switch self {
        case .usage: return 64
        case .unreachable, .connectionLost: return 69
        case .permissionDenied: return 77
        case .rpc(_, let code, _, _): return code == ClientError.notPermittedCode ? 77 : 1
        case .timeout: return 1
        case .protocolError: return 70
        }
    }

    /// The message for stderr, without the trailing newline.
    var message: String {
        switch self {
        case .usage(let text):
            return "robotctl: \(text)"
        case .unreachable(let path, let reason):
            return "robotctl: cannot connect to robotd at \(path): \(reason) (is robotd running? set --socket or ROBOTD_SOCKET)"
        case .connectionLost(let path, let reason):
            return "robotctl: lost the connection to robotd at \(path): \(reason)"
        case .permissionDenied(let path, let reason):
            return "robotctl: permission denied on \(path): \(reason) (ask for membership in the socket's group)"
        case .rpc(let method, let code, let message, let data):
            var text = "robotctl: \(method) failed: \(message) (code \(code))"
            if let data { text += "\nrobotctl: error data: \(data)" }
            return text
        case .timeout(let method, let seconds):
            return "robotctl: \(method) failed: timed out after \(Format.seconds(seconds)) s waiting for robotd (see --timeout)"
        case .protocolError(let text):
            return "robotctl: protocol error: \(text)"
        }
    }
}

/// A blocking JSON-RPC 2.0 client over robotd's Unix stream socket: one JSON object per line.
///
/// Request ids count up from 1 per connection. Notifications (objects with `method` and no `id`)
/// that arrive while a reply is awaited are skipped by `call`; `nextNotification` returns them.
final class RPCClient {
    let path: String
    let timeout: Double
    private var fd: Int32 = -1
    private var nextID = 1
    private var buffer: [UInt8] = []
    /// Longest line accepted from the daemon; anything longer is not a reply robotd would send.
    private let maxLineBytes = 16 << 20

    init(path: String, timeout: Double) throws(ClientError) {
        self.path = path
        self.timeout = timeout
        try connectSocket()
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    // MARK: requests

    /// Sends `method` with `params` (a JSON object or array, or nil for none) and returns the
    /// `result` of the matching reply (possibly `NSNull`).
    func call(_ method: String, _ params: Any? = nil) throws(ClientError) -> Any {
        let id = nextID
        nextID += 1
        var request: [String: Any] = ["jsonrpc": "2.0", "id": id, "method": method]
        if let params { request["params"] = params }
        guard let data = try? JSONSerialization.data(withJSONObject: request, options: [.sortedKeys]) else {
            throw .usage("cannot encode the params of \(method) as JSON")
        }
        try send(Array(data) + [UInt8(ascii: "\n")], method: method)

        let deadline = Self.now() + timeout
        while true {
            let message = try readMessage(deadline: deadline, waited: timeout, method: method)
            if Self.isNotification(message) { continue }
            return try Self.result(of: message, id: id, method: method)
        }
    }

    /// Calls a file method with the file itself (docs/protocol.md, "Files"): sends the request
    /// with `"fd": true`, waits for the daemon's `fd.expect` for this id, sends one byte carrying
    /// `descriptor` (SCM_RIGHTS), and returns the reply's result. The daemon reads or writes
    /// exactly the file this process opened, never a path of its own choosing.
    func call(_ method: String, _ params: [String: Any], passing descriptor: Int32) throws(ClientError) -> Any {
        let id = nextID
        nextID += 1
        var withFD = params
        withFD["fd"] = true
        let request: [String: Any] = ["jsonrpc": "2.0", "id": id, "method": method, "params": withFD]
        guard let data = try? JSONSerialization.data(withJSONObject: request, options: [.sortedKeys]) else {
            throw .usage("cannot encode the params of \(method) as JSON")
        }
        try send(Array(data) + [UInt8(ascii: "\n")], method: method)
        let deadline = Self.now() + timeout
        var sent = false
        while true {
            let message = try readMessage(deadline: deadline, waited: timeout, method: method)
            if Self.isNotification(message) {
                if !sent, message["method"] as? String == "fd.expect",
                   let expected = (message["params"] as? [String: Any])?["id"], Format.double(expected) == Double(id) {
                    try sendDescriptor(descriptor, method: method)
                    sent = true
                }
                continue
            }
            return try Self.result(of: message, id: id, method: method)
        }
    }

    /// One byte with an SCM_RIGHTS control message holding `descriptor`. The cmsghdr is laid out
    /// by hand (CMSG_* are C macros): size_t cmsg_len = CMSG_LEN(4), int level, int type, the
    /// descriptor, padded to CMSG_SPACE(4).
    private func sendDescriptor(_ descriptor: Int32, method: String) throws(ClientError) {
        let header = MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size
        let space = (header + 4 + 7) & ~7
        var control = [UInt8](repeating: 0, count: space)
        control.withUnsafeMutableBytes { c in
            c.storeBytes(of: header + 4, toByteOffset: 0, as: Int.self)
            c.storeBytes(of: SOL_SOCKET, toByteOffset: MemoryLayout<Int>.size, as: Int32.self)
            c.storeBytes(of: Int32(1) /* SCM_RIGHTS */, toByteOffset: MemoryLayout<Int>.size + 4, as: Int32.self)
            c.storeBytes(of: descriptor, toByteOffset: header, as: Int32.self)
        }
        var byte: UInt8 = 0
        var result: Int
        repeat {
            result = withUnsafeMutablePointer(to: &byte) { b in
                control.withUnsafeMutableBytes { c in
                    var iov = iovec(iov_base: UnsafeMutableRawPointer(b), iov_len: 1)
                    return withUnsafeMutablePointer(to: &iov) { iovPointer in
                        var msg = msghdr()
                        msg.msg_iov = iovPointer
                        msg.msg_iovlen = 1
                        msg.msg_control = c.baseAddress
                        msg.msg_controllen = c.count
                        #if canImport(Glibc)
                        return sendmsg(fd, &msg, Int32(MSG_NOSIGNAL))
                        #else
                        return sendmsg(fd, &msg, 0)
                        #endif
                    }
                }
            }
        } while result < 0 && errno == EINTR
        if result != 1 {
            throw .connectionLost(path: path, reason: "passing the file to \(method): \(Self.errorText(errno))")
        }
    }

    /// Waits up to `seconds` for the next notification and returns its `method` and `params`.
    /// A JSON-RPC error that arrives instead is thrown (e.g. *busy* before the daemon hangs up).
    func nextNotification(within seconds: Double, waitingFor what: String) throws(ClientError) -> (method: String, params: Any?) {
        let message = try readMessage(deadline: Self.now() + seconds, waited: seconds, method: what)
        if Self.isNotification(message), let method = message["method"] as? String {
            return (method, message["params"])
        }
        if message["error"] != nil {
            _ = try Self.result(of: message, id: nil, method: what)
        }
        throw .protocolError("unexpected message while waiting for \(what): \(Self.excerpt(JSONText.compact(message)))")
    }

    // MARK: JSON-RPC validation

    private static func isNotification(_ message: [String: Any]) -> Bool {
        message["method"] != nil && message["id"] == nil
    }

    /// Checks that `message` is a JSON-RPC 2.0 response to request `id` and returns its result.
    private static func result(of message: [String: Any], id: Int?, method: String) throws(ClientError) -> Any {
        guard message["jsonrpc"] as? String == "2.0" else {
            throw .protocolError("reply to \(method) is not JSON-RPC 2.0 (no \"jsonrpc\": \"2.0\"): \(excerpt(JSONText.compact(message)))")
        }
        guard let replyID = message["id"] else {
            throw .protocolError("reply to \(method) has no id: \(excerpt(JSONText.compact(message)))")
        }
        let hasResult = message["result"] != nil
        let hasError = message["error"] != nil
        guard hasResult != hasError else {
            throw .protocolError("reply to \(method) must have exactly one of result and error: \(excerpt(JSONText.compact(message)))")
        }
        if replyID is NSNull {
            // A reply the daemon could not tie to a request (parse error, busy before close): only errors.
            guard hasError else { throw .protocolError("reply to \(method) has a null id but no error") }
        } else if let id {
            guard let number = Format.double(replyID), number == Double(id) else {
                throw .protocolError("reply id \(JSONText.compact(replyID)) does not match request id \(id) (\(method))")
            }
        }
        if hasError {
            guard let error = message["error"] as? [String: Any],
                  let code = Format.int(error["code"]),
                  let text = error["message"] as? String
            else {
                throw .protocolError("malformed error object in reply to \(method): \(excerpt(JSONText.compact(message["error"] ?? NSNull())))")
            }
            let data = error["data"].flatMap { $0 is NSNull ? nil : JSONText.compact($0) }
            throw .rpc(method: method, code: code, message: text, data: data)
        }
        return message["result"]!
    }

    // MARK: socket

    private func connectSocket() throws(ClientError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty else { throw .usage("the socket path is empty") }
        guard pathBytes.count < capacity else {
            throw .usage("socket path is longer than \(capacity - 1) bytes: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }

        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw .unreachable(path: path, reason: "socket(): \(Self.errorText(errno))") }
        self.fd = fd
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        // SO_SNDTIMEO also bounds a blocking connect() on a Unix socket whose backlog is full.
        setTimeout(SO_SNDTIMEO, timeout)
        setTimeout(SO_RCVTIMEO, timeout)

        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        var result: Int32
        repeat {
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
            }
        } while result != 0 && errno == EINTR
        if result != 0 {
            let code = errno
            switch code {
            case EACCES, EPERM:
                throw .permissionDenied(path: path, reason: Self.errorText(code))
            case EAGAIN, EINPROGRESS, ETIMEDOUT:
                throw .unreachable(path: path, reason: "connect timed out after \(Format.seconds(timeout)) s")
            default:
                throw .unreachable(path: path, reason: Self.errorText(code))
            }
        }
    }

    private func setTimeout(_ option: Int32, _ seconds: Double) {
        // Int(_:) traps beyond Int.max; no timeout needs more than the --timeout maximum.
        let clamped = min(max(seconds, 0.001), GlobalOptions.maxTimeout)
        var tv = timeval()
        tv.tv_sec = Int(clamped.rounded(.down))
        tv.tv_usec = max(Int((clamped - clamped.rounded(.down)) * 1_000_000), 0)
        if tv.tv_sec == 0 && tv.tv_usec == 0 { tv.tv_usec = 1000 }
        _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func send(_ bytes: [UInt8], method: String) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                #if canImport(Glibc)
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                #else
                Darwin.send(fd, raw.baseAddress! + offset, raw.count - offset, 0)
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
    private func reportPendingReply(method: String) throws(ClientError) {
        let wait = min(timeout, 1)
        guard let message = try? readMessage(deadline: Self.now() + wait, waited: wait, method: method),
              !Self.isNotification(message), message["error"] != nil
        else { return }
        _ = try Self.result(of: message, id: nil, method: method)
    }

    /// Reads the next non-blank line and parses it as a JSON object.
    private func readMessage(deadline: Double, waited: Double, method: String) throws(ClientError) -> [String: Any] {
        while true {
            var line = try readLine(deadline: deadline, waited: waited, method: method)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed]) else {
                throw .protocolError("robotd sent a line that is not JSON: \(Self.excerpt(String(decoding: line, as: UTF8.self)))")
            }
            guard let message = object as? [String: Any] else {
                throw .protocolError("robotd sent JSON that is not an object: \(Self.excerpt(String(decoding: line, as: UTF8.self)))")
            }
            return message
        }
    }

    private func readLine(deadline: Double, waited: Double, method: String) throws(ClientError) -> [UInt8] {
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
            let remaining = deadline - Self.now()
            guard remaining > 0 else { throw .timeout(method: method, seconds: waited) }
            setTimeout(SO_RCVTIMEO, remaining)
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[..<n])
            } else if n == 0 {
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

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    private static func excerpt(_ text: String, limit: Int = 200) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }
}

/// JSON text for output: sorted keys, no escaped slashes.
enum JSONText {
    static func pretty(_ value: Any) -> String {
        render(value, [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    }

    static func compact(_ value: Any) -> String {
        render(value, [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    }

    private static func render(_ value: Any, _ options: JSONSerialization.WritingOptions) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: options) else {
            return String(describing: value)
        }
        return String(decoding: data, as: UTF8.self)
    }
}
