import ControlProtocol
import ControlRuntime
import ControlSocket
import Foundation
import Logging
import NIOCore
import NIOPosix
import Platform

/// The control socket (docs/protocol.md): JSON-RPC 2.0 lines on a Unix stream socket, served by
/// one SwiftNIO event-loop thread (all connection state lives on it, so nothing is locked).
/// Never on the control thread's path: commands go through the loop's bounded queue, queries
/// read seqlock snapshots, and a slow client loses telemetry samples, not the daemon's memory.
public final class ControlServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var path: String
        public var mode: Int
        public var group: String?
        /// The general pool, shared by every peer.
        public var maxConnections: Int
        /// Connections one non-operator uid may hold: one peer cannot fill the general pool.
        public var maxConnectionsPerUID = 16
        /// Connections only operators may take once the general pool is full, so that `estop`
        /// stays reachable whatever other peers hold.
        public var operatorReservedConnections = 8
        /// Seconds after which a connection with no request in flight, no request received and
        /// no telemetry subscription is closed (after a final `closing` notification).
        public var idleTimeout = 300.0
        public var maxRequestsPerSecond: Int
        /// The control thread's CPU when it is pinned (`loop.cpu_affinity`): the event loop then
        /// runs on every other CPU the process may use, so serving the socket never takes the
        /// tick's CPU (whatever the scheduler granted the control thread).
        public var loopCPU: Int?
        /// Longest request line (bytes, without the newline).
        /// 1 MiB: the documented 10 000-waypoint `target.set` path must fit in one line.
        public var maxLineLength = 1024 * 1024

        public init(path: String, mode: Int = 0o660, group: String? = nil, maxConnections: Int = 64, maxRequestsPerSecond: Int = 1000,
                    maxConnectionsPerUID: Int = 16, operatorReservedConnections: Int = 8, idleTimeout: Double = 300,
                    loopCPU: Int? = nil) {
            self.loopCPU = loopCPU
            self.path = path
            self.mode = mode
            self.group = group
            self.maxConnections = maxConnections
            self.maxConnectionsPerUID = maxConnectionsPerUID
            self.operatorReservedConnections = operatorReservedConnections
            self.idleTimeout = idleTimeout
            self.maxRequestsPerSecond = maxRequestsPerSecond
        }
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    public let options: Options
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    /// Blocking file work (`FileAccess`): receiving descriptors, reading and writing models.
    private let files = NIOThreadPool(numberOfThreads: 2)
    private var acceptor: Acceptor?
    private let access: LoopAccess
    private let info: DaemonInfo
    private let policy: AccessPolicy
    private let logger: Logger
    /// Whether this process created the socket file (and so removes it).
    private var ownsSocketFile = false

    public init(options: Options, access: LoopAccess, info: DaemonInfo, policy: AccessPolicy, logger: Logger) {
        self.options = options
        self.access = access
        self.info = info
        self.policy = policy
        self.logger = logger
    }

    /// Serves on `listenDescriptor` (socket activation) or creates the socket file at
    /// `options.path` after checking its directory. Returns once listening.
    public func start(listenDescriptor: Int32? = nil) throws {
        files.start()
        let eventLoop = group.next()
        let state = try eventLoop.submit { [access, info, policy, logger, options, files] in
            if let cpus = Self.serverCPUs(loopCPU: options.loopCPU, allowed: RealtimeThread.currentThreadCPUs()),
               let refused = RealtimeThread.setCurrentThreadCPUs(cpus) {
                logger.warning("control socket: CPU affinity \(cpus) (off the control thread's) refused: \(refused)")
            }
            return NIOLoopBound(ServerState(access: access, info: info, policy: policy, logger: logger, options: options,
                                            eventLoop: eventLoop, files: files), eventLoop: eventLoop)
        }.wait()
        let listening: Int32
        if let fd = listenDescriptor {
            listening = fd
        } else {
            try SocketFile.prepare(path: options.path)
            listening = try Self.listen(path: options.path)
            ownsSocketFile = true
            try SocketFile.setPermissions(path: options.path, mode: options.mode, group: options.group)
        }
        _ = fcntl(listening, F_SETFL, fcntl(listening, F_GETFL) | O_NONBLOCK)
        _ = fcntl(listening, F_SETFD, FD_CLOEXEC)
        do {
            acceptor = try Acceptor(listening: listening, logger: logger) { [options] connection, side in
                ClientBootstrap(group: eventLoop)
                    .channelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let handler = ConnectionHandler(state: state.value, side: side)
                            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLength: options.maxLineLength)))
                            try channel.pipeline.syncOperations.addHandler(handler)
                        }
                    }
                    .withConnectedSocket(connection)
            }
        } catch {
            throw StartError("control socket: cannot start accepting connections: \(error)")
        }
        if let fd = listenDescriptor {
            logger.info("control socket adopted from the service manager (socket activation)", metadata: ["fd": "\(fd)"])
        } else {
            logger.info("control socket listening", metadata: ["path": "\(options.path)", "socket_mode": "0\(String(options.mode, radix: 8))"])
        }
    }

    /// The CPUs the event loop runs on: every allowed CPU but the control thread's; nil (leave
    /// the mask alone) when the loop is not pinned or no other CPU is left.
    static func serverCPUs(loopCPU: Int?, allowed: [Int]) -> [Int]? {
        guard let loopCPU else { return nil }
        let others = allowed.filter { $0 != loopCPU }
        return others.isEmpty ? nil : others
    }

    /// A listening Unix stream socket at `path` (checked by `SocketFile.prepare`).
    static func listen(path: String) throws -> Int32 {
        let address: UnixSocketAddress
        do {
            address = try UnixSocketAddress(path: path)
        } catch {
            throw StartError("socket.path: \(error)")
        }
        let fd = UnixSocketAddress.streamSocket()
        guard fd >= 0 else { throw StartError("socket.path: cannot create a socket: \(String(cString: strerror(errno)))") }
        guard address.bind(fd) == 0, Glibc.listen(fd, 128) == 0 else {
            let e = errno
            close(fd)
            throw StartError("socket.path: cannot listen on \(path): \(String(cString: strerror(e)))")
        }
        return fd
    }

    /// Closes the listening socket and every connection; removes the socket file if this
    /// process created it (a socket passed by systemd stays: robotd.socket owns it).
    public func shutdown() {
        acceptor?.stop()
        acceptor = nil
        try? group.syncShutdownGracefully()
        try? files.syncShutdownGracefully()
        if ownsSocketFile {
            unlink(options.path)
            ownsSocketFile = false
        }
    }
}

/// Checks around the socket file: its directory must not be writable by others (someone could
/// replace the socket), a stale file from a crashed daemon is removed, a live one is not.
public enum SocketFile {
    public static func prepare(path: String) throws {
        guard path.utf8.count <= UnixSocketAddress.maxPathBytes else {
            throw ControlServer.StartError("socket.path: \(path) is longer than a Unix socket path may be (\(UnixSocketAddress.maxPathBytes) bytes)")
        }
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            } catch {
                throw ControlServer.StartError("socket.path: cannot create directory \(directory): \(error.localizedDescription)")
            }
        }
        var st = stat()
        guard stat(directory, &st) == 0 else {
            throw ControlServer.StartError("socket.path: cannot stat directory \(directory): \(String(cString: strerror(errno)))")
        }
        if st.st_mode & S_IWOTH != 0 {
            throw ControlServer.StartError(
                "socket.path: refusing to start: directory \(directory) is writable by others (mode 0\(String(st.st_mode & 0o7777, radix: 8))); another user could replace the control socket. Use a private directory (e.g. chmod o-w \(directory)) or set socket.path")
        }
        var fst = stat()
        guard lstat(path, &fst) == 0 else { return }
        guard fst.st_mode & S_IFMT == S_IFSOCK else {
            throw ControlServer.StartError("socket.path: \(path) exists and is not a socket; refusing to replace it")
        }
        if isListening(path) {
            throw ControlServer.StartError("socket.path: another process (robotd already running?) listens on \(path)")
        }
        unlink(path)
    }

    static func isListening(_ path: String) -> Bool {
        guard let address = try? UnixSocketAddress(path: path) else { return false }
        let fd = UnixSocketAddress.streamSocket()
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return address.connect(fd) == 0
    }

    static func setPermissions(path: String, mode: Int, group: String?) throws {
        if let group {
            guard let g = getgrnam(group) else {
                throw ControlServer.StartError("socket.group: no group named \"\(group)\" on this machine")
            }
            guard chown(path, uid_t.max, g.pointee.gr_gid) == 0 else {
                throw ControlServer.StartError("socket.group: cannot give \(path) to group \(group): \(String(cString: strerror(errno)))")
            }
        }
        guard chmod(path, mode_t(mode)) == 0 else {
            throw ControlServer.StartError("socket.mode: cannot chmod \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// One line of input: a request, or a line over the limit that was discarded as it arrived.
enum Frame {
    case line(ByteBuffer)
    case tooLong(Int)
}

/// Splits the stream at `\n` (dropping a `\r` before it). A line longer than `maxLength` is
/// never accumulated: its bytes are discarded as they come and one `.tooLong` is emitted at its end.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame
    let maxLength: Int
    private var discarding = false
    private var discarded = 0

    init(maxLength: Int) { self.maxLength = maxLength }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if discarding || buffer.readableBytes > maxLength {
                discarded += buffer.readableBytes
                discarding = true
                buffer.moveReaderIndex(to: buffer.writerIndex)
            }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        // The limit applies to the request, not to a CR of a CRLF ending.
        let hasCR = length > 0 && buffer.getInteger(at: newline - 1, as: UInt8.self) == UInt8(ascii: "\r")
        if discarding || length - (hasCR ? 1 : 0) > maxLength {
            buffer.moveReaderIndex(forwardBy: length + 1)
            let total = discarded + length
            discarding = false
            discarded = 0
            context.fireChannelRead(NIOAny(Frame.tooLong(total)))
            return .continue
        }
        var line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        if line.readableBytes > 0, line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        context.fireChannelRead(NIOAny(Frame.line(line)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial last line (no newline before EOF) is not a request.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}

/// One client: requests in order (one in flight at a time), rate limit, telemetry stream.
final class ConnectionHandler: ChannelInboundHandler, TelemetryReceiver {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer

    private let state: ServerState
    private var context: ChannelHandlerContext?
    private var connection: ControlService.Connection?
    private var queue = CircularBuffer<Frame>()
    private var inFlight = false
    private var lineNumber = 0
    private var tokens: Double
    private var lastRefill = NIODeadline.now()
    private var refused = false
    private var readingPaused = false
    /// Owned by `state.telemetry`.
    var telemetrySlot: TelemetryHub.Slot?
    private var dropped: UInt64 = 0
    /// Inside a read burst (`channelRead` … `channelReadComplete`): replies are written and
    /// flushed together at its end, one write per wake-up instead of one per reply.
    private var reading = false
    private var unflushed = false
    /// Lines queued while a request is in flight before reading from the socket pauses.
    static let maxQueued = 64
    /// The pool this connection was admitted to, released when it closes.
    private var admission: (ServerState.Admission, uid_t, Role)?
    private var lastActivity = NIODeadline.now()
    private var idleTask: Scheduled<Void>?
    /// Clamped before the conversion: Int64(_:) traps beyond Int64.max (the config allows
    /// 0.1…86400 s, but Options is public).
    private var idleTimeout: TimeAmount { .nanoseconds(Int64(min(max(state.options.idleTimeout, 0.001), 1e9) * 1e9)) }

    /// A duplicate of this connection's descriptor, for receiving passed files (`Acceptor`).
    private var side: OwnedDescriptor?
    /// Reading stays paused while a passed descriptor is awaited on `side`.
    private var awaitingDescriptor = false

    init(state: ServerState, side: OwnedDescriptor? = nil) {
        self.state = state
        self.side = side
        tokens = Double(state.options.maxRequestsPerSecond)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        guard let provider = context.channel as? SocketOptionProvider else {
            identify(uid: uid_t.max, gid: gid_t.max, pid: 0)
            return
        }
        let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        future.assumeIsolated().whenComplete { [self] result in
            switch result {
            case let .success(cred): identify(uid: cred.uid, gid: cred.gid, pid: cred.pid)
            case let .failure(error):
                state.logger.warning("control socket: SO_PEERCRED failed (\(error)); treating the peer as unprivileged")
                identify(uid: uid_t.max, gid: gid_t.max, pid: 0)
            }
        }
    }

    private func identify(uid: uid_t, gid: gid_t, pid: pid_t) {
        guard let context else { return }
        let role = uid == uid_t.max ? Role.none : state.policy.role(uid: uid, gid: gid)
        let admission = state.admit(uid: uid, role: role)
        if case let .refused(why) = admission {
            refused = true
            queue.removeAll()
            state.logger.warning("control socket: connection refused: \(why)", metadata: ["uid": "\(uid)", "pid": "\(pid)", "role": "\(role)"])
            write(RPCResponse.error(id: nil, .busy(why, retryAfterMs: 1000)))
            context.close(promise: nil)
            return
        }
        self.admission = (admission, uid, role)
        let c = ControlService.Connection(uid: uid, gid: gid, pid: pid, role: role)
        c.onSubscriptionChange = { [weak self] c in self?.subscriptionChanged(c) }
        connection = c
        state.logger.debug("control socket: connection", metadata: ["uid": "\(uid)", "pid": "\(pid)", "role": "\(role)"])
        lastActivity = .now()
        scheduleIdleCheck(at: lastActivity + idleTimeout)
        processQueue()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let (admission, uid, role) = admission { state.release(admission, uid: uid, role: role) }
        admission = nil
        idleTask?.cancel()
        idleTask = nil
        state.telemetry.unsubscribe(self)
        connection?.onSubscriptionChange = { _ in }
        connection?.receivedFile = nil
        connection = nil
        // The duplicate keeps the socket open: the peer sees EOF only once it is closed too.
        side = nil
        queue.removeAll()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        reading = true
        queue.append(unwrapInboundIn(data))
        if queue.count >= Self.maxQueued { pauseReading() }
        processQueue()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if unflushed {
            unflushed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // A client that does not read its replies stops being read: memory stays bounded.
        if context.channel.isWritable { resumeReadingIfIdle() } else { pauseReading() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        state.logger.debug("control socket: connection error: \(error)")
        context.close(promise: nil)
    }

    private func pauseReading() {
        guard !readingPaused, let context else { return }
        readingPaused = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
    }

    private func resumeReadingIfIdle() {
        guard readingPaused, !awaitingDescriptor, queue.count < Self.maxQueued / 2, let context, context.channel.isWritable else { return }
        readingPaused = false
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
    }

    private func processQueue() {
        while !inFlight, let connection, context != nil, let frame = queue.popFirst() {
            handle(frame, connection: connection)
        }
        resumeReadingIfIdle()
    }

    /// An idle connection (no request for `idle_timeout`, none in flight, no telemetry
    /// subscription) is told why and closed: idle peers must not hold slots for ever.
    private func scheduleIdleCheck(at deadline: NIODeadline) {
        guard let eventLoop = context?.eventLoop else { return }
        idleTask?.cancel()
        idleTask = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            guard let context, let connection else { return }
            let due = lastActivity + idleTimeout
            if inFlight || connection.subscriptionRate != nil || due > .now() {
                scheduleIdleCheck(at: max(due, .now() + idleTimeout))
                return
            }
            state.logger.info("control socket: closing an idle connection", metadata: ["uid": "\(connection.uid)", "pid": "\(connection.pid)"])
            write(RPCResponse.notification(method: ControlMethod.closing, params: [
                "reason": .string("idle for \(state.options.idleTimeout) s with no request and no telemetry subscription (socket.idle_timeout)"),
            ]))
            context.close(promise: nil)
        }
    }

    private func handle(_ frame: Frame, connection: ControlService.Connection) {
        lineNumber += 1
        lastActivity = .now()
        let line: ByteBuffer
        switch frame {
        case let .tooLong(n):
            write(RPCResponse.error(id: nil, .invalidRequest("invalid request: line \(lineNumber) is \(n) bytes, over the \(state.options.maxLineLength)-byte limit; discarded")))
            return
        case let .line(l): line = l
        }
        if line.readableBytes == 0 || line.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
        switch RPCRequest.decode(line.readableBytesView, lineNumber: lineNumber) {
        case let .failure(bad):
            write(RPCResponse.error(id: bad.id, idLexeme: bad.idLexeme, bad.error))
        case let .success(request):
            if let wait = takeToken() {
                if let id = request.id {
                    write(RPCResponse.error(id: id, idLexeme: request.idLexeme, .busy("rate limit: \(state.options.maxRequestsPerSecond) requests/s per connection", retryAfterMs: wait)))
                }
                return
            }
            inFlight = true
            if let purpose = ControlService.fileMethods[request.method], FileParams.passesDescriptor(request.params),
               connection.role >= state.service.requiredRole(request.method) ?? .operator, let side {
                receiveDescriptor(for: request, purpose: purpose, on: side, connection: connection)
                return
            }
            respond(to: request, with: state.service.call(request, connection: connection), connection: connection)
        }
    }

    /// The `{"fd": true}` handshake (docs/protocol.md, "Files"): reading from the socket stops
    /// (synchronously, before the client can act), `fd.expect` tells the client to send one byte
    /// carrying the descriptor, a file thread receives it on `side` with recvmsg, and only then
    /// does reading resume and the method run. NIO never reads the byte, so it never drops the
    /// descriptor.
    private func receiveDescriptor(for request: RPCRequest, purpose: FileAccess.Purpose, on side: OwnedDescriptor,
                                   connection: ControlService.Connection) {
        guard let context else { return }
        awaitingDescriptor = true
        if !readingPaused {
            readingPaused = true
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        }
        write(RPCResponse.notification(method: ControlMethod.fdExpect, params: ["id": request.id ?? .null]))
        let name = request.params["name"]?.stringValue ?? "the passed file"
        let received = state.files.runIfActive(eventLoop: context.eventLoop) { () throws -> OwnedDescriptor in
            let file = try FileAccess.receiveDescriptor(on: side.fd)
            try FileAccess.check(file, name: name, for: purpose)
            return file
        }
        received.assumeIsolated().whenComplete { [self] result in
            awaitingDescriptor = false
            // The peer left meanwhile: nothing to answer, and the file is not touched.
            guard self.context != nil else { return }
            resumeReadingIfIdle()
            switch result {
            case let .success(file):
                connection.receivedFile = file
                respond(to: request, with: state.service.call(request, connection: connection), connection: connection)
            case let .failure(error):
                respond(to: request, with: context.eventLoop.makeFailedFuture(error), connection: connection)
            }
        }
    }

    private func respond(to request: RPCRequest, with future: EventLoopFuture<JSONValue>, connection: ControlService.Connection) {
        future.assumeIsolated().whenComplete { [self] result in
            inFlight = false
            connection.receivedFile = nil
            lastActivity = .now()
            guard context != nil else { return }
            switch result {
            case let .success(value):
                if let id = request.id { write(RPCResponse.result(id: id, idLexeme: request.idLexeme, value)) }
            case let .failure(error):
                let rpc = error as? RPCError ?? .internalError("internal error: \(error)")
                if rpc.code == .notPermitted {
                    state.logger.warning("control socket: \(request.method) refused for uid \(connection.uid) (role \(connection.role))",
                                         metadata: ["uid": "\(connection.uid)", "method": "\(request.method)"])
                }
                if let id = request.id { write(RPCResponse.error(id: id, idLexeme: request.idLexeme, rpc)) }
            }
            processQueue()
        }
    }

    /// Token bucket (rate = burst = max_requests_per_second). nil when a token was taken, else
    /// the milliseconds until one is available.
    private func takeToken() -> Int? {
        let rate = Double(state.options.maxRequestsPerSecond)
        let now = NIODeadline.now()
        tokens = min(rate, tokens + Double((now - lastRefill).nanoseconds) * 1e-9 * rate)
        lastRefill = now
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        return max(1, Int(((1 - tokens) / rate * 1000).rounded(.up)))
    }

    private func write(_ line: [UInt8]) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: line.count + 1)
        buffer.writeBytes(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        send(buffer, context: context)
    }

    private func send(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        if reading {
            context.write(wrapOutboundOut(buffer), promise: nil)
            unflushed = true
        } else {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }

    // MARK: Telemetry

    private func subscriptionChanged(_ c: ControlService.Connection) {
        if let rate = c.subscriptionRate, context != nil {
            state.telemetry.subscribe(self, rateHz: rate)
        } else {
            state.telemetry.unsubscribe(self)
        }
    }

    /// One sample: the shared line with this connection's `dropped` and `subscription` spliced in,
    /// copied once into its send buffer. A connection whose buffer is full skips it (`dropped`).
    func receive(_ line: TelemetryLine) {
        guard let context, let connection else { return }
        guard context.channel.isWritable else {
            dropped += 1
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: line.maximumLength + 1)
        buffer.writeBytes(line.head)
        TelemetryLine.withDigits(of: Int(clamping: dropped)) { _ = buffer.writeBytes($0) }
        buffer.writeBytes(line.middle)
        TelemetryLine.withDigits(of: connection.subscriptionID) { _ = buffer.writeBytes($0) }
        buffer.writeBytes(line.tail)
        buffer.writeInteger(UInt8(ascii: "\n"))
        send(buffer, context: context)
    }
}
