import AllocationCounter
import Control
import Learning
import Testing

@Suite struct MLPPolicyTests {
    /// An identity network over the observation (target_q, q, target_position, ee_position) for
    /// 2 joints, 10 inputs; the action is the first two outputs of W x with W picking
    /// target_q − q and target_position.x − ee_position.x.
    static func policy() throws -> MLPPolicy {
        var w = [Float](repeating: 0, count: 2 * 10)
        w[0 * 10 + 0] = 1; w[0 * 10 + 2] = -1
        w[1 * 10 + 4] = 1; w[1 * 10 + 7] = -1
        let mlp = try #require(MLP(widths: [10, 2], activation: .identity, weights: [w], biases: [[0, 0]]))
        return MLPPolicy(mlp: mlp, name: "reach", features: [.targetQ, .q, .targetPosition, .eePosition], actionKind: .position)
    }

    @Test func declaresItsActionKindAndTheObservationPartsItReads() throws {
        let p = try Self.policy()
        #expect(p.dof == 2 && p.actionKind == .position && !p.isOperatedByPerson)
        #expect(p.needs == [.endEffectorPosition, .target])
        let plain = MLPPolicy(mlp: MLP(widths: [4, 2], activation: .identity), name: "qv", actionKind: .torque)
        #expect(plain.needs.isEmpty && plain.features == [.q, .v])
    }

    /// Observation blocks land in `features` order; an unset target reads as the measurement.
    @Test func observesInFeatureOrderAndAllocatesNothing() throws {
        let p = try Self.policy()
        var o = PolicyObservation(dof: 2)
        o.position = [0.5, -0.25]
        o.endEffectorPosition = SIMD3(0.1, 0.2, 0.3)
        var action = [Double](repeating: .nan, count: 2)
        #expect(action.withUnsafeMutableBufferPointer { p.action(into: $0, observation: o) })
        #expect(action == [0, 0], "no target: stay")
        o.target.hasJoints = true
        o.target.joints[0] = 1.5
        o.target.joints[1] = 0
        o.target.hasPosition = true
        o.target.position[0] = 0.4
        AllocationCounter_start()
        _ = action.withUnsafeMutableBufferPointer { p.action(into: $0, observation: o) }
        let allocations = AllocationCounter_stop()
        #expect(abs(action[0] - 1.0) < 1e-6 && abs(action[1] - 0.3) < 1e-6, "\(action)")
        #expect(allocations == 0)
    }
}
