/// Typed params of the methods that take any (docs/protocol.md). Each decodes from a request's
/// params and throws *invalid params* naming the member, and encodes back to what a client sends.
///
/// The decoders check what the protocol itself fixes (types, counts, ranges that do not depend
/// on the robot); the server checks the rest (joint limits, the rate, what the daemon runs).

/// `mode.set`: `{"mode": name, "force": bool?}`.
public struct ModeSetParams: Sendable, Hashable {
    public var mode: String
    /// Confirms an `idle` that would let gravity move the arm.
    public var force: Bool

    public init(mode: String, force: Bool = false) {
        self.mode = mode
        self.force = force
    }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(["mode", "force"])
        mode = try p.string("mode")
        force = try p.optionalBool("force") ?? false
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["mode": .string(mode)]
        if force { o["force"] = true }
        return .object(o)
    }
}

/// `move`: `{"q": [rad, …], "duration": s?}`.
public struct MoveParams: Sendable, Hashable {
    public var q: [Double]
    /// Seconds for the minimum-jerk move; nil lets the loop time it.
    public var duration: Double?

    public init(q: [Double], duration: Double? = nil) {
        self.q = q
        self.duration = duration
    }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(["q", "duration"])
        q = try p.numbers("q")
        duration = try p.optionalNumber("duration")
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = ["q": JSONValue(q)]
        if let duration { o["duration"] = .number(duration) }
        return .object(o)
    }
}

/// `target.set`: a position (m, base frame) with an optional orientation quaternion, joint
/// positions, or a closed path of waypoints traversed once per `period` seconds.
public struct TargetSetParams: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        /// `position` [x, y, z] (m) and optionally `orientation` [w, x, y, z].
        case pose(position: [Double], orientation: [Double]?)
        /// `q`: one position per joint (rad).
        case joints([Double])
        /// `path`: [[x, y, z], …] (m), 3 to `maxWaypoints` points; `period` s per lap.
        case path(waypoints: [[Double]], period: Double)
    }

    public static let keys: Set<String> = ["position", "orientation", "q", "duration", "path", "period"]
    public static let maxWaypoints = 10_000
    /// Seconds per lap of a path target.
    public static let periodRange = 0.1 ... 3600.0

    public var target: Target
    /// Seconds over which the approach is spread (not with a path).
    public var duration: Double?

    public init(target: Target, duration: Double? = nil) {
        self.target = target
        self.duration = duration
    }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(Self.keys)
        if p.has("path") {
            for key in ["position", "orientation", "q", "duration"] where p.has(key) {
                throw p.fail("\"\(key)\" does not combine with \"path\"")
            }
            guard case let .array(items)? = p.value["path"] else { throw p.fail("\"path\" must be a list of [x, y, z] waypoints (m)") }
            var waypoints: [[Double]] = []
            for (i, item) in items.enumerated() {
                let point: [Double]
                if case let .array(xyz) = item, xyz.count == 3 { point = xyz.compactMap(\.doubleValue) } else { point = [] }
                guard point.count == 3 else { throw p.fail("\"path\"[\(i)] must be [x, y, z], three numbers (m)") }
                waypoints.append(point)
            }
            guard waypoints.count >= 3, waypoints.count <= Self.maxWaypoints else {
                throw p.fail("\"path\" needs 3 to \(Self.maxWaypoints) waypoints, got \(waypoints.count)")
            }
            guard let period = try p.optionalNumber("period"), Self.periodRange.contains(period) else {
                throw p.fail("\"period\" (s per lap) is required with a path, in [0.1, 3600]")
            }
            self.init(target: .path(waypoints: waypoints, period: period))
            return
        }
        if p.has("period") { throw p.fail("\"period\" belongs to a \"path\" target") }
        let target: Target
        let hasPosition = p.has("position"), hasJoints = p.has("q")
        guard hasPosition != hasJoints else { throw p.fail("give exactly one of \"position\" ([x, y, z] in m) and \"q\" (joint positions)") }
        if hasPosition {
            let position = try p.numbers("position")
            guard position.count == 3 else { throw p.fail("\"position\" must have 3 values [x, y, z] (m), got \(position.count)") }
            var orientation: [Double]?
            if p.has("orientation") {
                let o = try p.numbers("orientation")
                guard o.count == 4 else { throw p.fail("\"orientation\" must be a quaternion [w, x, y, z], got \(o.count) values") }
                orientation = o
            }
            target = .pose(position: position, orientation: orientation)
        } else {
            target = .joints(try p.numbers("q"))
            if p.has("orientation") { throw p.fail("\"orientation\" applies to position targets only") }
        }
        self.init(target: target, duration: try p.optionalNumber("duration"))
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        switch target {
        case let .pose(position, orientation):
            o["position"] = JSONValue(position)
            if let orientation { o["orientation"] = JSONValue(orientation) }
        case let .joints(q): o["q"] = JSONValue(q)
        case let .path(waypoints, period):
            o["path"] = .array(waypoints.map { JSONValue($0) })
            o["period"] = .number(period)
        }
        if let duration { o["duration"] = .number(duration) }
        return .object(o)
    }
}

/// `telemetry.subscribe`: `{"rate_hz": Hz?}` (default 100, at least 1; the server clamps it to
/// its maximum).
public struct TelemetrySubscribeParams: Sendable, Hashable {
    public static let defaultRateHz = 100.0
    public var rateHz: Double

    public init(rateHz: Double = Self.defaultRateHz) { self.rateHz = rateHz }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(["rate_hz"])
        rateHz = try p.optionalNumber("rate_hz") ?? Self.defaultRateHz
        guard rateHz >= 1 else { throw p.fail("\"rate_hz\" must be ≥ 1, got \(rateHz)") }
    }

    public var json: JSONValue { ["rate_hz": .number(rateHz)] }
}

/// `log.setLevel`: `{"level": name}`.
public struct LogSetLevelParams: Sendable, Hashable {
    public var level: String

    public init(level: String) { self.level = level }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(["level"])
        level = try p.string("level")
    }

    public var json: JSONValue { ["level": .string(level)] }
}

/// The params of a file method (`policy.load`, `model.load`, `model.save`; docs/protocol.md,
/// "Files"): the file itself passed over the socket (`{"fd": true, "name": label?}`), or a
/// `"path"` inside the daemon's data_directory.
public struct FileParams: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        /// The descriptor follows the `fd.expect` handshake; `name` labels it in messages.
        case passed(name: String)
        case path(String)
    }

    public static let defaultName = "the passed file"
    public var source: Source

    public init(source: Source) { self.source = source }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(["path", "fd", "name"])
        if let fd = p.value["fd"], fd != .null {
            guard fd == .bool(true) else { throw p.fail("\"fd\" must be true (the file comes over the socket) or absent") }
            guard !p.has("path") else { throw p.fail("give either \"fd\" or \"path\", not both") }
            source = .passed(name: p.has("name") ? try p.string("name") : Self.defaultName)
            return
        }
        if p.has("name") { throw p.fail("\"name\" labels a passed file; it goes with \"fd\": true") }
        source = .path(try p.string("path"))
    }

    /// Whether the request announces a passed descriptor (`"fd": true`): the server reads this
    /// from the raw params before it decodes them, to run the handshake.
    public static func passesDescriptor(_ params: JSONValue) -> Bool { params["fd"] == .bool(true) }

    public var json: JSONValue {
        switch source {
        case let .passed(name): ["fd": true, "name": .string(name)]
        case let .path(path): ["path": .string(path)]
        }
    }
}
