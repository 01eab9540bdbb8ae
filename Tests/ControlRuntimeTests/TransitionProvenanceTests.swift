import Control
import ControlRuntime
import Learning
import RigidBody
import RobotInterface
import SimulationDriver
import Testing

/// A policy that is not a network: constant actions (or NaN), operated by a person or not. The
/// shape of the teleop policies to come.
final class ConstantPolicy: Policy, @unchecked Sendable {
    let name: String
    let dof = 6
    let actionKind: CommandMode = .torque
    let needs: PolicyObservation.Needs = []
    let isOperatedByPerson: Bool
    var value: Double
    /// The loop time of the newest observation.
    private(set) var lastObservationTime = -1.0

    init(name: String, value: Double, operatedByPerson: Bool = false) {
        self.name = name
        self.value = value
        isOperatedByPerson = operatedByPerson
    }

    func action(into action: UnsafeMutableBufferPointer<Double>, observation: borrowing PolicyObservation) -> Bool {
        lastObservationTime = observation.time
        for i in 0 ..< dof { action[i] = value }
        return true
    }
}

/// The tick writes each `Transition`'s provenance: the command mode as a typed value, the plan's
/// model version in `mpc`, the policy's version in `policy`, and the intervention flag when a
/// person produced the command.
@Suite struct TransitionProvenanceTests {
    static func loop(initialMode: Mode = .hold, plans: PlanSlot? = nil, policies: PolicySlot? = nil) throws -> ControlLoop<SimulatedArm> {
        let model = try ControlLoopTests.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        var config = ControlLoop<SimulatedArm>.Configuration()
        config.initialMode = initialMode
        config.overrunFaultThreshold = 100_000
        let loop = ControlLoop(model: model, driver: try SimulatedArm(model: model, configuration: sim),
                               holdController: JointPDController(model: model), limits: JointLimits(model: model, slewRate: 1e9),
                               configuration: config, transitionRingCapacity: 4096, plans: plans, policies: policies)
        try loop.start()
        return loop
    }

    static func drain(_ loop: ControlLoop<SimulatedArm>) -> [Transition] {
        var all: [Transition] = []
        while let t = loop.transitions?.pop() { all.append(t) }
        return all
    }

    @Test func commandModeIsTypedAndAbsentWhileTheActuatorsAreOff() throws {
        let idle = try Self.loop(initialMode: .idle)
        for k in 1 ... 5 { idle.tick(time: Double(k) * 0.001, overran: false) }
        #expect(Self.drain(idle).allSatisfy { $0.commandMode == nil && $0.modelVersion == 0 && $0.policyVersion == 0 })
        let hold = try Self.loop()
        for k in 1 ... 5 { hold.tick(time: Double(k) * 0.001, overran: false) }
        let ticks = Self.drain(hold)
        #expect(ticks.count == 5)
        #expect(ticks.allSatisfy { $0.commandMode == .torque && $0.modelVersion == 0 && $0.policyVersion == 0 })
        #expect(ticks.allSatisfy { $0.flags & Transition.Flags.intervention == 0 })
    }

    /// Each install is a new version; the tick records the one whose action it sent, and flags
    /// ticks commanded by a person's policy as interventions.
    @Test func policyTicksCarryThePolicyVersionAndInterventions() throws {
        let slot = PolicySlot(dof: 6)
        let loop = try Self.loop(policies: slot)
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        let first = ConstantPolicy(name: "first", value: 0.5)
        #expect(slot.install(first) == 1)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        tick(3)
        #expect(loop.mode == .policy)
        #expect(first.lastObservationTime == Double(k) * 0.001, "the observation carries the tick's loop time")
        var ticks = Self.drain(loop)
        #expect(ticks.last.map { $0.policyVersion == 1 && $0.modelVersion == 0 && $0.command[0] == 0.5 } == true)
        #expect(ticks.last.map { $0.flags & Transition.Flags.intervention == 0 } == true)

        let person = ConstantPolicy(name: "teleop", value: -0.25, operatedByPerson: true)
        #expect(slot.install(person) == 2)
        tick(2)
        ticks = Self.drain(loop)
        #expect(ticks.last.map { $0.policyVersion == 2 && $0.command[0] == -0.25 } == true)
        #expect(ticks.last.map { $0.flags & Transition.Flags.intervention != 0 } == true)
        #expect(slot.installedName == "teleop" && slot.installedVersion == 2)

        _ = loop.commands.send(LoopCommand(id: 2, kind: .setMode, mode: .hold))
        tick(2)
        ticks = Self.drain(loop)
        #expect(ticks.last.map { $0.mode == .hold && $0.policyVersion == 0 && $0.flags & Transition.Flags.intervention == 0 } == true)
        slot.collect()
    }

    /// A plan published with model version 7 (then 8) is followed, and its version recorded; the
    /// fall back to hold when the plans end records none.
    @Test func mpcTicksCarryThePlansModelVersion() throws {
        let plans = PlanSlot(dof: 6, capacity: 50, validity: 0.05)
        let loop = try Self.loop(plans: plans)
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        tick(2)
        func publish(version: UInt32) {
            plans.publish(t0: Double(k) * 0.001, dt: 0.01, count: 50, modelVersion: version) { xRef, uff, gains in
                for n in 0 ..< 51 * 12 { xRef[n] = 0 }
                for n in 0 ..< 50 * 6 { uff[n] = 0.1 }
                for n in 0 ..< 50 * 72 { gains[n] = 0 }
            }
        }
        publish(version: 7)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .mpc))
        tick(3)
        var ticks = Self.drain(loop)
        #expect(loop.mode == .mpc)
        #expect(ticks.last.map { $0.modelVersion == 7 && $0.policyVersion == 0 && $0.command[0] == 0.1 } == true)
        publish(version: 8)
        tick(1)
        ticks = Self.drain(loop)
        #expect(ticks.last.map { $0.modelVersion } == 8)
        tick(60)
        ticks = Self.drain(loop)
        #expect(loop.mode == .hold)
        #expect(ticks.last.map { $0.modelVersion } == 0)
    }

    /// A policy's NaN action faults the loop; the tick then holds the measured pose with a finite
    /// command that went through the limiter once (its slew from the measured effort is at most
    /// one tick's), and the flight recorder is dumped.
    @Test func aNonFiniteActionFaultsAndTheHoldCommandIsLimitedOnce() throws {
        let slot = PolicySlot(dof: 6)
        let model = try ControlLoopTests.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        var config = ControlLoop<SimulatedArm>.Configuration()
        config.overrunFaultThreshold = 100_000
        let limits = JointLimits(model: model, slewRate: 100)
        let loop = ControlLoop(model: model, driver: try SimulatedArm(model: model, configuration: sim),
                               holdController: JointPDController(model: model), limits: limits,
                               configuration: config, transitionRingCapacity: 4096, policies: slot)
        try loop.start()
        let policy = ConstantPolicy(name: "nan", value: 0)
        slot.install(policy)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        for k in 1 ... 200 { loop.tick(time: Double(k) * 0.001, overran: false) }
        _ = Self.drain(loop)
        policy.value = .nan
        loop.tick(time: 0.201, overran: false)
        let s = loop.telemetry.read()
        #expect(s.mode == .faulted && s.fault == .nonFiniteCommand)
        #expect(loop.flightRecorder.isFrozen)
        let step = limits.slewRate * 0.001
        for i in 0 ..< 6 {
            #expect(s.command[i].isFinite)
            // The fault restarts the limiter from the measured effort (the previous tick's
            // applied effort); one limiter pass moves at most one slew step from there.
            #expect(abs(s.command[i] - s.effort[i]) <= step + 1e-12, "joint \(i): \(s.command[i]) from \(s.effort[i])")
        }
        let t = try #require(Self.drain(loop).last)
        #expect(t.mode == .faulted && t.commandMode == .torque && t.policyVersion == 0)
        slot.collect()
    }
}
