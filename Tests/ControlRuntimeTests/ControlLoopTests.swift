import AllocationCounter
import Control
import ControlRuntime
import Foundation
import RigidBody
import RobotInterface
import SimulationDriver
import BuildInfo
import Testing

/// What a scripted driver did, readable after the loop consumed it. Preallocated, so that
/// updating it inside the tick allocates nothing.
final class DriverProbe: @unchecked Sendable {
    /// The values of the newest command written (first dof entries).
    var lastCommand = [Double](repeating: .nan, count: 8)
    var writes = 0
    var activations = 0
    var deactivations = 0
}

/// A driver whose failures are scripted, wrapping the simulated arm for the physics. Read
/// numbers count from 1, the read of `ControlLoop.start()`; tick k makes read k + 1.
struct ScriptedDriver: RobotDriver {
    var arm: SimulatedArm
    var failReadAt: Int? = nil
    /// From this read on every read fails until `cleanup` (a servo bus whose port went away:
    /// the driver latches the failure until it is re-armed).
    var failReadsUntilCleanupAt: Int? = nil
    var readFailureLatched = false
    var failWriteAt: Int? = nil
    var nanAt: Int? = nil
    /// From this read on every sample has a NaN on joint 2 (a sensor that died).
    var nanFromRead: Int? = nil
    /// Activation number (from 1) that fails.
    var failActivationAt: Int? = nil
    /// Reads whose sample the driver marks invalid (with a position of 99 rad on joint 0, which
    /// must never be used).
    var invalidReads: [ClosedRange<Int>] = []
    /// From this read on the driver repeats its last sample: the timestamp stops advancing.
    var frozenFromRead: Int? = nil
    /// A read whose timestamp is 1 ms older than the previous one.
    var backwardsTimestampAt: Int? = nil
    var probe = DriverProbe()
    var reads = 0
    var writes = 0
    var activations = 0
    var deactivations = 0
    var isActive = false

    var description: DriverDescription { arm.description }
    mutating func configure() throws(DriverError) { try arm.configure() }
    mutating func activate(mode: CommandMode) throws(DriverError) {
        activations += 1
        probe.activations += 1
        if activations == failActivationAt { throw DriverError(.hardware, "scripted activation failure") }
        try arm.activate(mode: mode)
        isActive = true
    }
    mutating func deactivate() {
        arm.deactivate()
        deactivations += 1
        probe.deactivations += 1
        isActive = false
    }
    mutating func cleanup() {
        readFailureLatched = false
        arm.cleanup()
    }
    mutating func read(into state: inout JointState) throws(DriverError) {
        reads += 1
        if reads == failReadAt { throw DriverError(.communication, "scripted read failure") }
        if reads == failReadsUntilCleanupAt { readFailureLatched = true }
        if readFailureLatched { throw DriverError(.communication, "scripted latched read failure") }
        if let f = frozenFromRead, reads >= f { return }
        try arm.read(into: &state)
        if reads == nanAt { state.position[2] = .nan }
        if let f = nanFromRead, reads >= f { state.position[2] = .nan }
        if invalidReads.contains(where: { $0.contains(reads) }) {
            state.isValid = false
            state.position[0] = 99
        }
        if reads == backwardsTimestampAt { state.timestampNanoseconds -= 2_000_000 }
    }
    mutating func write(_ command: JointCommand) throws(DriverError) {
        writes += 1
        probe.writes += 1
        if writes == failWriteAt { throw DriverError(.timeout, "scripted write failure") }
        try arm.write(command)
        for i in 0 ..< command.values.count { probe.lastCommand[i] = command.values[i] }
    }
}

@Suite struct ControlLoopTests {
    static func sim6() throws -> RobotModel {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("hardware/robots/sim6/robot.urdf").path
        return try RobotModel(urdfText: String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    static func loop(_ edit: (inout ScriptedDriver) -> Void = { _ in },
                     configure: (inout ControlLoop<ScriptedDriver>.Configuration) -> Void = { _ in }) throws -> (ControlLoop<ScriptedDriver>, RobotModel) {
        let model = try sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        var driver = ScriptedDriver(arm: try SimulatedArm(model: model, configuration: sim))
        edit(&driver)
        var config = ControlLoop<ScriptedDriver>.Configuration()
        config.endEffectorFrame = model.frameIndex(named: "tool0") ?? 0
        config.flightRecorderTicks = 500
        configure(&config)
        let loop = ControlLoop(model: model, driver: driver, holdController: JointPDController(model: model),
                               limits: JointLimits(model: model), configuration: config, transitionRingCapacity: 4096)
        try loop.start()
        return (loop, model)
    }

    static func run(_ loop: ControlLoop<ScriptedDriver>, from start: inout Int, ticks: Int) {
        for k in start ..< start + ticks { loop.tick(time: Double(k) * 0.001, overran: false) }
        start += ticks
    }

    @Test func startsInHoldAndHoldsThePose() throws {
        let (loop, _) = try Self.loop()
        #expect(loop.mode == .hold)
        let q0 = loop.telemetry.read()
        var k = 1
        Self.run(loop, from: &k, ticks: 1000)
        let s = loop.telemetry.read()
        #expect(s.mode == .hold && s.tick == 1000)
        for i in 0 ..< 6 { #expect(abs(s.position[i] - q0.position[i]) < 2e-3) }
    }

    @Test func moveCommandReachesTargetThenHolds() throws {
        let (loop, _) = try Self.loop()
        let target = [0.4, -0.9, 0.7, -0.2, 0.2, 0.3]
        #expect(loop.commands.send(.move(id: 7, to: target, duration: 1.5)))
        var k = 1
        Self.run(loop, from: &k, ticks: 1)
        #expect(loop.results.pop() == LoopCommandResult(id: 7, accepted: true, mode: .move))
        Self.run(loop, from: &k, ticks: 2500)
        let s = loop.telemetry.read()
        #expect(s.mode == .hold)
        for i in 0 ..< 6 { #expect(abs(s.position[i] - target[i]) < 3e-3, "joint \(i): \(s.position[i])") }
    }

    @Test func outOfRangeMoveIsRefusedAndNothingMoves() throws {
        let (loop, _) = try Self.loop()
        #expect(loop.commands.send(.move(id: 1, to: [0, 0, 99, 0, 0, 0], duration: 1)))
        var nan = LoopCommand.move(id: 2, to: [0, 0, 0, 0, 0, 0], duration: 1)
        nan.target[1] = .nan
        #expect(loop.commands.send(nan))
        var k = 1
        Self.run(loop, from: &k, ticks: 1)
        #expect(loop.results.pop()?.reason == .invalidTarget)
        #expect(loop.results.pop()?.reason == .invalidTarget)
        #expect(loop.mode == .hold)
    }

    @Test func estopLatchesAndResetRecovers() throws {
        let (loop, _) = try Self.loop()
        var k = 1
        _ = loop.commands.send(.move(id: 1, to: [0.5, -0.5, 0.5, 0, 0, 0], duration: 2))
        Self.run(loop, from: &k, ticks: 300)
        _ = loop.commands.send(LoopCommand(id: 2, kind: .estop))
        _ = loop.commands.send(.move(id: 3, to: [0, 0, 0, 0, 0, 0], duration: 2))
        Self.run(loop, from: &k, ticks: 1)
        _ = loop.results.pop()
        #expect(loop.results.pop() == LoopCommandResult(id: 2, accepted: true, mode: .estop))
        #expect(loop.results.pop() == LoopCommandResult(id: 3, accepted: false, mode: .estop, reason: .refusedInMode))
        Self.run(loop, from: &k, ticks: 500)
        let stopped = loop.telemetry.read()
        #expect(stopped.mode == .estop)
        for i in 0 ..< 6 { #expect(abs(stopped.velocity[i]) < 0.05, "the arm came to rest") }
        _ = loop.commands.send(LoopCommand(id: 4, kind: .reset))
        Self.run(loop, from: &k, ticks: 1)
        #expect(loop.results.pop() == LoopCommandResult(id: 4, accepted: true, mode: .hold))
    }

    @Test func nonFiniteStateFaultsAndFreezesTheFlightRecorder() throws {
        let (loop, _) = try Self.loop { $0.nanAt = 100 }
        var k = 1
        Self.run(loop, from: &k, ticks: 200)
        let s = loop.telemetry.read()
        #expect(s.mode == .faulted && s.hasFault && s.fault == .nonFiniteState)
        // The fault holds the last fresh pose: the NaN never reaches the hold target, so every
        // later command is finite and no second fault is needed to keep the arm safe.
        for i in 0 ..< 6 { #expect(s.command[i].isFinite && s.position[i].isFinite, "joint \(i): \(s.command[i])") }
        #expect(loop.flightRecorder.isFrozen && loop.flightRecorder.dumpGeneration == 1)
        let ticks = loop.flightRecorder.frozenTicks()
        // Read 100 is tick 99's (start() made the first read); the faulting tick is recorded
        // too, with the state that caused it.
        #expect(ticks.count == 99)
        #expect(ticks.last.map { $0.tick } == 99)
        #expect(ticks.last.map { $0.mode } == .faulted && ticks.last.map { $0.position[2].isNaN } == true)
        #expect(ticks.dropLast().allSatisfy { $0.mode == .hold && $0.position[2].isFinite })
        _ = loop.commands.send(LoopCommand(id: 1, kind: .reset))
        Self.run(loop, from: &k, ticks: 10)
        #expect(loop.mode == .hold)
    }

    /// A sensor that keeps reading NaN after the fault: the hold takes the last fresh pose, so
    /// the actuators get finite commands within the limits on every tick, and the commands
    /// stay near the gravity hold of that pose (the arm does not drift or get thrown).
    @Test func aPersistentlyNonFiniteStateKeepsTheFaultHoldFinite() throws {
        let (loop, _) = try Self.loop { $0.nanFromRead = 100 }
        var k = 1
        Self.run(loop, from: &k, ticks: 99)
        let before = loop.telemetry.read()
        Self.run(loop, from: &k, ticks: 300)
        let s = loop.telemetry.read()
        #expect(s.mode == .faulted && s.fault == .nonFiniteState)
        for i in 0 ..< 6 {
            #expect(s.command[i].isFinite && s.position[i].isFinite, "joint \(i): command \(s.command[i])")
            #expect(abs(s.position[i] - before.position[i]) < 1e-9, "joint \(i): the measurement stays the last fresh one")
        }
    }

    @Test func driverWriteFailureCutsTheActuators() throws {
        let (loop, _) = try Self.loop { $0.failWriteAt = 50 }
        var k = 1
        Self.run(loop, from: &k, ticks: 100)
        let s = loop.telemetry.read()
        #expect(s.mode == .faulted && s.fault == .driverWrite)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .reset))
        Self.run(loop, from: &k, ticks: 5)
        #expect(loop.results.pop() == LoopCommandResult(id: 1, accepted: true, mode: .hold))
    }

    /// Actions of a transition the loop triggers itself are carried out, not dropped: a reset
    /// whose re-activation fails faults with `driverActivation`, and that fault's actions run
    /// (the driver is deactivated again, the flight recorder dumped).
    @Test func aFailedActivationPerformsTheFaultsActions() throws {
        let probe = DriverProbe()
        let (loop, _) = try Self.loop { $0.failWriteAt = 20; $0.failActivationAt = 2; $0.probe = probe }
        var k = 1
        Self.run(loop, from: &k, ticks: 30)
        #expect(loop.telemetry.read().fault == .driverWrite)
        #expect(probe.deactivations == 1 && probe.activations == 1)
        #expect(loop.flightRecorder.dumpGeneration == 1)
        loop.flightRecorder.thaw()
        _ = loop.commands.send(LoopCommand(id: 1, kind: .reset))
        Self.run(loop, from: &k, ticks: 5)
        #expect(loop.results.pop() == LoopCommandResult(id: 1, accepted: true, mode: .faulted))
        let s = loop.telemetry.read()
        #expect(s.mode == .faulted && s.fault == .driverActivation)
        #expect(probe.activations == 2 && probe.deactivations == 2, "the activation fault's disableActuators ran")
        #expect(loop.flightRecorder.isFrozen && loop.flightRecorder.dumpGeneration == 2)
        #expect(loop.flightRecorder.frozenTicks().last.map { $0.commandMode == nil } == true)
    }

    @Test func consecutiveOverrunsFault() throws {
        let (loop, _) = try Self.loop()
        for k in 1 ... 9 { loop.tick(time: Double(k) * 0.001, overran: true) }
        loop.tick(time: 0.010, overran: false)
        #expect(loop.mode == .hold, "nine in a row is below the threshold of ten")
        for k in 11 ... 20 { loop.tick(time: Double(k) * 0.001, overran: true) }
        #expect(loop.mode == .faulted)
        #expect(loop.telemetry.read().overruns == 19)
    }

    @Test func transitionsReachTheConsumerRing() throws {
        let (loop, _) = try Self.loop()
        var k = 1
        Self.run(loop, from: &k, ticks: 100)
        var count = 0, lastTick: UInt64 = 0
        while let t = loop.transitions?.pop() {
            count += 1
            #expect(t.tick == lastTick + 1)
            lastTick = t.tick
        }
        #expect(count == 100)
    }

    /// The tick allocates nothing — in hold, during a move, across mode changes. Checked in
    /// optimised builds (what the daemon runs; `make test` builds that way): unoptimised builds
    /// leave the generic tick unspecialised, and the runtime then boxes generic values.
    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func tickDoesNotAllocate() throws {
        let (loop, _) = try Self.loop()
        var k = 1
        Self.run(loop, from: &k, ticks: 10)
        AllocationCounter_start()
        Self.run(loop, from: &k, ticks: 500)
        _ = loop.commands.send(.move(id: 1, to: [0.3, -1, 0.8, -0.3, 0.3, 0.2], duration: 0.3))
        Self.run(loop, from: &k, ticks: 500)
        _ = loop.commands.send(LoopCommand(id: 2, kind: .estop))
        _ = loop.commands.send(LoopCommand(id: 3, kind: .reset))
        Self.run(loop, from: &k, ticks: 100)
        let count = AllocationCounter_stop()
        #expect(count == 0, "\(count) allocations in 1100 ticks")
    }
}

