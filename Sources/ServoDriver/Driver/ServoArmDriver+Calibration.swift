import RobotInterface
import ServoBus
import ServoProtocol

/// Calibrating the arm while the daemon runs (`calibration.*` on the control socket): the
/// driver keeps the bus, so the procedure's reads and EEPROM writes run as jobs on its I/O
/// thread between cycles, with torque off, and the new calibration is adopted without a
/// restart (state conversion, soft limits and step limit follow it from the next cycle).
///
/// Contract: `beginCalibration` before any job (it refuses while torque is on and from then on
/// `activate` throws), `endCalibration` after (finished or cancelled).
extension ServoArmDriver {
    /// The calibration the driver converts counts with and clamps goals into (any thread).
    public var calibration: ArmCalibration { current.withLock { $0 } }

    /// Why `activate` refuses now, or nil (any thread).
    public var calibrationInProgress: String? { torqueBlock.withLock { $0 } }

    /// Blocks torque (`activate` throws with `reason`) until `endCalibration`.
    /// - Throws: `.bus` when torque is on (the loop is not idle) or the driver is not running.
    public func beginCalibration(_ reason: String) throws(ServoArmError) {
        try torqueBlock.withLock { (block) throws(ServoArmError) in
            if let block { throw ServoArmError(.bus, port: options.port, message: block) }
            block = reason
        }
        // `isActive` belongs to the control thread; the monitor's copy is what the bus thread saw.
        let running = sharedEngine.withLock { $0 != nil }
        if monitor.snapshot().active || !running {
            torqueBlock.withLock { $0 = nil }
            throw ServoArmError(.bus, port: options.port, message: !running
                                    ? "\(options.robotName): the servo bus is not running (faulted? send reset)"
                                    : "\(options.robotName): torque is on; calibration needs the loop idle")
        }
    }

    /// Lets `activate` enable torque again.
    public func endCalibration() { torqueBlock.withLock { $0 = nil } }

    /// The present-position counts of the newest state the bus delivered (valid or not), with
    /// whether that state is fresh and its sample number (counts up from 1, one per bus cycle);
    /// nil before the first state.
    ///
    /// A calibration job's bus cycles publish states between its writes (some servos with the
    /// new homing offset, some with the old): a caller that wants counts under the job's result
    /// takes only samples numbered above `presentCounts()?.sample` read after the job returned.
    /// - Warning: Not real-time safe.
    public func presentCounts() -> (counts: [Int], isValid: Bool, sample: UInt64)? {
        guard let (h, counts) = slot.readCounts(), h.samples > 0 else { return nil }
        return (counts, h.isValid, h.samples)
    }

    /// Runs `body` on the bus I/O thread between cycles, with torque off on every servo; when
    /// `body` succeeds and `adopting` is given, the driver uses that calibration from then on.
    /// Only while `beginCalibration` holds (the engine refuses while torque is on anyway).
    /// - Throws: `CalibrationError` from `body`, or `.bus` when the bus thread is faulted or
    ///   did not carry out the job in time.
    /// - Warning: Not real-time safe: waits for the job (EEPROM writes take a few ms each).
    public func calibrate(adopting: ArmCalibration? = nil, timeoutSeconds: Double = 10,
                          _ body: @escaping (any CalibrationBus) throws(CalibrationError) -> Void) throws(CalibrationError) {
        guard calibrationInProgress != nil else { throw CalibrationError(.procedure, "no calibration in progress (beginCalibration first)") }
        guard let engine = sharedEngine.withLock({ $0 }) else { throw CalibrationError(.bus, "\(options.robotName): the servo bus is not running (faulted? send reset)") }
        let job = CalibrationJob(adopt: adopting, body)
        if let error = engine.perform(.calibrate(job), timeoutNanoseconds: UInt64(timeoutSeconds * 1e9)) {
            throw CalibrationError(.bus, error.message)
        }
        if let error = job.error { throw error }
        if let adopting { current.withLock { $0 = adopting } }
    }
}
