import LinearAlgebra
import RealModule
import RigidBody
import RobotInterface

/// A simulated arm over the rigid-body dynamics: the default driver, deterministic for a seed.
///
/// Time is lock-step: every `read` after the first advances the plant by one control `period`
/// (in `substeps` internal steps) under the last written command, held constant (zero-order
/// hold), then samples the state with seeded Gaussian noise. A loop that reads, computes and
/// writes once per period therefore sees exactly the timing of a real fixed-rate arm; with the
/// actuators off (before `activate`, after `deactivate`) the arm moves passively. The plant can differ from the nominal model on purpose (a payload at
/// the end effector, extra joint friction) so that learning has something to find.
///
/// Actuators: torque mode applies the command clamped to the effort limits; position mode runs
/// a servo's internal PD, τ = clamp(K_p (q* − q) − K_d q̇ + τ_ff, ±τ_max), with its damping
/// integrated implicitly (a servo's loop is much faster than any simulation step); velocity
/// mode τ = clamp(K_v (q̇* − q̇) + τ_ff, ±τ_max). Joints stop inelastically at their position limits.
public struct SimulatedArm: RobotDriver, Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Control period: simulated time per `write` (s).
        public var period: Double = 0.001
        /// Integration steps per period.
        public var substeps: Int = 4
        public var method: IntegrationMethod = .semiImplicitEuler
        /// Seed of the sensor noise.
        public var seed: UInt64 = 1
        /// Standard deviation of position noise (rad or m) and velocity noise (rad/s or m/s).
        public var positionNoise: Double = 0
        public var velocityNoise: Double = 0
        /// Servo gains for position mode, per joint (N·m/rad and N·m·s/rad); empty = derived
        /// from the joint's effort limit and inertia: K_p = τ_max / 0.1 rad (full torque at
        /// 0.1 rad error) and critical damping K_d = 2 √(K_p M_ii) with M_ii the joint's diagonal
        /// mass-matrix entry at the initial pose.
        public var positionGain: [Double] = []
        public var dampingGain: [Double] = []
        /// Velocity-mode gain per joint (N·m·s/rad); empty = K_d.
        public var velocityGain: [Double] = []
        /// Motor torque limit per joint (N·m or N), in every mode; empty = the URDF's effort
        /// limit. `positionGain`'s derived default uses the URDF's effort limit either way.
        public var torqueLimit: [Double] = []
        /// Unmodelled payload at the end effector (kg) and its offset in that frame (m).
        public var payloadMass: Double = 0
        public var payloadOffset: Vector3 = .zero
        /// Frame carrying the payload; nil = the last frame of the description.
        public var payloadFrame: String? = nil
        /// Joint friction (N·m) and damping (N·m·s/rad) added to the URDF's, per joint or empty.
        public var extraFriction: [Double] = []
        public var extraDamping: [Double] = []
        /// Initial joint positions; empty = zero clamped into the limits.
        public var initialPosition: [Double] = []
        /// Damping of a limp joint (`setLimp`), per joint or empty = 0 (N·m·s/rad): a servo
        /// with its torque off still resists being back-driven through its gearbox and motor.
        public var limpDamping: [Double] = []

        public init() {}
    }

    public let model: RobotModel
    /// The simulated plant: `model` plus payload and extra dissipation.
    public let plant: RobotModel
    public let configuration: Configuration
    public let description: DriverDescription

    /// True state of the plant (no noise).
    public private(set) var position: [Double]
    public private(set) var velocity: [Double]
    /// Effort applied at the last substep (N·m or N).
    public private(set) var appliedEffort: [Double]
    /// Simulated time since configure (s).
    public private(set) var time: Double = 0
    /// Joints whose actuator is off while the others act (a servo bus where each servo's torque
    /// is switched on its own): no motor torque, only `limpDamping`; all false by default.
    public private(set) var limp: [Bool]

    private var integrator: IntegratorWorkspace
    private var tau: [Double]
    /// State at the start of a substep, to redo it when a servo saturates.
    private var savedPosition: [Double]
    private var savedVelocity: [Double]
    /// Servo damping applied implicitly by the integrator this substep (N·m·s/rad).
    private var servoDamping: [Double]
    private var command: JointCommand
    private var kp: [Double], kd: [Double], kv: [Double]
    /// Motor torque limit per joint (N·m or N): the URDF effort limit unless `setServo` changed it.
    private var torqueLimit: [Double]
    private var noise: GaussianNoise
    private var configured = false
    private var hasSampled = false
    private var activeMode: CommandMode?

    /// - Throws: `DriverError.invalidCommand` with a message when the configuration does not fit
    ///   the model (wrong per-joint array length, non-positive period, unknown payload frame).
    public init(model: RobotModel, configuration: Configuration = Configuration()) throws(DriverError) {
        let n = model.dof
        let c = configuration
        for array in [c.positionGain, c.dampingGain, c.velocityGain, c.torqueLimit, c.extraFriction, c.extraDamping, c.initialPosition, c.limpDamping]
        where !array.isEmpty && array.count != n {
            throw DriverError(.dimensionMismatch, "per-joint simulation setting has the wrong number of entries")
        }
        guard c.period > 0, c.period.isFinite, c.substeps >= 1 else {
            throw DriverError(.invalidCommand, "simulation period must be > 0 and substeps ≥ 1")
        }
        guard c.payloadMass >= 0, c.payloadMass.isFinite, c.positionNoise >= 0, c.velocityNoise >= 0 else {
            throw DriverError(.invalidCommand, "payload mass and noise levels must be finite and ≥ 0")
        }
        for array in [c.positionGain, c.dampingGain, c.velocityGain, c.torqueLimit] where array.contains(where: { !($0 >= 0 && $0.isFinite) }) {
            throw DriverError(.invalidCommand, "servo gains and torque limits must be finite and ≥ 0")
        }
        var plant = model
        if c.payloadMass > 0 {
            let frameIndex: Int?
            if let name = c.payloadFrame { frameIndex = model.frameIndex(named: name) } else { frameIndex = model.frames.indices.last }
            guard let frame = frameIndex else { throw DriverError(.invalidCommand, "payload frame is not a link of the robot") }
            plant = plant.addingPayload(mass: c.payloadMass, frame: frame, offset: c.payloadOffset)
        }
        if !c.extraFriction.isEmpty || !c.extraDamping.isEmpty {
            let f = model.joints.indices.map { model.joints[$0].friction + (c.extraFriction.isEmpty ? 0 : c.extraFriction[$0]) }
            let d = model.joints.indices.map { model.joints[$0].damping + (c.extraDamping.isEmpty ? 0 : c.extraDamping[$0]) }
            plant = plant.withJointDissipation(damping: d, friction: f)
        }
        self.model = model
        self.plant = plant
        self.configuration = c
        self.description = DriverDescription(
            name: model.name, jointNames: model.joints.map(\.name), supportedModes: CommandMode.allCases
        )
        let effort = model.joints.map { $0.effortLimit.isFinite ? $0.effortLimit : 100 }
        kp = c.positionGain.isEmpty ? effort.map { $0 / 0.1 } : c.positionGain
        var ws = plant.makeWorkspace()
        let q0 = c.initialPosition.isEmpty ? Array(repeating: 0, count: n) : c.initialPosition
        plant.crba(&ws, q: q0)
        let inertia = (0 ..< n).map { ws.massMatrix[$0 * n + $0] }
        let kpForDamping = kp
        kd = c.dampingGain.isEmpty ? (0 ..< n).map { 2 * (kpForDamping[$0] * inertia[$0]).squareRoot() } : c.dampingGain
        kv = c.velocityGain.isEmpty ? kd : c.velocityGain
        torqueLimit = c.torqueLimit.isEmpty ? model.joints.map(\.effortLimit) : c.torqueLimit
        position = Array(repeating: 0, count: n)
        velocity = Array(repeating: 0, count: n)
        appliedEffort = Array(repeating: 0, count: n)
        limp = Array(repeating: false, count: n)
        tau = Array(repeating: 0, count: n)
        servoDamping = Array(repeating: 0, count: n)
        savedPosition = Array(repeating: 0, count: n)
        savedVelocity = Array(repeating: 0, count: n)
        command = JointCommand(mode: .torque, dof: n)
        integrator = plant.makeIntegratorWorkspace()
        noise = GaussianNoise(seed: c.seed)
    }

    public mutating func configure() throws(DriverError) {
        let n = model.dof
        for i in 0 ..< n {
            let j = model.joints[i]
            let q0 = configuration.initialPosition.isEmpty ? 0 : configuration.initialPosition[i]
            position[i] = min(max(q0, j.lowerLimit), j.upperLimit)
            velocity[i] = 0
            appliedEffort[i] = 0
        }
        time = 0
        noise = GaussianNoise(seed: configuration.seed)
        configured = true
        hasSampled = false
        activeMode = nil
    }

    public mutating func activate(mode: CommandMode) throws(DriverError) {
        guard configured else { throw DriverError(.notConfigured, "activate before configure") }
        activeMode = mode
        command.mode = mode
        // Entry holds the measured state: no jump.
        for i in 0 ..< model.dof {
            command.values[i] = mode == .position ? position[i] : 0
            command.feedforwardEffort[i] = 0
        }
    }

    public mutating func deactivate() {
        activeMode = nil
    }

    /// Switches one joint's actuator off (`true`: limp, gravity acts against `limpDamping`) or
    /// back on; the joint then follows the active mode's command again from the next step.
    /// - Note: Real-time safe.
    public mutating func setLimp(_ joint: Int, _ isLimp: Bool) {
        precondition(joint >= 0 && joint < model.dof, "joint index out of range")
        limp[joint] = isLimp
    }

    /// Puts joint `joint` at `position` at rest (a hand placing it): the next step starts from
    /// there. The caller keeps the position within the joint's limits.
    /// - Note: Real-time safe.
    public mutating func place(joint: Int, position q: Double) {
        precondition(joint >= 0 && joint < model.dof && q.isFinite, "joint index out of range or position not finite")
        position[joint] = q
        velocity[joint] = 0
    }

    /// Position-mode stiffness per joint (N·m/rad): `Configuration.positionGain`, or derived.
    public var positionGains: [Double] { kp }
    /// Position-mode damping per joint (N·m·s/rad): `Configuration.dampingGain`, or derived.
    public var dampingGains: [Double] { kd }
    /// Motor torque limit per joint (N·m or N): `Configuration.torqueLimit`, or the URDF's.
    public var torqueLimits: [Double] { torqueLimit }

    /// Changes one joint's position-loop gains and motor torque limit (a servo whose control
    /// table was written); they act from the next step.
    /// - Note: Real-time safe.
    public mutating func setServo(_ joint: Int, stiffness: Double, damping: Double, torqueLimit limit: Double) {
        precondition(joint >= 0 && joint < model.dof, "joint index out of range")
        precondition(stiffness >= 0 && damping >= 0 && limit >= 0, "servo gains and torque limit must be ≥ 0")
        kp[joint] = stiffness
        kd[joint] = damping
        torqueLimit[joint] = limit
    }

    public mutating func cleanup() {
        activeMode = nil
        configured = false
    }

    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func read(into state: inout JointState) throws(DriverError) {
        guard configured else { throw DriverError(.notConfigured, "read before configure") }
        guard state.dof == model.dof else { throw DriverError(.dimensionMismatch, "state buffer has the wrong number of joints") }
        if hasSampled { advance(actuated: activeMode != nil) }
        hasSampled = true
        for i in 0 ..< model.dof {
            state.position[i] = position[i] + configuration.positionNoise * noise.gaussian()
            state.velocity[i] = velocity[i] + configuration.velocityNoise * noise.gaussian()
            state.effort[i] = appliedEffort[i]
        }
        state.timestampNanoseconds = UInt64((time * 1e9).rounded())
        state.isValid = true
    }

    /// Latches `command`; it acts from the next `read` on, for one period per read.
    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func write(_ command: JointCommand) throws(DriverError) {
        guard configured else { throw DriverError(.notConfigured, "write before configure") }
        guard let mode = activeMode else { throw DriverError(.notActive, "write while the actuators are disabled") }
        guard command.mode == mode else { throw DriverError(.unsupportedMode, "command mode differs from the active mode") }
        guard command.values.count == model.dof, command.feedforwardEffort.count == model.dof else {
            throw DriverError(.dimensionMismatch, "command has the wrong number of joints")
        }
        for i in 0 ..< model.dof where !command.values[i].isFinite || !command.feedforwardEffort[i].isFinite {
            throw DriverError(.invalidCommand, "command value is NaN or infinite", joint: i)
        }
        for i in 0 ..< model.dof {
            self.command.values[i] = command.values[i]
            self.command.feedforwardEffort[i] = command.feedforwardEffort[i]
        }
    }

    private mutating func advance(actuated: Bool) {
        let n = model.dof
        let dt = configuration.period / Double(configuration.substeps)
        for _ in 0 ..< configuration.substeps {
            // The servo's PD runs faster than any substep, so its damping (and the stiffness
            // acting over the step, K_p·dt) is integrated implicitly. Whether the motor saturates
            // is decided on the velocity at the end of the step: a first pass assumes no
            // saturation; joints whose torque would exceed ±τ_max are redone at ±τ_max. Deciding
            // on the velocity at the start instead makes light links chatter at the limit.
            var saturated = false
            for i in 0 ..< n {
                savedPosition[i] = position[i]
                savedVelocity[i] = velocity[i]
                var t: Double, implicit = 0.0
                switch (actuated && !limp[i] ? activeMode : nil) {
                case .torque?:
                    t = command.values[i]
                case .position?:
                    t = kp[i] * (command.values[i] - position[i]) + command.feedforwardEffort[i]
                    implicit = kd[i] + dt * kp[i]
                case .velocity?:
                    t = kv[i] * command.values[i] + command.feedforwardEffort[i]
                    implicit = kv[i]
                case nil:
                    t = 0
                    if limp[i], !configuration.limpDamping.isEmpty { implicit = configuration.limpDamping[i] }
                }
                let limit = torqueLimit[i]
                if implicit == 0, abs(t) > limit { t = t > 0 ? limit : -limit }
                tau[i] = t
                servoDamping[i] = implicit
            }
            plant.step(&integrator, q: &position, v: &velocity, tau: tau, dt: dt, method: configuration.method, extraDamping: servoDamping)
            // A limp joint's damping is passive (no motor behind it), so it never saturates.
            for i in 0 ..< n where servoDamping[i] > 0 && !limp[i] {
                let limit = torqueLimit[i]
                let applied = tau[i] - servoDamping[i] * velocity[i]
                if abs(applied) > limit {
                    tau[i] = applied > 0 ? limit : -limit
                    servoDamping[i] = 0
                    saturated = true
                }
            }
            if saturated {
                for i in 0 ..< n {
                    position[i] = savedPosition[i]
                    velocity[i] = savedVelocity[i]
                }
                plant.step(&integrator, q: &position, v: &velocity, tau: tau, dt: dt, method: configuration.method, extraDamping: servoDamping)
            }
            for i in 0 ..< n {
                appliedEffort[i] = limp[i] ? 0 : tau[i] - servoDamping[i] * velocity[i]
            }
            for i in 0 ..< n {
                let j = model.joints[i]
                if position[i] < j.lowerLimit {
                    position[i] = j.lowerLimit
                    if velocity[i] < 0 { velocity[i] = 0 }
                } else if position[i] > j.upperLimit {
                    position[i] = j.upperLimit
                    if velocity[i] > 0 { velocity[i] = 0 }
                }
            }
        }
        time += configuration.period
    }
}

/// Seeded Gaussian sensor noise: `SplitMix64` uniforms in (0, 1] through Box–Muller, both
/// branches used (cosine, then the spare sine).
struct GaussianNoise: Sendable {
    private var rng: SplitMix64
    private var spare: Double?

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// 53 random bits into (0, 1]: never 0, so log is finite.
    private mutating func nextUniform() -> Double { (Double(rng.next() >> 11) + 1) * 0x1p-53 }

    mutating func gaussian() -> Double {
        if let s = spare {
            spare = nil
            return s
        }
        let r = (-2 * Double.log(nextUniform())).squareRoot()
        let theta = 2 * Double.pi * nextUniform()
        spare = r * Double.sin(theta)
        return r * Double.cos(theta)
    }
}
