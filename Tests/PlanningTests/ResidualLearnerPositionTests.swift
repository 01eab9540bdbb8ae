import Control
import ControlRuntime
import Learning
import LinearAlgebra
import Planning
import RigidBody
import RobotInterface
import SimulationDriver
import Testing

/// Learning on position servos (`driver.simulation.command_mode: position`): the torque of a
/// sample is the effort the servos measured, so the same residual learner finds the same
/// unmodelled payload from goal-driven motion as from torque-driven motion.
@Suite struct ResidualLearnerPositionTests {
    @Test func learnsAnUnmodelledPayloadFromPositionServoTransitions() throws {
        let model = try Fixtures.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        sim.payloadMass = 1.0
        var arm = try SimulatedArm(model: model, configuration: sim)
        try arm.configure()
        try arm.activate(mode: .position)
        var pd = JointPDController(model: model)
        var state = JointState(dof: 6)
        var command = JointCommand(mode: .position, dof: 6)
        var options = ResidualLearner.Options()
        options.members = 3
        options.hidden = [64, 64]
        options.epochs = 40
        options.trainer.batchSize = 128
        options.trainer.learningRate = 2e-3
        options.controlInput = true
        let learner = ResidualLearner(model: model, options: options)
        var rng = SplitMix64(seed: 5)
        var goal = sim.initialPosition
        let zero = [Double](repeating: 0, count: 6)
        for tick in 0 ..< 30_000 {
            if tick % 700 == 0 {
                goal = (0 ..< 6).map { sim.initialPosition[$0] + 0.6 * (rng.nextUnit() - 0.5) }
            }
            try arm.read(into: &state)
            pd.compute(&command, desiredPosition: goal, desiredVelocity: zero, state: state)
            try arm.write(command)
            var t = Transition()
            t.tick = UInt64(tick)
            t.time = Double(tick) * 0.001
            t.dof = 6
            t.mode = .hold
            t.commandMode = .position
            for i in 0 ..< 6 {
                t.position[i] = state.position[i]
                t.velocity[i] = state.velocity[i]
                t.effort[i] = state.effort[i]
                t.command[i] = command.values[i]
            }
            learner.ingest(t)
        }
        #expect(learner.sampleCount >= 2900, "\(learner.sampleCount) samples")
        let nominalError = learner.currentValidationError()
        let candidate = try #require(learner.trainCandidate(seed: 2))
        #expect(candidate.validationError < 0.5 * nominalError, "learned \(candidate.validationError) vs nominal \(nominalError)")
        #expect(learner.publishIfBetter(candidate).published)
    }

    /// A window never mixes command modes: torque ticks followed by position ticks start over.
    @Test func aSampleNeverSpansTwoCommandModes() throws {
        let model = try Fixtures.sim6()
        var options = ResidualLearner.Options()
        options.dt = 0.01
        options.loopPeriod = 0.001
        let learner = ResidualLearner(model: model, options: options)
        for tick in 0 ..< 15 {
            var t = Transition()
            t.tick = UInt64(tick)
            t.dof = 6
            t.mode = .hold
            t.commandMode = tick < 8 ? .torque : .position
            for i in 0 ..< 6 { t.position[i] = [0, -1.2, 1.0, -0.5, 0.4, 0.1][i] }
            learner.ingest(t)
        }
        #expect(learner.sampleCount == 0, "8 torque ticks then 7 position ticks: no 11-tick run in one mode")
        var t = Transition()
        t.tick = 15
        t.dof = 6
        t.mode = .hold
        t.commandMode = .position
        for i in 0 ..< 6 { t.position[i] = [0, -1.2, 1.0, -0.5, 0.4, 0.1][i] }
        for tick in 15 ..< 20 {
            t.tick = UInt64(tick)
            learner.ingest(t)
        }
        #expect(learner.sampleCount == 1, "ticks 8…18 are one position-mode run of stride + 1")
    }
}
