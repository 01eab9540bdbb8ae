import ServoProtocol

/// robotd's calibration procedure as a state machine over position samples, without I/O: the
/// command (`robotd calibrate`) reads the servos and performs the writes it returns.
///
/// 1. `.middle`: torque off, the person puts the arm in the robot description's zero pose
///    (the robot READMEs describe it; every joint is then near the middle of its travel). The
///    servos' offsets are cleared first (`registersBeforeMiddle`: Homing_Offset 0, limits
///    0…4095, the Dynamixel Drive_Mode), then `captureMiddle` turns the raw positions of that
///    pose into the homing offsets that make it read `middleCount` (2047):
///    Feetech present = actual − offset ⇒ offset = raw − 2047;
///    Dynamixel present = actual + offset ⇒ offset = 2047 − raw.
/// 2. `.sweep`: the person moves every joint through its full travel while `record` takes the
///    polled present positions; each joint's range is the smallest and largest count seen (the
///    zero pose's 2047 included). Full-turn joints (wrist_roll) get 0…4095, as in LeRobot.
/// 3. `finish` checks that every other joint moved at least `ArmCalibration.minimumSpan`
///    counts and returns the calibration, zero = 2047 for every joint, so that
///    q = s·(count − 2047)·2π/4096 is the URDF angle.
public struct CalibrationProcedure: Sendable {
    public enum Phase: Sendable, Hashable {
        case middle
        case sweep
        case finished
    }

    /// The count the zero pose reads after calibration (LeRobot's half turn, 4095/2 rounded down).
    public static let middleCount = 2047

    public let target: CalibrationTarget
    /// Servo ids in joint order.
    public let ids: [UInt8]
    /// Per joint, 0 or 1 (1: the servo counts against the URDF angle).
    public let driveModes: [Int]
    /// Per joint: whether it turns without end stops (range 0…4095).
    public let fullTurn: [Bool]
    public private(set) var phase = Phase.middle
    /// The offsets `captureMiddle` computed (present-position units of the register).
    public private(set) var homingOffsets: [Int] = []
    /// Smallest and largest present position seen per joint during the sweep.
    public private(set) var observedMinimum: [Int]
    public private(set) var observedMaximum: [Int]
    /// Samples taken during the sweep.
    public private(set) var samples = 0

    /// - Parameters:
    ///   - target: the arm (its `ids` are the servos in joint order; required).
    ///   - driveModes: per joint, 0 or 1; empty = all 0.
    ///   - fullTurnJoints: joints without end stops.
    /// - Throws: `.invalidValue` for ids missing or of the wrong count, a drive mode not 0/1, an
    ///   unknown full-turn joint.
    public init(target: CalibrationTarget, driveModes: [Int] = [], fullTurnJoints: Set<String> = []) throws(CalibrationError) {
        guard let ids = target.ids, ids.count == target.joints.count else {
            throw CalibrationError(.invalidValue, field: "ids", "give one servo id per joint (\(target.joints.count): \(target.joints.joined(separator: ", ")))")
        }
        guard ids.allSatisfy({ (0...253).contains($0) }), Set(ids).count == ids.count else {
            throw CalibrationError(.invalidValue, field: "ids", "servo ids must be unique and in 0…253")
        }
        let modes = driveModes.isEmpty ? Array(repeating: 0, count: ids.count) : driveModes
        guard modes.count == ids.count, modes.allSatisfy({ $0 == 0 || $0 == 1 }) else {
            throw CalibrationError(.invalidValue, field: "drive_mode", "give 0 or 1 for each of the \(ids.count) joints")
        }
        if let unknown = fullTurnJoints.subtracting(target.joints).sorted().first {
            throw CalibrationError(.invalidValue, joint: unknown, "is not a joint of the robot (\(target.joints.joined(separator: ", ")))")
        }
        self.target = target
        self.ids = ids.map { UInt8($0) }
        self.driveModes = modes
        fullTurn = target.joints.map { fullTurnJoints.contains($0) }
        observedMinimum = Array(repeating: Self.middleCount, count: ids.count)
        observedMaximum = Array(repeating: Self.middleCount, count: ids.count)
    }

    /// What the servos must hold while the zero pose is read: no offset, the full range, and on
    /// Dynamixel the drive mode (the servo reverses its counts itself, so the pose is read in
    /// its final sense).
    public var registersBeforeMiddle: [ServoCalibrationRegisters] {
        driveModes.map { mode in
            ServoCalibrationRegisters(homingOffset: 0, minPositionLimit: 0, maxPositionLimit: 4095,
                                      driveMode: target.busProtocol == "dynamixel" ? mode : nil)
        }
    }

    /// Takes the raw present positions of the zero pose (read with `registersBeforeMiddle`
    /// written) and returns what to write so that the pose reads 2047.
    /// - Throws: `.procedure` when a raw position is missing or the offset does not fit the
    ///   register (a Feetech horn mounted half a turn off reads 4095 or 0 there).
    public mutating func captureMiddle(rawPositions: [Int?]) throws(CalibrationError) -> [ServoCalibrationRegisters] {
        precondition(phase == .middle, "captureMiddle outside the middle phase")
        guard rawPositions.count == ids.count else {
            throw CalibrationError(.procedure, "expected \(ids.count) positions, got \(rawPositions.count)")
        }
        let allowed = ArmCalibration.homingOffsetRange(busProtocol: target.busProtocol)
        var offsets: [Int] = []
        for (i, raw) in rawPositions.enumerated() {
            guard let raw else {
                throw CalibrationError(.procedure, joint: target.joints[i], "servo \(ids[i]) did not report its position")
            }
            let offset = target.busProtocol == "dynamixel" ? Self.middleCount - raw : raw - Self.middleCount
            guard allowed.contains(offset) else {
                throw CalibrationError(
                    .procedure, joint: target.joints[i], field: "homing_offset",
                    "the zero pose reads \(raw), which needs an offset of \(offset), beyond the register's \(allowed.lowerBound)…\(allowed.upperBound): "
                        + "check the pose, or remount the servo horn half a turn round")
            }
            offsets.append(offset)
        }
        homingOffsets = offsets
        phase = .sweep
        return zip(offsets, driveModes).map { offset, mode in
            ServoCalibrationRegisters(homingOffset: offset, minPositionLimit: 0, maxPositionLimit: 4095,
                                      driveMode: target.busProtocol == "dynamixel" ? mode : nil)
        }
    }

    /// Takes one poll of present positions during the sweep (nil: that servo did not answer).
    /// - Returns: whether any joint's observed range grew.
    /// - Note: Allocates nothing.
    @discardableResult
    public mutating func record(_ positions: [Int?]) -> Bool {
        precondition(phase == .sweep, "record outside the sweep phase")
        var grew = false
        for i in 0..<min(positions.count, ids.count) {
            guard let p = positions[i] else { continue }
            if p < observedMinimum[i] { observedMinimum[i] = p; grew = true }
            if p > observedMaximum[i] { observedMaximum[i] = p; grew = true }
        }
        samples += 1
        return grew
    }

    /// The range joint `i` will be given (full-turn joints: 0…4095).
    public func range(joint i: Int) -> ClosedRange<Int> {
        fullTurn[i] ? 0...4095 : observedMinimum[i]...observedMaximum[i]
    }

    /// Ends the sweep.
    /// - Returns: the calibration (zero = 2047), checked against the target.
    /// - Throws: `.procedure` naming every joint that did not move through at least
    ///   `ArmCalibration.minimumSpan` counts, or one whose travel left 0…4095.
    public mutating func finish(source: String? = nil) throws(CalibrationError) -> ArmCalibration {
        precondition(phase == .sweep, "finish outside the sweep phase")
        var unmoved: [String] = []
        for i in ids.indices where !fullTurn[i] {
            let r = range(joint: i)
            if r.upperBound - r.lowerBound < ArmCalibration.minimumSpan {
                unmoved.append("\(target.joints[i]) (\(r.upperBound - r.lowerBound) counts)")
            }
            guard ArmCalibration.countRange.contains(r.lowerBound), ArmCalibration.countRange.contains(r.upperBound) else {
                throw CalibrationError(.procedure, joint: target.joints[i], "its positions left 0…4095 (\(r.lowerBound)…\(r.upperBound)): was the arm in its zero pose at the first step?")
            }
        }
        guard unmoved.isEmpty else {
            throw CalibrationError(
                .procedure,
                "not moved through their range: \(unmoved.joined(separator: ", ")); at least \(ArmCalibration.minimumSpan) counts (\(ArmCalibration.minimumSpan * 360 / 4096)°) are needed. "
                    + "Move every joint from one end of its travel to the other before pressing Enter")
        }
        let joints = ids.indices.map { i in
            let r = range(joint: i)
            return JointCalibration(joint: target.joints[i], id: ids[i], driveMode: driveModes[i], homingOffset: homingOffsets[i],
                                    rangeMin: r.lowerBound, rangeMax: r.upperBound, zero: Double(Self.middleCount))
        }
        let calibration = ArmCalibration(arm: target.arm, busProtocol: target.busProtocol, joints: joints)
        try calibration.validate(against: target)
        phase = .finished
        return calibration
    }
}
