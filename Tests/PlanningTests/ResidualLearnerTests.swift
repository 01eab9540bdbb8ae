import Control
import ControlRuntime
import Learning
import LinearAlgebra
import Planning
import RigidBody
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
        // Random PD moves accelerate hard: the payload's inertia shows in how the arm answers the
        // torque, which only a residual that takes the torque can learn.
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
            t.commandMode = .torque
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
        let comparison = learner.publishIfBetter(candidate)
        #expect(comparison.published && comparison.candidate == candidate.validationError && comparison.nominal == nominalError)
        #expect(learner.version == 1)
        #expect(learner.dynamics() != nil)

        // An untrained ensemble with large outputs predicts worse than version 1: not published.
        let worse = ResidualLearner.Candidate(members: (0 ..< 3).map { k -> MLP in
            var m = MLP(widths: [18, 8, 12], activation: .silu, seed: UInt64(k))
            m.outputScale = [Float](repeating: 1, count: 12)
            return m
        })
        #expect(!learner.publishIfBetter(worse).published)
        #expect(learner.version == 1)
        // A candidate of another shape (state-only) is refused, not evaluated.
        #expect(!learner.publishIfBetter(ResidualLearner.Candidate(members: [MLP(widths: [12, 8, 12], activation: .silu, seed: 1)])).published)

        // A warm-started round continues from version 1 with fewer passes, and is still far
        // better than the nominal model.
        let warm = try #require(learner.trainCandidate(seed: 3, warmStart: true))
        #expect(warm.warmStarted)
        #expect(warm.validationError < 0.5 * nominalError, "warm-started \(warm.validationError) vs nominal \(nominalError)")

        // The calibration stored with version 1: a positive finite disagreement limit and a bound
        // per state component at least as large as every residual the data showed.
        let calibration = try #require(learner.currentCalibration)
        #expect(calibration.disagreementLimit > 0 && calibration.disagreementLimit.isFinite)
        #expect(calibration.residualBound.count == 12 && calibration.residualBound.allSatisfy { $0 > 0 && $0.isFinite })

        #expect(learner.rollback() && learner.version == 0 && learner.dynamics() == nil)
        // A candidate better than the rigid-body model is still refused along a plan where it
        // has no data: the arm 1.5 rad from anything it did, at 3 rad/s on every joint (the
        // data's moves peak far below).
        let q = sim.initialPosition.map { $0 + 1.5 }
        let plan = ResidualLearner.Plan(states: (0 ... 10).flatMap { _ in q + [Double](repeating: 3, count: 6) },
                                        controls: [Double](repeating: 0, count: 60))
        let refused = learner.publishIfBetter(candidate, plan: plan)
        #expect(!refused.published && refused.probeDisagreement > refused.disagreementLimit, "\(refused)")
        #expect(refused.refusal?.contains("disagree") == true || refused.refusal?.contains("diverges") == true, "\(refused)")
        #expect(learner.version == 0)

        #expect(!learner.rollback())
        // Without a current version there is nothing to continue from: a fresh start.
        #expect(learner.trainCandidate(seed: 4, warmStart: true)?.warmStarted == false)
        // Version numbers never restart: after rollback (and reset) the next model is version 2,
        // and a model loaded from a file that says version 7 becomes version 8.
        #expect(learner.publishIfBetter(candidate).published && learner.version == 2)
        learner.reset()
        #expect(learner.version == 0)
        learner.adopt(candidate.members, fileVersion: 7)
        #expect(learner.version == 8 && learner.currentCalibration != nil)
        learner.adopt(candidate.members, fileVersion: 3)
        #expect(learner.version == 9)
    }
}

extension ResidualLearnerTests {
    /// The replay buffer is bounded: past `replay_capacity` samples the oldest are overwritten,
    /// while the count of samples seen keeps growing.
    @Test func theReplayBufferKeepsAtMostItsCapacity() throws {
        let model = try Fixtures.sim6()
        var options = ResidualLearner.Options()
        options.replayCapacity = 100
        let learner = ResidualLearner(model: model, options: options)
        let ticksPerSample = Int((options.dt / options.loopPeriod).rounded())
        let q0 = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        for tick in 0 ..< 350 * ticksPerSample {
            var t = Transition()
            t.tick = UInt64(tick)
            t.dof = 6
            t.mode = .hold
            t.commandMode = .torque
            for i in 0 ..< 6 { t.position[i] = q0[i] }
            learner.ingest(t)
            #expect(learner.sampleCount <= 100)
        }
        #expect(learner.sampleCount == 100)
        #expect(learner.samplesSeen >= 340, "\(learner.samplesSeen) samples seen")
    }
}
