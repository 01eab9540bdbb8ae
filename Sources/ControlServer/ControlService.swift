import ControlProtocol
import Control
import ControlRuntime
import Learning
import ModelFiles
import Foundation
import NIOCore
import NIOPosix
import Platform
import RobotdConfig
import Synchronization

/// Static facts about the running daemon, for `hello`, `status` and parameter checks.
public struct DaemonInfo: Sendable {
    public var version: String
    public var robot: String
    public var jointNames: [String]
    public var rateHz: Int
    public var driver: String
    public var endEffectorFrame: String
    /// Limiter bounds, to name the joint of an out-of-range `move` target.
    public var lowerLimits: [Double]
    public var upperLimits: [Double]
    /// Effort limits (N·m), to judge what gravity does to an unpowered arm.
    public var effortLimits: [Double]
    /// The limiter's velocity limits (rad/s), to refuse moves too fast to follow.
    public var velocityLimits: [Double]
    public var modes: [Mode]
    public var daemonUID: uid_t

    public init(version: String, robot: String, jointNames: [String], rateHz: Int, driver: String, endEffectorFrame: String,
                lowerLimits: [Double], upperLimits: [Double], effortLimits: [Double] = [], velocityLimits: [Double] = [],
                modes: [Mode], daemonUID: uid_t = getuid()) {
        self.effortLimits = effortLimits
        self.velocityLimits = velocityLimits
        self.version = version
        self.robot = robot
        self.jointNames = jointNames
        self.rateHz = rateHz
        self.driver = driver
        self.endEffectorFrame = endEffectorFrame
        self.lowerLimits = lowerLimits
        self.upperLimits = upperLimits
        self.modes = modes
        self.daemonUID = daemonUID
    }
}

/// Faults seen since start (most recent 16), written by the supervisor, read by `status`.
public final class FaultLog: Sendable {
    public struct Entry: Sendable, Equatable {
        public var reason: String
        public var tick: UInt64
        public var loopTime: Double
        public var flightRecorder: String?
    }

    private let entries = Mutex<[Entry]>([])
    public static let capacity = 16

    public init() {}

    public func append(reason: String, tick: UInt64, loopTime: Double) {
        entries.withLock {
            $0.append(Entry(reason: reason, tick: tick, loopTime: loopTime))
            if $0.count > Self.capacity { $0.removeFirst($0.count - Self.capacity) }
        }
    }

    /// Attaches the dump's path to the newest fault.
    public func attachFlightRecorder(_ path: String) {
        entries.withLock { e in
            if !e.isEmpty, e[e.count - 1].flightRecorder == nil { e[e.count - 1].flightRecorder = path }
        }
    }

    public var all: [Entry] { entries.withLock { $0 } }

    /// The newest unrequested fall back to `hold` (from `mpc` or `policy`) and why, for `status`.
    public struct Fallback: Sendable, Equatable {
        public var from: String
        public var reason: String
        public var loopTime: Double
        public var count: UInt64

        public init(from: String, reason: String, loopTime: Double, count: UInt64) {
            self.from = from
            self.reason = reason
            self.loopTime = loopTime
            self.count = count
        }
    }

    private let fallback = Mutex<Fallback?>(nil)

    public func recordFallback(_ f: Fallback) { fallback.withLock { $0 = f } }

    public var lastFallback: Fallback? { fallback.withLock { $0 } }
}

/// The MPC planner as the socket sees it (implemented by the daemon's planner).
public protocol TargetPlanner: AnyObject, Sendable {
    /// Sets a target: `position` (m, base frame) with optional `orientation` (w, x, y, z), or
    /// `joints` (rad); `duration` (s) spreads the approach. Throws a message naming the problem.
    func setTarget(position: [Double]?, orientation: [Double]?, joints: [Double]?, duration: Double?) throws
    /// Sets a closed end-effector path (waypoints in m, base frame) traversed once per `period`
    /// seconds, again and again. Throws a message naming the problem.
    func setPath(waypoints: [[Double]], period: Double) throws
    func clearTarget()
    /// Planner state for `status` (`loopTime` = the loop's current time, for plan ages).
    func statusJSON(loopTime: Double) -> JSONValue
    /// The learned model's largest ensemble disagreement along the newest plan (0 with the
    /// rigid-body model), and the model version the planner uses — for every telemetry sample.
    var planDisagreement: Double { get }
    var modelVersion: Int { get }
}

/// The learned-model side of the daemon (`model.*`), implemented by its learner thread.
public protocol ModelControl: AnyObject, Sendable {
    /// Starts a training round now (asynchronously).
    func train()
    /// Back to the previous model version; throws when there is none.
    func rollback() throws(RPCError) -> JSONValue
    /// Back to the rigid-body model alone (asynchronously).
    func resetModel()
    func statusJSON() -> JSONValue
    /// The published model as safetensors bytes (the socket's `FileAccess` writes them);
    /// throws a message when there is none.
    func encodedModel() throws -> (bytes: [UInt8], members: Int, version: Int)
    /// Checks a decoded model file and queues it as the next version; `name` for messages.
    func load(file: SafeTensors.File, name: String) throws -> JSONValue
}

/// What the server may touch of the control loop: readers of its seqlocks, the command queue
/// and the results ring (whose single consumer is the server's event loop).
public struct LoopAccess: @unchecked Sendable {
    public var telemetry: () -> TelemetrySnapshot
    public var statistics: () -> LoopStatistics
    public var send: (LoopCommand) -> Bool
    public var nextResult: () -> LoopCommandResult?
    public var achieved: RealtimeThread.Achieved
    public var faults: FaultLog
    public var configuration: DaemonConfiguration
    public var configPath: String
    /// Monotonic seconds at start (for `uptime_s`).
    public var startedAt: Double
    /// The MPC planner, when the daemon runs one.
    public var planner: TargetPlanner?
    /// Where `policy.load` puts policies, when the loop offers `policy`.
    public var policies: PolicySlot?
    /// The learner, when `learning.enabled`.
    public var models: ModelControl?
    /// The torque gravity puts on each joint at the measured pose (N·m), to refuse an `idle` that
    /// would let the arm fall; nil when the daemon cannot tell.
    public var gravityTorque: (() -> [Double])?

    public init(telemetry: @escaping () -> TelemetrySnapshot, statistics: @escaping () -> LoopStatistics,
                send: @escaping (LoopCommand) -> Bool, nextResult: @escaping () -> LoopCommandResult?,
                achieved: RealtimeThread.Achieved, faults: FaultLog, configuration: DaemonConfiguration,
                configPath: String, startedAt: Double, planner: TargetPlanner? = nil, policies: PolicySlot? = nil,
                models: ModelControl? = nil, gravityTorque: (() -> [Double])? = nil) {
        self.models = models
        self.gravityTorque = gravityTorque
        self.planner = planner
        self.policies = policies
        self.telemetry = telemetry
        self.statistics = statistics
        self.send = send
        self.nextResult = nextResult
        self.achieved = achieved
        self.faults = faults
        self.configuration = configuration
        self.configPath = configPath
        self.startedAt = startedAt
    }
}

/// Sends commands to the control loop and matches its answers by id. Runs on one event loop:
/// that loop is the results ring's only consumer, polling it while answers are outstanding.
final class CommandBroker {
    private let access: LoopAccess
    private let eventLoop: EventLoop
    private var pending: [UInt64: (deadline: NIODeadline, promise: EventLoopPromise<LoopCommandResult>)] = [:]
    private var nextID: UInt64 = 1
    private var polling = false
    static let timeout = TimeAmount.seconds(1)

    init(access: LoopAccess, eventLoop: EventLoop) {
        self.access = access
        self.eventLoop = eventLoop
    }

    /// The loop's answer, or `busy` when the queue is full or no answer came within 1 s.
    func send(_ make: (UInt64) -> LoopCommand) -> EventLoopFuture<LoopCommandResult> {
        eventLoop.preconditionInEventLoop()
        let id = nextID
        nextID += 1
        guard access.send(make(id)) else {
            return eventLoop.makeFailedFuture(RPCError.busy("the control loop's command queue is full; retry", retryAfterMs: 10))
        }
        let promise = eventLoop.makePromise(of: LoopCommandResult.self)
        pending[id] = (.now() + Self.timeout, promise)
        if !polling {
            polling = true
            schedulePoll()
        }
        return promise.futureResult
    }

    private func schedulePoll() {
        eventLoop.assumeIsolated().scheduleTask(in: .microseconds(250)) { [self] in poll() }
    }

    private func poll() {
        while let r = access.nextResult() {
            if let p = pending.removeValue(forKey: r.id) { p.promise.succeed(r) }
        }
        let now = NIODeadline.now()
        for (id, p) in pending where p.deadline < now {
            pending[id] = nil
            p.promise.fail(RPCError.busy("the control loop did not answer within 1 s"))
        }
        if pending.isEmpty { polling = false } else { schedulePoll() }
    }
}

/// The protocol's methods (docs/protocol.md). Called on the server's event loop only.
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
    }

    let access: LoopAccess
    let info: DaemonInfo
    let broker: CommandBroker
    let eventLoop: EventLoop
    let logLevel: LogLevelControl
    /// Where blocking file work runs (`FileAccess`), never on the event loop.
    let files: NIOThreadPool
    private var methods: [String: Method] = [:]
    private var nextSubscription = 1

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
        register(ControlMethod.hello, role: .none, sync: { (s, p, c) throws(RPCError) in try p.allowOnly([]); return s.hello(c) })
        register(ControlMethod.status, role: .observer, sync: { (s, p, _) throws(RPCError) in try p.allowOnly([]); return s.status() })
        register(ControlMethod.timing, role: .observer, sync: { (s, p, _) throws(RPCError) in try p.allowOnly([]); return s.timing() })
        register(ControlMethod.configGet, role: .observer, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            var o = ConfigJSON.encode(s.access.configuration)
            if case var .object(d) = o { d["config_file"] = .string(s.access.configPath); o = .object(d) }
            return o
        })
        register(ControlMethod.telemetrySubscribe, role: .observer, sync: { (s, p, c) throws(RPCError) in try s.subscribe(p, c) })
        register(ControlMethod.telemetryUnsubscribe, role: .observer, sync: { (_, p, c) throws(RPCError) in
            try p.allowOnly([])
            c.subscriptionRate = nil
            c.onSubscriptionChange(c)
            return ["subscribed": false]
        })
        register(ControlMethod.logSetLevel, role: .operator, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly(["level"])
            let name = try p.string("level")
            guard let previous = s.logLevel.set(name) else {
                throw .invalidParams("\"level\" must be one of \(LogLevelControl.names.joined(separator: ", ")), got \"\(name)\"")
            }
            return ["level": .string(name), "previous": .string(previous)]
        })
        register(ControlMethod.modeSet, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly(["mode", "force"])
            let name = try p.string("mode")
            guard let mode = Mode(name: name) else {
                throw .invalidParams("unknown mode \"\(name)\" (modes: \(Mode.allCases.map(\.description).joined(separator: ", ")))")
            }
            if mode == .idle, try p.optionalBool("force") != true { try s.checkIdleIsSafe() }
            guard s.info.modes.contains(mode), mode != .move, mode != .faulted else {
                throw .wrongMode("mode \(name) is not available in this build (available: \(s.info.modes.map(\.description).joined(separator: ", ")); use move for joint moves)",
                                 mode: "\(s.access.telemetry().mode)")
            }
            return s.command { LoopCommand(id: $0, kind: mode == .estop ? .estop : .setMode, mode: mode) }
        }
        register(ControlMethod.move, role: .operator) { (s, p, _) throws(RPCError) in try s.move(p) }
        register(ControlMethod.targetSet, role: .operator, sync: { (s, p, _) throws(RPCError) in try s.setTarget(p) })
        register(ControlMethod.targetClear, role: .operator, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            guard s.access.planner != nil || s.access.policies != nil else {
                throw .wrongMode("this daemon runs no MPC planner (mpc.enabled is false) and offers no policy mode", mode: "\(s.access.telemetry().mode)")
            }
            s.access.planner?.clearTarget()
            s.access.policies?.setTarget(joints: nil, position: nil)
            return ["target": .null]
        })
        register(ControlMethod.policyLoad, role: .operator) { (s, p, c) throws(RPCError) in try s.loadPolicy(p, c) }
        register(ControlMethod.modelStatus, role: .observer, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            return try s.learner().statusJSON()
        })
        register(ControlMethod.modelTrain, role: .operator, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            try s.learner().train()
            return ["requested": true]
        })
        register(ControlMethod.modelRollback, role: .operator, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            return try s.learner().rollback()
        })
        register(ControlMethod.modelSave, role: .operator) { (s, p, c) throws(RPCError) in try s.saveModel(p, c) }
        register(ControlMethod.modelLoad, role: .operator) { (s, p, c) throws(RPCError) in try s.loadModel(p, c) }
        register(ControlMethod.modelReset, role: .operator, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            try s.learner().resetModel()
            return ["requested": true]
        })
        register(ControlMethod.estop, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            return s.command { LoopCommand(id: $0, kind: .estop) }
        }
        register(ControlMethod.reset, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            return s.command { LoopCommand(id: $0, kind: .reset) }
        }
    }

    /// Sends a command and turns the loop's answer into a result or a protocol error.
    func command(extra: [String: JSONValue] = [:], _ make: (UInt64) -> LoopCommand) -> EventLoopFuture<JSONValue> {
        broker.send(make).assumeIsolated().flatMapThrowing { r in
            if r.accepted {
                var o = extra
                o["mode"] = .string("\(r.mode)")
                return .object(o)
            }
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

    func hello(_ c: Connection) -> JSONValue {
        [
            "protocol": 1, "daemon": "robotd", "version": .string(info.version), "robot": .string(info.robot),
            "dof": JSONValue(info.jointNames.count), "joint_names": JSONValue(info.jointNames),
            "rate_hz": JSONValue(info.rateHz), "driver": .string(info.driver),
            "modes": JSONValue(info.modes.map(\.description)), "role": .string("\(c.role)"),
            "uid": JSONValue(c.uid), "methods": JSONValue(methodNames),
            "telemetry_max_hz": JSONValue(telemetryMaxHz),
        ]
    }

    var telemetryMaxHz: Int { min(info.rateHz, access.configuration.socket.telemetryMaxHz) }

    func status() -> JSONValue {
        let t = access.telemetry()
        let n = Int(t.dof)
        func vec(_ a: InlineArray<8, Double>) -> JSONValue { .array((0 ..< n).map { .number(a[$0]) }) }
        let r = t.endEffectorRotation
        let faults: [JSONValue] = access.faults.all.map { f in
            ["reason": .string(f.reason), "tick": JSONValue(f.tick), "loop_time_s": .number(f.loopTime),
             "flight_recorder": f.flightRecorder.map { .string($0) } ?? .null]
        }
        return [
            "mode": .string("\(t.mode)"),
            "fault": t.mode == .faulted && t.hasFault ? .string("\(t.fault)") : .null,
            "rate_hz": JSONValue(info.rateHz),
            "tick_count": JSONValue(t.tick),
            "overruns": JSONValue(t.overruns),
            "stalls": JSONValue(t.stalls), "stalled_s": .number(t.stalledTime),
            "uptime_s": .number(MonotonicClock.seconds() - access.startedAt),
            "loop_time_s": .number(t.time),
            "joints": [
                "names": JSONValue(Array(info.jointNames.prefix(n))), "q": vec(t.position), "v": vec(t.velocity),
                "effort": vec(t.effort), "command": vec(t.command),
            ],
            "end_effector": [
                "frame": .string(info.endEffectorFrame),
                "position": [.number(t.endEffectorPosition[0]), .number(t.endEffectorPosition[1]), .number(t.endEffectorPosition[2])],
                "rotation": .array((0 ..< 3).map { i in .array((0 ..< 3).map { j in .number(r[3 * i + j]) }) }),
            ],
            "faults": .array(faults),
            "last_fallback": access.faults.lastFallback.map { f in
                ["from": .string(f.from), "reason": .string(f.reason), "loop_time_s": .number(f.loopTime), "count": JSONValue(f.count)]
            } ?? .null,
            "mpc": access.planner?.statusJSON(loopTime: t.time) ?? .null,
            "policy": access.policies.map { p in p.installedName.map { .string($0) } ?? .null } ?? .null,
        ]
    }

    /// `idle` turns the actuators off: an arm that gravity pulls on falls (a 17 kg arm at about
    /// 8 rad/s). Refused while any joint carries more than 5 % of its effort limit in gravity
    /// torque at the measured pose, unless the caller confirms with `"force": true`.
    func checkIdleIsSafe() throws(RPCError) {
        let t = access.telemetry()
        // From faulted or estop the loop refuses idle itself (reset first).
        guard t.mode.isActuated, t.mode != .faulted, t.mode != .estop, let gravity = access.gravityTorque?() else { return }
        let n = min(gravity.count, info.jointNames.count, info.effortLimits.count)
        var worst: (joint: Int, ratio: Double)?
        for i in 0 ..< n where info.effortLimits[i] > 0 {
            let ratio = abs(gravity[i]) / info.effortLimits[i]
            if ratio > 0.05, ratio > (worst?.ratio ?? 0) { worst = (i, ratio) }
        }
        guard let (i, _) = worst else { return }
        let torque = (abs(gravity[i]) * 10).rounded() / 10
        throw .wrongMode("idle turns the torque off and the arm would fall: gravity pulls joint \(info.jointNames[i]) with \(torque) N·m at the measured pose. Move it to a resting pose (or support it) first, use hold or estop to stop it, or confirm with {\"mode\": \"idle\", \"force\": true} (robotctl mode idle --force)",
                         mode: "\(t.mode)")
    }

    func learner() throws(RPCError) -> ModelControl {
        guard let m = access.models else {
            throw .wrongMode("learning is off (learning.enabled in the configuration)", mode: "\(access.telemetry().mode)")
        }
        return m
    }

    // MARK: Files

    /// The file of a file method: the descriptor received for this request (`"fd": true`, with
    /// an optional `"name"` for messages), or a `"path"` inside data_directory.
    func fileSource(_ p: Params, _ c: Connection) throws(RPCError) -> FileSource {
        try p.allowOnly(["path", "fd", "name"])
        let received = c.receivedFile
        c.receivedFile = nil
        if let fd = p.value["fd"], fd != .null {
            guard fd == .bool(true) else { throw .invalidParams("\"fd\" must be true (the file comes over the socket) or absent") }
            guard p.value["path"] == nil else { throw .invalidParams("give either \"fd\" or \"path\", not both") }
            guard let received else { throw .invalidParams("\"fd\": no file descriptor was received for this request") }
            var name = "the passed file"
            if p.value["name"] != nil { name = try p.string("name") }
            return .descriptor(received, name: name)
        }
        if p.value["name"] != nil { throw .invalidParams("\"name\" labels a passed file; it goes with \"fd\": true") }
        return .path(try p.string("path"))
    }

    /// Blocking file work on the file thread pool; the future completes on the event loop.
    func onFileThread<T: Sendable>(_ body: @escaping @Sendable () throws(RPCError) -> T) -> EventLoopFuture<T> {
        files.runIfActive(eventLoop: eventLoop) { try body() }
    }

    static func readFile(_ source: FileSource, dataDirectory: String) throws(RPCError) -> [UInt8] {
        switch source {
        case let .descriptor(file, name):
            return try FileAccess.readSafeTensors(file, name: name)
        case let .path(path):
            return try FileAccess.readSafeTensors(try FileAccess.openForReading(path, dataDirectory: dataDirectory), name: path)
        }
    }

    static func decode(_ bytes: [UInt8], name: String) throws(RPCError) -> SafeTensors.File {
        do { return try SafeTensors.decode(bytes, name: name) } catch { throw .invalidParams(error.description) }
    }

    func saveModel(_ p: Params, _ c: Connection) throws(RPCError) -> EventLoopFuture<JSONValue> {
        let source = try fileSource(p, c)
        let models = try learner()
        let dataDirectory = access.configuration.dataDirectory
        return onFileThread { () throws(RPCError) -> JSONValue in
            switch source {
            case let .descriptor(file, name): try FileAccess.check(file, name: name, for: .write)
            case let .path(path): _ = try FileAccess.saveTarget(path, dataDirectory: dataDirectory)
            }
            let encoded: (bytes: [UInt8], members: Int, version: Int)
            do { encoded = try models.encodedModel() } catch let e as RPCError { throw e } catch { throw .invalidParams("\(error)") }
            switch source {
            case let .descriptor(file, name): try FileAccess.write(encoded.bytes, to: file, name: name)
            case let .path(path): try FileAccess.write(encoded.bytes, toPath: path, dataDirectory: dataDirectory)
            }
            return ["saved": .string(source.name), "members": JSONValue(encoded.members), "version": JSONValue(encoded.version)]
        }
    }

    func loadModel(_ p: Params, _ c: Connection) throws(RPCError) -> EventLoopFuture<JSONValue> {
        let source = try fileSource(p, c)
        let models = try learner()
        let dataDirectory = access.configuration.dataDirectory
        return onFileThread { () throws(RPCError) -> JSONValue in
            let file = try Self.decode(try Self.readFile(source, dataDirectory: dataDirectory), name: source.name)
            do { return try models.load(file: file, name: source.name) } catch let e as RPCError { throw e } catch { throw .invalidParams("\(error)") }
        }
    }

    /// Loads a safetensors MLP policy, checks it against this robot and hands it to the loop
    /// (adopted between ticks). Nothing changes when the file is refused.
    func loadPolicy(_ p: Params, _ c: Connection) throws(RPCError) -> EventLoopFuture<JSONValue> {
        let source = try fileSource(p, c)
        guard let slot = access.policies else { throw .wrongMode("this daemon offers no policy mode", mode: "\(access.telemetry().mode)") }
        let info = self.info
        let dataDirectory = access.configuration.dataDirectory
        let budget = (period: access.configuration.loop.period, fraction: access.configuration.policy.maxInferenceFraction)
        return onFileThread { () throws(RPCError) -> JSONValue in
            try Self.installPolicy(Self.readFile(source, dataDirectory: dataDirectory), name: source.name, info: info, slot: slot,
                                   budget: budget)
        }
    }

    /// `budget`: the loop period (s) and the fraction of it one forward pass may take, measured
    /// here on the loading thread's CPU clock.
    static func installPolicy(_ bytes: [UInt8], name path: String, info: DaemonInfo, slot: PolicySlot,
                              budget: (period: Double, fraction: Double)) throws(RPCError) -> JSONValue {
        let mlp: MLP, metadata: [String: String]
        do {
            (mlp, metadata) = try MLPFile.mlp(from: try SafeTensors.decode(bytes, name: path), name: path)
        } catch {
            throw .invalidParams("\(error)")
        }
        let n = info.jointNames.count
        let features: [PolicyFeature]
        do {
            features = try PolicyFeature.parse(metadata["observation"])
        } catch {
            throw .invalidParams("\(path): __metadata__ observation: \(error.description)")
        }
        let size = MLPPolicy.observationSize(features, dof: n)
        guard mlp.inputSize == size else {
            throw .invalidParams("\(path): the policy takes \(mlp.inputSize) inputs; its observation (\(features.map(\.rawValue).joined(separator: ", "))) is \(size) values for \(n) joints")
        }
        guard mlp.outputSize == n else {
            throw .invalidParams("\(path): the policy gives \(mlp.outputSize) actions; \(info.robot) has \(n) joints")
        }
        if let robot = metadata["robot"], robot != info.robot {
            throw .invalidParams("\(path): the policy is for robot \"\(robot)\", this daemon runs \"\(info.robot)\"")
        }
        do {
            try MLPFile.checkInferenceBudget(mlp, period: budget.period, fraction: budget.fraction, name: path)
        } catch {
            throw .invalidParams("\(error)")
        }
        slot.install(MLPPolicy(mlp: mlp, name: path, features: features, actionKind: slot.actionKind))
        return ["loaded": .string(path), "widths": .array(mlp.widths.map { JSONValue($0) }), "activation": .string(mlp.activation.rawValue),
                "observation": JSONValue(features.map(\.rawValue)),
                "robot": metadata["robot"].map { .string($0) } ?? .null, "provenance": metadata["provenance"].map { .string($0) } ?? .null]
    }

    /// `{"path": [[x, y, z], …], "period": s}`: the MPC planner tracks the closed path.
    func setPath(_ p: Params) throws(RPCError) -> JSONValue {
        guard let planner = access.planner else {
            throw .wrongMode("path targets need the MPC planner (mpc.enabled is false)", mode: "\(access.telemetry().mode)")
        }
        for key in ["position", "orientation", "q", "duration"] where p.value[key] != nil {
            throw .invalidParams("\"\(key)\" does not combine with \"path\"")
        }
        guard case let .array(items)? = p.value["path"] else { throw .invalidParams("\"path\" must be a list of [x, y, z] waypoints (m)") }
        var waypoints: [[Double]] = []
        for (i, item) in items.enumerated() {
            let point: [Double]
            if case let .array(xyz) = item, xyz.count == 3 { point = xyz.compactMap(\.doubleValue) } else { point = [] }
            guard point.count == 3 else {
                throw .invalidParams("\"path\"[\(i)] must be [x, y, z], three numbers (m)")
            }
            waypoints.append(point)
        }
        guard waypoints.count >= 3, waypoints.count <= 10_000 else {
            throw .invalidParams("\"path\" needs 3 to 10000 waypoints, got \(waypoints.count)")
        }
        guard let period = try p.optionalNumber("period"), period >= 0.1, period <= 3600 else {
            throw .invalidParams("\"period\" (s per lap) is required with a path, in [0.1, 3600]")
        }
        do {
            try planner.setPath(waypoints: waypoints, period: period)
        } catch {
            throw .invalidParams("\(error)")
        }
        let mode = access.telemetry().mode
        return ["accepted": true, "mode": .string("\(mode)"), "waypoints": JSONValue(waypoints.count),
                "hint": mode == .mpc ? .null : "send mode.set {\"mode\": \"mpc\"} to follow the path"]
    }

    func setTarget(_ p: Params) throws(RPCError) -> JSONValue {
        try p.allowOnly(["position", "orientation", "q", "duration", "path", "period"])
        let planner = access.planner
        if p.value["path"] != nil { return try setPath(p) }
        if p.value["period"] != nil { throw .invalidParams("\"period\" belongs to a \"path\" target") }
        guard planner != nil || access.policies != nil else {
            throw .wrongMode("this daemon runs no MPC planner (mpc.enabled is false) and offers no policy mode", mode: "\(access.telemetry().mode)")
        }
        let hasPosition = p.value["position"] != nil, hasJoints = p.value["q"] != nil
        guard hasPosition != hasJoints else { throw .invalidParams("give exactly one of \"position\" ([x, y, z] in m) and \"q\" (joint positions)") }
        var position: [Double]?, orientation: [Double]?, joints: [Double]?
        if hasPosition {
            position = try p.numbers("position")
            guard position!.count == 3 else { throw .invalidParams("\"position\" must have 3 values [x, y, z] (m), got \(position!.count)") }
            if p.value["orientation"] != nil {
                orientation = try p.numbers("orientation")
                guard orientation!.count == 4 else { throw .invalidParams("\"orientation\" must be a quaternion [w, x, y, z], got \(orientation!.count) values") }
            }
        } else {
            joints = try jointPositions(p)
            if p.value["orientation"] != nil { throw .invalidParams("\"orientation\" applies to position targets only") }
        }
        let duration = try moveDuration(p)
        if planner == nil, orientation != nil || duration != nil {
            throw .invalidParams("\"orientation\" and \"duration\" shape MPC plans; this daemon runs no planner (mpc.enabled is false)")
        }
        do {
            // The planner validates (workspace, limits); a refused target reaches neither.
            try planner?.setTarget(position: position, orientation: orientation, joints: joints, duration: duration)
        } catch {
            throw .invalidParams("\(error)")
        }
        // Target-conditioned policies observe the same target.
        access.policies?.setTarget(joints: joints, position: position)
        let mode = access.telemetry().mode
        return ["accepted": true, "mode": .string("\(mode)"),
                "hint": mode == .mpc || mode == .policy ? .null
                    : planner == nil ? "send mode.set {\"mode\": \"policy\"} to let a target-conditioned policy act" : "send mode.set {\"mode\": \"mpc\"} to follow the plan"]
    }

    func timing() -> JSONValue {
        let s = access.statistics()
        func q(_ h: LatencyHistogram) -> JSONValue {
            func us(_ x: UInt64) -> JSONValue { .number(Double(x) / 1000) }
            return ["p50": us(h.value(atQuantile: 0.5)), "p90": us(h.value(atQuantile: 0.9)), "p99": us(h.value(atQuantile: 0.99)),
                    "p99_9": us(h.value(atQuantile: 0.999)), "max": us(h.total == 0 ? 0 : h.max), "mean": .number(h.mean / 1000)]
        }
        let a = access.achieved
        var priority: JSONValue = .null
        if case let .fifo(p) = a.scheduler { priority = JSONValue(p) }
        return [
            "ticks": JSONValue(s.ticks), "overruns": JSONValue(s.overruns), "worst_overrun_streak": JSONValue(s.worstOverrunStreak),
            "wake_latency_us": q(s.wakeLatency), "compute_us": q(s.computeTime), "compute_cpu_us": q(s.computeCPUTime),
            "preempted_ticks": JSONValue(s.preemptedTicks), "allocations": JSONValue(s.allocations),
            "scheduler": .string(a.schedulerName), "rt_priority": priority, "memory_locked": .bool(a.memoryLocked),
            "cpu": a.cpu.map { JSONValue($0) } ?? .null,
            "mpc": access.planner?.statusJSON(loopTime: access.telemetry().time) ?? .null,
        ]
    }

    /// `"q"`: one position per joint, each within its limits (`move` and `target.set`; numbers
    /// are finite already, the JSON parser refuses others).
    func jointPositions(_ p: Params) throws(RPCError) -> [Double] {
        let q = try p.numbers("q")
        let n = info.jointNames.count
        guard q.count == n else {
            throw .invalidParams("\"q\" has \(q.count) values; the robot has \(n) joints (\(info.jointNames.joined(separator: ", ")))")
        }
        for i in 0 ..< n where q[i] < info.lowerLimits[i] || q[i] > info.upperLimits[i] {
            throw .invalidParams("\"q\"[\(i)] = \(q[i]) rad is outside joint \(info.jointNames[i])'s limits [\(info.lowerLimits[i]), \(info.upperLimits[i])]")
        }
        return q
    }

    /// Shortest `"duration"` of a move or target: 10 control periods. Anything shorter is a step
    /// command in disguise (5e-324 s was accepted), not a minimum-jerk trajectory.
    var minimumMoveDuration: Double { 10 / Double(max(info.rateHz, 1)) }

    /// The optional `"duration"` of a move or target, in [10 control periods, 600] s.
    func moveDuration(_ p: Params) throws(RPCError) -> Double? {
        let duration = try p.optionalNumber("duration")
        if let d = duration, !(d >= minimumMoveDuration && d <= 600) {
            throw .invalidParams("\"duration\" must be in [\(minimumMoveDuration), 600] s (at least 10 control periods at \(info.rateHz) Hz), got \(d)")
        }
        return duration
    }

    func move(_ p: Params) throws(RPCError) -> EventLoopFuture<JSONValue> {
        try p.allowOnly(["q", "duration"])
        let q = try jointPositions(p)
        let duration = try moveDuration(p)
        if let duration { try checkMoveSpeed(to: q, duration: duration) }
        return command(extra: ["accepted": true, "duration_s": duration.map { .number($0) } ?? .null]) {
            .move(id: $0, to: q, duration: duration ?? 0)
        }
    }

    /// A minimum-jerk move of `duration` from the measured pose peaks at 15/8 · |Δq| / T on each
    /// joint: refused when that is above a joint's velocity limit (the loop would only brake it,
    /// and stretches such a move itself), naming the joint and the shortest duration that fits.
    func checkMoveSpeed(to q: [Double], duration: Double) throws(RPCError) {
        let t = access.telemetry()
        // In faulted or estop the loop refuses the move itself, with the reason that matters.
        guard t.mode != .faulted, t.mode != .estop else { return }
        let n = min(q.count, Int(t.dof), info.velocityLimits.count)
        var shortest = 0.0, joint = -1
        for i in 0 ..< n where info.velocityLimits[i] > 0 {
            let needed = 1.875 * abs(q[i] - t.position[i]) / info.velocityLimits[i]
            if needed > shortest { (shortest, joint) = (needed, i) }
        }
        guard joint >= 0, duration < shortest else { return }
        let peak = 1.875 * abs(q[joint] - t.position[joint]) / duration
        func r(_ x: Double, _ k: Double = 1000) -> Double { (x * k).rounded(.up) / k }
        throw .invalidParams("\"duration\" \(duration) s is too short: joint \(info.jointNames[joint]) would peak at \(r(peak, 100)) rad/s, over its limit of \(info.velocityLimits[joint]) rad/s; give at least \(r(shortest)) s (or leave duration out and the loop times the move)")
    }

    func subscribe(_ p: Params, _ c: Connection) throws(RPCError) -> JSONValue {
        try p.allowOnly(["rate_hz"])
        let requested = try p.optionalNumber("rate_hz") ?? 100
        guard requested >= 1 else { throw .invalidParams("\"rate_hz\" must be ≥ 1, got \(requested)") }
        // Clamp in Double first: Int(_:) traps on values beyond Int.max (1e19 killed the daemon).
        let rate = requested >= Double(telemetryMaxHz) ? telemetryMaxHz : Int(requested.rounded())
        if c.subscriptionRate == nil {
            c.subscriptionID = nextSubscription
            nextSubscription += 1
        }
        c.subscriptionRate = rate
        c.onSubscriptionChange(c)
        return ["subscription": JSONValue(c.subscriptionID), "rate_hz": JSONValue(rate)]
    }

    /// One telemetry notification's params.
    func telemetrySample(subscription: Int, dropped: UInt64) -> JSONValue {
        let t = access.telemetry()
        let n = Int(t.dof)
        func vec(_ a: InlineArray<8, Double>) -> JSONValue { .array((0 ..< n).map { .number(a[$0]) }) }
        return [
            "subscription": JSONValue(subscription), "tick": JSONValue(t.tick), "loop_time_s": .number(t.time),
            "mode": .string("\(t.mode)"), "q": vec(t.position), "v": vec(t.velocity), "effort": vec(t.effort),
            "command": vec(t.command),
            "end_effector": [.number(t.endEffectorPosition[0]), .number(t.endEffectorPosition[1]), .number(t.endEffectorPosition[2])],
            "dropped": JSONValue(dropped),
            "disagreement": access.planner.map { .number($0.planDisagreement) } ?? .null,
            "model_version": access.planner.map { JSONValue($0.modelVersion) } ?? .null,
        ]
    }
}
