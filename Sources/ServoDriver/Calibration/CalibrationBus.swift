import ServoBus
import ServoProtocol

/// The calibration registers of one servo, in the servo's units.
public struct ServoCalibrationRegisters: Sendable, Hashable {
    /// Homing_Offset (Dynamixel: present = actual + offset; Feetech: present = actual − offset).
    public var homingOffset: Int
    /// Min_Position_Limit and Max_Position_Limit (counts).
    public var minPositionLimit: Int
    public var maxPositionLimit: Int
    /// Dynamixel Drive_Mode bit 0 (reverse); nil where the servo has no such register (Feetech:
    /// robotd reverses in software).
    public var driveMode: Int?

    public init(homingOffset: Int, minPositionLimit: Int, maxPositionLimit: Int, driveMode: Int? = nil) {
        self.homingOffset = homingOffset
        self.minPositionLimit = minPositionLimit
        self.maxPositionLimit = maxPositionLimit
        self.driveMode = driveMode
    }

    /// What a servo holds once `joint` of a `busProtocol` arm is applied.
    public init(_ joint: JointCalibration, busProtocol: String) {
        self.init(homingOffset: joint.homingOffset, minPositionLimit: joint.rangeMin, maxPositionLimit: joint.rangeMax,
                  driveMode: busProtocol == "dynamixel" ? joint.driveMode : nil)
    }
}

/// What calibration needs from a servo bus: torque off, present positions, and the calibration
/// registers read and written (EEPROM, with each family's unlock dance and a read-back).
/// `FeetechBusClient` and `DynamixelBusClient` conform.
///
/// - Warning: Not real-time safe: set-up and calibration, never the control loop's tick.
public protocol CalibrationBus: AnyObject {
    /// `feetech` or `dynamixel`.
    var calibrationProtocol: String { get }

    /// The model name of servo `id` (a ping).
    /// - Throws: `.noReply` when it does not answer.
    func calibrationModel(_ id: UInt8) throws(ServoBusError) -> String

    /// Torque_Enable = 0 on every id (a limp arm: support it).
    func disableTorque(_ ids: [UInt8]) throws(ServoBusError)

    /// Present_Position of every id (one sync read), nil for a servo that did not answer.
    func presentPositions(_ ids: [UInt8]) throws(ServoBusError) -> [Int?]

    /// Reads Homing_Offset, Min/Max_Position_Limit (and Dynamixel Drive_Mode bit 0).
    func calibrationRegisters(_ id: UInt8) throws(ServoBusError) -> ServoCalibrationRegisters

    /// Writes the registers to EEPROM: torque off first; on Feetech the EEPROM is unlocked
    /// (Lock = 0) and locked again after; Dynamixel keeps Drive_Mode's other bits. Each value
    /// is read back.
    /// - Throws: `.verificationFailed` when a value read back differs from what was written.
    func writeCalibrationRegisters(_ id: UInt8, _ registers: ServoCalibrationRegisters) throws(ServoBusError)
}

/// One calibration register whose value in the servo differs from the file.
public struct CalibrationDifference: Sendable, Hashable, CustomStringConvertible {
    public var joint: String
    public var id: UInt8
    /// `homing_offset`, `range_min`, `range_max` or `drive_mode`.
    public var field: String
    public var file: Int
    public var servo: Int
    public var description: String { "joint \(joint) (servo \(id)): \(field) is \(servo) in the servo, \(file) in the calibration" }
}

extension CalibrationBus {
    /// Compares `calibration` with what the servos hold.
    /// - Returns: every register that differs (empty: the servos match the file).
    public func differences(from calibration: ArmCalibration) throws(CalibrationError) -> [CalibrationDifference] {
        var out: [CalibrationDifference] = []
        for j in calibration.joints {
            let want = ServoCalibrationRegisters(j, busProtocol: calibration.busProtocol)
            let have: ServoCalibrationRegisters
            do throws(ServoBusError) { have = try calibrationRegisters(j.id) } catch { throw .bus(error, joint: j.joint) }
            func check(_ field: String, _ file: Int?, _ servo: Int?) {
                if let file, servo != file { out.append(.init(joint: j.joint, id: j.id, field: field, file: file, servo: servo ?? -1)) }
            }
            check("homing_offset", want.homingOffset, have.homingOffset)
            check("range_min", want.minPositionLimit, have.minPositionLimit)
            check("range_max", want.maxPositionLimit, have.maxPositionLimit)
            check("drive_mode", want.driveMode, have.driveMode)
        }
        return out
    }

    /// Brings the servos to `calibration`: writes the registers of each servo that differs
    /// (torque goes off on that servo, as EEPROM writes need) and verifies them by reading back.
    /// What `robotd calibrate` does after a calibration or an import, and what the driver does
    /// at configure with a loaded file.
    /// - Returns: the joints whose servos were written (empty: they already matched).
    /// - Throws: `.bus` naming the joint when a servo does not answer or a value does not stick.
    @discardableResult
    public func apply(_ calibration: ArmCalibration) throws(CalibrationError) -> [String] {
        let differing = Set(try differences(from: calibration).map(\.joint))
        var written: [String] = []
        for j in calibration.joints where differing.contains(j.joint) {
            do throws(ServoBusError) {
                try writeCalibrationRegisters(j.id, ServoCalibrationRegisters(j, busProtocol: calibration.busProtocol))
            } catch {
                throw .bus(error, joint: j.joint)
            }
            written.append(j.joint)
        }
        let left = try differences(from: calibration)
        if let first = left.first { throw CalibrationError(.bus, joint: first.joint, field: first.field, "did not stick: \(first)") }
        return written
    }
}
