import Platform
import RobotInterface
import ServoBus
import ServoProtocol
import Synchronization

/// A servo-bus arm (SO-101 on Feetech, Koch on Dynamixel) as a `RobotDriver` in position mode.
///
/// Bus transactions run on the driver's own I/O thread at `busRateHz` (`ServoBusEngine`); the
/// control thread never waits on the bus: `read` copies the newest published state (timestamp
/// and validity included) from a sequence-locked slot, `write` leaves the newest goal in a
/// single-slot mailbox. Both are lock-free and allocate nothing.
///
/// Lifecycle (ros2_control's): `connect` opens the port and identifies the servos (start-up
/// errors are `ServoArmError`s that name the port or servo and the fix); `configure` writes the
/// settings and starts the I/O thread, returning once a first state is published; `activate`
/// sets goal := present before torque on; `deactivate` turns torque off (or holds);
/// `cleanup` stops the thread, turns torque off unless the safe state is hold, and closes the
/// port. `configure` after `cleanup` reopens the port: how `reset` re-arms after a fault.
///
/// One thread at a time calls the lifecycle and `read`/`write` (the control thread);
/// `monitor` may be read from any thread.
public final class ServoArmDriver: RobotDriver, @unchecked Sendable {
    public let description: DriverDescription
    public let options: ServoArmOptions
    /// The bus's health, for `status` and `robotctl timing` (any thread).
    public let monitor: ServoBusMonitor
    /// Why the last `configure` or `activate` failed, in full (the `DriverError` they throw
    /// carries static text only); nil after a success.
    public private(set) var lastError: ServoArmError?
    /// Advice from opening the port (the FTDI latency timer); log each at warning level.
    public private(set) var warnings: [String] = []

    let slot: StateSlot
    let mailbox: GoalMailbox
    /// The calibration in use (`options.calibration` until a calibration adopts another).
    let current: Mutex<ArmCalibration>
    /// Why torque may not be enabled now (a calibration in progress), or nil.
    let torqueBlock = Mutex<String?>(nil)
    /// `engine` for other threads (calibration jobs): set by `configure`, cleared by `cleanup`.
    let sharedEngine = Mutex<ServoBusEngine?>(nil)
    private var backend: (any ServoBusBackend)?
    private var engine: ServoBusEngine?
    private var isActive = false

    init(options: ServoArmOptions) {
        self.options = options
        description = DriverDescription(name: options.robotName, jointNames: options.jointNames, supportedModes: [.position])
        monitor = ServoBusMonitor(options: options)
        slot = StateSlot(dof: options.dof)
        mailbox = GoalMailbox(dof: options.dof)
        current = Mutex(options.calibration)
    }

    deinit {
        engine?.stop()
        backend?.transport.close()
    }

    /// Opens the port and identifies every servo, so that start-up errors are clear before the
    /// loop starts: a port missing, busy or not permitted (with the fix), a servo that does not
    /// answer or is not of the bus's family, a servo reporting a hardware error. A Dynamixel
    /// servo with a latched error and torque off is REBOOTed (safe: it is limp anyway); a
    /// Feetech servo cannot be, and fails the connect.
    /// - Throws: `ServoArmError`.
    /// - Warning: Not real-time safe.
    public static func connect(_ options: ServoArmOptions) throws(ServoArmError) -> ServoArmDriver {
        try options.validate()
        let driver = ServoArmDriver(options: options)
        try driver.open()
        return driver
    }

    private func open() throws(ServoArmError) {
        let opened: SerialPorts.Opened
        do throws(SerialTransportError) {
            opened = try SerialPorts.open(path: options.port, baud: options.baud)
        } catch {
            throw ServoArmError.port(error, options: options)
        }
        warnings = opened.warnings
        let made: any ServoBusBackend
        do throws(ServoArmError) {
            switch options.busProtocol {
            case .feetech: made = try FeetechBackend(transport: opened.transport, options: options)
            case .dynamixel: made = try DynamixelBackend(transport: opened.transport, options: options)
            }
            // Configure-time transactions: a generous timeout and retries (nothing is cycling).
            var c = made.transactionConfiguration
            c.retries = 2
            made.transactionConfiguration = c
            try made.identify()
            try clearLatchedErrors(made)
        } catch {
            opened.transport.close()
            throw error
        }
        backend = made
        monitor.update { s in
            s.connection = .connected
            s.warnings = opened.warnings
        }
    }

    private func clearLatchedErrors(_ backend: any ServoBusBackend) throws(ServoArmError) {
        for (i, bits) in try backend.latchedErrors() {
            let reasons = backend.hardwareErrorReasons(bits).joined(separator: ", ")
            let sentence = "\(options.servoName(i)): \(reasons)"
            monitor.update { s in
                s.servos[i].hardwareErrors = backend.hardwareErrorReasons(bits)
                s.lastFault = sentence
            }
            guard backend.canReboot else {
                throw ServoArmError(.hardwareError, port: options.port, servoID: options.ids[i], joint: i,
                                    message: "\(options.robotName) on \(options.port): \(options.servoName(i)) reports a hardware error: \(reasons); "
                                        + "it stays latched until the servo is power-cycled: remove the cause (load, supply voltage, heat), then switch the arm's supply off and on")
            }
            guard try !backend.torqueEnabled(joint: i) else {
                throw ServoArmError(.hardwareError, port: options.port, servoID: options.ids[i], joint: i,
                                    message: "\(options.robotName) on \(options.port): \(options.servoName(i)) reports a hardware error (\(reasons)) with torque on; "
                                        + "not rebooting it under load: support the arm and turn its torque off (robotd bus write … Torque_Enable 0)")
            }
            try backend.reboot(joint: i)
            let after = try backend.latchedErrors()
            if let still = after.first(where: { $0.joint == i }) {
                throw ServoArmError(.hardwareError, port: options.port, servoID: options.ids[i], joint: i,
                                    message: "\(options.robotName) on \(options.port): \(options.servoName(i)) still reports \(backend.hardwareErrorReasons(still.bits).joined(separator: ", ")) after a REBOOT: remove the cause and power-cycle it")
            }
            monitor.update { $0.servos[i].hardwareErrors = [] }
        }
    }

    private func closePort() {
        backend?.transport.close()
        backend = nil
        monitor.update { s in
            s.connection = .disconnected
            s.active = false
        }
    }

    // MARK: RobotDriver

    /// Opens the port if it is closed (reconnecting after `cleanup`), writes the settings,
    /// starts the bus I/O thread and waits for its first complete state read.
    /// - Throws: `.communication` (port, no reply, settings; `lastError` has the details),
    ///   `.hardware` with the joint of a servo reporting a hardware error.
    /// - Warning: Not real-time safe.
    public func configure() throws(DriverError) {
        if engine != nil { return }
        do throws(ServoArmError) {
            if backend == nil { try open() }
            guard let backend else { throw ServoArmError(.port, port: options.port, message: "\(options.port): not open") }
            var c = backend.transactionConfiguration
            c.retries = 2
            backend.transactionConfiguration = c
            try backend.applySettings()
        } catch {
            lastError = error
            if error.code != .hardwareError { monitor.update { $0.lastFault = error.message } }
            closePort()
            throw Self.driverError(error)
        }
        guard let backend else { throw DriverError(.notConfigured, "the servo bus is not open") }
        isActive = false
        let engine = ServoBusEngine(options: options, calibration: calibration, backend: backend, slot: slot, mailbox: mailbox,
                                    monitor: monitor)
        engine.start()
        self.engine = engine
        sharedEngine.withLock { $0 = engine }
        let deadline = MonotonicClock.now() &+ UInt64(options.firstSampleTimeout * 1e9)
        while true {
            let h = slot.readHeader()
            if h.fault != .none || MonotonicClock.now() > deadline {
                let text = monitor.snapshot().lastFault ?? "\(options.robotName): no complete state read from the servos within \(options.firstSampleTimeout) s"
                lastError = ServoArmError(h.fault == .hardware ? .hardwareError : .noReply, port: options.port, joint: h.faultJoint, message: text)
                cleanup()
                throw h.fault == .hardware
                    ? DriverError(.hardware, "a servo reported a hardware error at configure", joint: h.faultJoint)
                    : DriverError(.communication, "no complete state read from the servos at configure")
            }
            if h.isValid && h.samples > 0 { break }
            MonotonicClock.sleep(untilNanoseconds: MonotonicClock.now() &+ 500_000)
        }
        lastError = nil
    }

    /// Torque on without a jump: the I/O thread reads the present positions, writes them as
    /// goals with torque off, then enables torque; later goals ramp from there (step limit).
    /// Refused for a joint whose calibrated range is empty or invalid.
    /// - Throws: `.notConfigured` (also for an unusable calibration, with its joint),
    ///   `.unsupportedMode`, `.communication`, `.hardware`.
    /// - Warning: Not real-time safe (waits for the I/O thread, a few bus cycles).
    public func activate(mode: CommandMode) throws(DriverError) {
        guard let engine else { throw DriverError(.notConfigured, "activate before configure") }
        guard mode == .position else { throw DriverError(.unsupportedMode, "servo arms take position goals only") }
        if isActive { return }
        if let reason = torqueBlock.withLock({ $0 }) {
            lastError = ServoArmError(.invalidCalibration, port: options.port, message: reason)
            monitor.update { $0.lastFault = reason }
            throw DriverError(.notConfigured, "a calibration is in progress: torque stays off")
        }
        var checked = options
        checked.calibration = calibration
        for i in 0..<options.dof {
            if let problem = checked.calibrationProblem(joint: i) {
                lastError = ServoArmError(.invalidCalibration, port: options.port, servoID: options.ids[i], joint: i, message: problem)
                monitor.update { $0.lastFault = problem }
                throw DriverError(.notConfigured, "the joint's calibrated range is empty or invalid: torque stays off", joint: i)
            }
        }
        if let error = engine.perform(.activate) {
            lastError = error
            throw Self.driverError(error)
        }
        lastError = nil
        isActive = true
    }

    /// Torque off, or with the safe state hold, torque stays on at the last goal and goal
    /// writes stop. Never throws.
    /// - Warning: Not real-time safe.
    public func deactivate() {
        if let engine, isActive { _ = engine.perform(.deactivate) }
        isActive = false
    }

    /// Stops the I/O thread, turns torque off unless the safe state is hold, closes the port.
    /// - Warning: Not real-time safe.
    public func cleanup() {
        sharedEngine.withLock { $0 = nil }
        engine?.stop()
        engine = nil
        if let backend, options.safeState == .torqueOff {
            do throws(ServoBusError) { try backend.setTorque(false) } catch {}
        }
        isActive = false
        closePort()
    }

    /// Copies the newest state the bus delivered. `isValid` is false when the newest cycle's
    /// read failed (the previous values and their timestamp are kept: never fresh).
    /// - Throws: `.communication` after `failedCyclesToFault` failed cycles in a row or when the
    ///   port went away; `.hardware` with the joint of a servo reporting a hardware error
    ///   (`monitor.snapshot().lastFault` names servo, joint and reason). Latched until cleanup.
    /// - Note: Real-time safe: no allocation, no locks, no system calls.
    public func read(into state: inout JointState) throws(DriverError) {
        guard engine != nil else { throw DriverError(.notConfigured, "read before configure") }
        guard state.dof == options.dof else { throw DriverError(.dimensionMismatch, "state buffer size differs from the arm's joints") }
        guard let h = slot.read(into: &state) else {
            state.isValid = false
            return
        }
        switch h.fault {
        case .none: break
        case .communication: throw DriverError(.communication, "servo bus failed (the bus status's last fault says how)")
        case .hardware: throw DriverError(.hardware, "a servo reported a hardware error (the bus status's last fault names it)", joint: h.faultJoint)
        }
        state.timestampNanoseconds = h.timestampNanoseconds
        state.isValid = h.isValid
    }

    /// Leaves goal positions (rad) for the next bus cycle, each shifted by its feed-forward
    /// effort through the servo's compliance (`ServoArmOptions.feedforwardCompliance`: the
    /// servo's own PD then adds about that torque). NaN or infinite values are not sent
    /// (the joint keeps its previous goal; `ServoBusStatus.rejectedGoals` counts them); the bus
    /// thread clamps goals into the soft limits and the per-cycle step limit.
    /// - Throws: `.notActive`, `.unsupportedMode`, `.dimensionMismatch`.
    /// - Note: Real-time safe: no allocation, no locks, no system calls.
    public func write(_ command: JointCommand) throws(DriverError) {
        guard engine != nil else { throw DriverError(.notConfigured, "write before configure") }
        guard isActive else { throw DriverError(.notActive, "write while torque is off") }
        guard command.mode == .position else { throw DriverError(.unsupportedMode, "servo arms take position goals only") }
        guard command.values.count == options.dof else { throw DriverError(.dimensionMismatch, "command size differs from the arm's joints") }
        if options.feedforwardCompliance.isEmpty {
            mailbox.post(command.values)
        } else {
            mailbox.post(command.values, feedforward: command.feedforwardEffort, compliance: options.feedforwardCompliance,
                         maxOffset: options.maxFeedforwardOffset)
        }
    }

    static func driverError(_ e: ServoArmError) -> DriverError {
        switch e.code {
        case .hardwareError: DriverError(.hardware, "a servo reports a hardware error", joint: e.joint)
        case .noReply: DriverError(.timeout, "a servo did not answer", joint: e.joint)
        case .invalidCalibration: DriverError(.notConfigured, "the joint's calibrated range is empty or invalid: torque stays off", joint: e.joint)
        case .invalidOptions, .settings: DriverError(.notConfigured, "the servo settings could not be applied", joint: e.joint)
        default: DriverError(.communication, "the servo bus failed", joint: e.joint)
        }
    }
}
