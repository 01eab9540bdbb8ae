/// How one servo's position counts map to its joint's angle (docs/servo-buses.md §6).
///
/// Counts are what the servo reports with its homing offset applied (`Present_Position`); the
/// joint angle is
///
///   q = s · (count − zero) · 2π / countsPerRevolution   (rad, or the URDF's unit for the joint)
///
/// with s = −1 when `driveMode` is 1 and the reversal is done in software (Feetech; LeRobot's
/// `apply_drive_mode`), else +1 (Dynamixel reverses in the servo through its Drive_Mode register,
/// so the counts already grow with q). Goals go the other way and are clamped into
/// [rangeMin, rangeMax]: the soft limits recorded by calibration.
public struct JointCalibration: Sendable, Hashable {
    /// The robot description's joint this servo drives.
    public var joint: String
    /// The servo's bus id.
    public var id: UInt8
    /// 0 = counts grow with the joint angle, 1 = reversed.
    public var driveMode: Int
    /// The servo's Homing_Offset register, raw (Dynamixel: present = actual + offset; Feetech:
    /// present = actual − offset).
    public var homingOffset: Int
    /// The counts the joint can reach without hitting the frame (present-position units).
    public var rangeMin: Int
    public var rangeMax: Int
    /// The count at q = 0 (present-position units). robotd's own calibration puts the arm in the
    /// description's zero pose and writes the homing offset that makes it read 2047, so zero =
    /// 2047; a LeRobot import uses the middle of the range, as LeRobot's `DEGREES` mode does.
    public var zero: Double

    public init(joint: String, id: UInt8, driveMode: Int = 0, homingOffset: Int = 0, rangeMin: Int = 0,
                rangeMax: Int = 4095, zero: Double = 2047) {
        self.joint = joint; self.id = id; self.driveMode = driveMode; self.homingOffset = homingOffset
        self.rangeMin = rangeMin; self.rangeMax = rangeMax; self.zero = zero
    }
}

/// One arm's calibration: a `JointCalibration` per joint, in the robot description's joint order.
public struct ArmCalibration: Sendable, Hashable {
    /// Counts per revolution of every servo robotd drives (STS3215, Dynamixel X): 4096.
    public static let countsPerRevolution = 4096

    /// Which arm (the config's `driver.*.arm_id`; the file is `<data_directory>/calibration/<arm>.json`).
    public var arm: String
    /// `dynamixel` or `feetech`: whose homing-offset sign and drive-mode convention apply.
    public var busProtocol: String
    public var joints: [JointCalibration]

    public init(arm: String, busProtocol: String, joints: [JointCalibration]) {
        self.arm = arm; self.busProtocol = busProtocol; self.joints = joints
    }

    /// Whether drive mode 1 is applied by robotd (Feetech) rather than by the servo (Dynamixel).
    public var reversesInSoftware: Bool { busProtocol != "dynamixel" }

    /// rad per count for joint `i`, signed by its direction.
    /// - Note: Real-time safe.
    @inlinable
    public func radiansPerCount(_ i: Int) -> Double {
        let scale = 2 * Double.pi / Double(Self.countsPerRevolution)
        return reversesInSoftware && joints[i].driveMode == 1 ? -scale : scale
    }

    /// Joint angle of a present-position count.
    /// - Note: Real-time safe.
    @inlinable
    public func position(joint i: Int, count: Int) -> Double {
        (Double(count) - joints[i].zero) * radiansPerCount(i)
    }

    /// Joint velocity (rad/s) of a velocity in counts per second.
    /// - Note: Real-time safe.
    @inlinable
    public func velocity(joint i: Int, countsPerSecond: Double) -> Double {
        countsPerSecond * radiansPerCount(i)
    }

    /// The goal count for joint angle `q`, rounded and clamped into the calibrated range shrunk
    /// by `margin` counts at each end (the soft limits). A NaN goal yields nil.
    /// - Note: Real-time safe.
    @inlinable
    public func goalCount(joint i: Int, position q: Double, margin: Int = 0) -> Int? {
        guard q.isFinite else { return nil }
        let j = joints[i]
        let raw = (j.zero + q / radiansPerCount(i)).rounded()
        let lo = Double(j.rangeMin + margin), hi = Double(j.rangeMax - margin)
        return Int(lo <= hi ? min(max(raw, lo), hi) : (lo + hi) / 2)
    }

    /// The calibrated range of joint `i` in joint angles (rad), lower bound first.
    public func positionRange(joint i: Int) -> (lower: Double, upper: Double) {
        let a = position(joint: i, count: joints[i].rangeMin), b = position(joint: i, count: joints[i].rangeMax)
        return (min(a, b), max(a, b))
    }
}
