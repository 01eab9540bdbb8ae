import ControlPorts
import ControlProtocol
import Foundation
import Logging
import ServoDriver
import ServoProtocol
import Synchronization

/// The calibration file and hash `status.bus` shows; replaced when `calibration.finish` writes
/// a new file.
final class CalibrationRecord: Sendable {
    private let state: Mutex<(file: String, hash: String)>

    init(file: String, hash: String) { state = Mutex((file, hash)) }

    var current: (file: String, hash: String) { state.withLock { $0 } }

    func update(file: String, hash: String) { state.withLock { $0 = (file, hash) } }
}

/// `calibration.*` over a running `ServoArmDriver`: the procedure of `robotd calibrate`
/// (`CalibrationProcedure`), with the bus work done as jobs on the driver's I/O thread and the
/// sweep recorded by a poller thread (100 Hz) from the counts the driver publishes.
///
/// After `finish` the driver converts with the new calibration (state, soft limits, step limit);
/// the control loop's limiter bounds and the server's joint limits were derived from the old
/// one at start-up and are not changed live, so the driver's torque stays blocked (leaving
/// `idle` is refused) until robotd restarts with the new file.
final class ServoCalibrationControl: CalibrationControl, @unchecked Sendable {
    private let driver: ServoArmDriver
    private let record: CalibrationRecord
    private let target: CalibrationTarget
    private let logger: Logger
    /// Serialises the operations (each waits for the bus).
    private let operation = Mutex<Void>(())
    private let session = Mutex<Session?>(nil)
    /// Set once a calibration was adopted: why torque stays off until a restart.
    private let restartNeeded = Mutex<String?>(nil)
    private let polling = Atomic<Bool>(false)
    private var poller: Thread?

    struct Session {
        var procedure: CalibrationProcedure
        /// What the servos and the driver held before: `cancel` restores it.
        var previous: ArmCalibration
    }

    init(driver: ServoArmDriver, record: CalibrationRecord, target: CalibrationTarget, logger: Logger) {
        self.driver = driver
        self.record = record
        self.target = target
        self.logger = logger
    }

    static let inProgress = "a calibration is in progress: torque stays off until calibration.finish or calibration.cancel"
    static let restart = "the arm was recalibrated while robotd ran: restart robotd so that the loop's joint limits follow the new ranges; torque stays off until then"

    var torqueBlock: String? { driver.calibrationInProgress ?? restartNeeded.withLock { $0 } }

    func start(_ params: CalibrationStartParams) throws(RPCError) -> CalibrationStatusResult {
        try operation.withLock { (_) throws(RPCError) -> CalibrationStatusResult in
            if let s = session.withLock({ $0 }) {
                throw .wrongMode("a calibration is already in progress (phase \(Self.phaseName(s.procedure.phase))): send calibration.cancel first",
                                 mode: "idle")
            }
            for name in params.reverse + (params.fullTurn ?? []) where !target.joints.contains(name) {
                throw .invalidParams("\(name) is not a joint of the robot (\(target.joints.joined(separator: ", ")))")
            }
            let full = params.fullTurn.map(Set.init) ?? Set(target.joints.filter { $0 == "wrist_roll" })
            let procedure: CalibrationProcedure
            do throws(CalibrationError) {
                procedure = try CalibrationProcedure(target: target, driveModes: target.joints.map { params.reverse.contains($0) ? 1 : 0 },
                                                     fullTurnJoints: full)
            } catch {
                throw .invalidParams("\(error)")
            }
            do throws(ServoArmError) { try driver.beginCalibration(Self.inProgress) } catch {
                throw .wrongMode("calibration refused: \(error.message)", mode: "idle")
            }
            let previous = driver.calibration
            do throws(CalibrationError) {
                try driver.calibrate { _ throws(CalibrationError) in }
            } catch {
                driver.endCalibration()
                throw Self.rpc(error)
            }
            session.withLock { $0 = Session(procedure: procedure, previous: previous) }
            logger.notice("calibration started: torque off on every servo of \(target.arm)")
            return status()
        }
    }

    func zero() throws(RPCError) -> CalibrationStatusResult {
        try operation.withLock { (_) throws(RPCError) -> CalibrationStatusResult in
            guard var procedure = session.withLock({ $0?.procedure }), procedure.phase == .middle else {
                throw wrongPhase("calibration.zero", expected: "zero")
            }
            let box = ProcedureBox(procedure)
            do throws(CalibrationError) {
                try driver.calibrate { (bus) throws(CalibrationError) in try bus.captureZeroPose(&box.procedure) }
            } catch {
                throw Self.rpc(error)
            }
            procedure = box.procedure
            session.withLock { $0?.procedure = procedure }
            startPolling()
            logger.notice("calibration: zero pose captured, homing offsets \(procedure.homingOffsets)")
            return status()
        }
    }

    func status() -> CalibrationStatusResult {
        guard let p = session.withLock({ $0?.procedure }) else {
            return CalibrationStatusResult(phase: "none", minimumSpan: ArmCalibration.minimumSpan)
        }
        let joints = target.joints.indices.map { i in
            CalibrationStatusResult.Joint(joint: target.joints[i], id: Int(p.ids[i]), min: p.observedMinimum[i], max: p.observedMaximum[i],
                                          fullTurn: p.fullTurn[i])
        }
        let unmoved = target.joints.indices.filter { i in
            !p.fullTurn[i] && p.observedMaximum[i] - p.observedMinimum[i] < ArmCalibration.minimumSpan
        }.map { target.joints[$0] }
        return CalibrationStatusResult(phase: Self.phaseName(p.phase), arm: target.arm, joints: joints, unmoved: unmoved, samples: p.samples,
                                       minimumSpan: ArmCalibration.minimumSpan)
    }

    func finish() throws(RPCError) -> CalibrationFinishResult {
        try operation.withLock { (_) throws(RPCError) -> CalibrationFinishResult in
            guard var procedure = session.withLock({ $0?.procedure }), procedure.phase == .sweep else {
                throw wrongPhase("calibration.finish", expected: "sweep")
            }
            let calibration: ArmCalibration
            do throws(CalibrationError) { calibration = try procedure.finish(source: "robotctl calibrate") } catch {
                throw Self.rpc(error, unmoved: status().unmoved)
            }
            stopPolling()
            do throws(CalibrationError) {
                try driver.calibrate(adopting: calibration) { (bus) throws(CalibrationError) in try bus.apply(calibration) }
            } catch {
                startPolling()
                throw Self.rpc(error)
            }
            let file = record.current.file
            let hash: String
            do throws(CalibrationError) {
                hash = try CalibrationFile.write(calibration, to: file, source: "robotctl calibrate")
            } catch {
                // The servos and the driver hold the new calibration; the file does not: a
                // restart would load the old one over them. Torque stays off.
                restartNeeded.withLock { $0 = "the new calibration is in the servos but could not be saved (\(error)): calibrate again" }
                session.withLock { $0 = nil }
                driver.endCalibration()
                throw .internalError("calibration: \(error)")
            }
            record.update(file: file, hash: hash)
            restartNeeded.withLock { $0 = Self.restart }
            session.withLock { $0 = nil }
            driver.endCalibration()
            logger.notice("calibration of \(target.arm) written to \(file) (sha256 \(hash)); restart robotd before enabling torque")
            let joints = calibration.joints.enumerated().map { i, j in
                let r = calibration.positionRange(joint: i)
                return CalibrationFinishResult.Joint(joint: j.joint, id: Int(j.id), driveMode: j.driveMode, homingOffset: j.homingOffset,
                                                     rangeMin: j.rangeMin, rangeMax: j.rangeMax, lower: r.lower, upper: r.upper)
            }
            return CalibrationFinishResult(file: file, sha256: hash, joints: joints, restartRequired: true)
        }
    }

    func cancel() throws(RPCError) -> CalibrationStatusResult {
        try operation.withLock { (_) throws(RPCError) -> CalibrationStatusResult in
            guard let s = session.withLock({ $0 }) else { return status() }
            stopPolling()
            let previous = s.previous
            do throws(CalibrationError) {
                try driver.calibrate { (bus) throws(CalibrationError) in try bus.apply(previous) }
            } catch {
                if s.procedure.phase == .sweep { startPolling() }
                throw .fault("calibration.cancel could not restore the servos' registers (\(error)); torque stays off: retry calibration.cancel",
                             fault: "bus")
            }
            session.withLock { $0 = nil }
            driver.endCalibration()
            logger.notice("calibration cancelled: the servos hold their previous registers")
            return status()
        }
    }

    // MARK: sweep

    /// Records the driver's newest counts at about 100 Hz while the sweep runs. Called after a
    /// calibration job returned: only samples numbered above the newest one now are recorded (the
    /// job's own bus cycles published counts read between its homing-offset writes, which would
    /// widen a range by the offsets' change).
    private func startPolling() {
        let first = driver.presentCounts()?.sample ?? 0
        guard !polling.exchange(true, ordering: .sequentiallyConsistent) else { return }
        let t = Thread { [self] in
            while polling.load(ordering: .sequentiallyConsistent) {
                if let (counts, valid, sample) = driver.presentCounts(), valid, sample > first {
                    session.withLock { s in
                        if s?.procedure.phase == .sweep { s?.procedure.record(counts.map { Optional($0) }) }
                    }
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        t.name = "robotd-calibration"
        poller = t
        t.start()
    }

    private func stopPolling() {
        polling.store(false, ordering: .sequentiallyConsistent)
        // The poller exits within one period; it only records while the phase is sweep, and
        // the session is changed under the same lock, so it need not be joined.
        poller = nil
    }

    // MARK: errors

    static func phaseName(_ p: CalibrationProcedure.Phase) -> String {
        switch p {
        case .middle: "zero"
        case .sweep: "sweep"
        case .finished: "none"
        }
    }

    private func wrongPhase(_ method: String, expected: String) -> RPCError {
        let phase = status().phase
        let hint = phase == "none" ? "send calibration.start first" : "the calibration is in phase \(phase)"
        return RPCError(code: .wrongMode, message: "\(method) needs phase \(expected): \(hint)", data: ["phase": .string(phase)])
    }

    static func rpc(_ error: CalibrationError, unmoved: [String] = []) -> RPCError {
        switch error.code {
        case .bus, .io: .fault("calibration: \(error)", fault: "bus")
        case .procedure:
            RPCError(code: .wrongMode, message: "calibration: \(error)", data: ["phase": "sweep", "unmoved": JSONValue(unmoved)])
        default: .invalidParams("\(error)")
        }
    }
}

/// The procedure handed to a bus job and back (the job runs on the driver's I/O thread while
/// the caller waits for it).
private final class ProcedureBox: @unchecked Sendable {
    var procedure: CalibrationProcedure
    init(_ p: CalibrationProcedure) { procedure = p }
}
