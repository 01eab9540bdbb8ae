import ControlProtocol
import Testing

/// Typed results: encoding then decoding (through the wire text) is the identity, the wire form
/// has the documented keys, and a malformed member is named by its path from the top.
@Suite struct TypedResultsTests {
    static let planner = PlannerStatus(
        target: .pose(position: [0.4, 0, 0.5], orientation: nil), solves: 812, solveMs: 1.9, maxSolveMs: 3.5, iterations: 3, cost: 0.0058,
        status: "maxIterations", planAgeMs: 4, predictedErrorM: 4.6e-06, reachM: 0.965, rateHz: 100, horizon: 50, dt: 0.01, modelVersion: 0,
        disagreement: 0, uncertainPlans: 0, fallbackPlans: 2, planningModel: "rigid_body", disagreementLimit: 0)

    static let status = StatusResult(
        mode: "faulted", fault: "driver read failed", rateHz: 1000, tickCount: 20713, overruns: 1, stalls: 2, stalledS: 0.25, staleStates: 7,
        uptimeS: 20.8, loopTimeS: 20.71,
        joints: .init(names: ["a", "b"], q: [0, -1.2], v: [0, 0.001], effort: [12.5, -4.25], command: [12.4, -4.2]),
        endEffector: .init(frame: "tool0", position: [0.4, 0, 0.55], rotation: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
        faults: [.init(reason: "driver read failed", tick: 1234, loopTimeS: 1.234, flightRecorder: "/var/lib/robotd/flight-1.csv"),
                 .init(reason: "non-finite command", tick: 99, loopTimeS: 0.099, flightRecorder: nil)],
        lastFallback: .init(from: "mpc", reason: "plan expired", loopTimeS: 3.5, count: 4),
        mpc: planner, policy: "/home/alice/p.safetensors", policyVersion: 3)

    static let timing = TimingResult(
        ticks: 20713, overruns: 3, worstOverrunStreak: 1,
        wakeLatencyUs: .init(p50: 30.5, p90: 45.1, p99: 72.7, p99_9: 130, max: 410.2, mean: 33),
        computeUs: .init(p50: 8.8, p90: 12, p99: 21.8, p99_9: 27.9, max: 116, mean: 11.1),
        computeCPUUs: .init(p50: 8.1, p90: 11, p99: 19.9, p99_9: 25, max: 60.2, mean: 10.2),
        preemptedTicks: 0, allocations: 0, scheduler: "fifo", rtPriority: 80, memoryLocked: true, cpu: nil, mpc: planner)

    static let hello = HelloResult(version: "0.1.0", robot: "sim6", dof: 2, jointNames: ["a", "b"], rateHz: 1000, driver: "simulation",
                                   modes: ["idle", "hold"], role: "operator", uid: 1000, methods: ["hello", "status"], telemetryMaxHz: 500)

    static let sample = TelemetrySample(subscription: 1, tick: 20713, loopTimeS: 20.713, mode: "hold", q: [0, -1.2], v: [0, 0], effort: [1, 2],
                                        command: [1, 2], endEffector: [0.4, 0, 0.55], dropped: 5, disagreement: 0.5, modelVersion: 2)

    /// decode(parse(serialize(encode(x)))) == x.
    func roundTrip<R: ControlResult>(_ x: R) throws -> R {
        try R(json: JSONValue.parse(x.json.serialized))
    }

    @Test func resultsRoundTripThroughTheWireText() throws {
        #expect(try roundTrip(Self.status) == Self.status)
        #expect(try roundTrip(Self.timing) == Self.timing)
        #expect(try roundTrip(Self.hello) == Self.hello)
        #expect(try roundTrip(Self.sample) == Self.sample)
        #expect(try roundTrip(ModeResult(mode: "estop")) == ModeResult(mode: "estop"))
        #expect(try roundTrip(MoveResult(mode: "move", durationS: 2)) == MoveResult(mode: "move", durationS: 2))
        #expect(try roundTrip(MoveResult(mode: "move", durationS: nil)) == MoveResult(mode: "move", durationS: nil))
        #expect(try roundTrip(TargetSetResult(mode: "hold", waypoints: 32, hint: "x")) == TargetSetResult(mode: "hold", waypoints: 32, hint: "x"))
        #expect(try roundTrip(TargetSetResult(mode: "mpc", hint: nil)) == TargetSetResult(mode: "mpc", hint: nil))
        #expect(try roundTrip(LogSetLevelResult(level: "debug", previous: "info")) == LogSetLevelResult(level: "debug", previous: "info"))
        // Nothing optional left: the daemon without a planner, a policy, a fault or a fallback.
        var bare = Self.status
        (bare.fault, bare.lastFallback, bare.mpc, bare.policy, bare.policyVersion, bare.faults) = (nil, nil, nil, nil, nil, [])
        #expect(try roundTrip(bare) == bare)
        var noPlanner = Self.sample
        (noPlanner.disagreement, noPlanner.modelVersion) = (nil, nil)
        #expect(try roundTrip(noPlanner) == noPlanner)
    }

    static let bus = BusStatus(
        state: "faulted", port: "/dev/serial/by-id/usb-1a86_USB_Single_Serial-if00", protocol: "feetech", baud: 1_000_000, targetHz: 250,
        cycleHz: 249.6, cycleP50Us: 1180, cycleP99Us: 2450, cycles: 51234, failedCycles: 3, errorsPerS: 0.5, retriesPerS: 0.5,
        calibrationHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", calibrationFile: "data/calibration/so101.json",
        lastFault: "servo 3 (elbow_flex): overload",
        servos: [.init(id: 1, joint: "shoulder_pan", errors: 0, temperatureC: 31, voltageV: 12.1, hardwareError: nil),
                 .init(id: 3, joint: "elbow_flex", errors: 2, temperatureC: nil, voltageV: nil, hardwareError: "overload")])

    /// A servo arm's `bus` section in status and timing round-trips, with its documented keys;
    /// the simulated arm's results have none.
    @Test func busSectionRoundTripsAndIsAbsentWithoutABus() throws {
        var status = Self.status
        status.bus = Self.bus
        #expect(try roundTrip(status) == status)
        var timing = Self.timing
        timing.bus = Self.bus
        #expect(try roundTrip(timing) == timing)
        let keys = Set(Self.bus.json.objectValue?.keys.map { $0 } ?? [])
        #expect(keys == ["state", "port", "protocol", "baud", "target_hz", "cycle_hz", "cycle_p50_us", "cycle_p99_us", "cycles",
                         "failed_cycles", "errors_per_s", "retries_per_s", "calibration_hash", "calibration_file", "last_fault", "servos"])
        #expect(Self.bus.json["servos"]?.arrayValue?.last?.serialized
            == #"{"errors":2,"hardware_error":"overload","id":3,"joint":"elbow_flex","temperature_c":null,"voltage_v":null}"#)
        #expect(Self.status.json["bus"] == nil && Self.timing.json["bus"] == nil)
        var bad = status.json
        if case var .object(o) = bad, case var .object(b) = o["bus"]! { b["cycles"] = .string("many"); o["bus"] = .object(b); bad = .object(o) }
        #expect(throws: RPCError.self) { try StatusResult(json: bad) }
    }

    /// The keys docs/protocol.md documents, each once; nullable members are `null`, never absent.
    @Test func wireFormHasTheDocumentedKeys() throws {
        let keys = { (v: JSONValue) in Set(v.objectValue?.keys.map { $0 } ?? []) }
        #expect(keys(Self.status.json) == [
            "mode", "fault", "rate_hz", "tick_count", "overruns", "stalls", "stalled_s", "stale_states", "uptime_s", "loop_time_s", "joints",
            "end_effector", "faults", "last_fallback", "mpc", "policy", "policy_version",
        ])
        #expect(Self.status.json.serialized.contains(#""policy":"/home/alice/p.safetensors","policy_version":3,"rate_hz":1000,"#))
        #expect(Self.status.json["joints"]?.serialized == #"{"command":[12.4,-4.2],"effort":[12.5,-4.25],"names":["a","b"],"q":[0,-1.2],"v":[0,0.001]}"#)
        #expect(Self.status.json["faults"]?.arrayValue?.last?.serialized
            == #"{"flight_recorder":null,"loop_time_s":0.099,"reason":"non-finite command","tick":99}"#)
        #expect(keys(Self.timing.json) == [
            "ticks", "overruns", "worst_overrun_streak", "wake_latency_us", "compute_us", "compute_cpu_us", "preempted_ticks", "allocations",
            "scheduler", "rt_priority", "memory_locked", "cpu", "mpc",
        ])
        #expect(Self.timing.json["cpu"] == .null)
        #expect(keys(Self.hello.json) == [
            "protocol", "daemon", "version", "robot", "dof", "joint_names", "rate_hz", "driver", "modes", "role", "uid", "methods", "telemetry_max_hz",
        ])
        #expect(MoveResult(mode: "move", durationS: nil).json.serialized == #"{"accepted":true,"duration_s":null,"mode":"move"}"#)
        #expect(TargetSetResult(mode: "mpc", hint: nil).json.serialized == #"{"accepted":true,"hint":null,"mode":"mpc"}"#)
        #expect(Self.sample.json.serialized == #"{"command":[1,2],"disagreement":0.5,"dropped":5,"effort":[1,2],"end_effector":[0.4,0,0.55],"loop_time_s":20.713,"mode":"hold","model_version":2,"q":[0,-1.2],"subscription":1,"tick":20713,"v":[0,0]}"#)
    }

    /// Members a later daemon added read as nil from an older one (protocol 1 gains result keys
    /// without a version change), and are left out again when encoded.
    @Test func membersAddedLaterMayBeAbsent() throws {
        var old = Self.status.json.objectValue ?? [:]
        for key in ["stalls", "stalled_s", "stale_states", "policy_version", "last_fallback", "mpc", "policy"] { old.removeValue(forKey: key) }
        let status = try StatusResult(json: .object(old))
        #expect(status.stalls == nil && status.staleStates == nil && status.policyVersion == nil && status.mpc == nil)
        #expect(status.json["stale_states"] == nil && status.json["stalls"] == nil)
        var oldTiming = Self.timing.json.objectValue ?? [:]
        for key in ["compute_cpu_us", "preempted_ticks", "mpc"] { oldTiming.removeValue(forKey: key) }
        let timing = try TimingResult(json: .object(oldTiming))
        #expect(timing.computeCPUUs == nil && timing.preemptedTicks == nil)
    }

    /// A figure the daemon could not represent (non-finite, printed as `null`) reads as NaN and
    /// does not hide the rest of the result.
    @Test func aNullFigureReadsAsNaN() throws {
        var s = Self.status
        s.joints.q = [.nan, 1]
        s.uptimeS = .infinity
        let back = try roundTrip(s)
        #expect(back.joints.q[0].isNaN && back.joints.q[1] == 1 && back.uptimeS.isNaN)
        #expect(back.mode == s.mode && back.faults == s.faults)
    }

    func malformed<R: ControlResult>(_: R.Type, _ x: R, _ edit: (inout JSONValue) -> Void) -> String {
        var json = x.json
        edit(&json)
        do {
            _ = try R(json: json)
            return "accepted"
        } catch {
            #expect(error.code == .internalError)
            return error.message
        }
    }

    @Test func aWrongTypedMemberIsNamedByItsPath() {
        func set(_ path: [String], _ value: JSONValue) -> (inout JSONValue) -> Void {
            { json in json = Self.setting(json, path, value) }
        }
        #expect(malformed(StatusResult.self, Self.status, set(["tick_count"], "many"))
            == #"malformed status result: "tick_count" must be an integer, got string"#)
        #expect(malformed(StatusResult.self, Self.status, set(["joints", "q"], [0, "x"]))
            == #"malformed status result: "joints"."q"[1] must be a number, got string"#)
        #expect(malformed(StatusResult.self, Self.status, set(["end_effector", "rotation"], [[1, 0, 0], [0, true, 0], [0, 0, 1]]))
            == #"malformed status result: "end_effector"."rotation"[1][1] must be a number, got boolean"#)
        #expect(malformed(StatusResult.self, Self.status, set(["faults"], [["reason": "r", "tick": 1.5, "loop_time_s": 0, "flight_recorder": nil]]))
            == #"malformed status result: "faults"[0]."tick" must be an integer, got 1.5"#)
        #expect(malformed(StatusResult.self, Self.status, set(["last_fallback", "count"], "4"))
            == #"malformed status result: "last_fallback"."count" must be an integer, got string"#)
        #expect(malformed(StatusResult.self, Self.status, set(["mpc", "target", "position"], "here"))
            == #"malformed status result: "mpc"."target"."position" must be an array of numbers, got string"#)
        #expect(malformed(StatusResult.self, Self.status, set(["joints"], nil)) == #"malformed status result: "joints" must be an object, got null"#)
        #expect(malformed(StatusResult.self, Self.status, set(["policy_version"], "3"))
            == #"malformed status result: "policy_version" must be an integer, got string"#)
        #expect(malformed(TimingResult.self, Self.timing, set(["compute_cpu_us", "p99_9"], "slow"))
            == #"malformed timing result: "compute_cpu_us"."p99_9" must be a number, got string"#)
        #expect(malformed(HelloResult.self, Self.hello, set(["joint_names"], ["a", 2]))
            == #"malformed hello result: "joint_names"[1] must be a string, got number"#)
        #expect(malformed(TelemetrySample.self, Self.sample, set(["end_effector"], [0, 0, "z"]))
            == #"malformed telemetry result: "end_effector"[2] must be a number, got string"#)
        #expect(malformed(MoveResult.self, MoveResult(mode: "move", durationS: 2), set(["accepted"], "yes"))
            == #"malformed move result: "accepted" must be true or false, got string"#)
        // Missing members are named the same way; the caller may name the method it called.
        #expect(throws: RPCError.internalError(#"malformed reset result: missing "mode""#)) { try ModeResult(json: [:], method: ControlMethod.reset) }
        #expect(throws: RPCError.internalError(#"malformed status result: missing "joints"."names""#)) {
            try StatusResult(json: Self.setting(Self.status.json, ["joints", "names"], nil, remove: true))
        }
    }

    /// `json` with the member at `path` set to `value` (or removed).
    static func setting(_ json: JSONValue, _ path: [String], _ value: JSONValue, remove: Bool = false) -> JSONValue {
        guard let key = path.first, case var .object(o) = json else { return json }
        if path.count == 1 {
            if remove { o.removeValue(forKey: key) } else { o[key] = value }
        } else {
            o[key] = setting(o[key] ?? .null, Array(path.dropFirst()), value, remove: remove)
        }
        return .object(o)
    }
}
