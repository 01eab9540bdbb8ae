/// Typed results of the methods that command the loop (docs/protocol.md), and the telemetry
/// notification's sample.

/// `mode.set`, `estop`, `reset`: the mode after the request.
public struct ModeResult: ControlResult {
    public static let method = ControlMethod.modeSet
    public var mode: String

    public init(mode: String) { self.mode = mode }

    public var json: JSONValue { ["mode": .string(mode)] }

    public init(_ r: Params) throws(RPCError) { self.init(mode: try r.string("mode")) }
}

/// `move`: accepted, the mode after it (`move`), and its duration (s; nil when the loop times it).
public struct MoveResult: ControlResult {
    public static let method = ControlMethod.move
    public var accepted: Bool
    public var mode: String
    public var durationS: Double?

    public init(accepted: Bool = true, mode: String, durationS: Double?) {
        self.accepted = accepted
        self.mode = mode
        self.durationS = durationS
    }

    public var json: JSONValue { ["accepted": .bool(accepted), "mode": .string(mode), "duration_s": durationS.map { .number($0) } ?? .null] }

    public init(_ r: Params) throws(RPCError) {
        self.init(accepted: try r.bool("accepted"), mode: try r.string("mode"), durationS: try r.optionalNumber("duration_s"))
    }
}

/// `target.set`: accepted, the current mode, the waypoint count of a path target, and a hint
/// naming the `mode.set` that follows the target when the mode does not.
public struct TargetSetResult: ControlResult {
    public static let method = ControlMethod.targetSet
    public var accepted: Bool
    public var mode: String
    /// Only for a path target (the key is absent otherwise).
    public var waypoints: Int?
    public var hint: String?

    public init(accepted: Bool = true, mode: String, waypoints: Int? = nil, hint: String?) {
        self.accepted = accepted
        self.mode = mode
        self.waypoints = waypoints
        self.hint = hint
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["accepted": .bool(accepted), "mode": .string(mode), "hint": hint.map { .string($0) } ?? .null]
        if let waypoints { o["waypoints"] = JSONValue(waypoints) }
        return .object(o)
    }

    public init(_ r: Params) throws(RPCError) {
        self.init(accepted: try r.bool("accepted"), mode: try r.string("mode"), waypoints: try r.optionalInt("waypoints"),
                  hint: try r.optionalString("hint"))
    }
}

/// `log.setLevel`: the level now and the one before.
public struct LogSetLevelResult: ControlResult {
    public static let method = ControlMethod.logSetLevel
    public var level: String
    public var previous: String

    public init(level: String, previous: String) {
        self.level = level
        self.previous = previous
    }

    public var json: JSONValue { ["level": .string(level), "previous": .string(previous)] }

    public init(_ r: Params) throws(RPCError) { self.init(level: try r.string("level"), previous: try r.string("previous")) }
}

/// The params of one `telemetry` notification: the loop's newest snapshot for a subscription.
public struct TelemetrySample: ControlResult {
    public static let method = ControlMethod.telemetry
    public var subscription: Int
    public var tick: Int
    /// The loop's clock (s).
    public var loopTimeS: Double
    public var mode: String
    /// One value per joint: rad, rad/s, N·m, the driver's command unit.
    public var q: [Double]
    public var v: [Double]
    public var effort: [Double]
    public var command: [Double]
    /// The end effector's position [x, y, z] (m, base frame).
    public var endEffector: [Double]
    /// Samples this subscription skipped because the connection's send buffer was full (cumulative).
    public var dropped: Int
    /// The learned model's largest ensemble disagreement along the newest plan (state units²) and
    /// the model version the planner plans with; nil when the daemon runs no planner.
    public var disagreement: Double?
    public var modelVersion: Int?

    public init(subscription: Int, tick: Int, loopTimeS: Double, mode: String, q: [Double], v: [Double], effort: [Double], command: [Double],
                endEffector: [Double], dropped: Int, disagreement: Double?, modelVersion: Int?) {
        self.subscription = subscription
        self.tick = tick
        self.loopTimeS = loopTimeS
        self.mode = mode
        self.q = q
        self.v = v
        self.effort = effort
        self.command = command
        self.endEffector = endEffector
        self.dropped = dropped
        self.disagreement = disagreement
        self.modelVersion = modelVersion
    }

    public var json: JSONValue {
        [
            "subscription": JSONValue(subscription), "tick": JSONValue(tick), "loop_time_s": .number(loopTimeS), "mode": .string(mode),
            "q": JSONValue(q), "v": JSONValue(v), "effort": JSONValue(effort), "command": JSONValue(command),
            "end_effector": JSONValue(endEffector), "dropped": JSONValue(dropped),
            "disagreement": disagreement.map { .number($0) } ?? .null, "model_version": modelVersion.map { JSONValue($0) } ?? .null,
        ]
    }

    public init(_ r: Params) throws(RPCError) {
        self.init(subscription: try r.int("subscription"), tick: try r.int("tick"), loopTimeS: try r.number("loop_time_s"), mode: try r.string("mode"),
                  q: try r.numbers("q"), v: try r.numbers("v"), effort: try r.numbers("effort"), command: try r.numbers("command"),
                  endEffector: try r.numbers("end_effector"), dropped: try r.int("dropped"), disagreement: try r.optionalNumber("disagreement"),
                  modelVersion: try r.optionalInt("model_version"))
    }
}
