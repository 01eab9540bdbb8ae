import Control
import ControlRuntime
import Learning
import LinearAlgebra
import Planning
import RigidBody
import RobotDaemon
import RobotInterface
import SimulationDriver
import Testing

@Suite struct ResidualLearnerTests {
    /// The arm carries an unmodelled 1 kg payload. Transitions from 30 s of PD-driven motion
    /// become residual samples; a candidate ensemble predicts held-out steps far better than the
    /// nominal model and is published; a worse one is not; rollback returns to the nominal model.
    @Test func learnsAnUnmodelledPayloadAndVersionsTheModel() throws {
        let model = try Fixtures.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        sim.payloadMass = 1.0
        var arm = try SimulatedArm(model: model, configuration: sim)
        try arm.configure()
        try arm.activate(mode: .torque)
        var pd = JointPDController(model: model)
        var state = JointState(dof: 6)
        var command = JointCommand(mode: .torque, dof: 6)
        var options = ResidualLearner.Options()
        options.members = 3
        options.hidden = [64, 64]
        options.epochs = 40
        options.trainer.batchSize = 128
        options.trainer.learningRate = 2e-3
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
            t.commandMode = 1
            for i in 0 ..< 6 {
                t.position[i] = state.position[i]
                t.velocity[i] = state.velocity[i]
                t.command[i] = command.values[i]
            }
            learner.ingest(t)
        }
        #expect(learner.sampleCount >= 2900, "\(learner.sampleCount) samples")
        let nominalError = learner.currentValidationError()
        let candidate = try #require(learner.trainCandidate(seed: 2))
        #expect(candidate.validationError < 0.5 * nominalError, "learned \(candidate.validationError) vs nominal \(nominalError)")
        #expect(learner.publishIfBetter(candidate))
        #expect(learner.version == 1)
        #expect(learner.dynamics() != nil)

        // An untrained ensemble with large outputs predicts worse than version 1: not published.
        let worse = ResidualLearner.Candidate(members: (0 ..< 3).map { k -> MLP in
            var m = MLP(widths: [18, 8, 12], activation: .silu, seed: UInt64(k))
            m.outputScale = [Float](repeating: 1, count: 12)
            return m
        })
        #expect(!learner.publishIfBetter(worse))
        #expect(learner.version == 1)
        #expect(learner.rollback() && learner.version == 0 && learner.dynamics() == nil)
        #expect(!learner.rollback())
    }
}
