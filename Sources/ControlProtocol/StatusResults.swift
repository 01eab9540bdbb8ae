/// Typed results of `hello`, `status` and `timing` (docs/protocol.md): the server builds them
/// from the loop's snapshots and encodes them, `robotctl` decodes them and formats the values.
///
/// Members that later daemons added to a result are optional here: protocol 1 gains result keys
/// without a version change (docs/protocol.md, "Versioning"), so a client reads a daemon that
/// predates them as nil, and the encoder leaves a nil one out as such a daemon did. Members the
/// protocol documents as nullable are optional too and encode as `null`.

/// `hello`: what the daemon is, what it serves, and who the caller is to it.
public struct HelloResult: ControlResult {
    public static let method = ControlMethod.hello
    /// The protocol's version (1).
    public var `protocol`: Int
    /// "robotd".
    public var daemon: String
    public var version: String
    public var robot: String
    public var dof: Int
    public var jointNames: [String]
    public var rateHz: Int
    public var driver: String
    /// The modes `mode.set` accepts in this build.
    public var modes: [String]
    /// The caller's role (`none`, `observer`, `operator`) and uid.
    public var role: String
    public var uid: Int
    /// Every method this daemon serves.
    public var methods: [String]
    public var telemetryMaxHz: Int

    public init(protocol: Int = 1, daemon: String = "robotd", version: String, robot: String, dof: Int, jointNames: [String], rateHz: Int,
                driver: String, modes: [String], role: String, uid: Int, methods: [String], telemetryMaxHz: Int) {
        self.protocol = `protocol`
        self.daemon = daemon
        self.version = version
        self.robot = robot
        self.dof = dof
        self.jointNames = jointNames
        self.rateHz = rateHz
        self.driver = driver
        self.modes = modes
        self.role = role
        self.uid = uid
        self.methods = methods
        self.telemetryMaxHz = telemetryMaxHz
    }

    public var json: JSONValue {
        [
            "protocol": JSONValue(`protocol`), "daemon": .string(daemon), "version": .string(version), "robot": .string(robot),
            "dof": JSONValue(dof), "joint_names": JSONValue(jointNames), "rate_hz": JSONValue(rateHz), "driver": .string(driver),
            "modes": JSONValue(modes), "role": .string(role), "uid": JSONValue(uid), "methods": JSONValue(methods),
            "telemetry_max_hz": JSONValue(telemetryMaxHz),
        ]
    }

    public init(_ r: Params) throws(RPCError) {
        self.init(protocol: try r.int("protocol"), daemon: try r.string("daemon"), version: try r.string("version"), robot: try r.string("robot"),
                  dof: try r.int("dof"), jointNames: try r.strings("joint_names"), rateHz: try r.int("rate_hz"), driver: try r.string("driver"),
                  modes: try r.strings("modes"), role: try r.string("role"), uid: try r.int("uid"), methods: try r.strings("methods"),
                  telemetryMaxHz: try r.int("telemetry_max_hz"))
    }
}

/// `status`: the mode, the loop's counters, the measured joints and end effector, recent
/// faults, and what the planner and the policy slot hold.
public struct StatusResult: ControlResult {
    public static let method = ControlMethod.status

    /// `joints`: one value per joint, in `names` order (rad, rad/s, N·m or the driver's command unit).
    public struct Joints: Sendable, Hashable {
        public var names: [String]
        public var q: [Double]
        public var v: [Double]
        public var effort: [Double]
        public var command: [Double]

        public init(names: [String], q: [Double], v: [Double], effort: [Double], command: [Double]) {
            self.names = names
            self.q = q
            self.v = v
            self.effort = effort
            self.command = command
        }

        public var json: JSONValue {
            ["names": JSONValue(names), "q": JSONValue(q), "v": JSONValue(v), "effort": JSONValue(effort), "command": JSONValue(command)]
        }

        public init(_ r: Params) throws(RPCError) {
            self.init(names: try r.strings("names"), q: try r.numbers("q"), v: try r.numbers("v"), effort: try r.numbers("effort"),
                      command: try r.numbers("command"))
        }
    }

    /// `end_effector`: the frame's name, its position (m) and rotation (3 rows), base frame.
    public struct EndEffector: Sendable, Hashable {
        public var frame: String
        public var position: [Double]
        public var rotation: [[Double]]

        public init(frame: String, position: [Double], rotation: [[Double]]) {
            self.frame = frame
            self.position = position
            self.rotation = rotation
        }

        public var json: JSONValue {
            ["frame": .string(frame), "position": JSONValue(position), "rotation": .array(rotation.map { JSONValue($0) })]
        }

        public init(_ r: Params) throws(RPCError) {
            self.init(frame: try r.string("frame"), position: try r.numbers("position"), rotation: try r.numberRows("rotation"))
        }
    }

    /// One entry of `faults`: why, at which tick and loop time (s), and the flight recorder's
    /// dump when one was written.
    public struct Fault: Sendable, Hashable {
        public var reason: String
        public var tick: Int
        public var loopTimeS: Double
        public var flightRecorder: String?

        public init(reason: String, tick: Int, loopTimeS: Double, flightRecorder: String?) {
            self.reason = reason
            self.tick = tick
            self.loopTimeS = loopTimeS
            self.flightRecorder = flightRecorder
        }

        public var json: JSONValue {
            ["reason": .string(reason), "tick": JSONValue(tick), "loop_time_s": .number(loopTimeS),
             "flight_recorder": flightRecorder.map { .string($0) } ?? .null]
        }

        public init(_ r: Params) throws(RPCError) {
            self.init(reason: try r.string("reason"), tick: try r.int("tick"), loopTimeS: try r.number("loop_time_s"),
                      flightRecorder: try r.optionalString("flight_recorder"))
        }
    }

    /// `last_fallback`: the newest fall back to `hold` nobody asked for (from `mpc` or `policy`),
    /// why, at which loop time (s), and how many there were in all.
    public struct Fallback: Sendable, Hashable {
        public var from: String
        public var reason: String
        public var loopTimeS: Double
        public var count: Int

        public init(from: String, reason: String, loopTimeS: Double, count: Int) {
            self.from = from
            self.reason = reason
            self.loopTimeS = loopTimeS
            self.count = count
        }

        public var json: JSONValue {
            ["from": .string(from), "reason": .string(reason), "loop_time_s": .number(loopTimeS), "count": JSONValue(count)]
        }

        public init(_ r: Params) throws(RPCError) {
            self.init(from: try r.string("from"), reason: try r.string("reason"), loopTimeS: try r.number("loop_time_s"), count: try r.int("count"))
        }
    }

    public var mode: String
    /// The current fault's reason while `mode` is `faulted`, else nil.
    public var fault: String?
    public var rateHz: Int
    public var tickCount: Int
    public var overruns: Int
    /// Gaps of more than 1.5 periods between ticks and the seconds they lost (nil: an older daemon).
    public var stalls: Int?
    public var stalledS: Double?
    /// Ticks whose driver sample was invalid or stale (older than `loop.max_state_age`) since
    /// start (nil: an older daemon).
    public var staleStates: Int?
    public var uptimeS: Double
    /// The loop's clock (s), which pauses while the loop stalls.
    public var loopTimeS: Double
    public var joints: Joints
    public var endEffector: EndEffector
    /// The most recent faults since start, oldest first (at most 16).
    public var faults: [Fault]
    public var lastFallback: Fallback?
    /// The planner's state; nil when the daemon runs none.
    public var mpc: PlannerStatus?
    /// The installed policy's name or path and its version (1, 2, … per install); nil when none.
    public var policy: String?
    public var policyVersion: Int?
    /// The servo bus behind a servo driver; nil for the simulated arm (and older daemons).
    public var bus: BusStatus?
    /// The episode recorder (`record.*`); nil when the daemon does not record (and older daemons).
    public var recording: RecordingStatusResult?
    /// The teleop source and its stream; nil when the daemon offers no teleop (and older daemons).
    public var teleop: TeleopStatus?

    public init(mode: String, fault: String?, rateHz: Int, tickCount: Int, overruns: Int, stalls: Int?, stalledS: Double?, staleStates: Int?,
                uptimeS: Double, loopTimeS: Double, joints: Joints, endEffector: EndEffector, faults: [Fault], lastFallback: Fallback?,
                mpc: PlannerStatus?, policy: String?, policyVersion: Int?, bus: BusStatus? = nil, recording: RecordingStatusResult? = nil,
                teleop: TeleopStatus? = nil) {
        self.bus = bus
        self.recording = recording
        self.teleop = teleop
        self.mode = mode
        self.fault = fault
        self.rateHz = rateHz
        self.tickCount = tickCount
        self.overruns = overruns
        self.stalls = stalls
        self.stalledS = stalledS
        self.staleStates = staleStates
        self.uptimeS = uptimeS
        self.loopTimeS = loopTimeS
        self.joints = joints
        self.endEffector = endEffector
        self.faults = faults
        self.lastFallback = lastFallback
        self.mpc = mpc
        self.policy = policy
        self.policyVersion = policyVersion
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "mode": .string(mode), "fault": fault.map { .string($0) } ?? .null, "rate_hz": JSONValue(rateHz),
            "tick_count": JSONValue(tickCount), "overruns": JSONValue(overruns),
            "uptime_s": .number(uptimeS), "loop_time_s": .number(loopTimeS),
            "joints": joints.json, "end_effector": endEffector.json, "faults": .array(faults.map(\.json)),
            "last_fallback": lastFallback?.json ?? .null, "mpc": mpc?.json ?? .null,
            "policy": policy.map { .string($0) } ?? .null, "policy_version": policyVersion.map { JSONValue($0) } ?? .null,
        ]
        if let stalls { o["stalls"] = JSONValue(stalls) }
        if let stalledS { o["stalled_s"] = .number(stalledS) }
        if let staleStates { o["stale_states"] = JSONValue(staleStates) }
        if let bus { o["bus"] = bus.json }
        if let recording { o["recording"] = recording.json }
        if let teleop { o["teleop"] = teleop.json }
        return .object(o)
    }

    public init(_ r: Params) throws(RPCError) {
        var faults: [Fault] = []
        for f in try r.objects("faults") { faults.append(try Fault(f)) }
        self.init(mode: try r.string("mode"), fault: try r.optionalString("fault"), rateHz: try r.int("rate_hz"), tickCount: try r.int("tick_count"),
                  overruns: try r.int("overruns"), stalls: try r.optionalInt("stalls"), stalledS: try r.optionalNumber("stalled_s"),
                  staleStates: try r.optionalInt("stale_states"), uptimeS: try r.number("uptime_s"), loopTimeS: try r.number("loop_time_s"),
                  joints: try Joints(r.object("joints")), endEffector: try EndEffector(r.object("end_effector")), faults: faults,
                  lastFallback: try r.optionalObject("last_fallback").map { (f) throws(RPCError) in try Fallback(f) },
                  mpc: try r.optionalObject("mpc").map { (p) throws(RPCError) in try PlannerStatus(p) },
                  policy: try r.optionalString("policy"), policyVersion: try r.optionalInt("policy_version"),
                  bus: try r.optionalObject("bus").map { (b) throws(RPCError) in try BusStatus(b) },
                  recording: try r.optionalObject("recording").map { (x) throws(RPCError) in try RecordingStatusResult(x) },
                  teleop: try r.optionalObject("teleop").map { (t) throws(RPCError) in try TeleopStatus(t) })
    }
}

/// `timing`: the control thread's statistics and how it is scheduled.
public struct TimingResult: ControlResult {
    public static let method = ControlMethod.timing

    /// A latency distribution in µs: quantiles, the maximum and the mean.
    public struct Latency: Sendable, Hashable {
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p99_9: Double
        public var max: Double
        public var mean: Double

        public init(p50: Double, p90: Double, p99: Double, p99_9: Double, max: Double, mean: Double) {
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.p99_9 = p99_9
            self.max = max
            self.mean = mean
        }

        public var json: JSONValue {
            ["p50": .number(p50), "p90": .number(p90), "p99": .number(p99), "p99_9": .number(p99_9), "max": .number(max), "mean": .number(mean)]
        }

        public init(_ r: Params) throws(RPCError) {
            self.init(p50: try r.number("p50"), p90: try r.number("p90"), p99: try r.number("p99"), p99_9: try r.number("p99_9"),
                      max: try r.number("max"), mean: try r.number("mean"))
        }
    }

    public var ticks: Int
    public var overruns: Int
    public var worstOverrunStreak: Int
    /// Actual wake-up − deadline.
    public var wakeLatencyUs: Latency
    /// Wake-up to end of tick, monotonic clock.
    public var computeUs: Latency
    /// The same ticks on the control thread's CPU clock (nil: an older daemon).
    public var computeCPUUs: Latency?
    /// Ticks whose wall time exceeded their CPU time by half a period or more (nil: an older daemon).
    public var preemptedTicks: Int?
    public var allocations: Int
    /// `fifo` or `other`; the SCHED_FIFO priority when it is `fifo`.
    public var scheduler: String
    public var rtPriority: Int?
    public var memoryLocked: Bool
    /// The CPU the control thread is pinned to; nil when it may run on any.
    public var cpu: Int?
    /// Ticks that ended after the next deadline, one per stall however many periods it spanned
    /// (`overruns` counts every skipped period): what cyclictest counts as samples over a
    /// period. Nil from an older daemon.
    public var lateTicks: Int?
    /// `loop.early_wake` (µs); nil from an older daemon.
    public var earlyWakeUs: Double?
    /// The planner's state; nil when the daemon runs none.
    public var mpc: PlannerStatus?
    /// The servo bus's cycle timing and health; nil for the simulated arm (and older daemons).
    public var bus: BusStatus?

    public init(ticks: Int, overruns: Int, worstOverrunStreak: Int, wakeLatencyUs: Latency, computeUs: Latency, computeCPUUs: Latency?,
                preemptedTicks: Int?, allocations: Int, scheduler: String, rtPriority: Int?, memoryLocked: Bool, cpu: Int?, mpc: PlannerStatus?,
                bus: BusStatus? = nil, lateTicks: Int? = nil, earlyWakeUs: Double? = nil) {
        self.bus = bus
        self.lateTicks = lateTicks
        self.earlyWakeUs = earlyWakeUs
        self.ticks = ticks
        self.overruns = overruns
        self.worstOverrunStreak = worstOverrunStreak
        self.wakeLatencyUs = wakeLatencyUs
        self.computeUs = computeUs
        self.computeCPUUs = computeCPUUs
        self.preemptedTicks = preemptedTicks
        self.allocations = allocations
        self.scheduler = scheduler
        self.rtPriority = rtPriority
        self.memoryLocked = memoryLocked
        self.cpu = cpu
        self.mpc = mpc
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "ticks": JSONValue(ticks), "overruns": JSONValue(overruns), "worst_overrun_streak": JSONValue(worstOverrunStreak),
            "wake_latency_us": wakeLatencyUs.json, "compute_us": computeUs.json, "allocations": JSONValue(allocations),
            "scheduler": .string(scheduler), "rt_priority": rtPriority.map { JSONValue($0) } ?? .null, "memory_locked": .bool(memoryLocked),
            "cpu": cpu.map { JSONValue($0) } ?? .null, "mpc": mpc?.json ?? .null,
        ]
        if let computeCPUUs { o["compute_cpu_us"] = computeCPUUs.json }
        if let preemptedTicks { o["preempted_ticks"] = JSONValue(preemptedTicks) }
        if let bus { o["bus"] = bus.json }
        if let lateTicks { o["late_ticks"] = JSONValue(lateTicks) }
        if let earlyWakeUs { o["early_wake_us"] = .number(earlyWakeUs) }
        return .object(o)
    }

    public init(_ r: Params) throws(RPCError) {
        self.init(ticks: try r.int("ticks"), overruns: try r.int("overruns"), worstOverrunStreak: try r.int("worst_overrun_streak"),
                  wakeLatencyUs: try Latency(r.object("wake_latency_us")), computeUs: try Latency(r.object("compute_us")),
                  computeCPUUs: try r.optionalObject("compute_cpu_us").map { (l) throws(RPCError) in try Latency(l) },
                  preemptedTicks: try r.optionalInt("preempted_ticks"), allocations: try r.int("allocations"),
                  scheduler: try r.string("scheduler"), rtPriority: try r.optionalInt("rt_priority"), memoryLocked: try r.bool("memory_locked"),
                  cpu: try r.optionalInt("cpu"), mpc: try r.optionalObject("mpc").map { (p) throws(RPCError) in try PlannerStatus(p) },
                  bus: try r.optionalObject("bus").map { (b) throws(RPCError) in try BusStatus(b) },
                  lateTicks: try r.optionalInt("late_ticks"), earlyWakeUs: try r.optionalNumber("early_wake_us"))
    }
}
