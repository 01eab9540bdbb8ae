/// `bus` in `status` and `timing`: the servo bus behind a `dynamixel` or `feetech` driver
/// (docs/protocol.md, "status"); absent for the simulated arm and from daemons before issue 15.
///
/// Rates are over the driver's last second of cycles; temperatures and voltages are sampled at
/// the driver's low diagnostics rate, so they may be a second old.
public struct BusStatus: Sendable, Hashable {
    /// One servo on the bus, in joint order.
    public struct Servo: Sendable, Hashable {
        public var id: Int
        public var joint: String
        /// Failed transactions with this servo since start (no reply, corrupt reply, status error).
        public var errors: Int
        /// °C and V; nil until first sampled.
        public var temperatureC: Double?
        public var voltageV: Double?
        /// The servo's latched hardware error reasons ("overload", "overheating", …), or nil.
        public var hardwareError: String?

        public init(id: Int, joint: String, errors: Int, temperatureC: Double?, voltageV: Double?, hardwareError: String?) {
            self.id = id
            self.joint = joint
            self.errors = errors
            self.temperatureC = temperatureC
            self.voltageV = voltageV
            self.hardwareError = hardwareError
        }

        public var json: JSONValue {
            ["id": JSONValue(id), "joint": .string(joint), "errors": JSONValue(errors),
             "temperature_c": temperatureC.map { .number($0) } ?? .null, "voltage_v": voltageV.map { .number($0) } ?? .null,
             "hardware_error": hardwareError.map { .string($0) } ?? .null]
        }

        public init(_ r: Params) throws(RPCError) {
            self.init(id: try r.int("id"), joint: try r.string("joint"), errors: try r.int("errors"),
                      temperatureC: try r.optionalNumber("temperature_c"), voltageV: try r.optionalNumber("voltage_v"),
                      hardwareError: try r.optionalString("hardware_error"))
        }
    }

    /// `connected`, `faulted` (the driver stopped trusting the bus or a servo; `reset` re-arms) or
    /// `disconnected` (the port is gone).
    public var state: String
    public var port: String
    /// `dynamixel` or `feetech`.
    public var `protocol`: String
    public var baud: Int
    /// The configured cycle rate and the achieved one (Hz).
    public var targetHz: Double
    public var cycleHz: Double
    /// Cycle time (write + read) quantiles over the last cycles (µs).
    public var cycleP50Us: Double
    public var cycleP99Us: Double
    public var cycles: Int
    /// Cycles whose state read failed after its retries.
    public var failedCycles: Int
    /// Failed attempts and retries per second over the last second.
    public var errorsPerS: Double
    public var retriesPerS: Double
    /// SHA-256 (hex) of the calibration file in use, and its path.
    public var calibrationHash: String?
    public var calibrationFile: String?
    /// Why the driver faulted last, naming the servo and its joint (nil: never).
    public var lastFault: String?
    public var servos: [Servo]

    public init(state: String, port: String, protocol: String, baud: Int, targetHz: Double, cycleHz: Double, cycleP50Us: Double,
                cycleP99Us: Double, cycles: Int, failedCycles: Int, errorsPerS: Double, retriesPerS: Double, calibrationHash: String?,
                calibrationFile: String?, lastFault: String?, servos: [Servo]) {
        self.state = state
        self.port = port
        self.protocol = `protocol`
        self.baud = baud
        self.targetHz = targetHz
        self.cycleHz = cycleHz
        self.cycleP50Us = cycleP50Us
        self.cycleP99Us = cycleP99Us
        self.cycles = cycles
        self.failedCycles = failedCycles
        self.errorsPerS = errorsPerS
        self.retriesPerS = retriesPerS
        self.calibrationHash = calibrationHash
        self.calibrationFile = calibrationFile
        self.lastFault = lastFault
        self.servos = servos
    }

    public var json: JSONValue {
        ["state": .string(state), "port": .string(port), "protocol": .string(`protocol`), "baud": JSONValue(baud),
         "target_hz": .number(targetHz), "cycle_hz": .number(cycleHz), "cycle_p50_us": .number(cycleP50Us),
         "cycle_p99_us": .number(cycleP99Us), "cycles": JSONValue(cycles), "failed_cycles": JSONValue(failedCycles),
         "errors_per_s": .number(errorsPerS), "retries_per_s": .number(retriesPerS),
         "calibration_hash": calibrationHash.map { .string($0) } ?? .null,
         "calibration_file": calibrationFile.map { .string($0) } ?? .null,
         "last_fault": lastFault.map { .string($0) } ?? .null, "servos": .array(servos.map(\.json))]
    }

    public init(_ r: Params) throws(RPCError) {
        var servos: [Servo] = []
        for s in try r.objects("servos") { servos.append(try Servo(s)) }
        self.init(state: try r.string("state"), port: try r.string("port"), protocol: try r.string("protocol"), baud: try r.int("baud"),
                  targetHz: try r.number("target_hz"), cycleHz: try r.number("cycle_hz"), cycleP50Us: try r.number("cycle_p50_us"),
                  cycleP99Us: try r.number("cycle_p99_us"), cycles: try r.int("cycles"), failedCycles: try r.int("failed_cycles"),
                  errorsPerS: try r.number("errors_per_s"), retriesPerS: try r.number("retries_per_s"),
                  calibrationHash: try r.optionalString("calibration_hash"), calibrationFile: try r.optionalString("calibration_file"),
                  lastFault: try r.optionalString("last_fault"), servos: servos)
    }
}
