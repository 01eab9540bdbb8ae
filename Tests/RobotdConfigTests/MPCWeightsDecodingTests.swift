import Planning
import Testing
@testable import RobotdConfig

/// `mpc.weights` decodes straight into Planning's `ReachWeights`: each key to its field, and an
/// absent key keeps the default the planner uses.
@Suite struct MPCWeightsDecodingTests {
    @Test func everyWeightKeyDecodesIntoItsField() throws {
        let keys: [(String, WritableKeyPath<ReachWeights, Double>)] = [
            ("running_frame", \.runningFrame), ("running_state", \.runningState), ("running_control", \.runningControl),
            ("terminal_frame", \.terminalFrame), ("running_orientation", \.runningOrientation),
            ("terminal_orientation", \.terminalOrientation), ("terminal_velocity", \.terminalVelocity),
            ("running_joint", \.runningJoint), ("path_frame", \.pathFrame), ("terminal_joint", \.terminalJoint),
            ("joint_limit_barrier", \.jointLimitBarrier),
        ]
        for (i, (key, field)) in keys.enumerated() {
            let value = 0.25 + Double(i)
            let config = try ConfigLoader.parse("mpc:\n  weights:\n    \(key): \(value)\n", file: nil, baseDirectory: nil)
            var expected = ReachWeights()
            expected[keyPath: field] = value
            #expect(config.mpc.weights == expected, "\(key)")
        }
        #expect(try ConfigLoader.parse("mpc: {weights: {}}", file: nil, baseDirectory: nil).mpc.weights == ReachWeights())
    }

    /// The defaults the daemon has always planned with (configs/README.md).
    @Test func theDefaultsAreTheDaemons() {
        let w = ReachWeights()
        #expect([w.runningFrame, w.runningState, w.runningControl, w.terminalFrame, w.runningOrientation, w.terminalOrientation,
                 w.terminalVelocity, w.runningJoint, w.pathFrame, w.terminalJoint, w.jointLimitBarrier]
            == [1, 1e-3, 1e-5, 1e3, 0.1, 100, 1, 1, 300, 1e3, 100])
    }
}
