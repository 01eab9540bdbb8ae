import ServoProtocol

/// Everything a `ServoArmDriver` needs to drive one arm's servo bus: where the bus is, which
/// servos make which joints, how counts map to angles, and how carefully to move them.
///
/// Per-joint arrays are in joint order (`ids`, `jointNames`) and must have one entry per joint;
/// `validate()` says which does not.
public struct ServoArmOptions: Sendable, Equatable {
    /// The servo family on the bus.
    public enum BusProtocol: String, Sendable, Equatable {
        /// Feetech STS (STS3215: SO-100/SO-101).
        case feetech
        /// Dynamixel Protocol 2.0, X series (Koch v1.1: XL430-W250, XL330-M288).
        case dynamixel
    }

    /// How the servos track their goal position.
    public enum PositionMode: String, Sendable, Equatable {
        /// Position control (Feetech mode 0, Dynamixel mode 3), torque bounded by `torqueLimit`
        /// through Torque_Limit (Feetech) or Goal_PWM (Dynamixel).
        case position
        /// Dynamixel current-based position control (mode 5): the goal current bounds the
        /// torque (`torqueLimit` × Current_Limit). Servos without current sensing (XL430-W250)
        /// stay in mode 3; on Feetech this is the same as `.position`.
        case currentBasedPosition
    }

    /// What `deactivate` and `cleanup` (and a fault) leave the servos in.
    public enum SafeState: String, Sendable, Equatable {
        /// Torque off: the arm goes limp (it falls unless it rests; support it).
        case torqueOff
        /// Torque stays on at the last goal sent; the driver stops writing goals.
        case hold
    }

    public var busProtocol: BusProtocol
    /// Serial device or emulator link (`/dev/serial/by-id/…`, `./run/so101.tty`).
    public var port: String
    /// Line rate (baud) the servos are set to.
    public var baud: Int
    /// Servo ids, in joint order.
    public var ids: [UInt8]
    /// The robot description's joint names, in the same order.
    public var jointNames: [String]
    /// `DriverDescription.name`.
    public var robotName: String
    /// Counts ↔ rad per joint, and the calibrated range the goals are clamped into. Its joints
    /// must be the same servos in the same order (`JointCalibration.id`).
    public var calibration: ArmCalibration
    /// Bus cycles per second (one SYNC_WRITE of goals + one SYNC_READ of state each), 1…1000.
    public var busRateHz: Double = 250
    public var positionMode: PositionMode = .position
    /// Profile velocity (rad/s) the servos' own trajectory generator limits a move to; nil
    /// leaves the servos' setting. Dynamixel Profile_Velocity (0.229 rpm units), Feetech
    /// Goal_Velocity (step/s); 0 means unlimited on both.
    public var profileVelocity: Double? = nil
    /// Profile acceleration (rad/s²); nil leaves the servos' setting. Dynamixel
    /// Profile_Acceleration (214.577 rev/min²), Feetech Acceleration (100 step/s², 0…254).
    public var profileAcceleration: Double? = nil
    /// Position P gain per joint in the servo's raw register units (Dynamixel Position_P_Gain,
    /// Feetech P_Coefficient); nil (or a nil entry) leaves it.
    public var positionP: [Int?]? = nil
    /// Position D gain per joint, raw (Dynamixel Position_D_Gain, Feetech D_Coefficient).
    public var positionD: [Int?]? = nil
    /// Torque limit per joint as a fraction 0…1 of the servo's maximum: Feetech Torque_Limit
    /// (0.1 %), Dynamixel Goal_PWM × PWM_Limit in position mode, Goal_Current × Current_Limit in
    /// current-based position mode. nil (or a nil entry) leaves it.
    public var torqueLimit: [Double?]? = nil
    /// Largest change of a joint's goal per bus cycle (rad), from the goal sent last: the ramp
    /// that keeps a far goal from slamming the gears (LeRobot's `max_relative_target`, but on by
    /// default). nil disables it (not recommended). 0.01 rad per cycle is 2.5 rad/s at 250 Hz.
    public var maxGoalStep: Double? = 0.01
    /// Soft limits: goals are clamped into the calibrated range shrunk by this many counts at
    /// each end (4096 counts per turn).
    public var softLimitMargin: Int = 20
    /// Failed bus cycles in a row (a servo's state missing after the retries) that fault the
    /// driver, 1…100.
    public var failedCyclesToFault: Int = 3
    /// Attempts after the first for a timed-out or corrupt transaction within one cycle, 0…5.
    public var retriesPerCycle: Int = 1
    public var safeState: SafeState = .torqueOff
    /// N·m per raw load/current unit, per joint, signed with the joint (Feetech Present_Load and
    /// XL430 Present_Load: 0.1 % of stall torque, i.e. stall/1000; XL330 Present_Current: 1 mA,
    /// i.e. N·m per mA). Empty = derived from `effortLimits` and the servo models found at
    /// connect, as the emulator converts (`EmulatedArm`); both empty = efforts reported as 0.
    public var effortPerUnit: [Double] = []
    /// Each joint's servo stall torque (N·m; the robot description's effort limits), from which
    /// `effortPerUnit` is derived when it is empty: load servos (STS3215, XL430) stall/1000 per
    /// 0.1 %; current servos through their datasheet current per torque (`ServoUnits`).
    public var effortLimits: [Double] = []
    /// rad per N·m per joint (1 / the servo's position stiffness K_p): a position servo takes
    /// no feed-forward torque, so the command's feed-forward effort (gravity for hold and move,
    /// the plan's torques in mpc) is sent as a goal offset τ_ff / K_p, which the servo's own
    /// proportional term turns back into about τ_ff. Empty = feed-forward ignored (the servo
    /// sags by g/K_p under gravity and MPC plans lose their torques).
    public var feedforwardCompliance: [Double] = []
    /// Largest goal offset the feed-forward may add (rad): a wrong stiffness must not move the
    /// arm far.
    public var maxFeedforwardOffset: Double = 0.1
    /// Rate of the slow diagnostics reads (temperature, voltage, hardware error), 0.1…50 Hz,
    /// at most `busRateHz`.
    public var diagnosticsHz: Double = 2
    /// SCHED_FIFO priority of the bus I/O thread (1…99), nil = SCHED_OTHER. Refused priorities
    /// are reported in `ServoBusStatus.warnings`, not fatal.
    public var threadPriority: Int32? = nil
    /// How long `configure` waits for the first complete state read (s).
    public var firstSampleTimeout: Double = 2

    public init(
        busProtocol: BusProtocol, port: String, baud: Int = 1_000_000, ids: [UInt8], jointNames: [String],
        robotName: String, calibration: ArmCalibration
    ) {
        self.busProtocol = busProtocol
        self.port = port
        self.baud = baud
        self.ids = ids
        self.jointNames = jointNames
        self.robotName = robotName
        self.calibration = calibration
    }

    public var dof: Int { ids.count }

    /// "servo 3 (elbow_flex)".
    public func servoName(_ i: Int) -> String {
        i >= 0 && i < ids.count ? "servo \(ids[i]) (\(i < jointNames.count ? jointNames[i] : "joint \(i)"))" : "the bus"
    }

    /// Checks the options for consistency.
    /// - Throws: `ServoArmError` (`.invalidOptions`) naming the first problem.
    public func validate() throws(ServoArmError) {
        func fail(_ message: String) -> ServoArmError { ServoArmError(.invalidOptions, port: port, message: "servo arm options: \(message)") }
        let n = ids.count
        guard n > 0 else { throw fail("no servo ids") }
        guard Set(ids).count == n else { throw fail("servo ids \(ids.map(String.init).joined(separator: ", ")) repeat an id") }
        let maxID: UInt8 = busProtocol == .dynamixel ? 252 : 253
        if let bad = ids.first(where: { $0 > maxID }) { throw fail("servo id \(bad) is above \(maxID), the largest \(busProtocol.rawValue) id") }
        guard jointNames.count == n else { throw fail("\(jointNames.count) joint names for \(n) servo ids") }
        guard baud > 0 else { throw fail("baud \(baud) must be positive") }
        guard busRateHz >= 1, busRateHz <= 1000 else { throw fail("bus rate \(busRateHz) Hz is outside 1…1000 Hz") }
        guard diagnosticsHz >= 0.1, diagnosticsHz <= min(50, busRateHz) else {
            throw fail("diagnostics rate \(diagnosticsHz) Hz is outside 0.1…\(min(50, busRateHz)) Hz")
        }
        guard (1...100).contains(failedCyclesToFault) else { throw fail("failedCyclesToFault \(failedCyclesToFault) is outside 1…100") }
        guard (0...5).contains(retriesPerCycle) else { throw fail("retriesPerCycle \(retriesPerCycle) is outside 0…5") }
        guard softLimitMargin >= 0, softLimitMargin < 2048 else { throw fail("softLimitMargin \(softLimitMargin) counts is outside 0…2047") }
        if let s = maxGoalStep, !(s.isFinite && s > 0) { throw fail("maxGoalStep \(s) rad must be positive and finite (nil disables it)") }
        if let v = profileVelocity, !(v.isFinite && v >= 0) { throw fail("profileVelocity \(v) rad/s must be ≥ 0") }
        if let a = profileAcceleration, !(a.isFinite && a >= 0) { throw fail("profileAcceleration \(a) rad/s² must be ≥ 0") }
        guard firstSampleTimeout > 0, firstSampleTimeout.isFinite else { throw fail("firstSampleTimeout must be positive") }
        if let p = threadPriority, !(1...99).contains(p) { throw fail("threadPriority \(p) is outside 1…99") }
        for (name, count) in [("positionP", positionP?.count), ("positionD", positionD?.count), ("torqueLimit", torqueLimit?.count)] {
            if let count, count != n { throw fail("\(name) has \(count) entries for \(n) joints") }
        }
        for (i, f) in (torqueLimit ?? []).enumerated() {
            if let f, !(f >= 0 && f <= 1) { throw fail("torqueLimit of \(servoName(i)) is \(f), outside 0…1") }
        }
        for (name, gains) in [("positionP", positionP), ("positionD", positionD)] {
            for (i, g) in (gains ?? []).enumerated() {
                if let g, g < 0 || g > (busProtocol == .feetech ? 254 : 16383) {
                    throw fail("\(name) of \(servoName(i)) is \(g), outside the register's range")
                }
            }
        }
        guard effortPerUnit.isEmpty || effortPerUnit.count == n else { throw fail("effortPerUnit has \(effortPerUnit.count) entries for \(n) joints") }
        if let bad = effortPerUnit.firstIndex(where: { !$0.isFinite }) { throw fail("effortPerUnit of \(servoName(bad)) is not finite") }
        guard effortLimits.isEmpty || effortLimits.count == n else { throw fail("effortLimits has \(effortLimits.count) entries for \(n) joints") }
        guard feedforwardCompliance.isEmpty || feedforwardCompliance.count == n else {
            throw fail("feedforwardCompliance has \(feedforwardCompliance.count) entries for \(n) joints")
        }
        for (i, c) in feedforwardCompliance.enumerated() where !(c >= 0 && c.isFinite) {
            throw fail("feedforwardCompliance of \(servoName(i)) is \(c): it must be finite and ≥ 0")
        }
        guard maxFeedforwardOffset >= 0, maxFeedforwardOffset.isFinite else { throw fail("maxFeedforwardOffset must be finite and ≥ 0") }
        guard calibration.joints.count == n else {
            throw fail("the calibration \(calibration.arm) has \(calibration.joints.count) joints for \(n) servos")
        }
        guard calibration.busProtocol == busProtocol.rawValue else {
            throw fail("the calibration \(calibration.arm) is for a \(calibration.busProtocol) bus, the arm is on \(busProtocol.rawValue)")
        }
        for i in 0..<n where calibration.joints[i].id != ids[i] {
            throw fail("the calibration's joint \(i) (\(calibration.joints[i].joint)) is servo \(calibration.joints[i].id), the options say \(servoName(i))")
        }
    }

    /// Why joint `i`'s calibration does not allow enabling torque, or nil: an empty or inverted
    /// range (after the soft-limit margin), a range outside one turn, or a non-finite zero.
    public func calibrationProblem(joint i: Int) -> String? {
        let j = calibration.joints[i]
        guard j.zero.isFinite else { return "\(servoName(i)) has no calibrated zero" }
        guard j.rangeMin >= 0, j.rangeMax <= ArmCalibration.countsPerRevolution - 1 else {
            return "\(servoName(i)) has a calibrated range \(j.rangeMin)…\(j.rangeMax) outside 0…4095"
        }
        guard j.rangeMin + softLimitMargin < j.rangeMax - softLimitMargin else {
            return "\(servoName(i)) has an empty calibrated range \(j.rangeMin)…\(j.rangeMax) (soft-limit margin \(softLimitMargin) counts): calibrate the arm (robotd calibrate) before enabling torque"
        }
        return nil
    }
}
