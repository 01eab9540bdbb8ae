import ServoProtocol

/// LeRobot's calibration files, imported so that people who calibrated with LeRobot keep their
/// calibration (docs/servo-buses.md §6).
///
/// The format (`draccus.dump(dict[str, MotorCalibration])`, LeRobot ≥ 2025) is one object per
/// motor name:
///
/// ```json
/// {"shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": -1470, "range_min": 758, "range_max": 3292}, …}
/// ```
///
/// Motors map to the robot's joints by name (LeRobot's SO-101 and Koch motor names are the
/// joint names of `hardware/robots/so101` and `koch`). The count at q = 0 is the middle of the
/// range, as in LeRobot's `DEGREES` normalisation `(raw − (min + max)/2)·360/4095`; robotd uses
/// 2π/4096 rad per count, so the two agree to 0.025 %. Drive mode follows the protocol: Feetech
/// reverses in software (LeRobot's `apply_drive_mode`), Dynamixel in the servo's Drive_Mode
/// register, which `CalibrationBus.apply` writes. (LeRobot's `DEGREES` branch itself ignores
/// drive_mode; its SO-101 and Koch followers use drive mode 0 on every motor.)
public enum LeRobotCalibration {
    static let motorKeys: Set<String> = ["id", "drive_mode", "homing_offset", "range_min", "range_max"]
    /// Keys of the per-field-array files LeRobot wrote before 2025.
    static let legacyKeys: Set<String> = ["homing_offset", "drive_mode", "start_pos", "end_pos", "calib_mode", "motor_names"]

    /// Converts a LeRobot calibration file's bytes into robotd's calibration for `target`, and
    /// checks the result as a robotd file is checked.
    /// - Throws: `.legacyFormat` for the old per-field-array format; `.mismatch` for motors that
    ///   are not the robot's joints; `.syntax`/`.invalidValue` naming the motor and the field.
    public static func convert(_ bytes: [UInt8], file: String, target: CalibrationTarget) throws(CalibrationError) -> ArmCalibration {
        guard case let .object(motors) = try JSONItem.parse(bytes, file: file) else {
            throw CalibrationError(.syntax, file: file, "expected a JSON object with one entry per motor name")
        }
        if !legacyKeys.isDisjoint(with: motors.keys), motors.values.contains(where: { if case .array = $0 { true } else { false } }) {
            throw CalibrationError(
                .legacyFormat, file: file,
                "this is LeRobot's legacy calibration format (per-field arrays: homing_offset, drive_mode, start_pos, end_pos, calib_mode, motor_names), "
                    + "written before 2025; robotd imports the current format (one object per motor with id, drive_mode, homing_offset, range_min, range_max): "
                    + "recalibrate with `robotd calibrate` or with a current LeRobot")
        }
        if motors["format"] != nil {
            throw CalibrationError(.syntax, file: file, "this is already a robotd calibration file; copy it to the data directory's calibration/ instead of importing it")
        }
        let extra = motors.keys.filter { !target.joints.contains($0) }.sorted()
        guard extra.isEmpty else {
            throw CalibrationError(.mismatch, file: file, joint: extra[0], "the robot has no joint of this name (its joints: \(target.joints.joined(separator: ", ")))")
        }
        var joints: [JointCalibration] = []
        for name in target.joints {
            guard let item = motors[name] else {
                throw CalibrationError(.mismatch, file: file, joint: name, "no motor of this name in the file (it has \(motors.keys.sorted().joined(separator: ", ")))")
            }
            guard case let .object(o) = item else {
                throw CalibrationError(.syntax, file: file, joint: name, "expected an object with \(motorKeys.sorted().joined(separator: ", ")), found \(item.kind)")
            }
            let f = JSONFields(object: o, file: file, joint: name)
            try f.rejectUnknown(motorKeys)
            let id = try f.int("id")
            guard (0...253).contains(id) else { throw CalibrationError(.invalidValue, file: file, joint: name, field: "id", "\(id) is not a servo id (0…253)") }
            let lo = try f.int("range_min"), hi = try f.int("range_max")
            joints.append(JointCalibration(
                joint: name, id: UInt8(id), driveMode: try f.int("drive_mode"), homingOffset: try f.int("homing_offset"),
                rangeMin: lo, rangeMax: hi, zero: Double(lo + hi) / 2))
        }
        let calibration = ArmCalibration(arm: target.arm, busProtocol: target.busProtocol, joints: joints)
        do throws(CalibrationError) { try calibration.validate(against: target) } catch { throw error.inFile(file) }
        return calibration
    }
}
