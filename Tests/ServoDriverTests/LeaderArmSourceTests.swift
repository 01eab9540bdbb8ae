import Control
import ControlRuntime
import Foundation
import Glibc
import Platform
import RigidBody
import RobotInterface
import ServoBus
import ServoProtocol
import SimulationDriver
import Testing
@testable import ServoDriver

/// A leader arm (an emulated SO-101 or Koch whose joints a "hand" places, torque off) as the
/// teleop source: the follower's goals are the leader's angles (the gripper through the ranges),
/// a leader that stops answering gives no action (the loop holds), and the loop in `teleop` over
/// a simulated follower commands the leader's pose inside the follower's limits, every tick an
/// intervention. Loop time here is the monotonic clock's (the leader's freshness is measured in
/// it); nothing asserts how long anything takes.
@Suite(.serialized) struct LeaderArmSourceTests {
    /// The rig's calibration with the leader's gripper handle travelling [0, 1.0] rad (0…+652
    /// counts from the middle). A patient bus: the emulator shares two cores with builds and
    /// other tests, and bus faults are not what these tests are about.
    static func leaderOptions(_ rig: ServoArmDriverTests.Rig) -> ServoArmOptions {
        var o = rig.options()
        let g = o.jointNames.firstIndex(of: "gripper")!
        o.calibration.joints[g].rangeMin = 2048
        o.calibration.joints[g].rangeMax = 2048 + 652
        o.failedCyclesToFault = 100
        return o
    }

    static func source(_ rig: ServoArmDriverTests.Rig, timeout: Double = 1, followerUpper: [Double]? = nil) throws -> (LeaderArmSource, ServoArmDriver) {
        let options = leaderOptions(rig)
        let driver = try ServoArmDriver.connect(options)
        try driver.configure()
        let lower = rig.model.joints.map(\.lowerLimit), upper = followerUpper ?? rig.model.joints.map(\.upperLimit)
        let names = rig.model.joints.map(\.name)
        let mappings = try LeaderArmSource.mappings(leader: options.calibration, leaderJointNames: options.jointNames,
                                                    followerJointNames: names, followerLower: lower, followerUpper: upper)
        let limits = JointLimits(lower: lower, upper: upper, velocity: rig.model.joints.map(\.velocityLimit),
                                 effort: rig.model.joints.map(\.effortLimit), slewRate: 1000)
        return (LeaderArmSource(driver: driver, mappings: mappings, timeout: timeout, limits: limits, maxVelocity: 1, maxAcceleration: 10,
                                period: 0.004, clock: { MonotonicClock.now() }), driver)
    }

    static func place(_ rig: ServoArmDriverTests.Rig, _ joint: String, _ angle: Double) throws {
        let reply = rig.host.withResponder { (arm: inout EmulatedArm) -> String in
            do throws(EmulatedArmError) { return try arm.placeByHand(joint: joint, angle: angle, atNanoseconds: MonotonicClock.now()) } catch { return "error: \(error)" }
        }
        // The hand moves only limp joints: a placed joint proves the leader's torque is off.
        #expect(reply == joint, "the hand could not place \(joint): \(reply ?? "emulator stopped")")
    }

    /// Polls the leader's mapped goals until `done` (bounded, 10 s).
    static func poll(_ source: LeaderArmSource, _ done: ([Double]?) -> Bool) -> Bool {
        var action = [Double](repeating: .nan, count: source.dof)
        let start = MonotonicClock.seconds()
        while MonotonicClock.seconds() - start < 10 {
            let acted = action.withUnsafeMutableBufferPointer { source.leaderGoals(into: $0) }
            if done(acted ? action : nil) { return true }
            usleep(2000)
        }
        return false
    }

    @Test(arguments: ServoArmDriverTests.arms)
    func theFollowersGoalsAreTheLeadersAnglesAndTheGripperMapsByRange(_ arm: String) throws {
        let rig = try ServoArmDriverTests.Rig(arm)
        let (source, driver) = try Self.source(rig)
        defer { driver.cleanup() }
        #expect(source.isOperatedByPerson && source.actionKind == .position)
        let placed: [(String, Double)] = [("shoulder_pan", 0.2), ("shoulder_lift", -0.5), ("elbow_flex", 0.6), ("wrist_flex", 0.3)]
        for (joint, angle) in placed { try Self.place(rig, joint, angle) }
        // The gripper handle at the bottom, middle and top of its travel → the follower's jaw at
        // its lower limit, halfway, its upper limit.
        let names = rig.model.joints.map(\.name)
        let g = try #require(names.firstIndex(of: "gripper"))
        let range = Self.leaderOptions(rig).calibration.positionRange(joint: g)
        let jaw = (rig.model.joints[g].lowerLimit, rig.model.joints[g].upperLimit)
        let step = 2 * Double.pi / 4096
        // One count of the handle is this much of the jaw.
        let jawStep = step * (jaw.1 - jaw.0) / (range.upper - range.lower)
        for (handle, expected) in [(range.lower, jaw.0), (0.5 * (range.lower + range.upper), 0.5 * (jaw.0 + jaw.1)), (range.upper, jaw.1)] {
            try Self.place(rig, "gripper", handle)
            var last: [Double] = []
            let followed = Self.poll(source) { action in
                guard let action else { return false }
                last = action
                return placed.allSatisfy { joint, angle in abs(action[names.firstIndex(of: joint)!] - angle) <= 2 * step }
                    && abs(action[g] - expected) <= 2 * jawStep
            }
            #expect(followed, "goals \(last); placed \(placed), the handle at \(handle) of [\(range.lower), \(range.upper)] → jaw \(expected)")
        }
    }

    /// The leader's bus goes away (the adapter unplugged): the source stops acting once the
    /// driver faults or its samples stop advancing for `timeout`, and never acts on the old pose.
    @Test func aLeaderThatStopsAnsweringGivesNoAction() throws {
        let rig = try ServoArmDriverTests.Rig("so101")
        let (source, driver) = try Self.source(rig, timeout: 0.2)
        defer { driver.cleanup() }
        #expect(Self.poll(source) { $0 != nil }, "the source never acted on a live leader")
        rig.host.stop()
        #expect(Self.poll(source) { $0 == nil }, "still acting after the leader's bus stopped")
        // And it stays quiet.
        var acted = 0
        var observation = PolicyObservation(dof: source.dof)
        var action = [Double](repeating: 0, count: source.dof)
        for k in 0 ..< 50 {
            observation.time = Double(k) * 0.004
            if action.withUnsafeMutableBufferPointer({ source.action(into: $0, observation: observation) }) { acted += 1 }
            usleep(2000)
        }
        #expect(acted == 0)
    }

    /// A leader and follower of different arms (or joint orders) are refused, naming both.
    @Test func mismatchedArmsAreRefused() throws {
        let rig = try ServoArmDriverTests.Rig("so101")
        do {
            _ = try LeaderArmSource.mappings(leader: rig.options().calibration, leaderJointNames: ["a", "b"], followerJointNames: ["a", "c"],
                                             followerLower: [-1, -1], followerUpper: [1, 1])
            Issue.record("mismatched joints accepted")
        } catch {
            #expect(error.description.contains("(a, b)") && error.description.contains("(a, c)"), "\(error)")
        }
    }

    /// The loop in `teleop` over a simulated SO-101 follower (position servos) with the emulated
    /// leader as its source: goals approach the leader's pose (kept the teleop margin inside the
    /// follower's limits when the leader is placed past them), the follower gets there, and every commanded tick in
    /// `teleop` is an intervention. Ticks at the loop period on the monotonic clock.
    @Test func theLoopInTeleopFollowsTheLeaderInsideTheFollowersLimits() throws {
        let rig = try ServoArmDriverTests.Rig("so101")
        let model = rig.model
        var followerUpper = model.joints.map(\.upperLimit)
        followerUpper[try #require(model.joints.map(\.name).firstIndex(of: "elbow_flex"))] = 1.0
        let (source, driver) = try Self.source(rig, followerUpper: followerUpper)
        defer { driver.cleanup() }
        var sim = SimulatedArm.Configuration()
        sim.substeps = 10
        sim.period = 0.004
        let follower = try SimulatedArm(model: model, configuration: sim)
        var config = ControlLoop<SimulatedArm>.Configuration()
        config.commandMode = .position
        config.period = 0.004
        config.overrunFaultThreshold = 100_000
        config.maxStateAge = 1
        config.staleStateFaultTicks = 1000
        // A loaded machine may pause this thread; the stall fault is not under test here.
        config.maxStall = 10
        // The follower's elbow narrowed to 1.0 rad (as a calibrated range narrows a servo arm's):
        // the leader goes past it.
        var limits = JointLimits(model: model, velocityScale: 0.5)
        let elbowIndex = try #require(model.joints.map(\.name).firstIndex(of: "elbow_flex"))
        limits.upper[elbowIndex] = 1.0
        let slot = PolicySlot(dof: model.dof, actionKind: .position)
        let loop = ControlLoop(model: model, driver: follower, holdController: JointPDController(model: model), limits: limits,
                               configuration: config, recordingRingCapacity: 4096, teleop: slot)
        try loop.start()
        _ = slot.install(source)
        let names = model.joints.map(\.name)
        // elbow_flex past the follower's upper limit: the goal stops inside it.
        let elbow = try #require(names.firstIndex(of: "elbow_flex"))
        let beyond = 1.4
        try Self.place(rig, "shoulder_lift", -0.4)
        try Self.place(rig, "elbow_flex", beyond)
        let t0 = MonotonicClock.seconds()
        func tick() { loop.tick(time: MonotonicClock.seconds() - t0, overran: false) }
        tick()
        _ = loop.commands.send(LoopCommand(id: 1, kind: .setMode, mode: .teleop))
        tick()
        #expect(loop.results.pop()?.accepted == true)
        var interventions = 0, commanded = 0
        var worstGoal = -Double.infinity
        let lift = try #require(names.firstIndex(of: "shoulder_lift"))
        var s = loop.telemetry.read()
        // Engaging with the leader far away: goals leave the follower's pose and move at most
        // teleop.max_velocity (1 rad/s here) × the period per tick.
        var worstStep = 0.0
        var previous = (0 ..< model.dof).map { s.command[$0] }
        while MonotonicClock.seconds() - t0 < 15 {
            usleep(4000)
            tick()
            s = loop.telemetry.read()
            if s.mode == .teleop {
                for i in 0 ..< model.dof { worstStep = max(worstStep, abs(s.command[i] - previous[i])) }
            }
            previous = (0 ..< model.dof).map { s.command[$0] }
            for i in 0 ..< model.dof { worstGoal = max(worstGoal, s.command[i] - limits.upper[i], limits.lower[i] - s.command[i]) }
            while let t = loop.recordings?.pop() {
                guard t.commandMode != nil, t.mode == .teleop else { continue }
                commanded += 1
                if t.flags & Transition.Flags.intervention != 0 { interventions += 1 }
            }
            if abs(s.position[lift] + 0.4) < 0.02 && abs(s.position[elbow] - (limits.upper[elbow] - TeleopReference.limitMargin)) < 0.02 { break }
        }
        #expect(s.mode == .teleop, "\(s.mode), fault \(s.hasFault ? "\(s.fault)" : "none")")
        #expect(abs(s.position[lift] + 0.4) < 0.02, "shoulder_lift at \(s.position[lift]), leader at -0.4")
        // The teleop reference keeps targets `TeleopReference.limitMargin` inside the limits.
        let elbowGoal = limits.upper[elbow] - TeleopReference.limitMargin
        #expect(abs(s.command[elbow] - elbowGoal) < 1e-9, "elbow goal \(s.command[elbow]), limit \(limits.upper[elbow]), leader at \(beyond)")
        #expect(worstGoal <= 0, "a goal outside the limits by \(worstGoal) rad")
        #expect(worstStep <= 1.0 * 0.004 + 1e-9, "a goal stepped \(worstStep) rad in one tick")
        #expect(commanded > 0 && interventions == commanded, "\(interventions) of \(commanded) commanded teleop ticks marked as interventions")
    }
}
