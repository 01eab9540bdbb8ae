/// Typed results (docs/protocol.md): what the daemon's ports return and the server encodes, and
/// what a client decodes. `json` is the wire form (snake_case keys); the decoder throws a
/// *malformed result* error naming the member by its path.

/// A method's typed result: encodes to the wire form and decodes from it, so that
/// `R(json: r.json) == r`.
public protocol ControlResult: Sendable, Hashable {
    /// The method whose result this is, named in decoding errors unless the caller names another
    /// (one result type can answer several methods: `ModeResult` is also `estop`'s and `reset`'s).
    static var method: String { get }
    /// The wire form.
    var json: JSONValue { get }
    /// Reads the members of `r` (a whole result or a member of one).
    /// - Throws: *internal error* "malformed … result" naming the member that does not read.
    init(_ r: Params) throws(RPCError)
}

extension ControlResult {
    /// Decodes `method`'s result.
    /// - Throws: *internal error* "malformed `method` result: …" naming the member.
    public init(json: JSONValue, method: String = Self.method) throws(RPCError) {
        try self.init(Params(ofResult: json, method: method))
    }
}

/// The MPC planner's state (`status.mpc`, `timing.mpc`).
public struct PlannerStatus: ControlResult {
    public static let method = ControlMethod.status

    public enum Target: Sendable, Hashable {
        /// Position (m, base frame) and orientation quaternion [w, x, y, z] when one was given.
        case pose(position: [Double], orientation: [Double]?)
        case joints([Double])
        case path(waypoints: [[Double]], period: Double)
    }

    public var target: Target?
    public var solves: Int
    public var solveMs: Double
    public var maxSolveMs: Double
    public var iterations: Int
    public var cost: Double
    /// The solver's status of the newest solve (`converged`, …).
    public var status: String
    /// Age of the newest plan at the loop's current time; nil before the first plan or without a target.
    public var planAgeMs: Double?
    public var predictedErrorM: Double
    public var reachM: Double
    public var rateHz: Int
    public var horizon: Int
    public var dt: Double
    public var modelVersion: Int
    public var disagreement: Double
    public var uncertainPlans: Int
    public var fallbackPlans: Int
    public var planningModel: String
    public var disagreementLimit: Double

    public init(target: Target?, solves: Int, solveMs: Double, maxSolveMs: Double, iterations: Int, cost: Double, status: String,
                planAgeMs: Double?, predictedErrorM: Double, reachM: Double, rateHz: Int, horizon: Int, dt: Double, modelVersion: Int,
                disagreement: Double, uncertainPlans: Int, fallbackPlans: Int, planningModel: String, disagreementLimit: Double) {
        self.target = target
        self.solves = solves
        self.solveMs = solveMs
        self.maxSolveMs = maxSolveMs
        self.iterations = iterations
        self.cost = cost
        self.status = status
        self.planAgeMs = planAgeMs
        self.predictedErrorM = predictedErrorM
        self.reachM = reachM
        self.rateHz = rateHz
        self.horizon = horizon
        self.dt = dt
        self.modelVersion = modelVersion
        self.disagreement = disagreement
        self.uncertainPlans = uncertainPlans
        self.fallbackPlans = fallbackPlans
        self.planningModel = planningModel
        self.disagreementLimit = disagreementLimit
    }

    public var json: JSONValue {
        var targetJSON: JSONValue = .null
        switch target {
        case let .pose(p, o)?: targetJSON = ["position": JSONValue(p), "orientation": o.map { JSONValue($0) } ?? .null]
        case let .joints(q)?: targetJSON = ["q": JSONValue(q)]
        case let .path(waypoints, period)?: targetJSON = ["path": .array(waypoints.map { JSONValue($0) }), "period": .number(period)]
        case nil: break
        }
        return [
            "target": targetJSON, "solves": JSONValue(solves), "solve_ms": .number(solveMs), "max_solve_ms": .number(maxSolveMs),
            "iterations": JSONValue(iterations), "cost": .number(cost), "status": .string(status),
            "plan_age_ms": planAgeMs.map { .number($0) } ?? .null,
            "predicted_error_m": .number(predictedErrorM), "reach_m": .number(reachM),
            "rate_hz": JSONValue(rateHz), "horizon": JSONValue(horizon), "dt": .number(dt),
            "model_version": JSONValue(modelVersion), "disagreement": .number(disagreement), "uncertain_plans": JSONValue(uncertainPlans),
            "fallback_plans": JSONValue(fallbackPlans), "planning_model": .string(planningModel), "disagreement_limit": .number(disagreementLimit),
        ]
    }

    public init(_ r: Params) throws(RPCError) {
        var target: Target?
        if let tp = try r.optionalObject("target") {
            if tp.has("position") {
                target = .pose(position: try tp.numbers("position"), orientation: try tp.optionalNumbers("orientation"))
            } else if tp.has("q") {
                target = .joints(try tp.numbers("q"))
            } else if tp.has("path") {
                target = .path(waypoints: try tp.numberRows("path"), period: try tp.number("period"))
            } else {
                throw r.fail("\(r.name("target")) has none of \"position\", \"q\", \"path\"")
            }
        }
        self.init(target: target, solves: try r.int("solves"), solveMs: try r.number("solve_ms"), maxSolveMs: try r.number("max_solve_ms"),
                  iterations: try r.int("iterations"), cost: try r.number("cost"), status: try r.string("status"),
                  planAgeMs: try r.optionalNumber("plan_age_ms"), predictedErrorM: try r.number("predicted_error_m"),
                  reachM: try r.number("reach_m"), rateHz: try r.int("rate_hz"), horizon: try r.int("horizon"), dt: try r.number("dt"),
                  modelVersion: try r.int("model_version"), disagreement: try r.number("disagreement"),
                  uncertainPlans: try r.int("uncertain_plans"), fallbackPlans: try r.int("fallback_plans"),
                  planningModel: try r.string("planning_model"), disagreementLimit: try r.number("disagreement_limit"))
    }
}

/// The learned dynamics model (`model.status`).
public struct ModelStatus: ControlResult {
    public static let method = ControlMethod.modelStatus
    public var version: Int
    /// The version the planner uses now (it switches at its next re-plan).
    public var plannerVersion: Int
    public var samples: Int
    public var samplesSeen: Int
    public var rounds: Int
    public var validationMSE: Double?
    public var nominalMSE: Double?
    public var lastTrainingSeconds: Double?
    /// Monotonic seconds of the last training round.
    public var lastTrainedAt: Double?
    public var lastOutcome: String
    public var training: Bool
    public var warmStarted: Bool
    public var disagreement: Double
    public var cpus: [Int]
    public var cpuWarning: String?

    public init(version: Int, plannerVersion: Int, samples: Int, samplesSeen: Int, rounds: Int, validationMSE: Double?, nominalMSE: Double?,
                lastTrainingSeconds: Double?, lastTrainedAt: Double?, lastOutcome: String, training: Bool, warmStarted: Bool,
                disagreement: Double, cpus: [Int], cpuWarning: String?) {
        self.version = version
        self.plannerVersion = plannerVersion
        self.samples = samples
        self.samplesSeen = samplesSeen
        self.rounds = rounds
        self.validationMSE = validationMSE
        self.nominalMSE = nominalMSE
        self.lastTrainingSeconds = lastTrainingSeconds
        self.lastTrainedAt = lastTrainedAt
        self.lastOutcome = lastOutcome
        self.training = training
        self.warmStarted = warmStarted
        self.disagreement = disagreement
        self.cpus = cpus
        self.cpuWarning = cpuWarning
    }

    public var json: JSONValue {
        func number(_ x: Double?) -> JSONValue { x.map { .number($0) } ?? .null }
        return [
            "version": JSONValue(version), "planner_version": JSONValue(plannerVersion), "samples": JSONValue(samples),
            "samples_seen": JSONValue(samplesSeen), "rounds": JSONValue(rounds),
            "validation_mse": number(validationMSE), "nominal_mse": number(nominalMSE),
            "last_training_s": number(lastTrainingSeconds), "last_trained_at": number(lastTrainedAt),
            "last_outcome": .string(lastOutcome), "training": .bool(training), "warm_started": .bool(warmStarted),
            "disagreement": .number(disagreement),
            "cpus": .array(cpus.map { JSONValue($0) }), "cpu_warning": cpuWarning.map { .string($0) } ?? .null,
        ]
    }

    public init(_ r: Params) throws(RPCError) {
        self.init(version: try r.int("version"), plannerVersion: try r.int("planner_version"), samples: try r.int("samples"),
                  samplesSeen: try r.int("samples_seen"), rounds: try r.int("rounds"), validationMSE: try r.optionalNumber("validation_mse"),
                  nominalMSE: try r.optionalNumber("nominal_mse"), lastTrainingSeconds: try r.optionalNumber("last_training_s"),
                  lastTrainedAt: try r.optionalNumber("last_trained_at"), lastOutcome: try r.string("last_outcome"),
                  training: try r.bool("training"), warmStarted: try r.bool("warm_started"), disagreement: try r.number("disagreement"),
                  cpus: try r.ints("cpus"), cpuWarning: try r.optionalString("cpu_warning"))
    }
}

/// `model.rollback`: the version rolled back from and the version now requested.
public struct ModelRollbackResult: ControlResult {
    public static let method = ControlMethod.modelRollback
    public var fromVersion: Int
    public var version: Int

    public init(fromVersion: Int, version: Int) {
        self.fromVersion = fromVersion
        self.version = version
    }

    public var json: JSONValue { ["requested": true, "from_version": JSONValue(fromVersion), "version": JSONValue(version)] }

    public init(_ r: Params) throws(RPCError) {
        self.init(fromVersion: try r.int("from_version"), version: try r.int("version"))
    }
}

/// `model.load`: the file (name or path) and its ensemble size; the version follows when the
/// learner adopts it.
public struct ModelLoadResult: ControlResult {
    public static let method = ControlMethod.modelLoad
    public var loaded: String
    public var members: Int

    public init(loaded: String, members: Int) {
        self.loaded = loaded
        self.members = members
    }

    public var json: JSONValue { ["loaded": .string(loaded), "members": JSONValue(members)] }

    public init(_ r: Params) throws(RPCError) {
        self.init(loaded: try r.string("loaded"), members: try r.int("members"))
    }
}

/// `model.save`: where, how many ensemble members, which version.
public struct ModelSaveResult: ControlResult {
    public static let method = ControlMethod.modelSave
    public var saved: String
    public var members: Int
    public var version: Int

    public init(saved: String, members: Int, version: Int) {
        self.saved = saved
        self.members = members
        self.version = version
    }

    public var json: JSONValue { ["saved": .string(saved), "members": JSONValue(members), "version": JSONValue(version)] }

    public init(_ r: Params) throws(RPCError) {
        self.init(saved: try r.string("saved"), members: try r.int("members"), version: try r.int("version"))
    }
}

/// `policy.load`: the policy's shape and what its file says about itself.
public struct PolicyLoadResult: ControlResult {
    public static let method = ControlMethod.policyLoad
    public var loaded: String
    /// Layer widths, input first.
    public var widths: [Int]
    public var activation: String
    /// The observation's features, in order.
    public var observation: [String]
    public var robot: String?
    public var provenance: String?

    public init(loaded: String, widths: [Int], activation: String, observation: [String], robot: String?, provenance: String?) {
        self.loaded = loaded
        self.widths = widths
        self.activation = activation
        self.observation = observation
        self.robot = robot
        self.provenance = provenance
    }

    public var json: JSONValue {
        ["loaded": .string(loaded), "widths": .array(widths.map { JSONValue($0) }), "activation": .string(activation),
         "observation": JSONValue(observation),
         "robot": robot.map { .string($0) } ?? .null, "provenance": provenance.map { .string($0) } ?? .null]
    }

    public init(_ r: Params) throws(RPCError) {
        self.init(loaded: try r.string("loaded"), widths: try r.ints("widths"), activation: try r.string("activation"),
                  observation: try r.strings("observation"), robot: try r.optionalString("robot"),
                  provenance: try r.optionalString("provenance"))
    }
}

/// `telemetry.subscribe`: the subscription's id and the rate granted (clamped to the maximum).
public struct TelemetrySubscribeResult: ControlResult {
    public static let method = ControlMethod.telemetrySubscribe
    public var subscription: Int
    public var rateHz: Int

    public init(subscription: Int, rateHz: Int) {
        self.subscription = subscription
        self.rateHz = rateHz
    }

    public var json: JSONValue { ["subscription": JSONValue(subscription), "rate_hz": JSONValue(rateHz)] }

    public init(_ r: Params) throws(RPCError) {
        self.init(subscription: try r.int("subscription"), rateHz: try r.int("rate_hz"))
    }
}
