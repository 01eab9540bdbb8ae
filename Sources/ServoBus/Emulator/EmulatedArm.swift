import Glibc
import RigidBody
import RobotInterface
import ServoProtocol
import SimulationDriver

/// Why an emulated arm cannot be assembled.
public struct EmulatedArmError: Error, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Settings of an `EmulatedArm` beyond its profile.
public struct EmulatedArmOptions: Sendable, Equatable {
    /// Servos that overload, by id, and after how many requests (0 = from power-on): the
    /// servo latches its overload error bit and, as the firmware does when the fault is in its
    /// shutdown (Dynamixel register 63) or unloading (Feetech register 19) mask, switches its
    /// torque off and keeps it off (until a Dynamixel REBOOT clears the error).
    public var overload: [UInt8: Int] = [:]
    /// Servos that overheat, likewise; they also report a temperature above their limit.
    public var overheat: [UInt8: Int] = [:]
    /// Appends every framed request as a line of hex to this file (tests compare what a client
    /// put on the wire with robotd's encoders).
    public var recordRequestsPath: String?
    /// Physics step (s); the simulated arm integrates in 4 substeps of it.
    public var physicsPeriod = 0.001
    /// Longest stretch of simulated time one request catches up (s): after a longer silence the
    /// arm has long settled, so the rest is skipped rather than computed before a reply.
    public var maximumCatchUpSeconds = 1.0
    /// Joint angles at power-on (rad), in joint order; empty = the URDF's zero pose.
    public var initialPosition: [Double] = []
    /// Servos mounted the other way round, by id: their counts grow against the URDF angle (an
    /// arm whose calibration needs drive mode 1 for that joint).
    public var reversedServos: Set<UInt8> = []

    public init() {}
}

/// An arm's servos on an emulated bus, moved by physics: a `BusResponder` for `EmulatorHost`.
///
/// On every chunk of received bytes (`atNanoseconds` = its arrival time) the simulated arm
/// (`SimulatedArm` on the arm's URDF, position-servo mode: each servo's PD with its gains and
/// torque limit from its control table) is advanced to that time in fixed steps under the commands the servos held until then;
/// the present position, velocity, load/current, voltage and temperature are written into the
/// servo bank in the servo's units; then the requests are answered by the bank, and the goals
/// and torque enables they leave behind act from this instant on. Torque off makes a joint limp:
/// gravity acts against the profile's back-drive damping.
///
/// Angles map with the factory convention (`ServoUnits`): 4096 ticks per turn, 2048 = 0 rad,
/// counts grow with the URDF angle, corrected by the servo's Homing_Offset (Dynamixel reports
/// actual + offset, Feetech actual − offset) and Dynamixel's Drive_Mode reverse bit.
///
/// Each servo's position loop follows its control table: P and D gains and the torque limit
/// (Feetech Torque_Limit/Max_Torque_Limit; Dynamixel PWM limit, or Goal_Current/Current_Limit
/// in current-based position mode), scaled so the factory values give `SimulatedArm`'s derived
/// servo (`servoLoop`).
///
/// Not emulated: velocity, current and PWM operating modes (the joint goes limp), profile
/// velocity/acceleration, the I gains and feedforward, position limits (the URDF's limits stop
/// the joint), temperature rise, the servo's own overload detection (inject it with
/// `EmulatedArmOptions`).
public struct EmulatedArm: BusResponder {
    public let profile: EmulatedArmProfile
    public let options: EmulatedArmOptions
    /// The physics; `position`/`velocity` are the true joint state (rad, rad/s).
    public private(set) var simulator: SimulatedArm
    public private(set) var dynamixel: DynamixelResponder?
    public private(set) var feetech: FeetechResponder?
    /// Complete requests answered so far.
    public private(set) var requests = 0

    /// Model joint index of each profile servo.
    let jointIndex: [Int]
    /// Each servo's maximum torque (the URDF effort limit, N·m): the 100 % of a load reading.
    let stallTorque: [Double]
    /// Each servo's position loop at its factory gains: stiffness (N·m/rad) and damping
    /// (N·m·s/rad) of `SimulatedArm`'s derived servo, which the control table's gains scale.
    let factoryStiffness: [Double]
    let factoryDamping: [Double]
    /// Dynamixel servos' factory Position_P_Gain, Position_D_Gain and Current_Limit (0 when the
    /// model has none), the references of `servoLoop`.
    let dynamixelFactory: [(p: Double, d: Double, currentLimit: Double)]
    var startNanoseconds: UInt64?
    var command: JointCommand
    var state: JointState
    var pendingTrips: [(id: UInt8, afterRequests: Int, overheat: Bool)]
    /// Joints a hand holds (`placeByHand`): model joint index → angle (rad), re-placed after
    /// every physics step until released or until the servo's torque takes over.
    var handHeld: [Int: Double] = [:]
    let recorder: RequestRecorder?

    public init(profile: EmulatedArmProfile, model: RobotModel, options: EmulatedArmOptions = EmulatedArmOptions()) throws(EmulatedArmError) {
        var index: [Int] = []
        for servo in profile.servos {
            guard let j = model.joints.firstIndex(where: { $0.name == servo.joint }) else {
                throw EmulatedArmError("the robot description \(model.name) has no joint \(servo.joint) (servo id \(servo.id) of \(profile.name))")
            }
            index.append(j)
        }
        for id in Array(options.overload.keys) + Array(options.overheat.keys) + Array(options.reversedServos) where !profile.servos.contains(where: { $0.id == id }) {
            throw EmulatedArmError("\(profile.name) has no servo with id \(id) (ids \(profile.servos.map { String($0.id) }.joined(separator: ", ")))")
        }
        guard options.physicsPeriod > 0, options.physicsPeriod <= 0.01, options.maximumCatchUpSeconds > 0 else {
            throw EmulatedArmError("physics period must be in (0, 0.01] s and the catch-up limit > 0 s")
        }
        var c = SimulatedArm.Configuration()
        c.period = options.physicsPeriod
        c.substeps = 4
        c.limpDamping = Array(repeating: profile.limpDamping, count: model.dof)
        c.initialPosition = options.initialPosition
        do throws(DriverError) {
            simulator = try SimulatedArm(model: model, configuration: c)
            try simulator.configure()
            try simulator.activate(mode: .position)
        } catch {
            throw EmulatedArmError("cannot simulate \(model.name): \(error)")
        }
        for j in 0..<model.dof { simulator.setLimp(j, true) }
        self.profile = profile
        self.options = options
        jointIndex = index
        stallTorque = index.map { model.joints[$0].effortLimit.isFinite ? model.joints[$0].effortLimit : 1 }
        let gains = (simulator.positionGains, simulator.dampingGains)
        factoryStiffness = index.map { gains.0[$0] }
        factoryDamping = index.map { gains.1[$0] }
        dynamixelFactory = profile.servos.map { servo in
            guard case let .dynamixel(model) = servo.kind else { return (0, 0, 0) }
            let factory = DynamixelControlTable.factoryValues(for: model)
            func value(_ item: DynamixelControlItem) -> Double { Double(factory.first { $0.0.address == item.address }?.1 ?? 0) }
            return (value(DynamixelControlTable.positionPGain), value(DynamixelControlTable.positionDGain), value(DynamixelControlTable.currentLimit))
        }
        command = JointCommand(mode: .position, dof: model.dof)
        state = JointState(dof: model.dof)
        // The first read samples without advancing; later reads advance one period each.
        try? simulator.read(into: &state)
        pendingTrips = options.overload.map { ($0.key, $0.value, false) } + options.overheat.map { ($0.key, $0.value, true) }
        pendingTrips.sort { ($0.afterRequests, $0.id) < ($1.afterRequests, $1.id) }
        switch profile.busProtocol {
        case .feetech:
            guard let baudIndex = STS3215.baudRates.firstIndex(of: profile.baud) else {
                throw EmulatedArmError("\(profile.name): Feetech servos have no \(profile.baud) baud")
            }
            var bank = FeetechServoBank(ids: profile.servos.map(\.id))
            for s in profile.servos {
                bank.setPresentVoltage(profile.supplyDecivolts, id: s.id)
                _ = bank.setValue(STS3215.baudRate, id: s.id, baudIndex)
            }
            feetech = FeetechResponder(bank: bank)
        case .dynamixel:
            guard let baudCode = DynamixelControlTable.baudRateCode(bitsPerSecond: profile.baud) else {
                throw EmulatedArmError("\(profile.name): Dynamixel servos have no \(profile.baud) baud")
            }
            var configurations: [DynamixelServoBank.ServoConfiguration] = []
            for s in profile.servos {
                guard case let .dynamixel(m) = s.kind else { throw EmulatedArmError("\(profile.name): servo \(s.id) is not a Dynamixel") }
                configurations.append(.init(id: s.id, model: m, baudRate: baudCode))
            }
            dynamixel = DynamixelResponder(bank: DynamixelServoBank(configurations))
            for s in profile.servos where s.kind == .dynamixel(.xl430W250) {
                dynamixel!.bank.setPresentInputVoltage(s.id, UInt16(profile.supplyDecivolts))
            }
        }
        if let path = options.recordRequestsPath {
            guard let r = RequestRecorder(path: path) else { throw EmulatedArmError("cannot open \(path) to record requests: \(String(cString: strerror(errno)))") }
            recorder = r
            dynamixel?.recordsRequests = true
            feetech?.recordsRequests = true
        } else {
            recorder = nil
        }
        tripFaults()
        writePresent()
        // Power-on: each goal equals the present position, so enabling torque holds the pose.
        for k in profile.servos.indices { setGoalToPresent(k) }
    }

    public mutating func receive(_ bytes: UnsafeBufferPointer<UInt8>, atNanoseconds time: UInt64) -> [BusResponse] {
        advance(to: time)
        writePresent()
        let responses: [BusResponse]
        if dynamixel != nil {
            responses = dynamixel!.receive(bytes, atNanoseconds: time)
            if let recorder, !dynamixel!.recordedRequests.isEmpty {
                recorder.write(dynamixel!.recordedRequests)
                dynamixel!.recordedRequests.removeAll(keepingCapacity: true)
            }
        } else {
            responses = feetech!.receive(bytes, atNanoseconds: time)
            if let recorder, !feetech!.recordedRequests.isEmpty {
                recorder.write(feetech!.recordedRequests)
                feetech!.recordedRequests.removeAll(keepingCapacity: true)
            }
        }
        requests += responses.count
        tripFaults()
        applyCommands()
        return responses
    }

    /// Keeps the physics up with the clock between requests (once the first request started it),
    /// so a request after a quiet spell is answered without a long catch-up first.
    public mutating func idle(atNanoseconds time: UInt64) {
        guard startNanoseconds != nil else { return }
        advance(to: time)
    }

    public mutating func setLineRate(_ bitsPerSecond: Int?) {
        dynamixel?.setLineRate(bitsPerSecond)
        feetech?.setLineRate(bitsPerSecond)
    }

    // MARK: physics

    /// Advances the simulated arm to `time` (ns on the host's clock) in whole physics periods.
    mutating func advance(to time: UInt64) {
        guard let start = startNanoseconds else {
            startNanoseconds = time
            return
        }
        guard time > start else { return }
        var target = Double(time - start) * 1e-9
        if target - simulator.time > options.maximumCatchUpSeconds {
            let skipped = target - simulator.time - options.maximumCatchUpSeconds
            startNanoseconds = start &+ UInt64(skipped * 1e9)
            target = simulator.time + options.maximumCatchUpSeconds
        }
        let period = options.physicsPeriod
        while simulator.time + period <= target + 1e-12 {
            try? simulator.read(into: &state)
            for (j, q) in handHeld { simulator.place(joint: j, position: q) }
        }
    }

    /// Reads torque enables, operating modes and goals from the bank into the simulator, and
    /// holds torque off on a servo whose latched fault shuts it down.
    mutating func applyCommands() {
        for (k, servo) in profile.servos.enumerated() {
            let j = jointIndex[k]
            var goal: Double?
            let id = servo.id
            if dynamixel != nil {
                if let error = dynamixel!.bank.hardwareError(id), let mask = dynamixel!.bank.value(id, DynamixelControlTable.shutdown),
                   error.rawValue & UInt8(truncatingIfNeeded: mask) != 0, dynamixel!.bank.torqueEnabled(id) == true {
                    dynamixel!.bank.setValue(id, DynamixelControlTable.torqueEnable, 0)
                }
                let bank = dynamixel!.bank
                if bank.torqueEnabled(id) == true, let mode = bank.operatingMode(id), [3, 4, 5].contains(mode),
                   let g = bank.goalPosition(id) {
                    let offset = Double(bank.value(id, DynamixelControlTable.homingOffset) ?? 0)
                    goal = mountSign(id) * dynamixelSign(id) * ServoUnits.radians(ticks: Double(g) - offset)
                }
            } else if feetech != nil {
                let unloading = feetech!.bank.value(STS3215.unloadingCondition, id: id) ?? 0
                if let faults = feetech!.bank.faults(id: id), Int(faults.rawValue) & unloading != 0,
                   feetech!.bank.torqueEnabled(id: id) == true {
                    feetech!.bank.setValue(STS3215.torqueEnable, id: id, 0)
                }
                let bank = feetech!.bank
                if bank.torqueEnabled(id: id) == true, bank.value(STS3215.operatingMode, id: id) == 0,
                   let g = bank.goalPosition(id: id) {
                    let offset = Double(bank.homingOffset(id: id) ?? 0)
                    goal = mountSign(id) * ServoUnits.radians(ticks: Double(g) + offset)
                }
            }
            let loop = servoLoop(k)
            simulator.setServo(j, stiffness: loop.stiffness, damping: loop.damping, torqueLimit: loop.torqueLimit)
            if let goal {
                command.values[j] = goal
                simulator.setLimp(j, false)
                handHeld[j] = nil
            } else {
                command.values[j] = simulator.position[j]
                simulator.setLimp(j, true)
            }
        }
        try? simulator.write(command)
    }

    /// The position loop servo `k`'s control table asks for, in the physics' units.
    ///
    /// Scales (register units → N·m/rad), chosen so the factory values give the servo that
    /// `SimulatedArm` derives from the URDF (K_p = τ_max / 0.1 rad, K_d critically damped):
    /// - Feetech STS: K_p = K_p,0 · P_Coefficient / 32 and K_d = K_d,0 · D_Coefficient / 32
    ///   (32 and 32 are the factory values); torque limit = τ_max · min(Torque_Limit,
    ///   Max_Torque_Limit) / 1000 (both 0.1 %).
    /// - Dynamixel X: K_p = K_p,0 · Position_P_Gain / factory P (XL430 640, XL330 400, XM 800);
    ///   K_d = K_d,0 · (1 + (Position_D_Gain − factory D) / 4000) (4000 is the XL430's factory
    ///   D); torque limit = τ_max · min(PWM_Limit, |Goal_PWM|) / 885 in position modes (3, 4),
    ///   and in current-based position mode (5) τ_max · min(|Goal_Current|, Current_Limit) /
    ///   factory Current_Limit (XL330 1750, XM430 1193, XM540 2047).
    /// K_d never drops below the back-drive damping `limpDamping` (gearbox and motor are there
    /// whatever the gain), or K_d,0 where that is less. τ_max is the URDF effort limit (the
    /// servo's stall torque).
    func servoLoop(_ k: Int) -> (stiffness: Double, damping: Double, torqueLimit: Double) {
        let id = profile.servos[k].id
        let kp0 = factoryStiffness[k], kd0 = factoryDamping[k], tauMax = stallTorque[k]
        var kp = kp0, kd = kd0, limit = tauMax
        if let bank = dynamixel?.bank {
            let factory = dynamixelFactory[k]
            let p = Double(bank.value(id, DynamixelControlTable.positionPGain) ?? 0)
            let d = Double(bank.value(id, DynamixelControlTable.positionDGain) ?? 0)
            kp = factory.p > 0 ? kp0 * p / factory.p : kp0
            kd = kd0 * (1 + (d - factory.d) / 4000)
            if bank.operatingMode(id) == 5, let goalCurrent = bank.value(id, DynamixelControlTable.goalCurrent),
               let currentLimit = bank.value(id, DynamixelControlTable.currentLimit) {
                limit = factory.currentLimit > 0 ? tauMax * Double(min(abs(goalCurrent), currentLimit)) / factory.currentLimit : tauMax
            } else {
                let pwm = min(bank.value(id, DynamixelControlTable.pwmLimit) ?? 885, abs(bank.value(id, DynamixelControlTable.goalPWM) ?? 885))
                limit = tauMax * Double(pwm) / 885
            }
        } else if let bank = feetech?.bank {
            kp = kp0 * Double(bank.value(STS3215.pCoefficient, id: id) ?? 32) / 32
            kd = kd0 * Double(bank.value(STS3215.dCoefficient, id: id) ?? 32) / 32
            let torque = min(bank.value(STS3215.torqueLimit, id: id) ?? 1000, bank.value(STS3215.maxTorqueLimit, id: id) ?? 1000)
            limit = tauMax * Double(max(0, torque)) / 1000
        }
        return (max(0, kp), max(min(kd0, profile.limpDamping), kd), max(0, limit))
    }

    /// −1 for a servo mounted the other way round (`EmulatedArmOptions.reversedServos`).
    func mountSign(_ id: UInt8) -> Double { options.reversedServos.contains(id) ? -1 : 1 }

    func dynamixelSign(_ id: UInt8) -> Double {
        ((dynamixel?.bank.value(id, DynamixelControlTable.driveMode) ?? 0) & 1) != 0 ? -1 : 1
    }

    /// Writes the simulated joint state into the servos' present registers.
    mutating func writePresent() {
        for (k, servo) in profile.servos.enumerated() {
            let j = jointIndex[k], id = servo.id
            let m = mountSign(id)
            let q = m * simulator.position[j], v = m * simulator.velocity[j], tau = m * simulator.appliedEffort[j]
            let load = max(-1000, min(1000, (tau / stallTorque[k] * 1000).rounded()))
            if dynamixel != nil {
                let s = dynamixelSign(id)
                let offset = dynamixel!.bank.value(id, DynamixelControlTable.homingOffset) ?? 0
                let ticks = Int64(ServoUnits.ticks(radians: s * q).rounded()) + offset
                dynamixel!.bank.setPresentPosition(id, Int32(clamping: ticks))
                dynamixel!.bank.setPresentVelocity(id, Int32(clamping: Int64((s * v / ServoUnits.dynamixelVelocityUnit).rounded())))
                let effort: Double
                switch servo.kind {
                case .dynamixel(.xl330M288): effort = s * tau * ServoUnits.xl330M288MilliampsPerNewtonMetre
                case .dynamixel(.xl330M077): effort = s * tau * ServoUnits.xl330M077MilliampsPerNewtonMetre
                case .dynamixel(.xm430W350): effort = s * tau * ServoUnits.xm430W350MilliampsPerNewtonMetre / 2.69
                case .dynamixel(.xm540W270): effort = s * tau * ServoUnits.xm540W270MilliampsPerNewtonMetre / 2.69
                default: effort = s * load  // XL430: Present Load, 0.1 %
                }
                dynamixel!.bank.setPresentCurrent(id, Int16(clamping: Int64(effort.rounded())))
                let hot = dynamixel!.bank.hardwareError(id)?.contains(.overheating) ?? false
                let limit = dynamixel!.bank.value(id, DynamixelControlTable.temperatureLimit) ?? 70
                dynamixel!.bank.setPresentTemperature(id, UInt8(clamping: hot ? limit + 2 : 28))
            } else if feetech != nil {
                let offset = feetech!.bank.homingOffset(id: id) ?? 0
                var ticks = Int(ServoUnits.ticks(radians: q).rounded()) - offset
                ticks = ((ticks % 4096) + 4096) % 4096
                let speed = Int((v / ServoUnits.feetechVelocityUnit).rounded())
                feetech!.bank.setPresentPosition(ticks, id: id)
                feetech!.bank.setPresentVelocity(speed, id: id)
                feetech!.bank.setPresentLoad(Int(load), id: id)
                feetech!.bank.setMoving(abs(speed) > 4, id: id)
                let hot = feetech!.bank.faults(id: id)?.contains(.overheat) ?? false
                let limit = feetech!.bank.value(STS3215.maxTemperatureLimit, id: id) ?? 70
                feetech!.bank.setPresentTemperature(hot ? limit + 2 : 25, id: id)
            }
        }
    }

    mutating func setGoalToPresent(_ k: Int) {
        let id = profile.servos[k].id
        if dynamixel != nil, let p = dynamixel!.bank.value(id, DynamixelControlTable.presentPosition) {
            dynamixel!.bank.setValue(id, DynamixelControlTable.goalPosition, p)
        } else if feetech != nil, let p = feetech!.bank.value(STS3215.presentPosition, id: id) {
            feetech!.bank.setValue(STS3215.goalPosition, id: id, p)
        }
    }

    // MARK: a hand

    /// A person's hand moves a limp joint to `angle` and holds it there, at rest, until
    /// `releaseByHand` or until the servo's torque is switched on (the servo then holds it).
    /// What `robotd emulate --hand` does for each `move` line: calibration without a person.
    /// - Parameters:
    ///   - joint: the URDF joint name, or the servo's index in joint order (0…).
    ///   - angle: the joint angle (rad), within the URDF's limits.
    ///   - time: now, on `MonotonicClock` (the physics first catches up to it).
    /// - Returns: the joint's name.
    /// - Throws: `EmulatedArmError` for an unknown joint, an angle outside the limits, or a
    ///   joint whose torque is on (a servo holding its pose is not moved by hand here).
    public mutating func placeByHand(joint: String, angle: Double, atNanoseconds time: UInt64) throws(EmulatedArmError) -> String {
        let k = try handJoint(joint)
        let j = jointIndex[k], model = simulator.model.joints[j]
        guard angle.isFinite, angle >= model.lowerLimit, angle <= model.upperLimit else {
            throw EmulatedArmError("\(model.name): \(angle) rad is outside its limits [\(model.lowerLimit), \(model.upperLimit)] rad")
        }
        advance(to: time)
        guard simulator.limp[j] else {
            throw EmulatedArmError("\(model.name): its servo (id \(profile.servos[k].id)) has torque on; switch it off to move the joint by hand")
        }
        handHeld[j] = angle
        simulator.place(joint: j, position: angle)
        writePresent()
        return model.name
    }

    /// The hand lets go of `joint` (it falls under gravity if limp).
    public mutating func releaseByHand(joint: String) throws(EmulatedArmError) -> String {
        let k = try handJoint(joint)
        handHeld[jointIndex[k]] = nil
        return profile.servos[k].joint
    }

    func handJoint(_ name: String) throws(EmulatedArmError) -> Int {
        if let k = profile.servos.firstIndex(where: { $0.joint == name }) { return k }
        if let k = Int(name), profile.servos.indices.contains(k) { return k }
        throw EmulatedArmError("no joint \(name); joints: \(profile.servos.map(\.joint).joined(separator: ", ")) (or 0…\(profile.servos.count - 1))")
    }

    // MARK: faults

    /// Latches the overload/overheat faults whose request count has come.
    mutating func tripFaults() {
        while let next = pendingTrips.first, next.afterRequests <= requests {
            pendingTrips.removeFirst()
            if dynamixel != nil {
                dynamixel!.bank.injectHardwareError(next.id, next.overheat ? .overheating : .overload)
            } else if feetech != nil {
                let now = feetech!.bank.faults(id: next.id) ?? []
                feetech!.bank.setFaults(now.union(next.overheat ? .overheat : .overload), id: next.id)
            }
        }
        applyCommands()
    }
}

/// Appends framed requests to a file as lines of hex, flushed per chunk so a reader sees them
/// as soon as they are answered.
final class RequestRecorder {
    let file: UnsafeMutablePointer<FILE>

    init?(path: String) {
        guard let f = fopen(path, "a") else { return nil }
        file = f
    }

    func write(_ packets: [[UInt8]]) {
        let digits = Array("0123456789abcdef".utf8)
        for p in packets {
            var line: [UInt8] = []
            line.reserveCapacity(2 * p.count + 1)
            for b in p { line.append(digits[Int(b >> 4)]); line.append(digits[Int(b & 15)]) }
            line.append(0x0A)
            _ = line.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        }
        fflush(file)
    }

    deinit { fclose(file) }
}

extension EmulatedArm {
    /// Assembles an arm on an emulated bus and starts serving it on a pseudo-terminal: what
    /// `robotd emulate` runs until it is told to stop (`EmulatorHost.stop()` removes the link).
    /// - Throws: `EmulatedArmError` for a model that does not fit the profile or a pty/link
    ///   that cannot be created.
    public static func serve(
        profile: EmulatedArmProfile, model: RobotModel, options: EmulatedArmOptions = EmulatedArmOptions(),
        host configuration: EmulatorHostConfiguration
    ) throws(EmulatedArmError) -> EmulatorHost<EmulatedArm> {
        let arm = try EmulatedArm(profile: profile, model: model, options: options)
        do throws(SerialTransportError) {
            return try EmulatorHost(responder: arm, configuration: configuration)
        } catch {
            throw EmulatedArmError("cannot open the emulated bus: \(error)")
        }
    }

    /// One line for people: `so101: 6 × STS3215 (ids 1–6), feetech protocol`.
    public static func summary(_ profile: EmulatedArmProfile) -> String {
        var groups: [(String, [UInt8])] = []
        for s in profile.servos {
            let name: String
            switch s.kind {
            case .sts3215: name = "STS3215"
            case let .dynamixel(m): name = m.description
            }
            if let last = groups.last, last.0 == name { groups[groups.count - 1].1.append(s.id) } else { groups.append((name, [s.id])) }
        }
        let parts = groups.map { g in
            let ids = g.1.count > 1 ? "ids \(g.1.first!)–\(g.1.last!)" : "id \(g.1[0])"
            return "\(g.1.count) × \(g.0) (\(ids))"
        }
        return "\(profile.name): \(parts.joined(separator: ", ")), \(profile.busProtocol.rawValue) protocol"
    }
}
