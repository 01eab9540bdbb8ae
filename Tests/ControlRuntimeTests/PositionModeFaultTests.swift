import Control
import ControlRuntime
import RobotInterface
import Testing

/// Position servos (`commandMode = .position`, the simulated arm's servo PD) when the measurement
/// fails mid-move: while samples are unusable the servo keeps its last goal for up to
/// `staleStateFaultTicks`; the fault then holds the pose of the last fresh measurement, a finite
/// goal, never the move's goal left behind and never a NaN, whether or not fresh samples return.
@Suite struct PositionModeFaultTests {
    typealias Loop = ControlLoop<ScriptedDriver>

    static func loop(_ edit: @escaping (inout ScriptedDriver) -> Void) throws -> Loop {
        try ControlLoopTests.loop(edit, configure: { $0.commandMode = .position; $0.staleStateFaultTicks = 5 }).0
    }

    static func run(_ loop: Loop, _ ticks: ClosedRange<Int>) {
        for k in ticks { loop.tick(time: Double(k) * 0.001, overran: false) }
    }

    /// Stale from read 201 (tick 200) to read 400: four ticks re-send the move's goal, the fifth
    /// faults and from then on the goal is the pose measured at tick 199; once samples are fresh
    /// again the servo has brought the arm back to that pose, at rest.
    @Test func theStaleStateFaultHoldsTheLastMeasuredPoseNotTheMovesGoal() throws {
        let probe = DriverProbe()
        let loop = try Self.loop { $0.invalidReads = [201 ... 400]; $0.probe = probe }
        Self.run(loop, 1 ... 50)
        #expect(loop.commands.send(.move(id: 1, to: [0.3, -0.9, 0.8, -0.3, 0.3, 0.2], duration: 0.5)))
        Self.run(loop, 51 ... 199)
        let lastFresh = loop.telemetry.read()
        #expect(lastFresh.mode == .move)
        let moveGoal = Array(probe.lastCommand.prefix(6))
        Self.run(loop, 200 ... 203)
        #expect(loop.mode == .move)
        for i in 0 ..< 6 { #expect(probe.lastCommand[i] == moveGoal[i], "joint \(i): the servo keeps its goal while not faulted") }
        #expect((0 ..< 6).contains { abs(moveGoal[$0] - lastFresh.position[$0]) > 1e-3 }, "the move's goal is ahead of the arm")
        for k in 204 ... 400 {
            Self.run(loop, k ... k)
            let s = loop.telemetry.read()
            #expect(s.mode == .faulted && s.fault == .staleState)
            for i in 0 ..< 6 {
                #expect(probe.lastCommand[i] == lastFresh.position[i], "tick \(k) joint \(i): goal \(probe.lastCommand[i]), held pose \(lastFresh.position[i])")
            }
        }
        Self.run(loop, 401 ... 1_500)
        let s = loop.telemetry.read()
        #expect(s.mode == .faulted)
        for i in 0 ..< 6 {
            #expect(abs(s.position[i] - lastFresh.position[i]) < 2e-3, "joint \(i) at \(s.position[i]), held \(lastFresh.position[i])")
            #expect(abs(s.velocity[i]) < 0.01)
        }
    }

    /// A sensor that dies (NaN on joint 2 from read 200 on): the fault at that tick holds the last
    /// finite pose, as a finite goal, on every later tick.
    @Test func aNonFiniteStateFaultHoldsTheLastFinitePose() throws {
        let probe = DriverProbe()
        let loop = try Self.loop { $0.nanFromRead = 200; $0.probe = probe }
        Self.run(loop, 1 ... 50)
        #expect(loop.commands.send(.move(id: 1, to: [0.3, -0.9, 0.8, -0.3, 0.3, 0.2], duration: 0.5)))
        Self.run(loop, 51 ... 198)
        let lastFinite = loop.telemetry.read()
        for k in 199 ... 600 {
            Self.run(loop, k ... k)
            #expect(loop.mode == .faulted)
            for i in 0 ..< 6 {
                #expect(probe.lastCommand[i] == lastFinite.position[i], "tick \(k) joint \(i): goal \(probe.lastCommand[i]), held pose \(lastFinite.position[i])")
            }
        }
    }

    /// A driver fault that latches until the driver is re-armed (the servo bus's port went
    /// away), and an arm that is elsewhere when it comes back (the simulated arm restarts at
    /// its initial pose on `configure`, as a replaced emulator does): `reset` holds the pose
    /// measured at the re-arm, not the last one before the fault. The first goal after the
    /// reset is that pose (within one physics step of the tick's measurement) and the arm stays
    /// there instead of being driven back to where it was (issue 15: a reconnected emulator's
    /// arm slewed back to the pre-fault pose).
    @Test func aResetAfterALatchedDriverFaultHoldsThePoseMeasuredAtTheReset() throws {
        let probe = DriverProbe()
        let loop = try Self.loop { $0.failReadsUntilCleanupAt = 801; $0.probe = probe }
        Self.run(loop, 1 ... 50)
        #expect(loop.commands.send(.move(id: 1, to: [0.3, -0.9, 0.8, -0.3, 0.3, 0.2], duration: 0.5)))
        Self.run(loop, 51 ... 799)
        let beforeFault = loop.telemetry.read()
        Self.run(loop, 800 ... 1_000)
        #expect(loop.mode == .faulted && loop.telemetry.read().fault == .driverRead)
        _ = loop.results.pop()
        _ = loop.commands.send(LoopCommand(id: 2, kind: .reset))
        Self.run(loop, 1_001 ... 1_001)
        #expect(loop.results.pop() == LoopCommandResult(id: 2, accepted: true, mode: .hold))
        let atReset = loop.telemetry.read()
        #expect(atReset.mode == .hold)
        let moved = (0 ..< 6).map { abs(atReset.position[$0] - beforeFault.position[$0]) }.max() ?? 0
        #expect(moved > 0.1, "the re-armed arm is \(moved) rad from the pre-fault pose (the test needs it elsewhere)")
        for i in 0 ..< 6 {
            #expect(abs(probe.lastCommand[i] - atReset.position[i]) < 1e-4,
                    "joint \(i): first goal \(probe.lastCommand[i]), measured at the reset \(atReset.position[i]), before the fault \(beforeFault.position[i])")
        }
        Self.run(loop, 1_002 ... 2_000)
        let held = loop.telemetry.read()
        #expect(held.mode == .hold)
        for i in 0 ..< 6 {
            #expect(abs(held.position[i] - atReset.position[i]) < 2e-3,
                    "joint \(i) at \(held.position[i]): held from \(atReset.position[i]), before the fault \(beforeFault.position[i])")
        }
    }
}
