import AllocationCounter
import BuildInfo
import Control
import ControlRuntime
import Learning
import RigidBody
import RobotInterface
import SimulationDriver
import Testing

@Suite struct PolicyModeTests {
    /// sim6's loop with a policy slot, a limiter that does not bind (slew 1e9) and the
    /// end-effector frame tool0, started in hold.
    static func policyLoop(commandMode: CommandMode = .torque) throws -> (ControlLoop<SimulatedArm>, PolicySlot) {
        let model = try Fixtures.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        let slot = PolicySlot(dof: 6, actionKind: commandMode)
        var config = ControlLoop<SimulatedArm>.Configuration()
        config.overrunFaultThreshold = 100_000
        config.endEffectorFrame = model.frames.count - 1
        config.commandMode = commandMode
        let loop = ControlLoop(model: model, driver: try SimulatedArm(model: model, configuration: sim),
                               holdController: JointPDController(model: model),
                               limits: JointLimits(model: model, slewRate: 1e9), configuration: config, policies: slot)
        try loop.start()
        return (loop, slot)
    }

    /// A linear "network" τ = W [q; v] + b: the loop's command in `policy` is exactly that
    /// (through a limiter that does not bind), a newly installed policy takes over between ticks,
    /// and ticking — swaps included — allocates nothing.
    @Test func runsThePolicyAndSwapsBetweenTicks() throws {
        let (loop, slot) = try Self.policyLoop()
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        tick(5)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        tick(1)
        #expect(loop.results.pop() == LoopCommandResult(id: 1, accepted: false, mode: .hold, reason: .noPolicy))

        func linear(_ scale: Float, bias: Float) -> MLP {
            var w = [Float](repeating: 0, count: 6 * 12)
            for i in 0 ..< 6 { w[i * 12 + i] = scale; w[i * 12 + 6 + i] = -0.5 }
            return MLP(widths: [12, 6], activation: .identity, weights: [w], biases: [[Float](repeating: bias, count: 6)])!
        }
        slot.install(MLPPolicy(mlp: linear(2, bias: 1), name: "a", actionKind: .torque))
        _ = loop.commands.send(LoopCommand(id: 2, kind: .setMode, mode: .policy))
        tick(1)
        #expect(loop.results.pop() == LoopCommandResult(id: 2, accepted: true, mode: .policy))
        func check(scale: Double, bias: Double) {
            let s = loop.telemetry.read()
            for i in 0 ..< 6 {
                let expected = Double(Float(scale) * Float(s.position[i]) - 0.5 * Float(s.velocity[i]) + Float(bias))
                #expect(abs(s.command[i] - expected) < 1e-4, "joint \(i): \(s.command[i]) vs \(expected)")
            }
        }
        tick(1)
        check(scale: 2, bias: 1)
        let second = MLPPolicy(mlp: linear(-1, bias: 0.5), name: "b", actionKind: .torque)
        slot.install(second)
        AllocationCounter_start()
        tick(1)   // adopts the new policy
        var allocations = AllocationCounter_stop()
        check(scale: -1, bias: 0.5)
        AllocationCounter_start()
        tick(50)
        allocations += AllocationCounter_stop()
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations") }
        #expect(slot.installedName == "b")
        slot.collect()
    }

    /// A target-conditioned policy, observation (target_q, q, target_position, ee_position):
    /// a linear τ_i = 10 (q*_i − q_i) + (p*_i − p_i) (the second term on the first three joints)
    /// commands exactly that; before any target the targets read as the measured q and
    /// end-effector position (τ = 0); the targets come in between ticks without allocating.
    /// With a position-servo or velocity driver the action is a position goal or a velocity per
    /// joint: the command carries the policy's output in the driver's mode (a position goal with
    /// the model's gravity torque as feedforward, as hold's; a velocity without).
    @Test(arguments: [CommandMode.position, .velocity])
    func actionsAreInTheDriversCommandMode(_ mode: CommandMode) throws {
        let (loop, slot) = try Self.policyLoop(commandMode: mode)
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        tick(5)
        // Position goals a little off the start pose, or small joint velocities: a constant
        // output (bias only) per joint.
        let start = loop.telemetry.read()
        let action = (0 ..< 6).map { i in mode == .position ? start.position[i] + 0.01 * Double(i + 1) : 0.02 * Double(i + 1) }
        slot.install(MLPPolicy(mlp: MLP(widths: [12, 6], activation: .identity, weights: [[Float](repeating: 0, count: 72)],
                                        biases: [action.map { Float($0) }])!, name: "\(mode)", actionKind: mode))
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        // Entry goes through the limiter, which moves a position goal at most the joint's
        // velocity limit × dt per tick: after 0.1 s every goal is reached.
        tick(1)
        let first = loop.telemetry.read()
        if mode == .position {
            #expect((0 ..< 6).contains { abs(first.command[$0] - action[$0]) > 1e-3 }, "the first tick's goals are rate-limited")
        }
        tick(10)
        // Policy ticks allocate nothing, the position goals' gravity feedforward included.
        AllocationCounter_start()
        tick(90)
        let allocations = AllocationCounter_stop()
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations in 90 \(mode) policy ticks") }
        let s = loop.telemetry.read()
        #expect(s.mode == .policy)
        for i in 0 ..< 6 {
            #expect(abs(s.command[i] - Double(Float(action[i]))) < 1e-6, "\(mode) joint \(i): \(s.command[i]) vs \(action[i])")
        }
        slot.collect()
    }

    /// A source that stops acting (a teleop stream gone stale, a policy without an action) leaves
    /// the arm where it is: the hold takes the pose measured when it stopped, not the pose the
    /// mode was entered at (which would slew the arm back across everything it just did).
    @Test func aSourceThatStopsActingHoldsWhereTheArmIs() throws {
        let (loop, slot) = try Self.policyLoop(commandMode: .position)
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        tick(5)
        let entry = loop.telemetry.read().position[0]
        let source = StoppablePolicy(goal: (0 ..< 6).map { i in loop.telemetry.read().position[i] + (i == 0 ? 0.4 : 0) })
        slot.install(source)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        tick(400)
        let moved = loop.telemetry.read()
        #expect(moved.mode == .policy && moved.position[0] - entry > 0.2, "the policy moved joint 0 from \(entry) to \(moved.position[0])")
        source.acting = false
        tick(1)
        let stopped = loop.telemetry.read().position[0]
        tick(500)
        let held = loop.telemetry.read()
        #expect(held.mode == .policy, "a source without an action holds in its mode")
        #expect(abs(held.command[0] - stopped) < 0.02 && abs(held.position[0] - stopped) < 0.02,
                "held at \(held.position[0]) (goal \(held.command[0])); the arm was at \(stopped) when the source stopped, entered at \(entry)")
        slot.collect()
    }

    @Test func feedsTargetsToTargetConditionedPolicies() throws {
        let (loop, slot) = try Self.policyLoop()
        var k = 0
        func tick(_ n: Int) { for _ in 0 ..< n { k += 1; loop.tick(time: Double(k) * 0.001, overran: false) } }
        let features = try PolicyFeature.parse("target_q, q,target_position,ee_position")
        #expect(features == [.targetQ, .q, .targetPosition, .eePosition])
        #expect(MLPPolicy.observationSize(features, dof: 6) == 18)
        var w = [Float](repeating: 0, count: 6 * 18)
        for i in 0 ..< 6 { w[i * 18 + i] = 10; w[i * 18 + 6 + i] = -10 }
        for i in 0 ..< 3 { w[i * 18 + 12 + i] = 1; w[i * 18 + 15 + i] = -1 }
        let mlp = try #require(MLP(widths: [18, 6], activation: .identity, weights: [w], biases: [[Float](repeating: 0, count: 6)]))
        slot.install(MLPPolicy(mlp: mlp, name: "reach", features: features, actionKind: .torque))
        tick(2)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .policy))
        tick(1)
        #expect(loop.results.pop()?.accepted == true)
        tick(1)
        var s = loop.telemetry.read()
        for i in 0 ..< 6 { #expect(abs(s.command[i]) < 1e-4, "no target: joint \(i) commands \(s.command[i])") }

        let qStar = [0.05, -1.15, 1.05, -0.45, 0.45, 0.15], pStar = [0.3, 0.2, 0.5]
        slot.setTarget(joints: qStar, position: pStar)
        AllocationCounter_start()
        tick(1)
        let allocations = AllocationCounter_stop()
        s = loop.telemetry.read()
        for i in 0 ..< 6 {
            var expected = 10 * (qStar[i] - s.position[i])
            if i < 3 { expected += pStar[i] - s.endEffectorPosition[i] }
            #expect(abs(s.command[i] - expected) < 1e-4, "joint \(i): \(s.command[i]) vs \(expected)")
        }
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations") }
        #expect(slot.currentTarget.hasJoints && slot.currentTarget.hasPosition)
        #expect(throws: PolicyFeatureError.self) { try PolicyFeature.parse("q,v,velocity") }
        #expect(throws: PolicyFeatureError.self) { try PolicyFeature.parse("q,q") }
    }
}

/// A constant position goal until `acting` is cleared (then no action).
final class StoppablePolicy: Policy, @unchecked Sendable {
    let goal: [Double]
    var acting = true
    init(goal: [Double]) { self.goal = goal }
    var name: String { "stoppable" }
    var dof: Int { goal.count }
    var actionKind: CommandMode { .position }
    var needs: PolicyObservation.Needs { [] }
    func action(into action: UnsafeMutableBufferPointer<Double>, observation: borrowing PolicyObservation) -> Bool {
        guard acting else { return false }
        for i in 0 ..< goal.count { action[i] = goal[i] }
        return true
    }
}
