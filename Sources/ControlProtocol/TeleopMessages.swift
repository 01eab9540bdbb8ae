/// Typed params and results of `teleop.*` (docs/protocol.md, "Teleoperation"): streamed targets
/// in mode `teleop`, and an operator taking over from `policy` or `mpc` and handing back.

extension ControlMethod {
    /// `teleop.stream`: a joint or end-effector target for the teleop source.
    public static let teleopStream = "teleop.stream"
    /// `teleop.takeover`: from `policy` or `mpc` to `teleop`, remembering the mode.
    public static let teleopTakeover = "teleop.takeover"
    /// `teleop.handback`: from `teleop` back to the mode `teleop.takeover` left.
    public static let teleopHandback = "teleop.handback"
}

/// `teleop.stream`: `{"q": [rad, …]}` or `{"position": [x, y, z], "orientation": [w, x, y, z]?}`
/// (m, base frame; orientation a unit quaternion).
public struct TeleopStreamParams: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        case joints([Double])
        case pose(position: [Double], orientation: [Double]?)
    }

    public var target: Target

    public init(target: Target) { self.target = target }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(["q", "position", "orientation"])
        let hasPosition = p.has("position"), hasJoints = p.has("q")
        guard hasPosition != hasJoints else {
            throw p.fail("give exactly one of \"q\" (joint positions, rad) and \"position\" ([x, y, z] in m)")
        }
        if hasJoints {
            if p.has("orientation") { throw p.fail("\"orientation\" goes with \"position\", not with \"q\"") }
            target = .joints(try p.numbers("q"))
            return
        }
        let position = try p.numbers("position")
        guard position.count == 3 else { throw p.fail("\"position\" must have 3 values [x, y, z] (m), got \(position.count)") }
        var orientation: [Double]?
        if p.has("orientation") {
            let o = try p.numbers("orientation")
            guard o.count == 4 else { throw p.fail("\"orientation\" must be a quaternion [w, x, y, z], got \(o.count) values") }
            orientation = o
        }
        target = .pose(position: position, orientation: orientation)
    }

    public var json: JSONValue {
        switch target {
        case let .joints(q): return ["q": JSONValue(q)]
        case let .pose(position, orientation):
            var o: [String: JSONValue] = ["position": JSONValue(position)]
            if let orientation { o["orientation"] = JSONValue(orientation) }
            return .object(o)
        }
    }
}

/// `teleop.stream`: the joint target posted (after inverse kinematics for a pose), its sequence
/// number, the mode (the arm follows only in `teleop`), and for a pose the solution's residual
/// errors (m, rad; nonzero when the pose is reachable only approximately inside the limits).
public struct TeleopStreamResult: ControlResult {
    public static let method = ControlMethod.teleopStream
    public var q: [Double]
    public var sequence: Int
    public var mode: String
    public var positionErrorM: Double?
    public var orientationErrorRad: Double?

    public init(q: [Double], sequence: Int, mode: String, positionErrorM: Double? = nil, orientationErrorRad: Double? = nil) {
        self.q = q
        self.sequence = sequence
        self.mode = mode
        self.positionErrorM = positionErrorM
        self.orientationErrorRad = orientationErrorRad
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["q": JSONValue(q), "sequence": JSONValue(sequence), "mode": .string(mode)]
        if let positionErrorM { o["position_error_m"] = .number(positionErrorM) }
        if let orientationErrorRad { o["orientation_error_rad"] = .number(orientationErrorRad) }
        return .object(o)
    }

    public init(_ r: Params) throws(RPCError) {
        self.init(q: try r.numbers("q"), sequence: try r.int("sequence"), mode: try r.string("mode"),
                  positionErrorM: try r.optionalNumber("position_error_m"), orientationErrorRad: try r.optionalNumber("orientation_error_rad"))
    }
}

/// `teleop.takeover` and `teleop.handback`: the mode after it and the mode before it.
public struct TeleopSwitchResult: ControlResult {
    public static let method = ControlMethod.teleopTakeover
    public var mode: String
    public var from: String

    public init(mode: String, from: String) {
        self.mode = mode
        self.from = from
    }

    public var json: JSONValue { ["mode": .string(mode), "from": .string(from)] }

    public init(_ r: Params) throws(RPCError) { self.init(mode: try r.string("mode"), from: try r.string("from")) }
}

/// `status.teleop`: the teleop source and its stream. `input_age_s` is the newest input's age
/// (nil before the first); latency is post → the first tick that commanded the input (ms);
/// `refused` counts inputs refused by the socket (bad shape, outside limits or reach) and by the
/// tick (not finite). `takeover_from` is the mode `teleop.handback` returns to, when one is pending.
public struct TeleopStatus: ControlResult {
    public static let method = ControlMethod.status
    public var source: String
    public var acting: Bool
    public var inputAgeS: Double?
    public var latencyP50Ms: Double
    public var latencyP99Ms: Double
    public var received: Int
    public var refused: Int
    public var takeoverFrom: String?

    public init(source: String, acting: Bool, inputAgeS: Double?, latencyP50Ms: Double, latencyP99Ms: Double, received: Int, refused: Int,
                takeoverFrom: String? = nil) {
        self.source = source
        self.acting = acting
        self.inputAgeS = inputAgeS
        self.latencyP50Ms = latencyP50Ms
        self.latencyP99Ms = latencyP99Ms
        self.received = received
        self.refused = refused
        self.takeoverFrom = takeoverFrom
    }

    public var json: JSONValue {
        [
            "source": .string(source), "acting": .bool(acting), "input_age_s": inputAgeS.map { .number($0) } ?? .null,
            "latency_ms": ["p50": .number(latencyP50Ms), "p99": .number(latencyP99Ms)],
            "inputs": ["received": JSONValue(received), "refused": JSONValue(refused)],
            "takeover_from": takeoverFrom.map { .string($0) } ?? .null,
        ]
    }

    public init(_ r: Params) throws(RPCError) {
        let latency = try r.object("latency_ms"), inputs = try r.object("inputs")
        self.init(source: try r.string("source"), acting: try r.bool("acting"), inputAgeS: try r.optionalNumber("input_age_s"),
                  latencyP50Ms: try latency.number("p50"), latencyP99Ms: try latency.number("p99"),
                  received: try inputs.int("received"), refused: try inputs.int("refused"), takeoverFrom: try r.optionalString("takeover_from"))
    }
}
