import ControlPorts
import ControlProtocol
import ControlRuntime
import NIOCore

/// `calibration.*`: calibrating a servo arm while the daemon runs (docs/protocol.md,
/// "Calibration"), behind the `CalibrationControl` port. Only in `idle` (torque off); while a
/// calibration runs, and after one until robotd restarts, every request that would enable
/// torque (`mode.set` to a moving mode, `move`, `reset`) is refused. The port's calls wait for
/// the servo bus, so they run on the file thread pool.
extension ControlService {
    func registerCalibrationMethods() {
        register(ControlMethod.calibrationStart, role: .operator) { (s, p, _) throws(RPCError) in
            let params = try CalibrationStartParams(p)
            let port = try s.calibrationPort()
            let mode = s.access.telemetry().mode
            guard mode == .idle else {
                throw .wrongMode("calibration needs the arm limp: send mode.set {\"mode\": \"idle\"} first (the mode is \(mode))", mode: "\(mode)")
            }
            return s.onFileThread { () throws(RPCError) in try port.start(params).json }
        }
        register(ControlMethod.calibrationZero, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            let port = try s.calibrationPort()
            return s.onFileThread { () throws(RPCError) in try port.zero().json }
        }
        register(ControlMethod.calibrationStatus, role: .observer, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            return try s.calibrationPort().status().json
        })
        register(ControlMethod.calibrationFinish, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            let port = try s.calibrationPort()
            return s.onFileThread { () throws(RPCError) in try port.finish().json }
        }
        register(ControlMethod.calibrationCancel, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            let port = try s.calibrationPort()
            return s.onFileThread { () throws(RPCError) in try port.cancel().json }
        }
    }

    func calibrationPort() throws(RPCError) -> CalibrationControl {
        guard let c = access.calibration else {
            throw .wrongMode("this daemon drives \(info.driver == "simulation" ? "the simulated arm" : "an arm") without servo calibration: "
                             + "calibration is for servo-bus arms (driver.kind feetech or dynamixel)", mode: currentMode)
        }
        return c
    }

    /// Refuses a request that would enable torque (`what`) while a calibration blocks it.
    func checkTorqueAllowed(_ what: String) throws(RPCError) {
        guard let reason = access.calibration?.torqueBlock else { return }
        throw .wrongMode("\(what) refused: \(reason)", mode: currentMode)
    }
}
