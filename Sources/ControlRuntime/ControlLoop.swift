import Control
import RigidBody
import RobotInterface
import Synchronization

/// One tick of the control thread, and everything it owns (docs/architecture.md §2):
///   drain commands → driver.read → freshness and safety checks → active controller → limiter
///   → driver.write → record the transition (flight recorder, rings) → publish telemetry.
///
/// Measurement: the driver reads into `sample`; only a fresh sample (valid, recent, finite)
/// becomes `state`, the measurement every controller, action and telemetry reads. While samples
/// are invalid or stale the tick re-sends the last command (limited again, so the limiter still
/// runs once per tick) and counts; `staleStateFaultTicks` in a row fault the loop.
///
/// Generic over the driver so that the tick calls it without existential boxing. The class is
/// created and started on the main thread, then used only by the control thread; other threads
/// reach it through `commands`, `results`, `telemetry`, the transition rings and the flight
/// recorder, which are built for that.
public final class ControlLoop<Driver: RobotDriver>: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Tick period (s).
        public var period: Double = 0.001
        /// Mode the driver is activated in for moving modes.
        public var commandMode: CommandMode = .torque
        /// Consecutive overrunning ticks before the loop faults.
        public var overrunFaultThreshold: Int = 10
        /// Joint speed bound for timing moves without an explicit duration (rad/s).
        public var moveMaxVelocity: [Double] = []
        /// Frame reported as the end effector.
        public var endEffectorFrame: Int = 0
        /// Ticks kept by the flight recorder.
        public var flightRecorderTicks: Int = 5000
        /// Mode entered by `start()`: `.idle` or `.hold`.
        public var initialMode: Mode = .hold
        /// Longest gap between two ticks (s) before the loop faults (`loop.max_stall`).
        public var maxStall: Double = 0.5
        /// A joint above its velocity limit × (1 + margin) faults the loop
        /// (`limits.velocity_fault_margin`).
        public var velocityFaultMargin: Double = 0.5
        /// Oldest driver sample used as a measurement (s, `loop.max_state_age`): a sample whose
        /// timestamp has not advanced for longer than this on the loop's clock is stale.
        public var maxStateAge: Double = 0.05
        /// Consecutive ticks with an invalid or stale sample before the loop faults
        /// (`loop.stale_state_fault_ticks`).
        public var staleStateFaultTicks: Int = 10
        /// Every fault turns the actuators off (a servo arm's `safe_state: torque_off`), not
        /// only the driver's; see `ModeStateMachine.faultsDisableActuators`.
        public var faultsDisableActuators = false

        public init() {}
    }

    public let model: RobotModel
    public let configuration: Configuration
    public let commands = LoopCommandQueue()
    /// Answers to `commands`, in order.
    public let results = SPSCRing<LoopCommandResult>(capacity: 64, initial: LoopCommandResult(id: 0, accepted: false, mode: .idle))
    public let telemetry = SeqLock(TelemetrySnapshot())
    public let flightRecorder: FlightRecorder
    /// Every transition, for the learner; `nil` when nobody listens.
    public let transitions: SPSCRing<Transition>?
    /// Every transition again, for the episode recorder (a ring has one consumer); `nil` when
    /// the daemon does not record.
    public let recordings: SPSCRing<Transition>?
    /// The planner's plans for `mpc` (their validity is the slot's); nil when this loop has no
    /// planner (mpc unavailable).
    public let plans: PlanSlot?
    /// Learned policies for `policy`; nil when the mode is not offered.
    public let policies: PolicySlot?
    /// The operator's source for `teleop` (a `Policy` with `isOperatedByPerson`: streamed targets
    /// or a leader arm); nil when the mode is not offered. While the source has no action (its
    /// input went stale) the arm holds where it is.
    public let teleop: PolicySlot?

    private var driver: Driver
    private var machine = ModeStateMachine()
    /// PD + gravity for `hold` (and the safe stops of `estop`/`faulted`), and for `move`.
    private var holdController: JointPDController
    private var moveController: JointPDController
    private var limiter: CommandLimiter
    private var trajectory: MinimumJerkTrajectory
    /// The driver's newest read, before the freshness checks.
    private var sample: JointState
    /// The newest fresh measurement: what controllers, policies, telemetry and transitions read.
    private var state: JointState
    private var command: JointCommand
    /// This tick's command before the limiter (the transition's `requested`).
    private var requestedCommand: [Double]
    /// Whether the previous tick's command came from the policy or teleop source: when the source
    /// stops acting, the hold takes the measured pose (not the pose the mode was entered at).
    private var sourceWasActing = false
    /// Whether `command` holds what the driver was last sent since the actuators came on (so a
    /// tick without a fresh state can re-send it).
    private var commandWasWritten = false
    private var holdTarget: [Double]
    /// The PD controllers' references: the move's sample or the hold pose (dof values each).
    private var desiredPosition: [Double]
    private var desiredVelocity: [Double]
    private var desiredAcceleration: [Double]
    private var moveTarget: [Double]
    /// x = [q; v] of `state`, the input of the plan's feedback law (2·dof values).
    private var feedbackState: [Double]
    /// The plan's reference for position servos: goal positions and feedforward efforts (dof each).
    private var referencePosition: [Double]
    private var referenceEffort: [Double]
    /// What a policy observes this tick (filled in place).
    private var observation: PolicyObservation
    /// q̇ = 0 for the gravity torque g(q) = RNEA(q, 0, 0) (dof values).
    private let zeroVelocity: [Double]
    /// Where this tick's command came from, for its transition: the plan's model version, the
    /// policy's version (0 = neither) and whether a person produced it.
    private var commandModelVersion: UInt32 = 0
    private var commandPolicyVersion: UInt32 = 0
    private var commandIsIntervention = false
    /// Freshness of driver samples: the newest timestamp seen, the loop time it was first seen
    /// (s), and the current run of unusable samples.
    private var newestSampleTimestamp: UInt64 = 0
    private var hasSampleTimestamp = false
    private var newestSampleSeenAt = 0.0
    private var consecutiveStaleStates = 0
    private var staleStates: UInt64 = 0
    /// Whether this tick's measurement is the held last fresh one.
    private var stateIsHeld = false
    private var moveStart: Double = 0
    private var actuatorsOn = false
    private var tickCount: UInt64 = 0
    private var consecutiveOverruns = 0
    private var overruns: UInt64 = 0
    private var limitedLastTick = false
    /// Per joint: whether its position-limit check is armed. A joint outside its limits when the
    /// arm is powered (a servo arm that fell onto its stop after torque went off) is brought back
    /// by the hold, not faulted at once (which would leave `reset` unable to ever re-arm it); its
    /// check arms as soon as it is inside.
    private var positionLimitArmed: [Bool]
    private var workspace: RobotWorkspace

    /// - Warning: Not real-time safe (allocates everything the tick will use).
    public init(model: RobotModel, driver: consuming Driver, holdController: JointPDController,
                moveController: JointPDController? = nil, limits: JointLimits,
                configuration: Configuration = Configuration(), transitionRingCapacity: Int? = nil, recordingRingCapacity: Int? = nil,
                plans: PlanSlot? = nil, policies: PolicySlot? = nil, teleop: PolicySlot? = nil) {
        precondition(model.dof <= transitionMaxJoints, "robotd records at most \(transitionMaxJoints) joints")
        precondition(limits.dof == model.dof, "one limit per joint")
        precondition(configuration.maxStateAge > 0 && configuration.staleStateFaultTicks >= 1,
                     "a positive state age and at least one stale tick before the fault")
        let n = model.dof
        self.model = model
        self.configuration = configuration
        self.driver = driver
        self.holdController = holdController
        self.moveController = moveController ?? holdController
        limiter = CommandLimiter(limits: limits)
        trajectory = MinimumJerkTrajectory(dof: n)
        sample = JointState(dof: n)
        state = JointState(dof: n)
        command = JointCommand(mode: configuration.commandMode, dof: n)
        requestedCommand = Array(repeating: 0, count: n)
        holdTarget = Array(repeating: 0, count: n)
        desiredPosition = Array(repeating: 0, count: n)
        desiredVelocity = Array(repeating: 0, count: n)
        desiredAcceleration = Array(repeating: 0, count: n)
        moveTarget = Array(repeating: 0, count: n)
        feedbackState = Array(repeating: 0, count: 2 * n)
        referencePosition = Array(repeating: 0, count: n)
        referenceEffort = Array(repeating: 0, count: n)
        observation = PolicyObservation(dof: n)
        positionLimitArmed = Array(repeating: true, count: n)
        zeroVelocity = Array(repeating: 0, count: n)
        flightRecorder = FlightRecorder(capacity: max(1, configuration.flightRecorderTicks))
        transitions = transitionRingCapacity.map { SPSCRing(capacity: $0, initial: Transition()) }
        recordings = recordingRingCapacity.map { SPSCRing(capacity: $0, initial: Transition()) }
        workspace = model.makeWorkspace()
        machine.faultsDisableActuators = configuration.faultsDisableActuators
        self.plans = plans
        if let plans {
            precondition(plans.dof == n, "plan slot for \(plans.dof) joints, robot has \(n)")
            machine.availableModes.insert(.mpc)
        }
        self.policies = policies
        if let policies {
            precondition(policies.dof == n, "policy slot for \(policies.dof) joints, robot has \(n)")
            precondition(policies.actionKind == configuration.commandMode,
                         "policy slot for \(policies.actionKind) actions, loop commands \(configuration.commandMode)")
            machine.availableModes.insert(.policy)
        }
        self.teleop = teleop
        if let teleop {
            precondition(teleop.dof == n, "teleop slot for \(teleop.dof) joints, robot has \(n)")
            precondition(teleop.actionKind == configuration.commandMode,
                         "teleop slot for \(teleop.actionKind) actions, loop commands \(configuration.commandMode)")
            machine.availableModes.insert(.teleop)
        }
    }

    /// Current mode (control thread; other threads read `telemetry`).
    public var mode: Mode { machine.mode }

    /// Configures the driver, takes a first sample and enters the initial mode.
    /// - Throws: the driver's error when it cannot be configured or activated, and
    ///   `DriverError.communication` when its first sample is invalid or not finite (the initial
    ///   mode holds the measured pose, so it needs one).
    /// - Warning: Not real-time safe. Call before the control thread starts ticking.
    public func start() throws(DriverError) {
        try driver.configure()
        hasSampleTimestamp = false
        try driver.read(into: &sample)
        guard sample.isValid, sample.isFinite else {
            throw DriverError(.communication, "the driver's first joint state is invalid or not finite")
        }
        _ = sampleIsFresh(time: 0)
        adoptSample()
        publish(time: 0)
        if configuration.initialMode != .idle {
            perform(machine.on(.request(configuration.initialMode)), time: 0)
            publish(time: 0)
        }
    }

    /// One control period. `time` is the tick's deadline on the runner's clock (s); `overran`
    /// says whether the previous tick finished after this tick's deadline (the runner measures it).
    ///
    /// Everything time-based inside the loop (moves, plan lookups, telemetry and transitions)
    /// runs on the loop's own clock, `time` less every stall: a gap of more than 1.5 periods
    /// since the previous tick adds (gap − period) to the stalled time, so after a SIGSTOP or a
    /// VM pause a reference resumes where it stopped instead of jumping to where it would
    /// have been (the arm stepping to a move's goal). A gap over `maxStall` also faults: the
    /// arm went uncontrolled too long to trust the plan it was following.
    /// - Note: Real-time safe: no allocation, no locks, no syscalls other than the driver's
    ///   (mode changes that power the actuators call `driver.activate`, once per change).
    public func tick(time runnerTime: Double, overran: Bool) {
        tickCount &+= 1
        var stalledTooLong = false
        if let last = lastRunnerTime {
            let gap = runnerTime - last
            if gap > 1.5 * configuration.period {
                stalledTime += gap - configuration.period
                stalls &+= 1
                stalledTooLong = gap > configuration.maxStall
            }
        }
        lastRunnerTime = runnerTime
        let time = runnerTime - stalledTime
        if stalledTooLong {
            perform(machine.on(.fault(.stall)), time: time)
        }
        if overran {
            overruns &+= 1
            consecutiveOverruns += 1
            if consecutiveOverruns >= configuration.overrunFaultThreshold {
                perform(machine.on(.fault(.deadlineMisses)), time: time)
            }
        } else {
            consecutiveOverruns = 0
        }
        while let c = commands.receive() { handle(c, time: time) }

        do {
            try driver.read(into: &sample)
        } catch {
            stateIsHeld = true
            perform(machine.on(.fault(error.code == .hardware ? .actuatorFault : .driverRead)), time: time)
            finishTick(time: time, overran: overran)
            return
        }
        guard sampleIsFresh(time: time) else {
            staleStates &+= 1
            consecutiveStaleStates += 1
            if consecutiveStaleStates >= configuration.staleStateFaultTicks {
                perform(machine.on(.fault(.staleState)), time: time)
            }
            stateIsHeld = true
            resendLastCommand(time: time)
            finishTick(time: time, overran: overran)
            return
        }
        consecutiveStaleStates = 0
        stateIsHeld = false
        guard sample.isFinite else {
            // The previous fresh state stays the measurement (the fault's hold takes its pose);
            // the faulting sample is recorded for the dump.
            perform(machine.on(.fault(.nonFiniteState)), time: time)
            resendLastCommand(time: time)
            finishTick(time: time, overran: overran, recordingSample: true)
            return
        }
        adoptSample()
        if actuatorsOn, let reason = limitViolation() {
            perform(machine.on(.fault(reason)), time: time)
        }

        if actuatorsOn {
            computeCommand(time: time)
            if !commandIsFinite() {
                perform(machine.on(.fault(.nonFiniteCommand)), time: time)
                // The fault holds the last measured pose: a finite command from the hold controller.
                if actuatorsOn { computeCommand(time: time) }
            }
            if actuatorsOn { limitAndWrite(time: time) }
        }
        finishTick(time: time, overran: overran)
    }

    /// Whether `sample` may be this tick's measurement: the driver says it is valid, and its
    /// timestamp is newer than the newest seen (a new sample) or is that one, first seen no more
    /// than `maxStateAge` ago on the loop's clock. Driver clocks are not the loop's, so a sample's
    /// age is measured from when its timestamp first appeared (a lower bound); a timestamp that
    /// goes back is never fresh.
    /// - Note: Real-time safe: no allocation, no locks.
    private func sampleIsFresh(time: Double) -> Bool {
        guard sample.isValid else { return false }
        let stamp = sample.timestampNanoseconds
        if !hasSampleTimestamp || stamp > newestSampleTimestamp {
            hasSampleTimestamp = true
            newestSampleTimestamp = stamp
            newestSampleSeenAt = time
            return true
        }
        return stamp == newestSampleTimestamp && time - newestSampleSeenAt <= configuration.maxStateAge
    }

    /// `sample` becomes the measurement.
    private func adoptSample() {
        for i in 0 ..< model.dof {
            state.position[i] = sample.position[i]
            state.velocity[i] = sample.velocity[i]
            state.effort[i] = sample.effort[i]
        }
        state.timestampNanoseconds = sample.timestampNanoseconds
        state.isValid = true
        endEffectorIsCurrent = false
    }

    /// A tick without a usable measurement (invalid, stale or non-finite sample): the driver gets
    /// the last command again, through the limiter (the servo keeps its goal; a torque arm keeps
    /// the last effort, gravity compensation included) rather than one computed from a state that
    /// may no longer be true. Nothing is sent when no command has been since the actuators came
    /// on: the driver's activation holds the arm then.
    ///
    /// Position servos in `faulted` or `estop` get the hold goal instead: the pose of the last
    /// fresh measurement (what the fault's `holdMeasured` took), never the goal a policy or plan
    /// left behind. A goal needs no fresh state to be safe, so the stop does not wait for one;
    /// its gravity feedforward is that measurement's too.
    private func resendLastCommand(time: Double) {
        commandModelVersion = 0
        commandPolicyVersion = 0
        commandIsIntervention = false
        guard actuatorsOn else { return }
        if command.mode == .position, machine.mode == .faulted || machine.mode == .estop {
            for i in 0 ..< model.dof {
                desiredPosition[i] = holdTarget[i]
                desiredVelocity[i] = 0
            }
            holdController.compute(&command, desiredPosition: desiredPosition, desiredVelocity: desiredVelocity, state: state)
            limitAndWrite(time: time)
            return
        }
        guard commandWasWritten else { return }
        limitAndWrite(time: time)
    }

    /// The limiter (once per tick) and the write; a failed write faults.
    private func limitAndWrite(time: Double) {
        for i in 0 ..< model.dof { requestedCommand[i] = command.values[i] }
        limitedLastTick = limiter.limit(&command, state: state, dt: configuration.period) > 0
        do {
            try driver.write(command)
            commandWasWritten = true
        } catch {
            perform(machine.on(.fault(.driverWrite)), time: time)
        }
    }

    /// Records the tick (the faulting one too: its state is what the dump is for), freezes the
    /// flight recorder if this tick faulted, and publishes telemetry.
    /// `recordingSample`: the transition carries the driver's sample instead of the measurement
    /// (a non-finite sample, for the dump).
    private func finishTick(time: Double, overran: Bool, recordingSample: Bool = false) {
        if recordingSample {
            record(time: time, overran: overran, measured: sample)
        } else {
            record(time: time, overran: overran, measured: state)
        }
        if freezePending {
            freezePending = false
            flightRecorder.freeze()
        }
        publish(time: time)
    }

    /// Brings the arm to rest and turns the actuators off: holds the measured pose for
    /// `holdTicks` ticks, then deactivates the driver.
    /// - Warning: Not real-time safe; call from the control thread's exit path or after it stopped.
    public func shutdown(holdTicks: Int = 0, time: Double) {
        if actuatorsOn, machine.mode != .hold, machine.mode != .faulted, machine.mode != .estop {
            perform(machine.on(.request(.hold)), time: time)
        }
        for k in 0 ..< holdTicks where actuatorsOn {
            tick(time: time + Double(k + 1) * configuration.period, overran: false)
        }
        driver.deactivate()
        driver.cleanup()
        actuatorsOn = false
    }

    // MARK: - Tick parts

    private func handle(_ c: LoopCommand, time: Double) {
        let actions: ModeActions
        switch c.kind {
        case .setMode:
            let missing: RejectReason = c.mode == .mpc && plans?.covers(time) != true ? .noPlan
                : c.mode == .policy && policies?.hasPolicy != true ? .noPolicy
                : c.mode == .teleop && teleop?.hasPolicy != true ? .noPolicy : .none
            if missing != .none {
                _ = results.push(LoopCommandResult(id: c.id, accepted: false, mode: machine.mode, reason: missing))
                return
            }
            actions = machine.on(.request(c.mode))
        case .estop: actions = machine.on(.estop)
        case .reset: actions = machine.on(.reset)
        case .move:
            guard targetIsValid(c) else {
                _ = results.push(LoopCommandResult(id: c.id, accepted: false, mode: machine.mode, reason: .invalidTarget))
                return
            }
            actions = machine.on(.move)
            if !actions.contains(.rejected) {
                for i in 0 ..< model.dof { moveTarget[i] = c.target[i] }
                moveStart = time
                moveDuration = c.duration
            }
        }
        perform(actions, time: time)
        let refused = actions.contains(.rejected)
        _ = results.push(LoopCommandResult(id: c.id, accepted: !refused, mode: machine.mode, reason: refused ? .refusedInMode : .none))
    }

    private var moveDuration = 0.0
    /// The runner's time of the previous tick, and the time lost to stalls (s): the loop's
    /// clock is the runner's less `stalledTime`.
    private var lastRunnerTime: Double?
    private var stalledTime = 0.0
    private var stalls: UInt64 = 0
    private var fallbacks: UInt64 = 0
    private var lastFallbackFrom = Mode.idle
    private var lastFallbackTime = 0.0
    /// The end-effector pose of `state`, computed at most once per measurement (the policy and
    /// telemetry both need it): `endEffectorIsCurrent` is cleared whenever `state` changes.
    private var endEffector = Transform.identity
    private var endEffectorIsCurrent = false
    /// A fault asked for a flight-recorder dump; frozen once this tick is recorded.
    private var freezePending = false

    private func targetIsValid(_ c: LoopCommand) -> Bool {
        guard c.duration.isFinite else { return false }
        for i in 0 ..< model.dof {
            let x = c.target[i]
            if !x.isFinite || x < limiter.limits.lower[i] || x > limiter.limits.upper[i] { return false }
        }
        return true
    }

    /// Carries out a transition's actions. A driver that cannot be configured or activated is
    /// itself a fault, whose actions are carried out in turn (and end the recursion: a fault in
    /// `faulted` returns none); the remaining actions of the failed transition are dropped.
    private func perform(_ actions: ModeActions, time: Double) {
        if actions.contains(.disableActuators) {
            driver.deactivate()
            actuatorsOn = false
            commandWasWritten = false
        }
        if actions.contains(.reactivateDriver) {
            driver.cleanup()
            // A reconfigured driver may restart its clock.
            hasSampleTimestamp = false
            do {
                try driver.configure()
                // The measurement is the last one before the driver failed; the arm may have
                // moved since (unpowered, it falls; an emulator or adapter replaced, it is
                // elsewhere). The hold that follows must take the pose measured now, as `start`
                // does: from the stale pose, a reconnected servo arm slewed back to where it had
                // been when the bus went away (issue 15).
                try driver.read(into: &sample)
            } catch {
                perform(machine.on(.fault(.driverActivation)), time: time)
                return
            }
            guard sample.isValid, sample.isFinite else {
                perform(machine.on(.fault(.driverActivation)), time: time)
                return
            }
            _ = sampleIsFresh(time: time)
            adoptSample()
        }
        if actions.contains(.enableActuators), !actuatorsOn {
            do {
                try driver.activate(mode: configuration.commandMode)
                // Powered from wherever the arm is: a joint outside its limits is brought back
                // (by the hold or the move), its limit check armed once it is inside.
                armPositionLimitsInside()
                actuatorsOn = true
                commandWasWritten = false
                command.mode = configuration.commandMode
            } catch {
                perform(machine.on(.fault(.driverActivation)), time: time)
                return
            }
        }
        if actions.contains(.holdMeasured) {
            // A joint outside its limits is held just inside them (the limiter ramps the goal
            // there), and its limit check waits until it is back.
            armPositionLimitsInside()
            let limits = limiter.limits
            for i in 0 ..< model.dof {
                let q = state.position[i], lower = limits.lower[i], upper = limits.upper[i]
                let margin = min(Self.limitReentryMargin, 0.25 * (upper - lower))
                holdTarget[i] = positionLimitArmed[i] ? q : min(max(q, lower + margin), upper - margin)
            }
            limiter.reset(from: state)
        }
        if actions.contains(.holdGoal) {
            for i in 0 ..< model.dof { holdTarget[i] = moveTarget[i] }
        }
        if actions.contains(.startMove) {
            limiter.reset(from: state)
            // A requested duration too short for the velocity limits is stretched to the
            // shortest that keeps every joint's peak speed within its limit: a step command
            // (duration 5e-324) would otherwise ask for ~100 N·m and be left to the brakes.
            let fastest = MinimumJerkTrajectory.duration(from: state.position, to: moveTarget, maxVelocity: limiter.limits.velocity,
                                                         minimum: 10 * configuration.period)
            let duration = moveDuration > 0 ? max(moveDuration, fastest) : MinimumJerkTrajectory.duration(
                from: state.position, to: moveTarget,
                maxVelocity: configuration.moveMaxVelocity.isEmpty ? limiter.limits.velocity : configuration.moveMaxVelocity
            )
            trajectory.set(start: state.position, goal: moveTarget, duration: duration)
            moveStart = time
        }
        if actions.contains(.dumpFlightRecorder) {
            freezePending = true
        }
    }

    /// The plan's control law at `time` into `command`; false when no valid plan covers it.
    /// Torque: u = u_ff + K (x − x_ref) on x = [q; v] (no feedforward effort). Position servos:
    /// the plan's reference positions as goals and its torques as feedforward effort.
    /// - Note: Real-time safe: no allocation, no locks.
    private func planControl(time: Double) -> Bool {
        guard let plans else { return false }
        let n = model.dof
        if command.mode == .position {
            let covered = referencePosition.withUnsafeMutableBufferPointer { q in
                referenceEffort.withUnsafeMutableBufferPointer { tau in
                    plans.reference(at: time, position: q.baseAddress!, effort: tau.baseAddress!) != nil
                }
            }
            guard covered else { return false }
            for i in 0 ..< n {
                command.values[i] = referencePosition[i]
                command.feedforwardEffort[i] = referenceEffort[i]
            }
        } else {
            for i in 0 ..< n {
                feedbackState[i] = state.position[i]
                feedbackState[n + i] = state.velocity[i]
            }
            let covered = feedbackState.withUnsafeBufferPointer { x in
                command.values.withUnsafeMutableBufferPointer { u in
                    plans.control(at: time, state: x.baseAddress!, into: u.baseAddress!) != nil
                }
            }
            guard covered else { return false }
            for i in 0 ..< n { command.feedforwardEffort[i] = 0 }
        }
        commandModelVersion = plans.followedModelVersion
        return true
    }

    /// The installed policy's action on this tick's observation into `command`; false without
    /// a policy or an action.
    /// - Note: Real-time safe: no allocation, no locks (the policy's contract).
    private func policyControl(_ policies: PolicySlot, time: Double) -> Bool {
        guard let needs = policies.prepare() else { return false }
        let n = model.dof
        observation.time = time
        for i in 0 ..< n {
            observation.position[i] = state.position[i]
            observation.velocity[i] = state.velocity[i]
            observation.effort[i] = state.effort[i]
        }
        if needs.contains(.endEffectorPosition) {
            let p = measuredEndEffector().translation
            observation.endEffectorPosition = SIMD3(p.x, p.y, p.z)
        }
        let acted = command.values.withUnsafeMutableBufferPointer { action in
            policies.evaluate(&observation, into: action)
        }
        guard let acted else { return false }
        // A goal position comes with gravity's torque, as hold's and move's do, so the servo
        // reaches the goal the policy asked for instead of sagging g/K_p below it.
        if command.mode == .position, holdController.gravityCompensation {
            model.bias(&workspace, q: state.position, v: zeroVelocity)
            for i in 0 ..< n { command.feedforwardEffort[i] = workspace.tau[i] }
        } else {
            for i in 0 ..< n { command.feedforwardEffort[i] = 0 }
        }
        commandPolicyVersion = acted.version
        commandIsIntervention = acted.operatedByPerson
        return true
    }

    /// The active controller's command for this tick into `command` (not yet limited), and
    /// where it came from (`commandModelVersion`, `commandPolicyVersion`, `commandIsIntervention`).
    private func computeCommand(time: Double) {
        commandModelVersion = 0
        commandPolicyVersion = 0
        commandIsIntervention = machine.mode == .teleop
        let source = machine.mode == .policy ? policies : machine.mode == .teleop ? teleop : nil
        if let source {
            if policyControl(source, time: time) {
                sourceWasActing = true
                return
            }
            // The source stopped acting (a stale stream, a policy without an action): stop where
            // the arm is, not back at the pose the mode was entered at.
            if sourceWasActing {
                for i in 0 ..< model.dof { holdTarget[i] = state.position[i] }
            }
        }
        sourceWasActing = false
        if machine.mode == .mpc {
            if planControl(time: time) { return }
            let from = machine.mode
            perform(machine.on(.planExpired), time: time)
            fallbacks &+= 1
            lastFallbackFrom = from
            lastFallbackTime = time
        }
        switch machine.mode {
        case .move:
            let t = time - moveStart
            trajectory.sample(at: t, position: &desiredPosition, velocity: &desiredVelocity, acceleration: &desiredAcceleration)
            if trajectory.isFinished(at: t) {
                perform(machine.on(.moveFinished), time: time)
            }
            moveController.compute(&command, desiredPosition: desiredPosition, desiredVelocity: desiredVelocity, state: state)
        default:
            for i in 0 ..< model.dof {
                desiredPosition[i] = holdTarget[i]
                desiredVelocity[i] = 0
            }
            holdController.compute(&command, desiredPosition: desiredPosition, desiredVelocity: desiredVelocity, state: state)
        }
    }

    /// A joint past what the limiter should have kept it within: faster than its velocity limit
    /// by more than the margin (the limiter brakes above the limit), or at or past a position
    /// limit (the limiter never pushes a joint onto one) once its check is armed
    /// (`positionLimitArmed`). nil when every joint is inside.
    /// - Note: Real-time safe: no allocation, no locks.
    private func limitViolation() -> FaultReason? {
        let limits = limiter.limits
        let scale = 1 + configuration.velocityFaultMargin
        for i in 0 ..< model.dof {
            if abs(state.velocity[i]) > limits.velocity[i] * scale { return .velocityLimit }
            let q = state.position[i]
            let outside = q >= limits.upper[i] || q <= limits.lower[i]
            if positionLimitArmed[i] {
                if outside { return .positionLimit }
            } else if !outside {
                positionLimitArmed[i] = true
            }
        }
        return nil
    }

    /// Arms the position-limit check of each joint strictly inside its limits at the measured
    /// pose; the others arm once they are back (`limitViolation`).
    private func armPositionLimitsInside() {
        let limits = limiter.limits
        for i in 0 ..< model.dof {
            positionLimitArmed[i] = state.position[i] > limits.lower[i] && state.position[i] < limits.upper[i]
        }
    }

    /// How far inside its limits a joint found outside them is held (rad or m), at most a quarter
    /// of its range.
    static var limitReentryMargin: Double { 0.01 }

    private func commandIsFinite() -> Bool {
        for i in 0 ..< model.dof where !command.values[i].isFinite || !command.feedforwardEffort[i].isFinite {
            return false
        }
        return true
    }

    /// The tick's transition: the measurement (`measured`), the command sent (none while the
    /// actuators are off) and where it came from.
    private func record(time: Double, overran: Bool, measured: borrowing JointState) {
        var t = Transition()
        t.time = time
        t.tick = tickCount
        t.dof = UInt8(model.dof)
        t.mode = machine.mode
        var flags: UInt8 = 0
        if limitedLastTick { flags |= Transition.Flags.limited }
        if overran { flags |= Transition.Flags.overrun }
        if stateIsHeld { flags |= Transition.Flags.heldState }
        if actuatorsOn, commandIsIntervention { flags |= Transition.Flags.intervention }
        t.flags = flags
        t.commandMode = actuatorsOn ? command.mode : nil
        t.modelVersion = actuatorsOn ? commandModelVersion : 0
        t.policyVersion = actuatorsOn ? commandPolicyVersion : 0
        for i in 0 ..< model.dof {
            t.position[i] = measured.position[i]
            t.velocity[i] = measured.velocity[i]
            t.effort[i] = measured.effort[i]
            t.command[i] = actuatorsOn ? command.values[i] : 0
            t.requested[i] = actuatorsOn ? requestedCommand[i] : 0
        }
        flightRecorder.record(t)
        transitions?.push(t)
        recordings?.push(t)
    }

    /// Forward kinematics of the measured state, once per measurement.
    /// - Note: Real-time safe: no allocation, no locks.
    private func measuredEndEffector() -> Transform {
        if !endEffectorIsCurrent {
            model.forwardKinematics(&workspace, q: state.position)
            endEffector = model.framePose(workspace, frame: configuration.endEffectorFrame)
            endEffectorIsCurrent = true
        }
        return endEffector
    }

    private func publish(time: Double) {
        let pose = state.isFinite ? measuredEndEffector() : .identity
        let n = model.dof
        let mode = machine.mode
        let fault = machine.lastFault
        let tick = tickCount, overrunCount = overruns, stallCount = stalls, stalled = stalledTime, staleCount = staleStates
        let fallbackCount = fallbacks, fallbackFrom = lastFallbackFrom, fallbackTime = lastFallbackTime
        telemetry.update { s in
            s.tick = tick
            s.time = time
            s.mode = mode
            s.hasFault = fault != nil
            if let fault { s.fault = fault }
            s.dof = UInt8(n)
            s.overruns = overrunCount
            s.stalls = stallCount
            s.stalledTime = stalled
            s.staleStates = staleCount
            s.fallbacks = fallbackCount
            s.lastFallbackFrom = fallbackFrom
            s.lastFallbackTime = fallbackTime
            for i in 0 ..< n {
                s.position[i] = state.position[i]
                s.velocity[i] = state.velocity[i]
                s.effort[i] = state.effort[i]
                s.command[i] = actuatorsOn ? command.values[i] : 0
            }
            s.endEffectorPosition[0] = pose.translation.x
            s.endEffectorPosition[1] = pose.translation.y
            s.endEffectorPosition[2] = pose.translation.z
            let r = pose.rotation
            s.endEffectorRotation[0] = r.m00; s.endEffectorRotation[1] = r.m01; s.endEffectorRotation[2] = r.m02
            s.endEffectorRotation[3] = r.m10; s.endEffectorRotation[4] = r.m11; s.endEffectorRotation[5] = r.m12
            s.endEffectorRotation[6] = r.m20; s.endEffectorRotation[7] = r.m21; s.endEffectorRotation[8] = r.m22
        }
    }
}
