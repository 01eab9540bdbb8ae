import Foundation
import Platform
import RigidBody
import RobotInterface
import ServoBus
import ServoDriver
import ServoProtocol
import Testing

/// A position servo takes no torque, so the driver sends the command's feed-forward effort as a
/// goal offset τ/K_p. Oracle: the emulator's physics. Holding a pose against gravity, a servo
/// whose goal is the pose sags by about g(q)/K_p; with the gravity torque as feed-forward through
/// the servo's stiffness most of that sag is gone. A wrong
/// feed-forward cannot move the goal more than `maxFeedforwardOffset`.
@Suite(.serialized) struct FeedforwardOffsetTests {
    /// Gravity torque g(q) of the rigid-body model at `q` (N·m), in the driver's joint order.
    static func gravity(_ rig: ServoArmDriverTests.Rig, _ q: [Double]) -> [Double] {
        var ws = rig.model.makeWorkspace()
        let zero = [Double](repeating: 0, count: q.count)
        rig.model.rnea(&ws, q: q, v: zero, a: zero)
        return ws.tau
    }

    /// The rig's options, patient with an emulator that shares two cores with the whole suite:
    /// these tests are about goals, not bus faults.
    static func patient(_ rig: ServoArmDriverTests.Rig) -> ServoArmOptions {
        var o = rig.options()
        o.firstSampleTimeout = 20
        o.retriesPerCycle = 3
        o.failedCyclesToFault = 50
        return o
    }

    @Test(arguments: ServoArmDriverTests.arms) func gravityFeedforwardRemovesTheSag(_ arm: String) throws {
        let rig = try ServoArmDriverTests.Rig(arm)
        var options = Self.patient(rig)
        // The emulator's factory servo: full torque at 0.1 rad of error (K_p = τ_max / 0.1 rad).
        let stiffness = options.effortLimits.map { $0 / 0.1 }
        options.feedforwardCompliance = stiffness.map { 1 / $0 }
        let driver = try ServoArmDriver.connect(options)
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        let start = try ServoArmDriverTests.readValid(driver)
        // shoulder_lift and elbow_flex forward: both carry the arm against gravity.
        var goal = start.position
        goal[1] = 0.5
        goal[2] = 0.3
        let g = Self.gravity(rig, goal)
        #expect(abs(g[1]) > 0.1, "\(arm): shoulder_lift must carry a load for this test (g = \(g))")

        func settle(feedforward: [Double]) throws -> [Double] {
            var command = JointCommand(mode: .position, dof: goal.count)
            command.values = goal
            command.feedforwardEffort = feedforward
            var last = start.position
            var still = 0
            // Settled: 400 reads in a row with every speed below 5 mrad/s (bounded by the poll's 8 s).
            _ = try ServoArmDriverTests.poll(driver, seconds: 15) { s in
                try? driver.write(command)
                last = s.position
                still = s.velocity.allSatisfy { abs($0) < 0.005 } ? still + 1 : 0
                return still >= 400
            }
            return last
        }
        let sagged = try settle(feedforward: [Double](repeating: 0, count: goal.count))
        let held = try settle(feedforward: g)
        let sag = sagged[1] - goal[1], error = held[1] - goal[1]
        // Without feed-forward the servo sags by about g/K_p (its friction dead band aside).
        let expected = -g[1] / stiffness[1]
        #expect(abs(sag - expected) < 0.5 * abs(expected) + 0.003, "\(arm): sag \(sag) rad, g/K_p predicts \(expected)")
        // With it most of the sag is gone. What remains (about 30 % on both arms, 4–6 mrad) is the
        // approach from the sagged side: Coulomb friction on the loaded joints holds the servo short,
        // and the goal and the encoder are whole counts (1.5 mrad).
        #expect(abs(error) < abs(sag) / 2, "\(arm): held \(error) rad off the goal (sag was \(sag), g/K_p \(expected), g \(g))")
    }

    @Test func aHugeFeedforwardMovesTheGoalAtMostTheCap() throws {
        let rig = try ServoArmDriverTests.Rig("so101")
        var options = Self.patient(rig)
        options.feedforwardCompliance = options.effortLimits.map { 0.1 / $0 }
        options.maxFeedforwardOffset = 0.05
        let driver = try ServoArmDriver.connect(options)
        defer { driver.cleanup() }
        try driver.configure()
        try driver.activate(mode: .position)
        let start = try ServoArmDriverTests.readValid(driver)
        var command = JointCommand(mode: .position, dof: start.dof)
        command.values = start.position
        command.feedforwardEffort = [1e6, -1e6, .infinity, .nan, 1e6, -1e6]
        for _ in 0 ..< 200 {
            try driver.write(command)
            usleep(2000)
        }
        let counts = 0.05 / (2 * Double.pi / 4096)
        let goals = rig.writes().filter { !$0.torque }.map(\.values)
        #expect(!goals.isEmpty)
        for values in goals {
            for (k, id) in options.ids.enumerated() {
                guard let v = values[id] else { continue }
                let startCount = options.calibration.goalCount(joint: k, position: start.position[k]) ?? 0
                // An infinite or NaN offset counts as none; a finite one is capped at 0.05 rad.
                #expect(Double(abs(v - startCount)) <= counts + 2, "servo \(id): goal \(v), start \(startCount)")
            }
        }
    }
}
