import ControlProtocol
import Planning

/// Everything robotd reads from its YAML configuration file, already validated.
///
/// Every field has a default, so an empty file is a valid configuration (the simulated arm).
/// The YAML keys are the snake_case spellings of these names; `configs/README.md` documents each
/// one with its unit, default and range. Units are SI: rad, rad/s, N·m, N·m·s/rad, kg, m, s, Hz.
///
/// Values a configuration cannot check alone (per-joint list lengths, joint and frame names) are
/// checked against the robot description by whoever loads both.
public struct DaemonConfiguration: Sendable, Equatable {
    /// The robot description (`robot:`).
    public var robot = Robot()
    /// The hardware or simulation behind the control loop (`driver:`).
    public var driver = Driver.simulation(Simulation())
    /// The real-time control loop (`loop:`).
    public var loop = Loop()
    /// Built-in controllers (`control:`).
    public var control = Control()
    /// Command limiter settings on top of the robot description's limits (`limits:`).
    public var limits = Limits()
    /// Model-predictive control (`mpc:`).
    public var mpc = MPC()
    /// Online learning of the dynamics (`learning:`).
    public var learning = Learning()
    /// Learned policies (`policy:`).
    public var policy = Policy()
    /// Teleoperation (`teleop:`).
    public var teleop = Teleop()
    /// The control socket (`socket:`).
    public var socket = Socket()
    /// Directory for datasets, models and flight-recorder dumps (`data_directory:`). A relative
    /// path resolves against the daemon's working directory.
    public var dataDirectory = "./data"
    /// Log verbosity and destination (`logging:`).
    public var logging = Logging()

    /// The default configuration: the simulated `sim6` arm at 1 kHz.
    public init() {}

    // MARK: robot

    /// The robot description (`robot:`).
    public struct Robot: Sendable, Equatable {
        /// Largest URDF accepted (bytes), as `URDFParser.maxBytes`: `check-config` refuses a
        /// larger file before the daemon would read it.
        public static let maxURDFBytes = 16 << 20

        /// Path of the robot's URDF. A relative path written in a configuration file is resolved
        /// against that file's directory by the loader; the default is relative to the working
        /// directory (the repository root in development).
        public var urdf = "hardware/robots/sim6/robot.urdf"
        /// Display name for status and logs; nil = the URDF's robot name.
        public var name: String? = nil

        /// The default robot: `hardware/robots/sim6/robot.urdf`.
        public init() {}
    }

    // MARK: driver

    /// The hardware or simulation behind the control loop, with its settings (`driver:`).
    public enum Driver: Sendable, Equatable {
        /// The simulated arm: forward dynamics of the robot description (`kind: simulation`).
        case simulation(Simulation)
        /// Dynamixel servos on a serial bus (`kind: dynamixel`): the Koch v1.1 and other X-series arms.
        case dynamixel(SerialBus)
        /// Feetech (STS) servos on a serial bus (`kind: feetech`): the SO-100/SO-101.
        case feetech(SerialBus)

        /// Which driver, without its settings (`driver.kind`).
        public enum Kind: String, Sendable, Equatable, CaseIterable {
            /// The simulated arm.
            case simulation
            /// Dynamixel servo bus.
            case dynamixel
            /// Feetech servo bus.
            case feetech
        }

        /// Which driver this is.
        public var kind: Kind {
            switch self {
            case .simulation: .simulation
            case .dynamixel: .dynamixel
            case .feetech: .feetech
            }
        }
    }

    /// Settings of the simulated arm (`driver.simulation:`).
    public struct Simulation: Sendable, Equatable {
        /// Integration steps per control period, 1…100.
        public var substeps = 4
        /// Integration method of the forward dynamics.
        public var integrator = Integrator.semiImplicitEuler
        /// Seed of the sensor noise; the same seed replays the same run.
        public var seed: UInt64 = 1
        /// Standard deviation of the measured-position noise (rad), ≥ 0.
        public var positionNoise = 0.0
        /// Standard deviation of the measured-velocity noise (rad/s), ≥ 0.
        public var velocityNoise = 0.0
        /// Unmodelled payload mass at `payloadFrame` (kg), ≥ 0.
        public var payloadMass = 0.0
        /// Frame (URDF link) carrying the payload; nil = the last frame of the description.
        public var payloadFrame: String? = nil
        /// Offset of the payload's centre of mass in `payloadFrame` (m), x y z.
        public var payloadOffset = [0.0, 0.0, 0.0]
        /// Coulomb friction added to the URDF's (N·m), ≥ 0.
        public var extraFriction = JointValues.uniform(0)
        /// Viscous damping added to the URDF's (N·m·s/rad), ≥ 0.
        public var extraDamping = JointValues.uniform(0)
        /// Initial joint positions (rad), one per joint; nil = zero clamped into the limits.
        public var initialPosition: [Double]? = nil
        /// What the simulated actuators take: torques (a torque-controlled arm) or goal
        /// positions (position servos closing their own PD loop, like the SO-101's and Koch's).
        public var commandMode = CommandMode.torque
        /// The simulated servos' position loop and motor torque limit (`servo:`).
        public var servo = Servo()

        /// The default simulation: 4 semi-implicit Euler substeps, no noise, no payload.
        public init() {}

        /// What the simulated actuators take (`command_mode`).
        public enum CommandMode: String, Sendable, Equatable, CaseIterable {
            /// Joint torques (N·m), applied within the motor torque limit.
            case torque
            /// Goal positions (rad) plus feedforward torque: the servo's PD,
            /// τ = clamp(K_p (q* − q) − K_d q̇ + τ_ff, ±τ_max).
            case position
        }

        /// The simulated servos (`driver.simulation.servo:`): the position loop's gains act in
        /// `position` mode, the torque limit caps the motor in either mode. nil = the simulated
        /// arm's defaults, derived per joint: K_p = τ_max / 0.1 rad, critical damping
        /// K_d = 2 √(K_p M_ii) at the initial pose, τ_max the URDF's effort limit.
        public struct Servo: Sendable, Equatable {
            /// Position-loop stiffness (N·m/rad), > 0.
            public var kp: JointValues? = nil
            /// Position-loop damping (N·m·s/rad), ≥ 0.
            public var kd: JointValues? = nil
            /// Motor torque limit (N·m), > 0.
            public var torqueLimit: JointValues? = nil

            /// The derived defaults.
            public init() {}
        }

        /// Integration method of the simulated arm.
        public enum Integrator: String, Sendable, Equatable, CaseIterable {
            /// Semi-implicit (symplectic) Euler: cheap, energy-stable (`semi_implicit_euler`).
            case semiImplicitEuler = "semi_implicit_euler"
            /// Classical fourth-order Runge–Kutta (`rk4`).
            case rk4 = "rk4"
        }
    }

    /// Settings of a servo bus (`driver.dynamixel:` or `driver.feetech:`).
    public struct SerialBus: Sendable, Equatable {
        /// Standard serial rates the servo buses support (baud).
        public static let standardBaudRates = [
            9600, 19200, 38400, 57600, 115_200, 230_400, 250_000, 460_800, 500_000, 921_600,
            1_000_000, 2_000_000, 3_000_000, 4_000_000,
        ]

        /// Serial device, e.g. `/dev/ttyUSB0` or `/dev/serial/by-id/…`. Required.
        public var port: String
        /// Line rate (baud), one of `standardBaudRates`.
        public var baud = 1_000_000
        /// Servo IDs in joint order (0…253). Required, non-empty, no repeats.
        public var ids: [Int]
        /// Bus cycles per second (Hz), 1…2000: each cycle writes the newest goals and reads the
        /// joints' state. The loop may tick faster (it then reuses the newest state, whose
        /// timestamp shows it is the same sample) or at this rate.
        public var busRateHz = 250.0
        /// The servos' position loop: `position`, or `current_position` (Dynamixel current-based
        /// position mode 5, whose current limit bounds the torque; not on Feetech).
        public var positionMode = PositionMode.position
        /// Profile velocity (rad/s) and acceleration (rad/s²) the servos shape goals with; nil =
        /// unlimited (the servo steps to each goal).
        public var profileVelocity: Double? = nil
        public var profileAcceleration: Double? = nil
        /// Position-loop P and D gains in the servos' own register units (Feetech P/D_Coefficient,
        /// Dynamixel Position_P/D_Gain), one number or one per joint; nil = leave the servos'.
        public var positionP: JointValues? = nil
        public var positionD: JointValues? = nil
        /// Torque limit as a fraction of each servo's maximum, 0…1 (Feetech Torque_Limit,
        /// Dynamixel PWM_Limit or, in current-based position mode, Goal_Current); nil = leave.
        public var torqueLimit: JointValues? = nil
        /// Each servo's position stiffness (N·m/rad), through which the loop's feed-forward
        /// torque (gravity in hold and move, the plan's torques in mpc) is sent as a goal offset
        /// τ/K_p; 0 ignores feed-forward. nil = each joint's effort limit / 0.1 rad (full torque
        /// at 0.1 rad of error, the emulator's factory servo; an estimate for a real one).
        public var feedforwardStiffness: JointValues? = nil
        /// Largest change of a goal position per bus cycle (rad): the driver's last line of defence
        /// against a jump, on by default (LeRobot's `max_relative_target` is off by default).
        public var maxGoalStep = 0.02
        /// Goals stay this far inside the calibrated range (rad): the soft limits.
        public var softLimitMargin = 0.02
        /// Consecutive failed bus cycles (after retries) before the driver faults the loop, 1…100.
        public var failedCyclesToFault = 3
        /// Retries of a timed-out or corrupt transaction within one cycle, 0…5.
        public var retries = 1
        /// What the servos are left in on a fault and on shutdown: torque off (the arm goes
        /// limp: support it) or `hold` (torque stays on at the last goal).
        public var safeState = SafeState.torqueOff
        /// Temperature, voltage and hardware-error sampling rate (Hz), 0.1…50.
        public var diagnosticsHz = 2.0
        /// The calibration file; nil = `<data_directory>/calibration/<arm_id>.json`.
        public var calibration: String? = nil

        /// The servos' position loop (`position_mode`).
        public enum PositionMode: String, Sendable, Equatable, CaseIterable {
            case position
            case currentPosition = "current_position"
        }

        /// `safe_state`.
        public enum SafeState: String, Sendable, Equatable, CaseIterable {
            case torqueOff = "torque_off"
            case hold
        }
        /// Which physical arm this is (`arm_id`): names its calibration file,
        /// `<data_directory>/calibration/<arm_id>.json`. nil = the robot's name.
        public var armID: String? = nil

        /// Creates bus settings.
        ///
        /// - Parameters:
        ///   - port: Serial device path.
        ///   - baud: Line rate (baud).
        ///   - ids: Servo IDs in joint order.
        public init(port: String, baud: Int = 1_000_000, ids: [Int]) {
            self.port = port
            self.baud = baud
            self.ids = ids
        }
    }

    // MARK: loop

    /// The real-time control loop (`loop:`).
    public struct Loop: Sendable, Equatable {
        /// Tick rate (Hz), 1…10000.
        public var rateHz = 1000
        /// SCHED_FIFO priority of the control thread, 1…99; used when the process may set it.
        public var rtPriority = 80
        /// CPU the control thread is pinned to, ≥ 0; nil = no pinning. With `cpu_affinity: auto`
        /// the CPU `automaticCPU` chose when the file was read.
        public var cpuAffinity: Int? = nil
        /// Whether the file said `auto` (check-config shows the choice as such).
        public var cpuAffinityIsAuto = false
        /// Lock all memory (`mlockall`) so the loop never page-faults.
        public var lockMemory = true
        /// Consecutive missed deadlines before the loop faults, 1…1000.
        public var overrunFaultThreshold = 10
        /// What the loop does after missing deadlines.
        public var catchUp = CatchUp.skip
        /// Length of the flight recorder dumped on a fault (s), 0…60; 0 disables it.
        public var flightRecorderSeconds = 5.0
        /// Longest gap between two ticks (s) before the loop faults: a stalled process or
        /// machine (SIGSTOP, a VM pause) left the arm uncontrolled that long. Shorter gaps are
        /// absorbed: time-based references (moves, plans) pause with the loop instead of jumping.
        public var maxStall = 0.5
        /// Oldest driver sample the tick uses as a measurement (s), 0.0001…10: a sample whose
        /// timestamp has not advanced for longer than this is stale, as is one the driver marks
        /// invalid; the tick re-sends its last command instead of computing one from it.
        public var maxStateAge = 0.05
        /// Consecutive ticks with an invalid or stale sample before the loop faults, 1…10000.
        public var staleStateFaultTicks = 10
        /// How long before each deadline the control thread stops sleeping and spins to it (s),
        /// 0…0.001 and under half a period; 0 = sleep to the deadline. A wake-up delayed by less
        /// than this still starts the tick on time, for this fraction of a period of CPU.
        public var earlyWake = 0.0

        /// The default loop: 1 kHz, priority 80, memory locked.
        public init() {}

        /// The tick period (s), `1 / rateHz`.
        public var period: Double { 1 / Double(rateHz) }

        /// What the loop does after missing deadlines.
        public enum CatchUp: String, Sendable, Equatable, CaseIterable {
            /// Drop the missed periods and realign the next deadline to the period grid.
            case skip
            /// Run the missed ticks back to back until the loop is on time again.
            case burst
        }
    }

    // MARK: control

    /// Built-in controllers (`control:`).
    public struct Control: Sendable, Equatable {
        /// PD gains of `hold` mode.
        public var hold = Gains(kp: .uniform(50), kd: .uniform(5))
        /// PD gains tracking joint moves.
        public var move = Gains(kp: .uniform(100), kd: .uniform(10))
        /// Add the model's gravity torque to the PD output.
        public var gravityCompensation = true
        /// Peak joint speed used to time joint moves (rad/s), > 0.
        public var maxMoveVelocity = 0.5

        /// The default controllers.
        public init() {}
    }

    /// Joint-space PD gains.
    public struct Gains: Sendable, Equatable {
        /// Stiffness (N·m/rad), > 0.
        public var kp: JointValues
        /// Damping (N·m·s/rad), ≥ 0.
        public var kd: JointValues

        /// Creates gains.
        ///
        /// - Parameters:
        ///   - kp: Stiffness (N·m/rad).
        ///   - kd: Damping (N·m·s/rad).
        public init(kp: JointValues, kd: JointValues) {
            self.kp = kp
            self.kd = kd
        }
    }

    // MARK: mpc

    /// Model-predictive control: a planner thread solving iLQR over the robot description's
    /// dynamics, whose plans the tick follows in `mpc` mode (`mpc:`).
    public struct MPC: Sendable, Equatable {
        /// Run the planner (and offer the `mpc` mode).
        public var enabled = true
        /// Re-planning rate (Hz), 1…1000.
        public var rateHz = 100
        /// Nodes of the plan, 2…200.
        public var horizon = 50
        /// Time between nodes (s), 0.001…0.1.
        public var dt = 0.01
        /// iLQR iterations per re-plan, 1…50.
        public var iterations = 3
        /// Wall-clock budget of one re-plan (s), 0.0005…1.
        public var budget = 0.008
        /// How long the tick follows a plan after its start before falling back to `hold` (s), 0.005…1.
        public var planValidity = 0.1
        /// End-effector frame (URDF link); nil = the last link.
        public var frame: String? = nil
        /// Cost weights (`mpc.weights`; configs/README.md gives each with its unit).
        public var weights = ReachWeights()

        /// The default planner: 100 Hz, 50 nodes of 10 ms, 3 iterations within 8 ms.
        public init() {}

        /// The planner's cost weights: Planning's own type, decoded straight from `mpc.weights`.
        public typealias Weights = ReachWeights
    }

    // MARK: learning

    /// Online, DAgger-style learning of a residual dynamics model for the MPC planner
    /// (`learning:`): the loop's transitions feed a replay buffer, a background thread retrains an
    /// ensemble and publishes it to the planner when it predicts held-out recent data better.
    public enum ResidualDerivatives: String, Sendable, Equatable, CaseIterable {
        case full, position, none
    }

    public struct Learning: Sendable, Equatable {
        /// Run the learner (needs `mpc.enabled`).
        public var enabled = false
        /// Seconds between training rounds, 1…3600.
        public var interval = 10.0
        /// New samples needed before a round, 1…1000000.
        public var minNewSamples = 500
        /// Samples kept (the oldest are dropped), 1000…10000000.
        public var replayCapacity = 50_000
        /// Ensemble members, 1…16.
        public var members = 5
        /// Hidden layer widths, each 1…1024.
        public var hidden = [64, 64]
        /// Passes over the data per round, 1…1000.
        public var epochs = 30
        /// Newest fraction of the data held out for validation, 0.05…0.5.
        public var validationFraction = 0.2
        /// Largest ensemble disagreement along a plan (mean residual variance, state units²) the
        /// planner accepts from the learned model; above it the planner plans with the rigid-body
        /// model instead. 0 = each model version's calibrated limit (`disagreementQuantile` of
        /// its disagreement on held-out data × `disagreementFactor`).
        public var maxDisagreement = 0.0
        /// Quantile of the held-out disagreement the calibrated limit starts from, 0.5…1.
        public var disagreementQuantile = 0.99
        /// Factor on that quantile, 1…1000.
        public var disagreementFactor = 4.0
        /// Disagreement (state units²) above which the MPC cost penalises it, steering plans back
        /// to where the model has data; 0 = `softDisagreementFraction` × the limit in force.
        /// Below `maxDisagreement` when both are set.
        public var softDisagreement = 0.0
        /// The soft threshold as a fraction of the limit when `softDisagreement` is 0, 0…1
        /// (0 = no penalty).
        public var softDisagreementFraction = 0.5
        /// Each learned residual component is clamped to this multiple of the largest |value|
        /// the training targets showed, 1…1000.
        public var residualBoundFactor = 2.0
        /// Weight of that penalty (cost per second at twice the threshold is ½ of it), ≥ 0.
        public var disagreementWeight = 10.0

        /// What is wrong with the two disagreement thresholds together, or nil: the soft penalty
        /// must act below the hard limit. The file's reader and command-line overrides both ask.
        public var disagreementProblem: String? {
            guard softDisagreement > 0, maxDisagreement > 0, softDisagreement >= maxDisagreement else { return nil }
            return "\(softDisagreement) must be below learning.max_disagreement (\(maxDisagreement)): the penalty acts before the hard limit"
        }
        /// CPU for the learner thread; nil = any CPU except `loop.cpu_affinity`'s.
        public var cpuAffinity: Int?
        /// Start each round's candidate from the current model's weights (fewer epochs) instead
        /// of from a fresh initialisation.
        public var warmStart = true
        /// Passes over the data for a warm-started round, 1…1000.
        public var warmStartEpochs = 10
        /// Gaussian noise (in units of each input's standard deviation) added to training inputs,
        /// 0…2: flattens the model across the thin band of states one task visits.
        public var inputNoise = 0.1
        /// Whether the residual model also takes the torque, r(q, v, τ), instead of r(q, v).
        public var controlInput = false
        /// Which derivatives of the learned residual the planner uses: `full` ∂r/∂(q, v, τ),
        /// `position` ∂r/∂q only, `none` (the rigid-body derivatives around the learned rollout).
        /// The learned step itself is always used in full.
        public var derivatives = ResidualDerivatives.none

        /// Learning off.
        public init() {}
    }

    // MARK: policy

    /// Learned policies loaded with `policy.load` (`policy:`).
    public struct Policy: Sendable, Equatable {
        /// Largest median CPU time of one forward pass, as a fraction of the loop period, for a
        /// policy to be accepted at load, 0 < x ≤ 1.
        public var maxInferenceFraction = 0.25
        public init() {}
    }

    // MARK: teleop

    /// Teleoperation in mode `teleop` (`teleop:`).
    public struct Teleop: Sendable, Equatable {
        /// Where the operator's targets come from.
        public enum Source: String, Sendable, Equatable, CaseIterable {
            /// Targets streamed over the socket (`teleop.stream`).
            case stream
            /// A leader arm on a second servo bus (`teleop.leader`), its torque off.
            case leader
        }

        /// A leader arm (`teleop.leader`): its bus, and how its joints map onto the follower's.
        public struct Leader: Sendable, Equatable {
            /// The leader's servo family: `feetech` or `dynamixel`.
            public var kind: Driver.Kind
            /// Its bus, with the same keys as `driver.feetech`/`driver.dynamixel`; the calibration
            /// defaults to `<data_directory>/calibration/<arm_id>.json`, `arm_id` to
            /// "<robot>-leader" (`robotd calibrate --leader` writes it).
            public var bus: SerialBus
            /// Joints mapped by the fraction of their calibrated range rather than by angle (a
            /// gripper's handle and jaw travel differently).
            public var rangeMapped = ["gripper"]
            /// In `policy` or `mpc`, a person moving the leader more than this (rad, on any joint)
            /// from where it rested takes the arm over (as `teleop.takeover`); 0 = never.
            public var takeoverThreshold = 0.1
            public init(kind: Driver.Kind, bus: SerialBus) {
                self.kind = kind
                self.bus = bus
            }
        }

        public var source = Source.stream
        /// Required when `source` is `leader`.
        public var leader: Leader?
        /// Oldest input the arm still follows (s); older, it holds where it is. 0 < x ≤ 10.
        public var timeout = 0.25
        /// Fastest a joint's teleop reference moves towards a target (rad/s or m/s), capped by
        /// the joint's limiter velocity: the per-tick step limit of streamed targets. 0 < x ≤ 100.
        public var maxVelocity = 1.0
        /// Fastest the teleop reference's speed changes (rad/s² or m/s²): it starts and stops
        /// smoothly, so the arm's tracking does not overshoot. 0 < x ≤ 1000.
        public var maxAcceleration = 10.0
        public init() {}
    }

    // MARK: limits

    /// Command limiter settings on top of the robot description's limits (`limits:`).
    public struct Limits: Sendable, Equatable {
        /// Fraction of each joint's velocity limit the limiter allows, 0 < x ≤ 1.
        public var velocityScale = 1.0
        /// Fraction of each joint's effort limit the limiter allows, 0 < x ≤ 1.
        public var effortScale = 1.0
        /// Largest change of commanded effort (N·m/s), > 0.
        public var slewRate = 1000.0
        /// How far above its velocity limit a joint may go, as a fraction of the limit, before the
        /// loop faults (the limiter brakes any joint above its limit first), 0.05…2.
        public var velocityFaultMargin = 0.5
        /// Per-joint overrides of the description's limits, by joint name.
        public var joints: [String: JointLimits] = [:]

        /// The default limits: the robot description's, unscaled.
        public init() {}
    }

    /// Overrides of one joint's limits; nil keeps the robot description's value.
    public struct JointLimits: Sendable, Equatable {
        /// Lower position limit (rad).
        public var lower: Double? = nil
        /// Upper position limit (rad).
        public var upper: Double? = nil
        /// Velocity limit (rad/s), > 0.
        public var velocity: Double? = nil
        /// Effort limit (N·m), > 0.
        public var effort: Double? = nil

        /// Creates overrides.
        ///
        /// - Parameters:
        ///   - lower: Lower position limit (rad).
        ///   - upper: Upper position limit (rad).
        ///   - velocity: Velocity limit (rad/s).
        ///   - effort: Effort limit (N·m).
        public init(lower: Double? = nil, upper: Double? = nil, velocity: Double? = nil, effort: Double? = nil) {
            self.lower = lower
            self.upper = upper
            self.velocity = velocity
            self.effort = effort
        }
    }

    // MARK: socket

    /// The control socket (`socket:`).
    public struct Socket: Sendable, Equatable {
        /// Longest socket path (bytes of UTF-8), `SocketPath.maxBytes` (the `sun_path` limit).
        /// Relative paths are checked as written.
        public static let maxPathBytes = SocketPath.maxBytes

        /// Socket path; nil = `$RUNTIME_DIRECTORY/robotd.sock` under systemd, else
        /// `./run/robotd.sock` (the daemon resolves it). Relative paths resolve against the
        /// working directory.
        public var path: String? = nil
        /// Group owning the socket file; nil = the daemon's group.
        public var group: String? = nil
        /// Permission bits of the socket file, e.g. `0o660`.
        public var mode = 0o660
        /// Peers allowed to read state and stream telemetry: user names, or `@group`.
        public var observers: [String] = []
        /// Peers allowed to command the arm (implies observer): user names, or `@group`.
        public var operators: [String] = []
        /// Simultaneous connections, 1…1024; more are refused with a busy error.
        public var maxConnections = 64
        /// Connections one non-operator uid may hold at once, 1…1024 (operators are exempt).
        public var maxConnectionsPerUID = 16
        /// Connections above `maxConnections` that only operators may take, 0…1024.
        public var operatorReservedConnections = 8
        /// Seconds after which a connection with no request and no telemetry subscription is
        /// closed, 0.1…86400.
        public var idleTimeout = 300.0
        /// Requests per second per connection (token bucket, burst of the same size), 1…100000.
        public var maxRequestsPerSecond = 1000
        /// Highest telemetry rate a subscriber may ask for (Hz), 1…10000; also capped by the loop rate.
        public var telemetryMaxHz = 1000

        /// The default socket: daemon-chosen path, mode 0660, no extra peers.
        public init() {}
    }

    // MARK: logging

    /// Log verbosity and destination (`logging:`).
    public struct Logging: Sendable, Equatable {
        /// Lowest level written.
        public var level = Level.info
        /// Where log records go.
        public var target = Target.auto

        /// The default: `info` to `auto`.
        public init() {}

        /// Log levels, lowest first; the swift-log `Logger.Level` names.
        public enum Level: String, Sendable, Equatable, CaseIterable {
            /// Per-tick detail; never enable on a real arm at 1 kHz.
            case trace
            /// Developer detail.
            case debug
            /// Normal operation: start-up, mode changes, connections.
            case info
            /// Significant but expected events.
            case notice
            /// Degraded operation: missed deadlines, no RT priority.
            case warning
            /// A failed operation: faults, rejected commands.
            case error
            /// The daemon cannot continue.
            case critical
        }

        /// Where log records go.
        public enum Target: String, Sendable, Equatable, CaseIterable {
            /// journald when stderr is connected to the journal (`JOURNAL_STREAM`), else stderr.
            case auto
            /// Plain lines on standard error.
            case stderr
            /// Structured records to journald.
            case journald
        }
    }
}

/// A per-joint quantity written either as one number for every joint or as a list in joint
/// order (`kp: 50` or `kp: [80, 80, 60, 30, 10, 10]`).
public enum JointValues: Sendable, Equatable {
    /// The same value for every joint.
    case uniform(Double)
    /// One value per joint, in the robot description's joint order.
    case perJoint([Double])

    /// The values for a robot with `count` joints, or nil when a list has another length.
    ///
    /// - Parameter count: Number of joints of the robot.
    /// - Returns: `count` values.
    public func values(count: Int) -> [Double]? {
        switch self {
        case let .uniform(x): Array(repeating: x, count: count)
        case let .perJoint(xs): xs.count == count ? xs : nil
        }
    }
}
