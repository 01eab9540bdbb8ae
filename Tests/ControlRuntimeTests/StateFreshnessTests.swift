import AllocationCounter
import BuildInfo
import Control
import ControlRuntime
import RobotInterface
import Testing

/// The tick uses only fresh driver samples: an invalid one, or one whose timestamp stopped
/// advancing longer than `maxStateAge` ago, never becomes the measurement; the last command is
/// re-sent instead, and `staleStateFaultTicks` such ticks in a row fault the loop. Driven tick by
/// tick on loop time in the test's hands (no wall clock); the scripted driver's reads count from
/// 1 (start's), so tick k makes read k + 1.
@Suite struct StateFreshnessTests {
    typealias Loop = ControlLoop<ScriptedDriver>

    static func run(_ loop: Loop, _ ticks: ClosedRange<Int>) {
        for k in ticks { loop.tick(time: Double(k) * 0.001, overran: false) }
    }

    static func transitions(_ loop: Loop) -> [UInt64: Transition] {
        var all: [UInt64: Transition] = [:]
        while let t = loop.transitions?.pop() { all[t.tick] = t }
        return all
    }

    @Test func anInvalidSampleIsNeverUsedAndTheLastCommandIsResent() throws {
        let probe = DriverProbe()
        let (loop, _) = try ControlLoopTests.loop { $0.invalidReads = [51 ... 52]; $0.probe = probe }
        Self.run(loop, 1 ... 49)
        let before = loop.telemetry.read()
        let sent = Array(probe.lastCommand.prefix(6))
        #expect((0 ..< 6).allSatisfy { sent[$0] == before.command[$0] })
        Self.run(loop, 50 ... 51)
        let held = loop.telemetry.read()
        #expect(held.mode == .hold)
        for i in 0 ..< 6 {
            #expect(held.position[i] == before.position[i], "joint \(i): the held measurement is the last fresh one")
            #expect(probe.lastCommand[i] == sent[i], "joint \(i): the last command is re-sent unchanged")
        }
        #expect(probe.writes == 51, "one write per tick, held ticks included")
        Self.run(loop, 52 ... 60)
        let ticks = Self.transitions(loop)
        #expect(ticks[50].map { $0.flags & Transition.Flags.heldState != 0 } == true)
        #expect(ticks[51].map { $0.flags & Transition.Flags.heldState != 0 } == true)
        #expect(ticks[50].map { $0.position[0] } == before.position[0])
        #expect(ticks[49].map { $0.flags & Transition.Flags.heldState == 0 } == true)
        #expect(ticks[52].map { $0.flags & Transition.Flags.heldState == 0 } == true)
        #expect(loop.telemetry.read().position[0] < 3, "fresh samples are used again")
    }

    /// Stale data in the middle of a fast move: 9 invalid samples (one short of the fault) and
    /// later 15 (a fault). The tick re-sends its last command meanwhile, so the arm keeps moving
    /// unseen; on every tick the measured state is within the position limits and below the
    /// velocity fault threshold unless the loop has faulted, and after the fault it comes to rest.
    @Test func staleDataMidMotionNeverTakesAJointPastItsLimitsUnfaulted() throws {
        let (loop, model) = try ControlLoopTests.loop { $0.invalidReads = [151 ... 159, 251 ... 265] }
        let limits = JointLimits(model: model)
        Self.run(loop, 1 ... 50)
        #expect(loop.commands.send(.move(id: 1, to: [0.3, -1, 0.8, -0.3, 0.3, 0.2], duration: 0.3)))
        var faulted = false
        for k in 51 ... 1_000 {
            loop.tick(time: Double(k) * 0.001, overran: false)
            let s = loop.telemetry.read()
            if s.mode == .faulted { faulted = true }
            guard !faulted else { continue }
            for i in 0 ..< 6 {
                #expect(s.position[i] > limits.lower[i] && s.position[i] < limits.upper[i], "tick \(k) joint \(i): q \(s.position[i])")
                #expect(abs(s.velocity[i]) <= 1.5 * limits.velocity[i], "tick \(k) joint \(i): v \(s.velocity[i])")
            }
            #expect(k < 250 || k > 266 || s.mode == .move, "tick \(k): \(s.mode)")
        }
        let s = loop.telemetry.read()
        #expect(faulted && s.fault == .staleState, "\(s.mode) \(String(describing: s.fault))")
        for i in 0 ..< 6 { #expect(abs(s.velocity[i]) < 0.05, "joint \(i) at rest after the fault: \(s.velocity[i])") }
    }

    @Test func staleStateFaultTicksInARowFaultWithAFlightRecorderDump() throws {
        let (loop, _) = try ControlLoopTests.loop({ $0.invalidReads = [101 ... 200] }, configure: { $0.staleStateFaultTicks = 5 })
        Self.run(loop, 1 ... 103)
        #expect(loop.mode == .hold, "four invalid samples are below the threshold of five")
        #expect(!loop.flightRecorder.isFrozen)
        Self.run(loop, 104 ... 104)
        let s = loop.telemetry.read()
        #expect(s.mode == .faulted && s.hasFault && s.fault == .staleState)
        #expect(s.fault.description == "joint state invalid or stale")
        #expect(loop.flightRecorder.isFrozen && loop.flightRecorder.dumpGeneration == 1)
        #expect(loop.flightRecorder.frozenTicks().last.map { $0.tick } == 104)
        // Faulted, the arm is held at the last fresh pose until samples are fresh again; reset
        // then returns to hold.
        Self.run(loop, 105 ... 210)
        #expect(loop.telemetry.read().position[0] < 3)
        _ = loop.commands.send(LoopCommand(id: 1, kind: .reset))
        Self.run(loop, 211 ... 211)
        #expect(loop.results.pop() == LoopCommandResult(id: 1, accepted: true, mode: .hold))
    }

    @Test func aFreshSampleRestartsTheCount() throws {
        // Four invalid, one fresh, four invalid, with a threshold of five: no fault.
        let (loop, _) = try ControlLoopTests.loop({ $0.invalidReads = [12 ... 15, 17 ... 20] }, configure: { $0.staleStateFaultTicks = 5 })
        Self.run(loop, 1 ... 40)
        #expect(loop.mode == .hold)
        #expect(!loop.flightRecorder.isFrozen)
    }

    /// The sample first seen at tick 99 repeats from tick 100 on; with a 4.5 ms maximum age it
    /// is still the measurement at ticks 100…103 (1…4 ms old), stale from tick 104, and the third
    /// stale tick (106) faults.
    @Test func aSampleWhoseTimestampStopsIsStaleAfterTheMaximumAge() throws {
        let (loop, _) = try ControlLoopTests.loop({ $0.frozenFromRead = 101 },
                                                 configure: { $0.maxStateAge = 0.0045; $0.staleStateFaultTicks = 3 })
        Self.run(loop, 1 ... 105)
        #expect(loop.mode == .hold)
        Self.run(loop, 106 ... 106)
        #expect(loop.telemetry.read().fault == .staleState && loop.mode == .faulted)
        let ticks = Self.transitions(loop)
        for k in 100 ... 103 { #expect(ticks[UInt64(k)].map { $0.flags & Transition.Flags.heldState == 0 } == true, "tick \(k)") }
        for k in 104 ... 106 { #expect(ticks[UInt64(k)].map { $0.flags & Transition.Flags.heldState != 0 } == true, "tick \(k)") }
    }

    @Test func aTimestampThatGoesBackIsNeverFresh() throws {
        let (loop, _) = try ControlLoopTests.loop { $0.backwardsTimestampAt = 51 }
        Self.run(loop, 1 ... 60)
        let ticks = Self.transitions(loop)
        #expect(ticks[50].map { $0.flags & Transition.Flags.heldState != 0 } == true)
        #expect(ticks[51].map { $0.flags & Transition.Flags.heldState == 0 } == true)
        #expect(loop.mode == .hold)
    }

    @Test func startRefusesAnInvalidFirstSample() throws {
        #expect(throws: DriverError.self) { try ControlLoopTests.loop { $0.invalidReads = [1 ... 1] } }
    }

    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func ticksWithoutAFreshStateDoNotAllocate() throws {
        let (loop, _) = try ControlLoopTests.loop({ $0.invalidReads = [21 ... 400] }, configure: { $0.staleStateFaultTicks = 100 })
        Self.run(loop, 1 ... 10)
        AllocationCounter_start()
        Self.run(loop, 11 ... 400)
        let count = AllocationCounter_stop()
        #expect(loop.mode == .faulted)
        #expect(count == 0, "\(count) allocations")
    }
}

extension StateFreshnessTests {
    /// `status.stale_states`: every tick without a fresh sample since start, invalid or too old,
    /// as many as the transitions flagged as held; a fresh sample does not reset it.
    @Test func telemetryCountsTheTicksWithoutAFreshState() throws {
        let (loop, _) = try ControlLoopTests.loop({ $0.invalidReads = [12 ... 15, 17 ... 20] }, configure: { $0.staleStateFaultTicks = 5 })
        Self.run(loop, 1 ... 10)
        #expect(loop.telemetry.read().staleStates == 0)
        Self.run(loop, 11 ... 40)
        #expect(loop.telemetry.read().staleStates == 8)
        #expect(Self.transitions(loop).values.filter { $0.flags & Transition.Flags.heldState != 0 }.count == 8)
        #expect(loop.mode == .hold)

        // Too old: the sample first seen at tick 99 is stale from tick 104 on (4.5 ms maximum age).
        let (frozen, _) = try ControlLoopTests.loop({ $0.frozenFromRead = 101 },
                                                   configure: { $0.maxStateAge = 0.0045; $0.staleStateFaultTicks = 10 })
        Self.run(frozen, 1 ... 106)
        #expect(frozen.telemetry.read().staleStates == 3)
    }
}
