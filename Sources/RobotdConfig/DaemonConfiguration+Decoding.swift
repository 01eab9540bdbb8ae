import Planning
import Yams

// The schema: one `init(reading:)` per section, in the order of `configs/README.md`. Each reads
// its keys through `ConfigReader`, which records them, and ends with `finish()`, which rejects
// the rest.

extension DaemonConfiguration {
    /// - Parameter baseDirectory: Directory relative `robot.urdf` paths resolve against.
    init(reading r: inout ConfigReader, baseDirectory: String?) throws(ConfigError) {
        self.init()
        var robot = try r.section("robot")
        self.robot = try Robot(reading: &robot, baseDirectory: baseDirectory)
        var driver = try r.section("driver")
        self.driver = try Driver(reading: &driver, baseDirectory: baseDirectory)
        var loop = try r.section("loop")
        self.loop = try Loop(reading: &loop)
        var control = try r.section("control")
        self.control = try Control(reading: &control)
        var limits = try r.section("limits")
        self.limits = try Limits(reading: &limits)
        var mpc = try r.section("mpc")
        self.mpc = try MPC(reading: &mpc)
        var learning = try r.section("learning")
        self.learning = try Learning(reading: &learning)
        if self.loop.cpuAffinityIsAuto {
            self.loop.cpuAffinity = Loop.automaticCPU(allowed: ConfigReader.allowedCPUs(), avoiding: self.learning.cpuAffinity)
        }
        if let cpu = self.learning.cpuAffinity, cpu == self.loop.cpuAffinity {
            throw learning.error(.invalidValue, "cpu_affinity", at: nil,
                                 "CPU \(cpu) is loop.cpu_affinity's: the learner must train away from the control thread")
        }
        var policy = try r.section("policy")
        self.policy = try Policy(reading: &policy)
        var teleop = try r.section("teleop")
        self.teleop = try Teleop(reading: &teleop, baseDirectory: baseDirectory)
        var socket = try r.section("socket")
        self.socket = try Socket(reading: &socket)
        dataDirectory = try r.string("data_directory", default: dataDirectory)
        var logging = try r.section("logging")
        self.logging = try Logging(reading: &logging)
        try r.finish()
    }
}

extension DaemonConfiguration.Robot {
    init(reading r: inout ConfigReader, baseDirectory: String?) throws(ConfigError) {
        self.init()
        if let path = try r.optionalString("urdf") {
            urdf = ConfigLoader.resolve(path, against: baseDirectory)
            if r.checksHost, let problem = BoundedFile.problem(at: urdf, limit: Self.maxURDFBytes) {
                throw r.error(problem.isTooLarge ? .tooLarge : .invalidValue, "urdf", at: r.node("urdf"), "\(urdf): \(problem)")
            }
        }
        name = try r.optionalString("name")
        try r.finish()
    }
}

extension DaemonConfiguration.Driver {
    init(reading r: inout ConfigReader, baseDirectory: String?) throws(ConfigError) {
        let kind = try r.enumeration("kind", default: Kind.simulation)
        for other in Kind.allCases where other != kind && r.contains(other.rawValue) {
            throw r.error(
                .invalidValue, other.rawValue, at: nil,
                "settings for driver.kind \(other.rawValue), but driver.kind is \(kind.rawValue); remove them or change the kind")
        }
        var settings = try r.section(kind.rawValue)
        switch kind {
        case .simulation:
            self = .simulation(try DaemonConfiguration.Simulation(reading: &settings))
        case .dynamixel:
            self = .dynamixel(try DaemonConfiguration.SerialBus(reading: &settings, kind: kind.rawValue, baseDirectory: baseDirectory))
        case .feetech:
            self = .feetech(try DaemonConfiguration.SerialBus(reading: &settings, kind: kind.rawValue, baseDirectory: baseDirectory))
        }
        try r.finish()
    }
}

extension DaemonConfiguration.Simulation {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        substeps = try r.int("substeps", default: substeps, .closed(1, 100))
        integrator = try r.enumeration("integrator", default: integrator)
        seed = try r.uint64("seed", default: seed)
        positionNoise = try r.double("position_noise", default: positionNoise, .atLeast(0), unit: "rad")
        velocityNoise = try r.double("velocity_noise", default: velocityNoise, .atLeast(0), unit: "rad/s")
        payloadMass = try r.double("payload_mass", default: payloadMass, .atLeast(0), unit: "kg")
        payloadFrame = try r.optionalString("payload_frame")
        if let offset = try r.optionalDoubleList("payload_offset", .any, unit: "m") {
            guard offset.count == 3 else {
                throw r.error(.invalidValue, "payload_offset", at: r.node("payload_offset"), "expected 3 values (x, y, z), found \(offset.count)")
            }
            payloadOffset = offset
        }
        extraFriction = try r.jointValues("extra_friction", default: extraFriction, .atLeast(0), unit: "N·m")
        extraDamping = try r.jointValues("extra_damping", default: extraDamping, .atLeast(0), unit: "N·m·s/rad")
        if let initial = try r.optionalDoubleList("initial_position", .any, unit: "rad") {
            guard !initial.isEmpty else {
                throw r.error(.invalidValue, "initial_position", at: r.node("initial_position"), "empty list; give one position per joint or remove the key")
            }
            initialPosition = initial
        }
        commandMode = try r.enumeration("command_mode", default: commandMode)
        var servo = try r.section("servo")
        self.servo = try Servo(reading: &servo)
        try r.finish()
    }
}

extension DaemonConfiguration.Simulation.Servo {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        kp = try r.optionalJointValues("kp", .above(0), unit: "N·m/rad")
        kd = try r.optionalJointValues("kd", .atLeast(0), unit: "N·m·s/rad")
        torqueLimit = try r.optionalJointValues("torque_limit", .above(0), unit: "N·m")
        try r.finish()
    }
}

extension DaemonConfiguration.SerialBus {
    /// - Parameter reason: why the required keys are required, for their errors.
    init(reading r: inout ConfigReader, kind: String, baseDirectory: String?, reason: String? = nil) throws(ConfigError) {
        let reason = reason ?? "when driver.kind is \(kind)"
        let port = try r.requiredString("port", because: reason)
        let baud = try r.int("baud", default: 1_000_000, .closed(1, 4_000_000), unit: "baud")
        guard Self.standardBaudRates.contains(baud) else {
            let rates = Self.standardBaudRates.map(String.init).joined(separator: ", ")
            throw r.error(.invalidValue, "baud", at: r.node("baud"), "\(baud) is not a standard rate; use one of \(rates)")
        }
        guard let idNodes = try r.list("ids") else {
            throw r.error(.missingKey, "ids", at: nil, "missing; required \(reason) (servo IDs in joint order)")
        }
        guard !idNodes.isEmpty else {
            throw r.error(.invalidValue, "ids", at: r.node("ids"), "empty list; give the servo IDs in joint order")
        }
        var ids: [Int] = []
        for (i, node) in idNodes.enumerated() {
            let path = "\(r.keyPath("ids"))[\(i)]"
            let id = try r.int(node, keyPath: path, .closed(0, 253), unit: "")
            guard !ids.contains(id) else {
                throw ConfigError(.invalidValue, keyPath: path, file: r.file, line: node.mark?.line, message: "servo ID \(id) appears twice")
            }
            ids.append(id)
        }
        self.init(port: port, baud: baud, ids: ids)
        armID = try r.optionalString("arm_id")
        if let arm = armID {
            let ok = !arm.isEmpty && arm.count <= 64 && !arm.hasPrefix(".")
                && arm.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
            guard ok else {
                throw r.error(.invalidValue, "arm_id", at: r.node("arm_id"), "\"\(arm)\" cannot name a file: use 1…64 letters, digits, '.', '_' or '-', not starting with '.'")
            }
        }
        busRateHz = try r.double("bus_rate_hz", default: busRateHz, .closed(1, 2000), unit: "Hz")
        positionMode = try r.enumeration("position_mode", default: positionMode)
        if positionMode == .currentPosition, kind != "dynamixel" {
            throw r.error(.invalidValue, "position_mode", at: r.node("position_mode"),
                          "current_position is Dynamixel's current-based position mode; \(kind) servos have only position")
        }
        profileVelocity = try r.optionalDouble("profile_velocity", .above(0), unit: "rad/s")
        profileAcceleration = try r.optionalDouble("profile_acceleration", .above(0), unit: "rad/s²")
        if r.contains("position_p") { positionP = try r.jointValues("position_p", default: .uniform(0), .closed(0, 16383), unit: "") }
        if r.contains("position_d") { positionD = try r.jointValues("position_d", default: .uniform(0), .closed(0, 16383), unit: "") }
        if r.contains("torque_limit") { torqueLimit = try r.jointValues("torque_limit", default: .uniform(1), .closed(0, 1), unit: "") }
        if r.contains("feedforward_stiffness") {
            feedforwardStiffness = try r.jointValues("feedforward_stiffness", default: .uniform(0), .atLeast(0), unit: "N·m/rad")
        }
        maxGoalStep = try r.double("max_goal_step", default: maxGoalStep, .closed(0.0001, 1), unit: "rad")
        softLimitMargin = try r.double("soft_limit_margin", default: softLimitMargin, .closed(0, 0.5), unit: "rad")
        failedCyclesToFault = try r.int("failed_cycles_to_fault", default: failedCyclesToFault, .closed(1, 100), unit: "cycles")
        retries = try r.int("retries", default: retries, .closed(0, 5), unit: "")
        safeState = try r.enumeration("safe_state", default: safeState)
        diagnosticsHz = try r.double("diagnostics_hz", default: diagnosticsHz, .closed(0.1, 50), unit: "Hz")
        calibration = try r.optionalString("calibration").map { ConfigLoader.resolve($0, against: baseDirectory) }
        try r.finish()
    }
}

extension DaemonConfiguration.Loop {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        rateHz = try r.int("rate_hz", default: rateHz, .closed(1, 10_000), unit: "Hz")
        rtPriority = try r.int("rt_priority", default: rtPriority, .closed(1, 99))
        (cpuAffinity, cpuAffinityIsAuto) = try r.cpuOrAuto("cpu_affinity")
        lockMemory = try r.bool("lock_memory", default: lockMemory)
        overrunFaultThreshold = try r.int("overrun_fault_threshold", default: overrunFaultThreshold, .closed(1, 1000), unit: "ticks")
        catchUp = try r.enumeration("catch_up", default: catchUp)
        flightRecorderSeconds = try r.double("flight_recorder_seconds", default: flightRecorderSeconds, .closed(0, 60), unit: "s")
        maxStall = try r.double("max_stall", default: maxStall, .closed(0.005, 10), unit: "s")
        maxStateAge = try r.double("max_state_age", default: maxStateAge, .closed(0.0001, 10), unit: "s")
        staleStateFaultTicks = try r.int("stale_state_fault_ticks", default: staleStateFaultTicks, .closed(1, 10_000), unit: "ticks")
        earlyWake = try r.double("early_wake", default: earlyWake, .closed(0, 0.001), unit: "s")
        if earlyWake >= period / 2 {
            throw r.error(.outOfRange, "early_wake", at: r.node("early_wake"),
                          "\(earlyWake) s is not under half of the \(rateHz) Hz period (\(period / 2) s): the thread would spin more than it sleeps")
        }
        try r.finish()
    }
}

extension DaemonConfiguration.Control {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        var holdReader = try r.section("hold")
        hold = try DaemonConfiguration.Gains(reading: &holdReader, default: hold)
        var moveReader = try r.section("move")
        move = try DaemonConfiguration.Gains(reading: &moveReader, default: move)
        gravityCompensation = try r.bool("gravity_compensation", default: gravityCompensation)
        maxMoveVelocity = try r.double("max_move_velocity", default: maxMoveVelocity, .above(0), unit: "rad/s")
        try r.finish()
    }
}

extension DaemonConfiguration.Gains {
    init(reading r: inout ConfigReader, default value: Self) throws(ConfigError) {
        let kp = try r.jointValues("kp", default: value.kp, .above(0), unit: "N·m/rad")
        let kd = try r.jointValues("kd", default: value.kd, .atLeast(0), unit: "N·m·s/rad")
        self.init(kp: kp, kd: kd)
        try r.finish()
    }
}

extension DaemonConfiguration.MPC {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        enabled = try r.bool("enabled", default: enabled)
        rateHz = try r.int("rate_hz", default: rateHz, .closed(1, 1000), unit: "Hz")
        horizon = try r.int("horizon", default: horizon, .closed(2, 200))
        dt = try r.double("dt", default: dt, .closed(0.001, 0.1), unit: "s")
        iterations = try r.int("iterations", default: iterations, .closed(1, 50))
        budget = try r.double("budget", default: budget, .closed(0.0005, 1), unit: "s")
        planValidity = try r.double("plan_validity", default: planValidity, .closed(0.005, 1), unit: "s")
        frame = try r.optionalString("frame")
        var w = try r.section("weights")
        weights = try ReachWeights(reading: &w)
        try r.finish()
    }
}

extension ReachWeights {
    /// Decodes `mpc.weights` (configs/README.md); a missing key keeps the default.
    init(reading w: inout ConfigReader) throws(ConfigError) {
        self.init()
        runningFrame = try w.double("running_frame", default: runningFrame, .atLeast(0))
        runningState = try w.double("running_state", default: runningState, .atLeast(0))
        runningControl = try w.double("running_control", default: runningControl, .above(0))
        terminalFrame = try w.double("terminal_frame", default: terminalFrame, .atLeast(0))
        runningOrientation = try w.double("running_orientation", default: runningOrientation, .atLeast(0))
        terminalOrientation = try w.double("terminal_orientation", default: terminalOrientation, .atLeast(0))
        terminalVelocity = try w.double("terminal_velocity", default: terminalVelocity, .atLeast(0))
        runningJoint = try w.double("running_joint", default: runningJoint, .atLeast(0))
        pathFrame = try w.double("path_frame", default: pathFrame, .atLeast(0))
        terminalJoint = try w.double("terminal_joint", default: terminalJoint, .atLeast(0))
        jointLimitBarrier = try w.double("joint_limit_barrier", default: jointLimitBarrier, .atLeast(0))
        try w.finish()
    }
}

extension DaemonConfiguration.Learning {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        enabled = try r.bool("enabled", default: enabled)
        interval = try r.double("interval", default: interval, .closed(1, 3600), unit: "s")
        minNewSamples = try r.int("min_new_samples", default: minNewSamples, .closed(1, 1_000_000))
        replayCapacity = try r.int("replay_capacity", default: replayCapacity, .closed(1000, 10_000_000))
        members = try r.int("members", default: members, .closed(1, 16))
        if let list = try r.optionalDoubleList("hidden", .closed(1, 1024)) {
            guard !list.isEmpty, list.allSatisfy({ $0 == $0.rounded() }) else {
                throw ConfigError(.invalidValue, keyPath: r.keyPath("hidden"), file: r.file, line: nil, message: "a non-empty list of integer widths")
            }
            hidden = list.map { Int($0) }
        }
        epochs = try r.int("epochs", default: epochs, .closed(1, 1000))
        validationFraction = try r.double("validation_fraction", default: validationFraction, .closed(0.05, 0.5))
        maxDisagreement = try r.double("max_disagreement", default: maxDisagreement, .atLeast(0))
        disagreementQuantile = try r.double("disagreement_quantile", default: disagreementQuantile, .closed(0.5, 1))
        disagreementFactor = try r.double("disagreement_factor", default: disagreementFactor, .closed(1, 1000))
        softDisagreement = try r.double("soft_disagreement", default: softDisagreement, .atLeast(0))
        softDisagreementFraction = try r.double("soft_disagreement_fraction", default: softDisagreementFraction, .closed(0, 1))
        residualBoundFactor = try r.double("residual_bound_factor", default: residualBoundFactor, .closed(1, 1000))
        if let problem = disagreementProblem { throw r.error(.invalidValue, "soft_disagreement", at: nil, problem) }
        disagreementWeight = try r.double("disagreement_weight", default: disagreementWeight, .atLeast(0))
        cpuAffinity = try r.cpu("cpu_affinity")
        warmStart = try r.bool("warm_start", default: warmStart)
        warmStartEpochs = try r.int("warm_start_epochs", default: warmStartEpochs, .closed(1, 1000))
        inputNoise = try r.double("input_noise", default: inputNoise, .closed(0, 2))
        controlInput = try r.bool("control_input", default: controlInput)
        derivatives = try r.enumeration("derivatives", default: derivatives)
        try r.finish()
    }
}

extension DaemonConfiguration.Policy {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        maxInferenceFraction = try r.double("max_inference_fraction", default: maxInferenceFraction, .above(0, atMost: 1))
        try r.finish()
    }
}

extension DaemonConfiguration.Teleop {
    init(reading r: inout ConfigReader, baseDirectory: String?) throws(ConfigError) {
        self.init()
        source = try r.enumeration("source", default: source)
        timeout = try r.double("timeout", default: timeout, .above(0, atMost: 10), unit: "s")
        maxVelocity = try r.double("max_velocity", default: maxVelocity, .above(0, atMost: 100), unit: "rad/s")
        maxAcceleration = try r.double("max_acceleration", default: maxAcceleration, .above(0, atMost: 1000), unit: "rad/s²")
        if r.contains("leader") {
            var l = try r.section("leader")
            leader = try Leader(reading: &l, baseDirectory: baseDirectory)
            guard source == .leader else {
                throw r.error(.invalidValue, "leader", at: r.node("leader"), "a leader arm is set but teleop.source is \(source.rawValue); set source: leader or remove it")
            }
        } else if source == .leader {
            throw r.error(.missingKey, "leader", at: nil, "missing; required when teleop.source is leader (the leader arm's bus: kind and its settings)")
        }
        try r.finish()
    }
}

extension DaemonConfiguration.Teleop.Leader {
    init(reading r: inout ConfigReader, baseDirectory: String?) throws(ConfigError) {
        guard let kindText = try r.optionalString("kind") else {
            throw r.error(.missingKey, "kind", at: nil, "missing; the leader's servo family: feetech or dynamixel")
        }
        guard let kind = DaemonConfiguration.Driver.Kind(rawValue: kindText), kind != .simulation else {
            throw r.error(.invalidValue, "kind", at: r.node("kind"), "\"\(kindText)\" is not a servo bus; use feetech or dynamixel")
        }
        for other in [DaemonConfiguration.Driver.Kind.feetech, .dynamixel] where other != kind && r.contains(other.rawValue) {
            throw r.error(.invalidValue, other.rawValue, at: nil, "settings for \(other.rawValue), but the leader's kind is \(kind.rawValue)")
        }
        var settings = try r.section(kind.rawValue)
        let bus = try DaemonConfiguration.SerialBus(reading: &settings, kind: kind.rawValue, baseDirectory: baseDirectory,
                                                    reason: "for a \(kind.rawValue) leader arm")
        self.init(kind: kind, bus: bus)
        if let nodes = try r.list("range_mapped") {
            var names: [String] = []
            for (i, node) in nodes.enumerated() {
                guard let name = node.string, !name.isEmpty else {
                    throw ConfigError(.invalidValue, keyPath: "\(r.keyPath("range_mapped"))[\(i)]", file: r.file, line: node.mark?.line,
                                      message: "expected a joint name")
                }
                names.append(name)
            }
            rangeMapped = names
        }
        takeoverThreshold = try r.double("takeover_threshold", default: takeoverThreshold, .closed(0, 3.2), unit: "rad")
        try r.finish()
    }
}

extension DaemonConfiguration.Limits {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        velocityScale = try r.double("velocity_scale", default: velocityScale, .above(0, atMost: 1))
        effortScale = try r.double("effort_scale", default: effortScale, .above(0, atMost: 1))
        slewRate = try r.double("slew_rate", default: slewRate, .above(0), unit: "N·m/s")
        velocityFaultMargin = try r.double("velocity_fault_margin", default: velocityFaultMargin, .closed(0.05, 2))
        var jointsReader = try r.section("joints")
        for entry in jointsReader.takeAllEntries() {
            var joint = try ConfigReader(
                entry.value, path: jointsReader.keyPath(entry.key), file: r.file, line: entry.keyLine)
            joints[entry.key] = try DaemonConfiguration.JointLimits(reading: &joint)
        }
        try jointsReader.finish()
        try r.finish()
    }
}

extension DaemonConfiguration.JointLimits {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        lower = try r.optionalDouble("lower", .any, unit: "rad")
        upper = try r.optionalDouble("upper", .any, unit: "rad")
        velocity = try r.optionalDouble("velocity", .above(0), unit: "rad/s")
        effort = try r.optionalDouble("effort", .above(0), unit: "N·m")
        if let lower, let upper, lower >= upper {
            throw r.error(.invalidValue, "upper", at: r.node("upper"), "upper limit \(upper) rad is not above lower limit \(lower) rad")
        }
        try r.finish()
    }
}

extension DaemonConfiguration.Socket {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        path = try r.optionalString("path")
        if let path, path.utf8.count > Self.maxPathBytes {
            throw r.error(
                .outOfRange, "path", at: r.node("path"),
                "\(path.utf8.count) bytes; a Unix socket path holds at most \(Self.maxPathBytes) (sun_path is 108 bytes with its NUL)")
        }
        group = try r.optionalString("group")
        if let node = r.node("mode") {
            mode = try Self.mode(node, reader: r)
        }
        observers = try Self.peers("observers", reader: &r)
        operators = try Self.peers("operators", reader: &r)
        maxConnections = try r.int("max_connections", default: maxConnections, .closed(1, 1024))
        maxConnectionsPerUID = try r.int("max_connections_per_uid", default: maxConnectionsPerUID, .closed(1, 1024), unit: "connections")
        operatorReservedConnections = try r.int("operator_reserved_connections", default: operatorReservedConnections, .closed(0, 1024), unit: "connections")
        idleTimeout = try r.double("idle_timeout", default: idleTimeout, .closed(0.1, 86_400), unit: "s")
        maxRequestsPerSecond = try r.int("max_requests_per_second", default: maxRequestsPerSecond, .closed(1, 100_000), unit: "requests/s")
        telemetryMaxHz = try r.int("telemetry_max_hz", default: telemetryMaxHz, .closed(1, 10_000), unit: "Hz")
        try r.finish()
    }

    /// chmod-style permission digits: `0660`, `"0660"`, `660` and `0o660` all mean rw-rw----.
    private static func mode(_ node: Node, reader r: ConfigReader) throws(ConfigError) -> Int {
        guard case let .scalar(scalar) = node else {
            throw r.typeError(node, keyPath: r.keyPath("mode"), expected: "octal permission digits like \"0660\"")
        }
        var digits = Substring(scalar.string)
        if digits.hasPrefix("0o") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.allSatisfy({ ("0" ... "7").contains($0) }), let value = Int(digits, radix: 8) else {
            throw r.typeError(node, keyPath: r.keyPath("mode"), expected: "octal permission digits like \"0660\"")
        }
        guard value <= 0o777 else {
            throw r.error(.outOfRange, "mode", at: node, "\(scalar.string) is out of range 0…0777 (permission bits only)")
        }
        return value
    }

    private static func peers(_ key: String, reader r: inout ConfigReader) throws(ConfigError) -> [String] {
        let names = try r.stringList(key, default: [])
        for (i, name) in names.enumerated() {
            let user = name.hasPrefix("@") ? name.dropFirst() : Substring(name)
            if user.isEmpty || user.contains(where: { $0.isWhitespace || $0 == ":" || $0 == "/" }) {
                let node = try r.list(key)?[i]
                throw ConfigError(
                    .invalidValue, keyPath: "\(r.keyPath(key))[\(i)]", file: r.file, line: node?.mark?.line,
                    message: "\(name.debugDescription) is not a user name or @group")
            }
        }
        return names
    }
}

extension DaemonConfiguration.Logging {
    init(reading r: inout ConfigReader) throws(ConfigError) {
        self.init()
        level = try r.enumeration("level", default: level)
        target = try r.enumeration("target", default: target)
        try r.finish()
    }
}

extension DaemonConfiguration.Loop {
    /// `loop.cpu_affinity: auto`: the highest-numbered CPU of `allowed` (the process's affinity
    /// mask) other than `avoiding` (`learning.cpu_affinity`), when the mask has two CPUs or more;
    /// nil (unpinned) on one CPU, where a reserved CPU would leave nothing for the server, the
    /// planner and the learner. The highest, because the kernel and most processes start low.
    public static func automaticCPU(allowed: [Int], avoiding: Int?) -> Int? {
        guard Set(allowed).count >= 2 else { return nil }
        return allowed.filter { $0 != avoiding }.max()
    }
}
