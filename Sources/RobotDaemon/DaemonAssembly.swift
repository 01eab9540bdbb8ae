import Control
import ControlPorts
import ControlProtocol
import ControlRuntime
import Foundation
import Logging
import LinearAlgebra
import Planning
import Platform
import RigidBody
import RobotInterface
import RobotdConfig
import SimulationDriver

/// Builds the daemon's parts from a validated configuration: the robot model, the driver, the
/// controllers, the limiter and the control loop. Everything that can be wrong with the
/// combination of a config and a robot (a per-joint list of the wrong length, an unknown joint
/// or frame) is reported here, before anything moves.
public enum DaemonAssembly {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    public static func loadModel(_ config: DaemonConfiguration) throws -> RobotModel {
        let path = config.robot.urdf
        let text: String
        do throws(BoundedFile.Failure) {
            text = try BoundedFile.readText(path, limit: URDFParser.maxBytes)
        } catch {
            throw Failure("robot.urdf: \(path): \(error)")
        }
        let model: RobotModel
        do {
            model = try RobotModel(urdfText: text, file: path)
        } catch {
            throw Failure("robot.urdf: \(error)")
        }
        // The loop records fixed-size transitions and preconditions on this; say it here instead.
        guard model.dof <= transitionMaxJoints else {
            throw Failure("robot.urdf: \(path): \(model.dof) moving joints; robotd controls at most \(transitionMaxJoints)")
        }
        return model
    }

    static func perJoint(_ values: JointValues, _ key: String, _ model: RobotModel) throws -> [Double] {
        guard let v = values.values(count: model.dof) else {
            throw Failure("\(key): expected one value or \(model.dof) values (joints \(model.joints.map(\.name).joined(separator: ", ")))")
        }
        return v
    }

    /// The limiter's bounds: the URDF's, scaled, with per-joint overrides.
    public static func limits(_ config: DaemonConfiguration, model: RobotModel) throws -> JointLimits {
        var limits = JointLimits(model: model, velocityScale: config.limits.velocityScale,
                                 effortScale: config.limits.effortScale, slewRate: config.limits.slewRate)
        for (name, o) in config.limits.joints.sorted(by: { $0.key < $1.key }) {
            guard let i = model.jointIndex(named: name) else {
                throw Failure("limits.joints.\(name): the robot has no joint \"\(name)\" (joints: \(model.joints.map(\.name).joined(separator: ", ")))")
            }
            if let x = o.lower { limits.lower[i] = max(x, model.joints[i].lowerLimit) }
            if let x = o.upper { limits.upper[i] = min(x, model.joints[i].upperLimit) }
            if let x = o.velocity { limits.velocity[i] = min(x, model.joints[i].velocityLimit) }
            if let x = o.effort { limits.effort[i] = min(x, model.joints[i].effortLimit) }
        }
        return limits
    }

    public static func simulatedArm(_ config: DaemonConfiguration, model: RobotModel) throws -> SimulatedArm {
        guard case .simulation(let sim) = config.driver else {
            throw Failure("driver.kind: \(config.driver.kind.rawValue) is not available yet; use simulation")
        }
        var c = SimulatedArm.Configuration()
        c.period = config.loop.period
        c.substeps = sim.substeps
        c.method = sim.integrator == .rk4 ? .rk4 : .semiImplicitEuler
        c.seed = sim.seed
        c.positionNoise = sim.positionNoise
        c.velocityNoise = sim.velocityNoise
        c.payloadMass = sim.payloadMass
        c.payloadFrame = sim.payloadFrame
        c.payloadOffset = Vector3(sim.payloadOffset[0], sim.payloadOffset[1], sim.payloadOffset[2])
        c.extraFriction = try perJoint(sim.extraFriction, "driver.simulation.extra_friction", model)
        c.extraDamping = try perJoint(sim.extraDamping, "driver.simulation.extra_damping", model)
        if let q0 = sim.initialPosition {
            guard q0.count == model.dof else {
                throw Failure("driver.simulation.initial_position: \(q0.count) values for \(model.dof) joints")
            }
            c.initialPosition = q0
        }
        // The servo's position loop and torque limit; absent keys keep SimulatedArm's derived
        // defaults (K_d from the K_p actually used).
        if let kp = sim.servo.kp { c.positionGain = try perJoint(kp, "driver.simulation.servo.kp", model) }
        if let kd = sim.servo.kd { c.dampingGain = try perJoint(kd, "driver.simulation.servo.kd", model) }
        if let limit = sim.servo.torqueLimit { c.torqueLimit = try perJoint(limit, "driver.simulation.servo.torque_limit", model) }
        if let frame = sim.payloadFrame, model.frameIndex(named: frame) == nil {
            throw Failure("driver.simulation.payload_frame: no link named \"\(frame)\"")
        }
        do {
            return try SimulatedArm(model: model, configuration: c)
        } catch {
            throw Failure("driver.simulation: \(error)")
        }
    }

    /// Checks a driver's description against the robot model before anything moves: the loop
    /// indexes the driver's joints and the model's alike, so they must be the same joints in the
    /// same order, and the driver must accept the loop's command mode.
    /// - Throws: `Failure` naming the driver, the robot file and the first difference.
    public static func checkDriver(_ description: DriverDescription, model: RobotModel, urdf: String,
                                   commandMode: CommandMode) throws(Failure) {
        let expected = model.joints.map(\.name)
        let actual = description.jointNames
        let names = { (list: [String]) in list.joined(separator: ", ") }
        guard actual.count == expected.count else {
            throw Failure("driver \"\(description.name)\": \(actual.count) joints (\(names(actual))); the robot model \(urdf) has \(expected.count) moving joints (\(names(expected)))")
        }
        if let i = expected.indices.first(where: { expected[$0] != actual[$0] }) {
            throw Failure("driver \"\(description.name)\": joint \(i) is \"\(actual[i])\", the robot model \(urdf) has \"\(expected[i])\" there (driver: \(names(actual)); model: \(names(expected)))")
        }
        guard description.supportedModes.contains(commandMode) else {
            throw Failure("driver \"\(description.name)\": does not accept \(commandMode) commands (it accepts \(description.supportedModes.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    /// The control loop over the simulated arm (with a plan slot for the MPC planner when
    /// `mpc.enabled`), commanding torques or servo goal positions as
    /// `driver.simulation.command_mode` says; policies act in the same mode.
    public static func simulationLoop(_ config: DaemonConfiguration, model: RobotModel) throws -> ControlLoop<SimulatedArm> {
        let arm = try simulatedArm(config, model: model)
        var commandMode = CommandMode.torque
        if case .simulation(let sim) = config.driver, sim.commandMode == .position { commandMode = .position }
        return try loop(config, model: model, driver: arm, commandMode: commandMode)
    }

    /// The control loop over any driver: the controllers, the limiter, the plan and policy slots,
    /// with the driver checked against the robot first. `commandMode` is what the driver is
    /// activated in and the policies' action kind.
    public static func loop<Driver: RobotDriver>(_ config: DaemonConfiguration, model: RobotModel, driver: consuming Driver,
                                                 commandMode: CommandMode, faultsDisableActuators: Bool = false,
                                                 limits given: JointLimits? = nil) throws -> ControlLoop<Driver> {
        try checkDriver(driver.description, model: model, urdf: config.robot.urdf, commandMode: commandMode)
        let hold = JointPDController(
            model: model, kp: try perJoint(config.control.hold.kp, "control.hold.kp", model),
            kd: try perJoint(config.control.hold.kd, "control.hold.kd", model),
            gravityCompensation: config.control.gravityCompensation
        )
        let move = JointPDController(
            model: model, kp: try perJoint(config.control.move.kp, "control.move.kp", model),
            kd: try perJoint(config.control.move.kd, "control.move.kd", model),
            gravityCompensation: config.control.gravityCompensation
        )
        var loopConfig = ControlLoop<Driver>.Configuration()
        loopConfig.period = config.loop.period
        loopConfig.commandMode = commandMode
        loopConfig.faultsDisableActuators = faultsDisableActuators
        loopConfig.overrunFaultThreshold = config.loop.overrunFaultThreshold
        loopConfig.maxStall = config.loop.maxStall
        loopConfig.maxStateAge = config.loop.maxStateAge
        loopConfig.staleStateFaultTicks = config.loop.staleStateFaultTicks
        loopConfig.velocityFaultMargin = config.limits.velocityFaultMargin
        loopConfig.moveMaxVelocity = Array(repeating: config.control.maxMoveVelocity, count: model.dof)
        loopConfig.endEffectorFrame = model.frames.count - 1
        loopConfig.flightRecorderTicks = max(1, Int(config.loop.flightRecorderSeconds * Double(config.loop.rateHz)))
        loopConfig.initialMode = .hold
        if let name = config.mpc.frame {
            guard let f = model.frameIndex(named: name) else { throw Failure("mpc.frame: the robot has no link \"\(name)\"") }
            loopConfig.endEffectorFrame = f
        }
        let plans = config.mpc.enabled ? MPCPlanner.makePlanSlot(dof: model.dof, configuration: config.mpc) : nil
        let limits = try given ?? limits(config, model: model)
        return ControlLoop(model: model, driver: driver, holdController: hold, moveController: move,
                           limits: limits, configuration: loopConfig,
                           transitionRingCapacity: config.learning.enabled && plans != nil ? 16_384 : nil,
                           recordingRingCapacity: recordingRingCapacity, plans: plans,
                           policies: PolicySlot(dof: model.dof, actionKind: commandMode),
                           teleop: try teleopSlot(config, model: model, controller: move, limits: limits, commandMode: commandMode))
    }

    /// Mode `teleop`'s slot with the configured source installed (`teleop.source`): streamed
    /// targets, tracked with the move gains, aged on the monotonic clock; or a leader arm on its
    /// own bus (connected here: its start-up errors are `DriverUnavailable` naming `teleop.leader`).
    static func teleopSlot(_ config: DaemonConfiguration, model: RobotModel, controller: JointPDController, limits: JointLimits,
                           commandMode: CommandMode) throws -> PolicySlot {
        let slot = PolicySlot(dof: limits.dof, actionKind: commandMode)
        if config.teleop.source == .leader {
            guard commandMode == .position else {
                throw Failure("teleop.source leader: the follower must take position goals (a servo arm, or driver.simulation.command_mode: position); this one takes \(commandMode)")
            }
            slot.install(try leaderSource(config, model: model, limits: limits))
            return slot
        }
        var c = StreamedTeleop.Configuration()
        c.timeout = config.teleop.timeout
        c.maxVelocity = config.teleop.maxVelocity
        c.maxAcceleration = config.teleop.maxAcceleration
        c.period = config.loop.period
        slot.install(StreamedTeleop(controller: controller, limits: limits, actionKind: commandMode, configuration: c,
                                    clock: { MonotonicClock.now() }))
        return slot
    }

    /// What `robotd run` builds before anything starts: the loop over the configured driver, the
    /// limiter's bounds, the MPC planner (when `mpc.enabled`) and the learner thread (when
    /// `learning.enabled` and there is a planner), and the servo bus's status for servo drivers.
    /// Nothing is started.
    public struct Parts<Driver: RobotDriver> {
        public let loop: ControlLoop<Driver>
        public let limits: JointLimits
        public let planner: MPCPlanner?
        public let learner: LearnerService?
        /// The servo bus's health for `status` and `timing`; nil for the simulated arm.
        public let bus: (@Sendable () -> BusStatus)?
        /// `calibration.*` over the servo driver; nil for the simulated arm.
        public var calibration: CalibrationControl? = nil
        public var model: RobotModel { loop.model }
    }

    /// What runs the assembled parts, whatever the driver: the daemon, a benchmark. Generic over
    /// the driver so the control loop calls it without an existential.
    public protocol PartsConsumer {
        associatedtype Output
        func consume<Driver: RobotDriver>(_ parts: Parts<Driver>) throws -> Output
    }

    /// The configured driver is not there (a missing, busy or forbidden port; a servo that does
    /// not answer): not a configuration error, so a service manager may retry later.
    public struct DriverUnavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// Builds the daemon's parts from `config` (see `Parts`) and hands them to `consumer`; errors
    /// name the key at fault (`Failure`) or the hardware that is missing (`DriverUnavailable`).
    public static func assemble<Consumer: PartsConsumer>(_ config: DaemonConfiguration, logger: Logger,
                                                         into consumer: Consumer) throws -> Consumer.Output {
        let model = try loadModel(config)
        switch config.driver {
        case .simulation:
            return try consumer.consume(parts(config, loop: try simulationLoop(config, model: model), bus: nil, logger: logger))
        case let .feetech(bus), let .dynamixel(bus):
            return try consumer.consume(servoParts(config, bus: bus, model: model, logger: logger))
        }
    }

    /// The simulated arm's parts (benchmarks and tests that need no servo bus).
    public static func parts(_ config: DaemonConfiguration, logger: Logger) throws -> Parts<SimulatedArm> {
        let model = try loadModel(config)
        return try parts(config, loop: try simulationLoop(config, model: model), bus: nil, logger: logger)
    }

    static func parts<Driver>(_ config: DaemonConfiguration, loop: ControlLoop<Driver>, limits given: JointLimits? = nil,
                              bus: (@Sendable () -> BusStatus)?, logger: Logger) throws -> Parts<Driver> {
        let limits = try given ?? limits(config, model: loop.model)
        let planner = try planner(config, loop: loop, limits: limits)
        return Parts(loop: loop, limits: limits, planner: planner, learner: learner(config, loop: loop, planner: planner, logger: logger),
                     bus: bus)
    }

    /// The runner for a loop at `loop.rate_hz` with the configured catch-up policy.
    public static func runner<Driver>(_ config: DaemonConfiguration, loop: ControlLoop<Driver>, rampTicks: Int) -> ControlLoopRunner<Driver> {
        ControlLoopRunner(loop: loop, periodNanoseconds: UInt64((1e9 / Double(config.loop.rateHz)).rounded()),
                          catchUp: config.loop.catchUp == .burst ? .burst : .skip, rampTicks: rampTicks,
                          earlyWakeNanoseconds: UInt64((config.loop.earlyWake * 1e9).rounded()))
    }

    /// The control thread's scheduling requests (`loop.rt_priority`, `cpu_affinity`, `lock_memory`)
    /// for robotd's own process: a pinned loop has its CPU to itself (`RealtimeThread.Options.
    /// reserveCPU`), the server, planner, learner and file threads run on the others.
    public static func threadOptions(_ config: DaemonConfiguration) -> RealtimeThread.Options {
        var o = RealtimeThread.Options()
        o.priority = Int32(config.loop.rtPriority)
        o.cpu = config.loop.cpuAffinity
        o.reserveCPU = true
        o.lockMemory = config.loop.lockMemory
        return o
    }

    /// The learner thread over a loop and planner (nil when `learning.enabled` is false).
    public static func learner<Driver>(_ config: DaemonConfiguration, loop: ControlLoop<Driver>, planner: MPCPlanner?,
                                       logger: Logger) -> LearnerService? {
        guard config.learning.enabled, let planner, let ring = loop.transitions else { return nil }
        planner.uncertainty = MPCPlanner.UncertaintyPolicy(hardLimit: config.learning.maxDisagreement,
                                                           softThreshold: config.learning.softDisagreement,
                                                           softFraction: config.learning.softDisagreementFraction,
                                                           weight: config.learning.disagreementWeight,
                                                           derivatives: .init(rawValue: config.learning.derivatives.rawValue) ?? .none)
        var o = ResidualLearner.Options()
        o.dt = config.mpc.dt
        o.loopPeriod = config.loop.period
        o.replayCapacity = config.learning.replayCapacity
        o.validationFraction = config.learning.validationFraction
        o.members = config.learning.members
        o.hidden = config.learning.hidden
        o.epochs = config.learning.epochs
        o.warmStartEpochs = config.learning.warmStartEpochs
        o.trainer.inputNoise = Float(config.learning.inputNoise)
        o.controlInput = config.learning.controlInput
        o.disagreementQuantile = config.learning.disagreementQuantile
        o.disagreementFactor = config.learning.disagreementFactor
        o.residualBoundFactor = config.learning.residualBoundFactor
        let service = LearnerService(learner: ResidualLearner(model: loop.model, options: o), ring: ring, planner: planner,
                                     configuration: config.learning, loopCPU: config.loop.cpuAffinity, logger: logger)
        service.daemonConfiguration = config
        return service
    }

    /// The MPC planner over a loop built by `simulationLoop` (nil when `mpc.enabled` is false).
    public static func planner<Driver>(_ config: DaemonConfiguration, loop: ControlLoop<Driver>, limits: JointLimits) throws -> MPCPlanner? {
        guard config.mpc.enabled, let plans = loop.plans else { return nil }
        do {
            return try MPCPlanner(model: loop.model, configuration: config.mpc, effortLimits: limits.effort, plans: plans,
                                  telemetry: { loop.telemetry.read() })
        } catch {
            throw Failure("\(error)")
        }
    }
}
