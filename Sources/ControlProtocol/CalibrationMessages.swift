/// Typed params and results of `calibration.*` (docs/protocol.md, "Calibration"): calibrating a
/// servo arm while the daemon runs, in `idle`, the procedure of `robotd calibrate`.

/// `calibration.start`: `{"reverse": [joint]?, "full_turn": [joint]?}`. `reverse` names the
/// joints whose servo counts against the URDF angle (drive mode 1); `full_turn` the joints
/// without end stops (range 0…4095; default: `wrist_roll` when the robot has one).
public struct CalibrationStartParams: Sendable, Hashable {
    public var reverse: [String]
    public var fullTurn: [String]?

    public init(reverse: [String] = [], fullTurn: [String]? = nil) {
        self.reverse = reverse
        self.fullTurn = fullTurn
    }

    public init(_ p: Params) throws(RPCError) {
        try p.allowOnly(["reverse", "full_turn"])
        reverse = p.has("reverse") ? try p.strings("reverse") : []
        fullTurn = p.has("full_turn") ? try p.strings("full_turn") : nil
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        if !reverse.isEmpty { o["reverse"] = JSONValue(reverse) }
        if let fullTurn { o["full_turn"] = JSONValue(fullTurn) }
        return .object(o)
    }
}

/// `calibration.start`, `.zero`, `.status`, `.cancel`: where the calibration is.
///
/// `phase`: `none` (no calibration runs), `zero` (waiting for the zero pose: send
/// `calibration.zero`), `sweep` (recording each joint's travel: `calibration.finish` when every
/// joint went end to end). `joints` has, per joint, the smallest and largest present-position
/// count seen in the sweep (the zero pose reads 2047) and whether it turns fully; `unmoved`
/// the joints that have not yet moved `minimum_span` counts.
public struct CalibrationStatusResult: ControlResult {
    public static let method = ControlMethod.calibrationStatus

    public struct Joint: Sendable, Hashable {
        public var joint: String
        public var id: Int
        public var min: Int
        public var max: Int
        public var fullTurn: Bool

        public init(joint: String, id: Int, min: Int, max: Int, fullTurn: Bool) {
            self.joint = joint
            self.id = id
            self.min = min
            self.max = max
            self.fullTurn = fullTurn
        }

        public var json: JSONValue {
            ["joint": .string(joint), "id": JSONValue(id), "min": JSONValue(min), "max": JSONValue(max), "full_turn": .bool(fullTurn)]
        }

        public init(_ r: Params) throws(RPCError) {
            self.init(joint: try r.string("joint"), id: try r.int("id"), min: try r.int("min"), max: try r.int("max"),
                      fullTurn: try r.bool("full_turn"))
        }
    }

    public var phase: String
    public var arm: String?
    public var joints: [Joint]
    public var unmoved: [String]
    /// Position polls recorded in the sweep.
    public var samples: Int
    /// Counts a joint must move through (`ArmCalibration.minimumSpan`).
    public var minimumSpan: Int

    public init(phase: String, arm: String? = nil, joints: [Joint] = [], unmoved: [String] = [], samples: Int = 0, minimumSpan: Int = 64) {
        self.phase = phase
        self.arm = arm
        self.joints = joints
        self.unmoved = unmoved
        self.samples = samples
        self.minimumSpan = minimumSpan
    }

    public var json: JSONValue {
        ["phase": .string(phase), "arm": arm.map { .string($0) } ?? .null, "joints": .array(joints.map(\.json)),
         "unmoved": JSONValue(unmoved), "samples": JSONValue(samples), "minimum_span": JSONValue(minimumSpan)]
    }

    public init(_ r: Params) throws(RPCError) {
        var joints: [Joint] = []
        for j in try r.objects("joints") { joints.append(try Joint(j)) }
        self.init(phase: try r.string("phase"), arm: try r.optionalString("arm"), joints: joints, unmoved: try r.strings("unmoved"),
                  samples: try r.int("samples"), minimumSpan: try r.int("minimum_span"))
    }
}

/// `calibration.finish`: the file written (atomically) and its SHA-256 (the hash `status`
/// shows as `bus.calibration_hash`), and per joint what the servos now hold and the range in
/// joint angles. The driver converts with the new calibration from the next bus cycle; the
/// loop's limiter bounds follow (`limits_updated`).
public struct CalibrationFinishResult: ControlResult {
    public static let method = ControlMethod.calibrationFinish

    public struct Joint: Sendable, Hashable {
        public var joint: String
        public var id: Int
        public var driveMode: Int
        public var homingOffset: Int
        public var rangeMin: Int
        public var rangeMax: Int
        /// The range in joint angles (rad), lower first.
        public var lower: Double
        public var upper: Double

        public init(joint: String, id: Int, driveMode: Int, homingOffset: Int, rangeMin: Int, rangeMax: Int, lower: Double, upper: Double) {
            self.joint = joint
            self.id = id
            self.driveMode = driveMode
            self.homingOffset = homingOffset
            self.rangeMin = rangeMin
            self.rangeMax = rangeMax
            self.lower = lower
            self.upper = upper
        }

        public var json: JSONValue {
            ["joint": .string(joint), "id": JSONValue(id), "drive_mode": JSONValue(driveMode), "homing_offset": JSONValue(homingOffset),
             "range_min": JSONValue(rangeMin), "range_max": JSONValue(rangeMax), "lower": .number(lower), "upper": .number(upper)]
        }

        public init(_ r: Params) throws(RPCError) {
            self.init(joint: try r.string("joint"), id: try r.int("id"), driveMode: try r.int("drive_mode"), homingOffset: try r.int("homing_offset"),
                      rangeMin: try r.int("range_min"), rangeMax: try r.int("range_max"), lower: try r.number("lower"), upper: try r.number("upper"))
        }
    }

    public var file: String
    public var sha256: String
    public var joints: [Joint]
    /// Whether the loop's limiter bounds were narrowed to the new ranges at once; false means
    /// leaving `idle` is refused until robotd restarts (`restart_required`).
    public var restartRequired: Bool

    public init(file: String, sha256: String, joints: [Joint], restartRequired: Bool) {
        self.file = file
        self.sha256 = sha256
        self.joints = joints
        self.restartRequired = restartRequired
    }

    public var json: JSONValue {
        ["file": .string(file), "sha256": .string(sha256), "joints": .array(joints.map(\.json)), "restart_required": .bool(restartRequired)]
    }

    public init(_ r: Params) throws(RPCError) {
        var joints: [Joint] = []
        for j in try r.objects("joints") { joints.append(try Joint(j)) }
        self.init(file: try r.string("file"), sha256: try r.string("sha256"), joints: joints, restartRequired: try r.bool("restart_required"))
    }
}
