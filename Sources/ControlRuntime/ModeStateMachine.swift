/// The daemon's operating modes (docs/architecture.md §3).
public enum Mode: UInt8, Sendable, BitwiseCopyable, CaseIterable, CustomStringConvertible {
    /// Actuators off.
    case idle
    /// Holding a pose (the measured pose on entry, or the end of a move).
    case hold
    /// A joint-space minimum-jerk move to a target; becomes `hold` at the end.
    case move
    case teleop
    case mpc
    case policy
    /// A fault stopped the arm; only `reset` (or `estop`) leaves it.
    case faulted
    /// Latched emergency stop; only `reset` leaves it.
    case estop

    public var description: String {
        switch self {
        case .idle: "idle"
        case .hold: "hold"
        case .move: "move"
        case .teleop: "teleop"
        case .mpc: "mpc"
        case .policy: "policy"
        case .faulted: "faulted"
        case .estop: "estop"
        }
    }

    public init?(name: String) {
        guard let m = Mode.allCases.first(where: { $0.description == name }) else { return nil }
        self = m
    }

    /// Modes in which the actuators are powered and the arm is commanded.
    public var isActuated: Bool { self != .idle }
}

/// Why the loop faulted.
public enum FaultReason: UInt8, Sendable, BitwiseCopyable, CustomStringConvertible {
    case nonFiniteState
    case nonFiniteCommand
    case driverRead
    case driverWrite
    case deadlineMisses
    case driverActivation
    /// A gap between two ticks longer than `loop.max_stall` (the process or the machine stalled).
    case stall
    /// A joint faster than its velocity limit × (1 + `limits.velocity_fault_margin`), although
    /// the limiter brakes every joint above its limit.
    case velocityLimit
    /// A joint at or past a position limit while the arm is commanded.
    case positionLimit
    /// `loop.stale_state_fault_ticks` ticks in a row without a fresh joint state: the driver's
    /// samples were invalid or older than `loop.max_state_age`.
    case staleState
    /// The driver reported an actuator's own fault (a servo's overload, overheating, voltage or
    /// encoder error); the driver names the servo (status `bus.last_fault`).
    case actuatorFault

    public var description: String {
        switch self {
        case .nonFiniteState: "non-finite joint state"
        case .nonFiniteCommand: "non-finite command"
        case .driverRead: "driver read failed"
        case .driverWrite: "driver write failed"
        case .deadlineMisses: "consecutive deadline misses"
        case .driverActivation: "driver activation failed"
        case .stall: "control loop stalled"
        case .velocityLimit: "joint velocity limit exceeded"
        case .positionLimit: "joint position limit reached"
        case .staleState: "joint state invalid or stale"
        case .actuatorFault: "actuator fault"
        }
    }
}

/// What happens to the state machine.
public enum ModeEvent: Sendable, Equatable {
    /// A request to enter `mode` (from the socket or start-up).
    case request(Mode)
    /// A joint move was requested (target and duration validated by the caller).
    case move
    /// The current move reached its end.
    case moveFinished
    /// `mpc` has no valid plan any more (planner late or gone): fall back to `hold`.
    case planExpired
    case estop
    case reset
    case fault(FaultReason)
}

/// What the loop must do after a transition; several can apply at once.
public struct ModeActions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Power the actuators (driver.activate) before commanding.
    public static let enableActuators = ModeActions(rawValue: 1 << 0)
    /// Turn the actuators off (driver.deactivate).
    public static let disableActuators = ModeActions(rawValue: 1 << 1)
    /// Hold the measured pose: hold target = measured q, limiter restarted from the measured state.
    public static let holdMeasured = ModeActions(rawValue: 1 << 2)
    /// Hold the end of the finished move.
    public static let holdGoal = ModeActions(rawValue: 1 << 3)
    /// Start the requested move from the measured state (limiter restarted).
    public static let startMove = ModeActions(rawValue: 1 << 4)
    /// Write the flight recorder to the data directory (off the control thread).
    public static let dumpFlightRecorder = ModeActions(rawValue: 1 << 5)
    /// The event was refused in this mode; nothing changed.
    public static let rejected = ModeActions(rawValue: 1 << 6)
    /// Re-run the driver's configure/activate (recovering from a driver fault).
    public static let reactivateDriver = ModeActions(rawValue: 1 << 7)
}

/// The mode logic as a pure value: `on(_:)` decides the next mode and returns the actions the
/// loop performs. No I/O, no clocks; driven event by event in tests.
///
/// Safety policy: `estop` holds the arm where it is (a controlled stop: an unbraked arm must not
/// drop) and latches; a fault from the driver turns the actuators off (the driver cannot be
/// trusted to execute a hold), any other fault holds the last measured pose. Both wait for
/// `reset`, which returns to `hold` from the measured state.
public struct ModeStateMachine: Sendable, Equatable {
    public private(set) var mode: Mode
    public private(set) var lastFault: FaultReason?
    /// Modes that exist in this build; requests for others are rejected.
    public var availableModes: Set<Mode> = [.idle, .hold, .move, .estop]
    /// Whether every fault turns the actuators off, not only the driver's: a servo arm's
    /// `safe_state: torque_off` (its servos cannot be trusted to hold a pose the loop no longer
    /// checks). A torque-controlled arm keeps the default: hold the last measured pose.
    public var faultsDisableActuators = false

    public init(mode: Mode = .idle) {
        self.mode = mode
    }

    /// - Note: Real-time safe: no allocation, no locks.
    public mutating func on(_ event: ModeEvent) -> ModeActions {
        switch (mode, event) {
        case (_, .estop):
            let from = mode
            if from == .estop { return [] }
            mode = .estop
            // Unpowered (idle, or a driver fault already cut the actuators): stay unpowered.
            let unpowered = from == .idle || (from == .faulted && lastFault.map(cutsActuators) == true)
            return unpowered ? [] : .holdMeasured

        case (.estop, .reset), (.faulted, .reset):
            let driverFault = mode == .faulted && lastFault.map(Self.isDriverFault) == true
            mode = .hold
            lastFault = nil
            return driverFault ? [.reactivateDriver, .enableActuators, .holdMeasured] : [.enableActuators, .holdMeasured]
        case (_, .reset):
            return []

        case (.estop, _):
            return .rejected

        case (.faulted, .fault):
            return []
        case (_, .fault(let reason)):
            let from = mode
            mode = .faulted
            lastFault = reason
            if cutsActuators(reason) { return [.disableActuators, .dumpFlightRecorder] }
            return from.isActuated ? [.holdMeasured, .dumpFlightRecorder] : [.dumpFlightRecorder]
        case (.faulted, _):
            return .rejected

        case (.move, .moveFinished):
            mode = .hold
            return .holdGoal
        case (_, .moveFinished):
            return []

        case (.mpc, .planExpired):
            mode = .hold
            return .holdMeasured
        case (_, .planExpired):
            return []

        case (_, .move):
            let from = mode
            mode = .move
            return from == .idle ? [.enableActuators, .startMove] : .startMove

        case (_, .request(let target)):
            guard availableModes.contains(target), target != .faulted, target != .move else { return .rejected }
            if target == mode { return [] }
            if target == .estop { return on(.estop) }
            let from = mode
            mode = target
            switch target {
            case .idle: return .disableActuators
            default: return from == .idle ? [.enableActuators, .holdMeasured] : .holdMeasured
            }
        }
    }

    /// Whether a fault for `reason` leaves the actuators off.
    func cutsActuators(_ reason: FaultReason) -> Bool {
        faultsDisableActuators || Self.isDriverFault(reason)
    }

    static func isDriverFault(_ reason: FaultReason) -> Bool {
        reason == .driverRead || reason == .driverWrite || reason == .driverActivation || reason == .actuatorFault
    }
}
