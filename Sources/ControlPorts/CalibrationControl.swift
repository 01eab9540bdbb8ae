import ControlProtocol

/// Calibrating a servo arm while the daemon runs (`calibration.*`), implemented next to the
/// servo driver (RobotDaemon). The server checks the loop's mode and runs these calls on its
/// file thread pool: they wait for the bus (EEPROM writes), never on the event loop.
///
/// Errors are protocol errors: *wrong mode* for a call out of order (no calibration, one
/// already running, joints not moved yet), *invalid params* for unknown joints, *fault* when
/// the servo bus failed.
public protocol CalibrationControl: AnyObject, Sendable {
    /// Why torque may not be enabled now (a calibration runs; or, after one, until a restart),
    /// or nil. The server refuses every mode change that would enable torque while it is set.
    var torqueBlock: String? { get }
    /// Begins: torque off on every servo, phase `zero`. The server has checked the loop is idle.
    func start(_ params: CalibrationStartParams) throws(RPCError) -> CalibrationStatusResult
    /// Captures the zero pose: homing offsets written (the pose reads 2047), phase `sweep`.
    func zero() throws(RPCError) -> CalibrationStatusResult
    func status() -> CalibrationStatusResult
    /// Ends the sweep: the servos' EEPROM and the file written, the driver switched over.
    func finish() throws(RPCError) -> CalibrationFinishResult
    /// Abandons the calibration: the servos get their previous registers back.
    func cancel() throws(RPCError) -> CalibrationStatusResult
}
