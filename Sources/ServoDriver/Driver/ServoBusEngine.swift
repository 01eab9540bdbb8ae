import Glibc
import Platform
import ServoBus
import ServoProtocol
import Synchronization

/// The bus I/O thread: at `busRateHz` (absolute CLOCK_MONOTONIC deadlines) it writes the
/// newest goal and reads the state, publishes the state into the `StateSlot`, and watches for
/// faults. Lifecycle steps that need the bus (activate, deactivate) are requests the thread
/// carries out between cycles, so only this thread touches the bus while it runs.
///
/// One cycle:
/// 1. If active: take the newest goal from the mailbox (if one was posted since activation),
///    per joint q → count clamped into the soft limits (calibrated range − margin), a NaN or
///    infinite goal keeps the previous count (counted), then the step limit
///    count = last + clamp(target − last, ±maxStep); SYNC_WRITE Goal_Position.
/// 2. SYNC_READ the state block. All servos answered: publish positions, velocities, efforts
///    (SI) with the read's CLOCK_MONOTONIC time, valid. Otherwise: publish invalid, keeping the
///    previous sample's timestamp (stale data is never fresh), and count a failed cycle.
/// 3. Faults latch (the first wins): `failedCyclesToFault` failed cycles in a row →
///    communication; a transport error (port gone) → communication at once; a servo's status
///    fault bits or hardware error register → hardware. A fault stops goal writes and, unless
///    the safe state is hold, turns torque off.
/// 4. Every `busRateHz / diagnosticsHz` cycles: temperatures, voltages, hardware errors.
final class ServoBusEngine: @unchecked Sendable {
    enum Request {
        case activate
        case deactivate
        /// Calibration bus work with torque off (`CalibrationJob`), refused while active.
        case calibrate(CalibrationJob)
    }

    private struct Control {
        var stop = false
        var request: Request?
        var ticket: UInt64 = 0
        var done: UInt64 = 0
        var result: ServoArmError?
    }

    let options: ServoArmOptions
    let backend: any ServoBusBackend
    let slot: StateSlot
    let mailbox: GoalMailbox
    let monitor: ServoBusMonitor
    let periodNanoseconds: UInt64
    private let control: Mutex<Control>
    private var thread: RealtimeThread?

    // I/O thread only (or the caller before `start` / after `stop`).
    private let n: Int
    private var active = false
    private var fault = StateSlot.Fault.none
    private var faultJoint = -1
    private(set) var portLost = false
    private var consecutiveFailures = 0
    private var mailboxBaseline: UInt64 = 0
    /// (dof) goal counts sent last.
    private let lastSent: UnsafeMutablePointer<Int32>
    /// (dof) goal counts being built this cycle.
    private let nextGoal: UnsafeMutablePointer<Int32>
    /// (dof) goals taken from the mailbox (rad).
    private let goalScratch: UnsafeMutablePointer<Double>
    /// (4 × dof) positions, velocities, efforts, counts of the sample being published.
    private let sample: UnsafeMutablePointer<Double>
    /// Counts ↔ rad and the soft limits; replaced between cycles by a `CalibrationJob` that
    /// adopts a new calibration.
    private var calibration: ArmCalibration
    /// Per joint: the step limit in counts (Int32.max when off), the sign-and-scale of efforts
    /// (both follow `calibration`).
    private var maxStepCounts: [Int32]
    private var effortScale: [Double]
    private let diagnosticsEvery: UInt64
    private var cycles: UInt64 = 0
    private var failedCycles: UInt64 = 0
    private var rejectedGoals: UInt64 = 0
    private var limitedGoals: UInt64 = 0
    private var windowStart: UInt64 = 0
    private var windowCycles: UInt64 = 0
    private var windowHealth = BusHealth()
    private var reportedErrors: [UInt8]

    init(options: ServoArmOptions, calibration: ArmCalibration, backend: any ServoBusBackend, slot: StateSlot, mailbox: GoalMailbox,
         monitor: ServoBusMonitor) {
        self.options = options
        self.backend = backend
        self.slot = slot
        self.mailbox = mailbox
        self.monitor = monitor
        n = options.dof
        periodNanoseconds = UInt64((1e9 / options.busRateHz).rounded())
        control = Mutex(Control())
        lastSent = .allocate(capacity: n)
        lastSent.initialize(repeating: 0, count: n)
        nextGoal = .allocate(capacity: n)
        nextGoal.initialize(repeating: 0, count: n)
        goalScratch = .allocate(capacity: n)
        goalScratch.initialize(repeating: 0, count: n)
        sample = .allocate(capacity: 4 * n)
        sample.initialize(repeating: 0, count: 4 * n)
        self.calibration = calibration
        (maxStepCounts, effortScale) = Self.scales(options: options, calibration: calibration, backend: backend)
        diagnosticsEvery = UInt64(max(1, (options.busRateHz / options.diagnosticsHz).rounded()))
        reportedErrors = Array(repeating: 0, count: n)
        var c = backend.transactionConfiguration
        c.retries = options.retriesPerCycle
        (c.timeoutNanoseconds, c.settleNanoseconds) = Self.budget(periodNanoseconds: periodNanoseconds,
                                                                   wireNanoseconds: WireTime.nanoseconds(bytes: backend.cycleWireBytes, baud: options.baud))
        c.maximumSettleNanoseconds = 4 * c.timeoutNanoseconds
        backend.transactionConfiguration = c
    }

    deinit {
        lastSent.deallocate()
        nextGoal.deallocate()
        goalScratch.deallocate()
        sample.deallocate()
    }

    /// The step limit in counts and the signed N·m per raw effort unit, per joint.
    static func scales(options: ServoArmOptions, calibration: ArmCalibration, backend: any ServoBusBackend) -> ([Int32], [Double]) {
        let n = options.dof
        let steps = (0..<n).map { i in
            guard let step = options.maxGoalStep else { return Int32.max }
            return Int32(max(1, min(4096, (step / abs(calibration.radiansPerCount(i))).rounded(.down))))
        }
        let efforts = (0..<n).map { i in
            let perUnit = !options.effortPerUnit.isEmpty ? options.effortPerUnit[i]
                : !options.effortLimits.isEmpty ? backend.effortPerUnit(joint: i, effortLimit: options.effortLimits[i]) : 0
            return calibration.radiansPerCount(i) < 0 ? -perUnit : perUnit
        }
        return (steps, efforts)
    }

    /// Per-attempt timeout and settle time from the cycle: an attempt may take one period
    /// (bounded to 3…20 ms, USB adapters add ~1 ms per direction) plus the cycle's wire time;
    /// after a timeout the line must be quiet for half that before the retry, which bounds the
    /// window in which a late reply could be taken for a fresh one.
    static func budget(periodNanoseconds: UInt64, wireNanoseconds: UInt64) -> (timeout: UInt64, settle: UInt64) {
        let timeout = min(max(periodNanoseconds, 3_000_000), 20_000_000) &+ wireNanoseconds
        return (timeout, timeout / 2)
    }

    // MARK: caller side

    /// Starts the I/O thread with the slot reset (no sample, no fault).
    func start() {
        slot.publish(StateSlot.Header(), values: nil)
        windowStart = MonotonicClock.now()
        windowHealth = backend.health
        monitor.resetDurations()
        monitor.update { s in
            s.connection = .connected
            s.active = false
            s.cycles = 0
            s.failedCycles = 0
            s.overruns = 0
            s.errors = 0
            s.retries = 0
            s.rejectedGoals = 0
            s.limitedGoals = 0
            s.faultCycle = nil
            s.cycleRateHz = 0
            s.errorsPerSecond = 0
            s.retriesPerSecond = 0
            for i in s.servos.indices {
                s.servos[i].errors = 0
                s.servos[i].hardwareErrors = []
            }
        }
        var o = RealtimeThread.Options()
        o.priority = options.threadPriority
        o.lockMemory = false
        o.name = "robotd-servobus"
        let t = RealtimeThread.start(options: o) { [self] _ in run() }
        let warnings = t.result.warnings
        monitor.update { s in
            for w in warnings where !s.warnings.contains(w) { s.warnings.append(w) }
        }
        thread = t
    }

    /// Stops and joins the I/O thread. Idempotent.
    func stop() {
        control.withLock { $0.stop = true }
        thread?.join()
        thread = nil
    }

    /// Has the I/O thread carry out `request` between cycles and waits for it.
    /// - Returns: nil, or why it failed.
    func perform(_ request: Request, timeoutNanoseconds: UInt64? = nil) -> ServoArmError? {
        let ticket: UInt64 = control.withLock { c in
            c.ticket += 1
            c.request = request
            c.result = nil
            return c.ticket
        }
        let timeout = timeoutNanoseconds ?? (2_000_000_000 &+ 8 &* backend.transactionConfiguration.timeoutNanoseconds &* UInt64(options.retriesPerCycle + 1))
        let deadline = MonotonicClock.now() &+ timeout
        while true {
            let (done, result) = control.withLock { ($0.done >= ticket, $0.result) }
            if done { return result }
            if MonotonicClock.now() > deadline {
                control.withLock { if $0.ticket == ticket { $0.request = nil } }
                return ServoArmError(.bus, port: options.port, message: "\(options.robotName): the bus thread did not answer the \(request) request")
            }
            MonotonicClock.sleep(untilNanoseconds: MonotonicClock.now() &+ 200_000)
        }
    }

    // MARK: I/O thread

    private func run() {
        var schedule = FixedRateSchedule(periodNanoseconds: periodNanoseconds, start: MonotonicClock.now())
        while true {
            let (stop, request, ticket) = control.withLock { c in (c.stop, c.request, c.ticket) }
            if stop { return }
            if let request {
                let result = carryOut(request)
                control.withLock { c in
                    if c.ticket == ticket {
                        c.request = nil
                        c.result = result
                        c.done = ticket
                    }
                }
            }
            let start = MonotonicClock.now()
            let ran = !portLost
            if ran { cycle() }
            let end = MonotonicClock.now()
            let deadline = schedule.next(afterTickEndingAt: end)
            if ran {
                let overruns = schedule.overruns
                monitor.record(cycleNanoseconds: end &- start) { s in
                    s.overruns = overruns
                }
            }
            MonotonicClock.sleep(untilNanoseconds: deadline)
        }
    }

    private func carryOut(_ request: Request) -> ServoArmError? {
        switch request {
        case .activate:
            return activate()
        case .deactivate:
            if active && options.safeState == .torqueOff && !portLost {
                do throws(ServoBusError) { try backend.setTorque(false) } catch { noteBusError(error) }
            }
            active = false
            monitor.update { $0.active = false }
            return nil
        case let .calibrate(job):
            return calibrate(job)
        }
    }

    /// Runs a calibration job on the bus with torque off (every servo's, first), with
    /// configure-time transaction settings (calibration is not cyclic: a few retries, a long
    /// timeout), then adopts the job's calibration if it gives one.
    private func calibrate(_ job: CalibrationJob) -> ServoArmError? {
        if active {
            return ServoArmError(.bus, port: options.port, message: "\(options.robotName): torque is on; calibration needs the loop idle")
        }
        if fault != .none || portLost {
            return ServoArmError(fault == .hardware ? .hardwareError : .bus, port: options.port, joint: faultJoint,
                                 message: monitor.snapshot().lastFault ?? "\(options.robotName): the servo bus is faulted; reset it")
        }
        let cyclic = backend.transactionConfiguration
        var c = cyclic
        c.retries = 2
        c.timeoutNanoseconds = max(c.timeoutNanoseconds, 50_000_000)
        backend.transactionConfiguration = c
        defer { backend.transactionConfiguration = cyclic }
        do throws(CalibrationError) {
            do throws(ServoBusError) { try backend.setTorque(false) } catch { throw CalibrationError(.bus, error.message) }
            // State reads keep coming at the bus rate between the job's transactions: the loop
            // faults on a state older than loop.max_state_age, also in idle.
            var due = MonotonicClock.now() &+ periodNanoseconds
            let bus = CyclingCalibrationBus(backend.calibrationBus) { [self] in
                guard MonotonicClock.now() >= due else { return }
                cycle()
                due = MonotonicClock.now() &+ periodNanoseconds
            }
            try job.body(bus)
        } catch {
            job.error = error
            return nil
        }
        if let adopted = job.adopt {
            calibration = adopted
            (maxStepCounts, effortScale) = Self.scales(options: options, calibration: adopted, backend: backend)
        }
        return nil
    }

    /// No first-command jump: read the present counts, SYNC_WRITE goal := present with torque
    /// still off, then torque on; the step limit ramps from there.
    private func activate() -> ServoArmError? {
        if fault != .none || portLost {
            return ServoArmError(fault == .hardware ? .hardwareError : .bus, port: options.port, joint: faultJoint,
                                 message: monitor.snapshot().lastFault ?? "\(options.robotName): the servo bus is faulted; reset it")
        }
        if active { return nil }
        do throws(ServoBusError) {
            var answered = 0
            for _ in 0..<3 {
                answered = try backend.readState()
                if answered == n { break }
            }
            guard answered == n else {
                let missing = (0..<n).first { !backend.stateValid($0) } ?? 0
                return ServoArmError(.noReply, port: options.port, servoID: options.ids[missing], joint: missing,
                                     message: "\(options.robotName): \(options.servoName(missing)) did not answer the read of its present position before torque on; torque stays off")
            }
            for i in 0..<n { lastSent[i] = Int32(clamping: backend.presentCount(i)) }
            publishState(at: MonotonicClock.now())
            try backend.writeGoals(lastSent)
            try backend.setTorque(true)
        } catch {
            noteBusError(error)
            return ServoArmError.bus(error, options: options, doing: "enabling torque")
        }
        mailboxBaseline = mailbox.version
        active = true
        monitor.update { $0.active = true }
        return nil
    }

    private func cycle() {
        cycles &+= 1
        do throws(ServoBusError) {
            if active && fault == .none {
                buildGoal()
                try backend.writeGoals(lastSent)
            }
            let answered = try backend.readState()
            let now = MonotonicClock.now()
            if answered == n {
                consecutiveFailures = 0
                publishState(at: now)
                checkStatusFaults()
            } else {
                failedCycles &+= 1
                consecutiveFailures += 1
                slot.updateHeader { $0.isValid = false }
                monitor.update { s in
                    for i in 0..<n where !backend.stateValid(i) { s.servos[i].errors += 1 }
                }
                if consecutiveFailures >= options.failedCyclesToFault {
                    let missing = (0..<n).first { !backend.stateValid($0) } ?? 0
                    latch(.communication, joint: -1,
                          "\(options.servoName(missing)): no complete state read in \(consecutiveFailures) bus cycles in a row (no reply or corrupt replies)")
                }
            }
            if cycles % diagnosticsEvery == 0 { try diagnose() }
        } catch {
            noteBusError(error)
        }
        updateCounters()
    }

    /// nextGoal ← the mailbox's goals through the soft and step limits; lastSent ← nextGoal.
    private func buildGoal() {
        let version = mailbox.version
        guard version != mailboxBaseline, mailbox.take(into: goalScratch) != nil else { return }
        let calibration = self.calibration
        for i in 0..<n {
            let last = lastSent[i]
            var target: Int32
            if let count = calibration.goalCount(joint: i, position: goalScratch[i], margin: options.softLimitMargin) {
                target = Int32(clamping: count)
            } else {
                rejectedGoals &+= 1
                target = last
            }
            let step = maxStepCounts[i]
            let limited: Int32 = target > last ? last &+ min(target &- last, step) : last &- min(last &- target, step)
            // Counted when the soft or step limit changed what was asked for.
            let asked = (calibration.joints[i].zero + goalScratch[i] / calibration.radiansPerCount(i)).rounded()
            if goalScratch[i].isFinite && Double(limited) != asked { limitedGoals &+= 1 }
            nextGoal[i] = limited
        }
        lastSent.update(from: nextGoal, count: n)
    }

    /// Converts the last state read to SI and publishes it as fresh.
    private func publishState(at time: UInt64) {
        let calibration = self.calibration
        for i in 0..<n {
            let count = backend.presentCount(i)
            sample[i] = calibration.position(joint: i, count: count)
            sample[3 * n + i] = Double(count)
            sample[n + i] = calibration.velocity(joint: i, countsPerSecond: backend.velocityCountsPerSecond(i))
            sample[2 * n + i] = backend.effortRaw(i) * effortScale[i]
        }
        var h = slot.writerHeader
        h.timestampNanoseconds = time
        h.isValid = true
        h.samples &+= 1
        slot.publish(h, values: sample)
    }

    private func checkStatusFaults() {
        for i in 0..<n {
            var bits = backend.statusFault(i)
            guard bits != 0 else { continue }
            if bits == 0x80 {
                // Dynamixel alert: the hardware error register says what.
                do throws(ServoBusError) { bits = try backend.readHardwareError(joint: i) } catch {
                    noteBusError(error)
                    return
                }
                if bits == 0 { bits = 0x80 }
            }
            hardwareFault(joint: i, bits: bits)
            return
        }
    }

    private func diagnose() throws(ServoBusError) {
        _ = try backend.readDiagnostics()
        var faulty: (Int, UInt8)?
        monitor.update { s in
            for i in 0..<n {
                if let v = backend.voltage(i) { s.servos[i].voltageVolts = v }
                if let t = backend.temperature(i) { s.servos[i].temperatureCelsius = t }
            }
        }
        for i in 0..<n {
            if let bits = backend.hardwareError(i), bits != 0, faulty == nil { faulty = (i, bits) }
        }
        if let (i, bits) = faulty { hardwareFault(joint: i, bits: bits) }
    }

    private func hardwareFault(joint i: Int, bits: UInt8) {
        let reasons = bits == 0x80 ? ["hardware alert"] : backend.hardwareErrorReasons(bits)
        if reportedErrors[i] != bits {
            reportedErrors[i] = bits
            monitor.update { $0.servos[i].hardwareErrors = reasons }
        }
        latch(.hardware, joint: i, "\(options.servoName(i)): \(reasons.joined(separator: ", "))")
    }

    /// A transport error loses the port (communication fault now); other bus errors (a
    /// malformed reply to a unicast read) count as a failed step of the cycle.
    private func noteBusError(_ error: ServoBusError) {
        if let t = error.transportError {
            portLost = true
            latch(.communication, joint: -1, "\(options.port): \(t.message)")
        }
    }

    /// Latches the first fault: goal writes stop; torque goes off unless the safe state is hold;
    /// the monitor says what happened; then the state slot carries the fault to `read` (last,
    /// so that whoever sees the fault there also sees it in the monitor).
    private func latch(_ kind: StateSlot.Fault, joint: Int, _ sentence: @autoclosure () -> String) {
        guard fault == .none else { return }
        fault = kind
        faultJoint = joint
        if active && options.safeState == .torqueOff && !portLost {
            do throws(ServoBusError) { try backend.setTorque(false) } catch {
                if error.transportError != nil { portLost = true }
            }
            active = false
        }
        let text = sentence()
        let cycle = cycles
        let stillActive = active
        updateCounters()
        monitor.update { s in
            s.connection = .faulted
            s.lastFault = text
            s.faultCycle = cycle
            s.active = stillActive
        }
        slot.updateHeader { h in
            h.fault = kind
            h.faultJoint = joint
            if kind == .communication { h.isValid = false }
        }
    }

    private func updateCounters() {
        let health = backend.health
        let now = MonotonicClock.now()
        let (c, f, r, l) = (cycles, failedCycles, rejectedGoals, limitedGoals)
        var rates: (Double, Double, Double)?
        if now &- windowStart >= 1_000_000_000 {
            let dt = Double(now &- windowStart) * 1e-9
            rates = (Double(c &- windowCycles) / dt, Double(health.errors - windowHealth.errors) / dt,
                     Double(health.retries - windowHealth.retries) / dt)
            windowStart = now
            windowCycles = c
            windowHealth = health
        }
        monitor.update { s in
            s.cycles = c
            s.failedCycles = f
            s.rejectedGoals = r
            s.limitedGoals = l
            s.errors = health.errors
            s.retries = health.retries
            if let (hz, errors, retries) = rates {
                s.cycleRateHz = hz
                s.errorsPerSecond = errors
                s.retriesPerSecond = retries
            }
        }
    }
}

/// Work for the bus I/O thread during a calibration (`ServoArmDriver.calibrate`): `body` uses
/// the bus between cycles with torque off; `adopt`, when set, becomes the engine's calibration
/// once `body` succeeded. The caller reads `error` after `perform` returned.
final class CalibrationJob: @unchecked Sendable {
    let body: (any CalibrationBus) throws(CalibrationError) -> Void
    let adopt: ArmCalibration?
    var error: CalibrationError?

    init(adopt: ArmCalibration?, _ body: @escaping (any CalibrationBus) throws(CalibrationError) -> Void) {
        self.adopt = adopt
        self.body = body
    }
}

/// A calibration bus that runs the engine's state cycle (`beforeEach`) before each of its
/// transactions when a cycle is due, so a long calibration job does not starve the state.
final class CyclingCalibrationBus: CalibrationBus {
    let inner: any CalibrationBus
    let beforeEach: () -> Void

    init(_ inner: any CalibrationBus, beforeEach: @escaping () -> Void) {
        self.inner = inner
        self.beforeEach = beforeEach
    }

    var calibrationProtocol: String { inner.calibrationProtocol }

    func calibrationModel(_ id: UInt8) throws(ServoBusError) -> String {
        beforeEach()
        return try inner.calibrationModel(id)
    }

    func disableTorque(_ ids: [UInt8]) throws(ServoBusError) {
        beforeEach()
        try inner.disableTorque(ids)
    }

    func presentPositions(_ ids: [UInt8]) throws(ServoBusError) -> [Int?] {
        beforeEach()
        return try inner.presentPositions(ids)
    }

    func calibrationRegisters(_ id: UInt8) throws(ServoBusError) -> ServoCalibrationRegisters {
        beforeEach()
        return try inner.calibrationRegisters(id)
    }

    func writeCalibrationRegisters(_ id: UInt8, _ registers: ServoCalibrationRegisters) throws(ServoBusError) {
        beforeEach()
        try inner.writeCalibrationRegisters(id, registers)
    }
}
