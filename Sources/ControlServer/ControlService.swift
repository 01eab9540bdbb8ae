import ControlPorts
import ControlProtocol
import Control
import ControlRuntime
import Glibc
import NIOCore
import NIOPosix
import Platform

/// The protocol's methods (docs/protocol.md), registered by family: status, timing and
/// configuration (`ControlService+Status`), motion (`+Motion`), telemetry (`+Telemetry`), the
/// policy (`+Policy`) and the learned model (`+Model`). Handlers decode typed params
/// (ControlProtocol), call the loop and the ports, and encode typed results here, in the server.
/// Called on the server's event loop only.
final class ControlService {
    struct Method {
        var role: Role
        var handler: (ControlService, Params, Connection) throws(RPCError) -> EventLoopFuture<JSONValue>
    }

    /// Per-connection state the methods see.
    final class Connection {
        let uid: uid_t
        let gid: gid_t
        let pid: pid_t
        let role: Role
        var subscriptionRate: Int?
        var subscriptionID = 0
        /// The descriptor the server received for the request being called (`{"fd": true}`),
        /// taken by the file method.
        var receivedFile: OwnedDescriptor?
        /// Starts or changes the telemetry stream; nil stops it (set by the server).
        var onSubscriptionChange: (Connection) -> Void = { _ in }

        init(uid: uid_t, gid: gid_t, pid: pid_t, role: Role) {
            self.uid = uid
            self.gid = gid
            self.pid = pid
            self.role = role
        }

        /// The descriptor received for this request, if any; the connection keeps no reference.
        func takeReceivedFile() -> OwnedDescriptor? {
            defer { receivedFile = nil }
            return receivedFile
        }
    }

    let access: LoopAccess
    let info: DaemonInfo
    let broker: CommandBroker
    let eventLoop: EventLoop
    let logLevel: LogLevelControl
    /// Where blocking file work runs (`FileAccess`), never on the event loop.
    let files: NIOThreadPool
    private var methods: [String: Method] = [:]
    var nextSubscription = 1
    /// The mode `teleop.takeover` left, which `teleop.handback` returns to; any `mode.set` forgets it.
    var takeoverFrom: Mode?
    /// A leader-arm takeover's mode switch is on its way (`watchForTakeover`).
    var takeoverInFlight = false

    /// The methods that read or write a file; they take `{"fd": true}` (the descriptor comes over
    /// the socket, docs/protocol.md "Files") or a `"path"` inside data_directory.
    static let fileMethods: [String: FileAccess.Purpose] = [
        ControlMethod.policyLoad: .read, ControlMethod.modelLoad: .read, ControlMethod.modelSave: .write,
    ]

    init(access: LoopAccess, info: DaemonInfo, eventLoop: EventLoop, logLevel: LogLevelControl, files: NIOThreadPool) {
        self.files = files
        self.access = access
        self.info = info
        self.eventLoop = eventLoop
        self.logLevel = logLevel
        broker = CommandBroker(access: access, eventLoop: eventLoop)
        registerBuiltins()
    }

    /// Adds a method. Later features register theirs the same way (`mpc.*`, `model.*`, …).
    func register(_ name: String, role: Role, _ handler: @escaping (ControlService, Params, Connection) throws(RPCError) -> EventLoopFuture<JSONValue>) {
        methods[name] = Method(role: role, handler: handler)
    }

    func register(_ name: String, role: Role, sync handler: @escaping (ControlService, Params, Connection) throws(RPCError) -> JSONValue) {
        register(name, role: role) { (s, p, c) throws(RPCError) in s.eventLoop.makeSucceededFuture(try handler(s, p, c)) }
    }

    var methodNames: [String] { methods.keys.sorted() }

    func requiredRole(_ method: String) -> Role? { methods[method]?.role }

    func call(_ request: RPCRequest, connection: Connection) -> EventLoopFuture<JSONValue> {
        guard let m = methods[request.method] else {
            return eventLoop.makeFailedFuture(RPCError.methodNotFound(request.method))
        }
        guard connection.role >= m.role else {
            return eventLoop.makeFailedFuture(RPCError.notPermitted(method: request.method, role: connection.role, required: m.role))
        }
        do {
            return try m.handler(self, Params(request.params, method: request.method), connection)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    // MARK: - Methods

    private func registerBuiltins() {
        registerStatusMethods()
        registerTelemetryMethods()
        registerMotionMethods()
        registerPolicyMethods()
        registerModelMethods()
        registerCalibrationMethods()
        registerRecordingMethods()
        registerTeleopMethods()
    }

    /// Sends a command and turns the loop's answer into the mode after it (`ModeResult` for
    /// `mode.set`, `estop`, `reset`), or a protocol error when the loop refused.
    func command(_ make: (UInt64) -> LoopCommand) -> EventLoopFuture<JSONValue> {
        commandMode(make).map { ModeResult(mode: "\($0)").json }
    }

    /// Sends a command; the future holds the mode after it, or fails with the protocol error
    /// that says why the loop refused.
    func commandMode(_ make: (UInt64) -> LoopCommand) -> EventLoopFuture<Mode> {
        broker.send(make).assumeIsolated().flatMapThrowing { r in
            if r.accepted { return r.mode }
            let t = self.access.telemetry()
            if r.mode == .faulted || r.mode == .estop {
                let why = r.mode == .estop ? "estop" : (t.hasFault ? "\(t.fault)" : "fault")
                throw RPCError.fault("refused: the arm is \(r.mode) (\(why)); send reset first", fault: why)
            }
            let message = switch r.reason {
            case .noPlan: "no valid plan to follow: set a target with target.set first"
            case .noPolicy: "no policy loaded: send policy.load first"
            case .invalidTarget: "the control loop refused the target (outside the limits)"
            case .refusedInMode, .none: "refused by the control loop in mode \(r.mode)"
            }
            throw RPCError.wrongMode(message, mode: "\(r.mode)")
        }.nonisolated()
    }

    /// Blocking file work (`FileAccess`) on the file thread pool; the future completes on the
    /// event loop.
    func onFileThread<T: Sendable>(_ body: @escaping @Sendable () throws(RPCError) -> T) -> EventLoopFuture<T> {
        files.runIfActive(eventLoop: eventLoop) { try body() }
    }

    /// The current mode's name, for `wrong mode` errors.
    var currentMode: String { "\(access.telemetry().mode)" }
}
