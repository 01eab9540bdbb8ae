import AllocationCounter
import BuildInfo
import Control
import ControlRuntime
import RigidBody
import RobotInterface
import SimulationDriver
import Synchronization
import Testing

/// Mode `teleop` with the streamed-target source, in lock-step on a test clock: the clock the
/// source stamps and ages inputs with advances one period per tick.
@Suite struct TeleopModeTests {
    final class TestClock: Sendable {
        let nanoseconds = Atomic<UInt64>(1_000_000_000)
        func advance(_ seconds: Double) { nanoseconds.add(UInt64(seconds * 1e9), ordering: .relaxed) }
        var now: UInt64 { nanoseconds.load(ordering: .relaxed) }
    }

    static let start: [Double] = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
    static let period = 0.001

    struct Rig {
        let loop: ControlLoop<SimulatedArm>
        let source: StreamedTeleop
        let clock: TestClock
        let limits: JointLimits
        var k = 0

        /// One tick: the clock first, then the loop at the same time.
        mutating func tick(_ n: Int = 1, each: (TelemetrySnapshot) -> Void = { _ in }) {
            for _ in 0 ..< n {
                k += 1
                clock.advance(TeleopModeTests.period)
                loop.tick(time: Double(k) * TeleopModeTests.period, overran: false)
                each(loop.telemetry.read())
            }
        }

        mutating func setMode(_ mode: Mode) -> LoopCommandResult? {
            _ = loop.commands.send(LoopCommand(id: UInt64(k + 1), kind: .setMode, mode: mode))
            tick()
            return loop.results.pop()
        }

        var position: [Double] { let t = loop.telemetry.read(); return (0 ..< 6).map { t.position[$0] } }
        var command: [Double] { let t = loop.telemetry.read(); return (0 ..< 6).map { t.command[$0] } }
    }

    /// sim6 with the teleop slot holding a streamed source; limits ±0.5 rad around the start
    /// pose (so that targets can be outside them), started in hold.
    static func rig(commandMode: CommandMode = .torque, timeout: Double = 0.1, maxVelocity: Double = 1.0) throws -> Rig {
        let model = try Fixtures.sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = start
        let base = JointLimits(model: model, slewRate: 1000)
        let limits = JointLimits(lower: start.map { $0 - 0.5 }, upper: start.map { $0 + 0.5 }, velocity: base.velocity, effort: base.effort,
                                 slewRate: base.slewRate)
        var config = ControlLoop<SimulatedArm>.Configuration()
        config.period = period
        config.overrunFaultThreshold = 100_000
        config.commandMode = commandMode
        let clock = TestClock()
        var c = StreamedTeleop.Configuration()
        c.timeout = timeout
        c.maxVelocity = maxVelocity
        c.period = period
        // One controller value for the loop and the source, as the daemon passes its move gains.
        let controller = JointPDController(model: model)
        let source = StreamedTeleop(controller: controller, limits: limits, actionKind: commandMode, configuration: c,
                                    clock: { clock.now })
        let slot = PolicySlot(dof: 6, actionKind: commandMode)
        slot.install(source)
        let loop = ControlLoop(model: model, driver: try SimulatedArm(model: model, configuration: sim),
                               holdController: controller, limits: limits, configuration: config,
                               recordingRingCapacity: 64, teleop: slot)
        try loop.start()
        return Rig(loop: loop, source: source, clock: clock, limits: limits)
    }

    /// A stream of joint targets is followed; the tick's ticks are interventions; when the input
    /// goes stale (older than the timeout) the arm holds where it is, and the source says so.
    @Test(arguments: [CommandMode.torque, .position])
    func followsTheStreamAndHoldsWhenItGoesStale(_ mode: CommandMode) throws {
        var rig = try Self.rig(commandMode: mode)
        rig.tick(10)
        #expect(rig.setMode(.teleop)?.accepted == true)
        #expect(rig.loop.mode == .teleop)
        // No input yet: teleop holds.
        let before = rig.position
        rig.tick(200)
        #expect(maxAbsDiff(rig.position, before) < 0.01)
        #expect(rig.source.statistics.read().acting == false)

        var target = Self.start
        target[0] += 0.2; target[1] -= 0.15; target[3] += 0.1
        // The first ticks that act (engage, first latency sample, first statistics) allocate
        // nothing either.
        rig.source.post(target)
        AllocationCounter_start()
        rig.tick(10)
        let allocations = AllocationCounter_stop()
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations engaging") }
        for _ in 0 ..< 1499 {
            rig.source.post(target)
            rig.tick(10)
        }
        #expect(maxAbsDiff(rig.position, target) < 0.01, "\(rig.position) vs \(target)")
        while rig.loop.recordings?.pop() != nil {}
        rig.tick()
        let last = rig.loop.recordings?.pop()
        #expect(last.map { $0.flags & Transition.Flags.intervention != 0 && $0.mode == .teleop } == true)
        #expect(rig.source.statistics.read().acting)

        // Stop streaming: after the timeout the source stops and the arm stays where it is.
        rig.tick(150)
        #expect(rig.source.statistics.read().acting == false)
        let stale = rig.position
        rig.tick(1000)
        #expect(maxAbsDiff(rig.position, stale) < 0.005, "drifted from \(stale) to \(rig.position)")
        #expect(rig.loop.mode == .teleop)
        // 1500 inputs, each first commanded by the tick 1 ms (one clock step) after it was posted.
        let stats = rig.source.statistics.read()
        #expect(stats.newestSequence == 1500 && stats.latency.total == 1500)
        #expect(abs(Double(stats.latency.value(atQuantile: 0.5)) - 1e6) < 0.04e6)
    }

    /// NaN targets are never used and 1e3-rad targets are clamped inside the limits: over the
    /// whole run no joint reaches a limit and the loop does not fault.
    @Test(arguments: [CommandMode.torque, .position])
    func hostileTargetsNeverTakeAJointPastALimit(_ mode: CommandMode) throws {
        var rig = try Self.rig(commandMode: mode)
        rig.tick(10)
        #expect(rig.setMode(.teleop)?.accepted == true)
        let limits = rig.limits
        var worst = Double.infinity
        func check(_ t: TelemetrySnapshot) {
            for i in 0 ..< 6 {
                worst = min(worst, t.position[i] - limits.lower[i], limits.upper[i] - t.position[i])
            }
        }
        rig.source.post([Double](repeating: .nan, count: 6))
        let before = rig.position
        rig.tick(300, each: check)
        #expect(maxAbsDiff(rig.position, before) < 0.01)
        #expect(rig.source.statistics.read().refused == 1)
        for sign in [1.0, -1.0, 1.0] {
            for _ in 0 ..< 200 {
                rig.source.post([1e3, -1e3, 1e3, -1e3, 1e3, -1e3].map { $0 * sign })
                rig.tick(10, each: check)
            }
        }
        rig.source.post([.infinity, 0, 0, 0, 0, 0])
        rig.tick(200, each: check)
        #expect(rig.loop.mode == .teleop, "faulted: \(rig.loop.telemetry.read().fault)")
        #expect(worst > 0, "a joint reached a limit (margin \(worst))")
        #expect(rig.source.statistics.read().refused == 2)
    }

    /// Engaging towards a far target, and disengaging when the stream stops, move the goal (servo
    /// arm) by at most the per-tick step limit; the first teleop goal is the measured pose. Ticking
    /// in teleop allocates nothing.
    @Test func engageAndDisengageAreBoundedByTheStepLimit() throws {
        let maxVelocity = 0.5
        var rig = try Self.rig(commandMode: .position, maxVelocity: maxVelocity)
        rig.tick(20)
        let measured = rig.position
        var target = Self.start
        target[2] += 0.45; target[4] -= 0.45
        rig.source.post(target)
        #expect(rig.setMode(.teleop)?.accepted == true)
        var previous = rig.command
        #expect(maxAbsDiff(previous, measured) <= maxVelocity * Self.period + 1e-9)
        var largest = 0.0
        func step(_ t: TelemetrySnapshot) {
            let c = (0 ..< 6).map { t.command[$0] }
            largest = max(largest, maxAbsDiff(c, previous))
            previous = c
        }
        for _ in 0 ..< 40 {
            rig.source.post(target)
            rig.tick(10, each: step)
        }
        #expect(largest <= maxVelocity * Self.period + 1e-9, "engage step \(largest)")
        var allocations: UInt64 = 0
        for _ in 0 ..< 50 {
            rig.source.post(target)
            AllocationCounter_start()
            rig.tick(10)
            allocations += AllocationCounter_stop()
        }
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations") }
        #expect(rig.source.statistics.read().acting)
        // Disengage mid-approach: the goal stops where the arm is, each step within the limiter's bound.
        previous = rig.command
        largest = 0
        rig.tick(500, each: step)
        #expect(rig.source.statistics.read().acting == false)
        let bound = rig.limits.velocity.max()! * Self.period
        #expect(largest <= bound + 1e-9, "disengage step \(largest)")
        // Re-engage on a fresh input: again from the measured pose, again bounded.
        let resumed = rig.position
        rig.source.post(target)
        rig.tick(1)
        #expect(maxAbsDiff(rig.command, resumed) <= maxVelocity * Self.period + 1e-3)
    }

    /// Torque arm: engaging on a far target starts from the measured pose (the reference, not the
    /// target, is tracked), so the joints never move faster than the step limit allows by much.
    @Test func torqueEngageFollowsTheRateLimitedReference() throws {
        let maxVelocity = 0.5
        var rig = try Self.rig(commandMode: .torque, maxVelocity: maxVelocity)
        rig.tick(20)
        var target = Self.start
        target[1] += 0.45; target[2] -= 0.45
        #expect(rig.setMode(.teleop)?.accepted == true)
        var fastest = 0.0
        for _ in 0 ..< 200 {
            rig.source.post(target)
            rig.tick(10) { t in for i in 0 ..< 6 { fastest = max(fastest, abs(t.velocity[i])) } }
        }
        #expect(fastest < 1.5 * maxVelocity, "a joint reached \(fastest) rad/s")
        #expect(maxAbsDiff(rig.position, target) < 0.01)
    }
}

private func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
