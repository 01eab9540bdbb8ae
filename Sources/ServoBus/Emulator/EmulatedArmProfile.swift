import ServoProtocol

/// What the bus emulator answers as: an arm's servos (ids, models, line rate) in joint order.
///
/// The numbers that turn physics into servo units are the vendors' (hardware-notes §7 and the
/// e-Manual / Feetech datasheets); where a servo reports load (0.1 % of its maximum torque) the
/// maximum is the joint's URDF effort limit, which the robot descriptions set to the servo's
/// stall torque.
public struct EmulatedArmProfile: Sendable, Equatable {
    /// The servo behind one joint.
    public enum ServoKind: Sendable, Equatable {
        case sts3215
        case dynamixel(DynamixelModel)
    }

    public struct Servo: Sendable, Equatable {
        public var id: UInt8
        public var joint: String
        public var kind: ServoKind
        public init(id: UInt8, joint: String, kind: ServoKind) {
            self.id = id; self.joint = joint; self.kind = kind
        }
    }

    public enum BusProtocol: String, Sendable, Equatable { case dynamixel, feetech }

    public var name: String
    public var busProtocol: BusProtocol
    public var servos: [Servo]
    public var baud: Int
    /// Present input voltage the servos report (0.1 V).
    public var supplyDecivolts: Int
    /// Back-drive damping of a servo with its torque off (N·m·s/rad): gearbox and motor. An
    /// estimate: enough that a limp arm sinks under gravity over a second rather than dropping.
    public var limpDamping: Double

    public init(name: String, busProtocol: BusProtocol, servos: [Servo], baud: Int, supplyDecivolts: Int, limpDamping: Double) {
        self.name = name; self.busProtocol = busProtocol; self.servos = servos; self.baud = baud
        self.supplyDecivolts = supplyDecivolts; self.limpDamping = limpDamping
    }

    public static let jointNames = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]

    /// SO-101 follower: 6 × Feetech STS3215 (12 V version), ids 1–6 in joint order, 1 Mbaud.
    public static let so101 = EmulatedArmProfile(
        name: "so101", busProtocol: .feetech,
        servos: jointNames.enumerated().map { Servo(id: UInt8($0.offset + 1), joint: $0.element, kind: .sts3215) },
        baud: 1_000_000, supplyDecivolts: 120, limpDamping: 0.3
    )

    /// Koch v1.1 follower: ids 1–2 XL430-W250, 3–6 XL330-M288, 1 Mbaud (set by LeRobot's setup).
    public static let koch = EmulatedArmProfile(
        name: "koch", busProtocol: .dynamixel,
        servos: jointNames.enumerated().map {
            Servo(id: UInt8($0.offset + 1), joint: $0.element, kind: .dynamixel($0.offset < 2 ? .xl430W250 : .xl330M288))
        },
        baud: 1_000_000, supplyDecivolts: 120, limpDamping: 0.1
    )

    public static let all = [so101, koch]

    public static func named(_ name: String) -> EmulatedArmProfile? { all.first { $0.name == name } }
}

/// The emulator's factory mapping between joint angles and servo units: 4096 ticks per turn,
/// 2048 ticks = 0 rad, counts growing with the URDF angle (drive direction +).
public enum ServoUnits {
    public static let ticksPerRadian = 4096 / (2 * Double.pi)
    public static let centerTicks = 2048.0
    /// Dynamixel X velocity unit: 0.229 rpm (rad/s).
    public static let dynamixelVelocityUnit = 0.229 * 2 * Double.pi / 60
    /// Feetech STS velocity unit: 1 step/s (rad/s).
    public static let feetechVelocityUnit = 2 * Double.pi / 4096
    /// XL330-M288 current per torque (mA per N·m): 1.47 A at its 0.52 N·m stall (5 V, e-Manual).
    public static let xl330M288MilliampsPerNewtonMetre = 1470 / 0.52
    /// XL330-M077: 1.47 A at 0.228 N·m stall (5 V).
    public static let xl330M077MilliampsPerNewtonMetre = 1470 / 0.228
    /// XM430-W350: 2.3 A at 4.1 N·m (12 V); current unit 2.69 mA.
    public static let xm430W350MilliampsPerNewtonMetre = 2300 / 4.1
    /// XM540-W270: 4.4 A at 10.6 N·m (12 V); current unit 2.69 mA.
    public static let xm540W270MilliampsPerNewtonMetre = 4400 / 10.6

    public static func ticks(radians q: Double) -> Double { centerTicks + q * ticksPerRadian }
    public static func radians(ticks: Double) -> Double { (ticks - centerTicks) / ticksPerRadian }
}
