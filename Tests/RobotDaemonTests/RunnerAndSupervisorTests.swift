import AllocationCounter
import Control
import ControlRuntime
import Foundation
import Logging
import Platform
import RigidBody
import RobotDaemon
import RobotInterface
import RobotdConfig
import SimulationDriver
import Synchronization
import BuildInfo
import Testing

/// What a probed driver did, readable after the loop consumed the driver. Appending a literal
/// into reserved capacity does not allocate, so the log does not disturb allocation counts.
final class DriverLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [StaticString] = []
    init() { events.reserveCapacity(1024) }
    func append(_ e: StaticString) { lock.lock(); events.append(e); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return events.map { "\($0)" } }
}

/// The simulated arm with lifecycle logging and scripted misbehaviour.
struct ProbedDriver: RobotDriver {
    var arm: SimulatedArm
    let log: DriverLog
    var allocateOnRead = false
    var failReadAt: Int? = nil
    var reads = 0

    var description: DriverDescription { arm.description }
    mutating func configure() throws(DriverError) { try arm.configure(); log.append("configure") }
    mutating func activate(mode: CommandMode) throws(DriverError) { try arm.activate(mode: mode); log.append("activate") }
    mutating func deactivate() { arm.deactivate(); log.append("deactivate") }
    mutating func cleanup() { arm.cleanup(); log.append("cleanup") }
    mutating func read(into state: inout JointState) throws(DriverError) {
        reads += 1
        if reads == failReadAt { throw DriverError(.communication, "scripted read failure") }
        if allocateOnRead { keep([Double](repeating: Double(reads), count: 16)) }
        try arm.read(into: &state)
    }
    mutating func write(_ command: JointCommand) throws(DriverError) { try arm.write(command) }
}

@inline(never) @_optimize(none)
func keep(_ x: [Double]) {}

enum Fixtures {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func sim6() throws -> RobotModel {
        let path = repoRoot.appendingPathComponent("hardware/robots/sim6/robot.urdf").path
        return try RobotModel(urdfText: String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    static func loop(_ edit: (inout ProbedDriver) -> Void = { _ in }) throws -> (ControlLoop<ProbedDriver>, DriverLog) {
        let model = try sim6()
        var sim = SimulatedArm.Configuration()
        sim.initialPosition = [0, -1.2, 1.0, -0.5, 0.4, 0.1]
        let log = DriverLog()
        var driver = ProbedDriver(arm: try SimulatedArm(model: model, configuration: sim), log: log)
        edit(&driver)
        var config = ControlLoop<ProbedDriver>.Configuration()
        config.flightRecorderTicks = 300
        config.overrunFaultThreshold = 100_000
        let loop = ControlLoop(model: model, driver: driver, holdController: JointPDController(model: model),
                               limits: JointLimits(model: model), configuration: config)
        try loop.start()
        return (loop, log)
    }

    static func temporaryDirectory(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("robotd-\(name)-\(getpid())-\(UInt32.random(in: 0 ... .max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Threads run unprivileged in tests: no FIFO, no mlockall (whatever the machine grants is fine).
func testThreadOptions() -> RealtimeThread.Options {
    var o = RealtimeThread.Options()
    o.priority = nil
    o.lockMemory = false
    return o
}

func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}

@Suite struct ControlLoopRunnerTests {
    @Test func ticksOnItsThreadThenRampsToHoldAndDeactivatesTheDriver() throws {
        let (loop, log) = try Fixtures.loop()
        let runner = ControlLoopRunner(loop: loop, periodNanoseconds: 1_000_000, rampTicks: 20, publishEvery: 10)
        runner.start(options: testThreadOptions())
        #expect(waitUntil(seconds: 5) { runner.tickCount >= 50 })
        _ = loop.commands.send(.move(id: 7, to: [0.2, -1.0, 0.9, -0.4, 0.3, 0.2], duration: 5))
        #expect(waitUntil(seconds: 5) { loop.telemetry.read().mode == .move })
        let before = runner.tickCount
        runner.requestStop()
        runner.join()
        let after = runner.tickCount
        // The stop ramps: a hold request, then rampTicks more ticks, then the driver goes off.
        #expect(after >= before + 20)
        #expect(loop.telemetry.read().mode == .hold)
        #expect(log.all.suffix(2) == ["deactivate", "cleanup"])
        let stats = runner.statistics.read()
        #expect(stats.ticks == after)
        #expect(stats.wakeLatency.total == after && stats.computeTime.total == after)
    }

    /// `loop.early_wake`: the runner sleeps to 200 µs before each deadline and spins the rest;
    /// the time spun is counted (none without it), and the tick still allocates nothing.
    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func earlyWakeSpinsBeforeEachDeadlineAndAllocatesNothing() throws {
        for early in [UInt64(0), 200_000] {
            let (loop, _) = try Fixtures.loop()
            let runner = ControlLoopRunner(loop: loop, periodNanoseconds: 1_000_000, rampTicks: 0, publishEvery: 1,
                                           earlyWakeNanoseconds: early)
            #expect(runner.earlyWakeNanoseconds == early)
            runner.start(options: testThreadOptions())
            #expect(waitUntil(seconds: 10) { runner.statistics.read().allocationCountedTicks >= 200 })
            runner.requestStop()
            runner.join()
            let s = runner.statistics.read()
            #expect(s.allocations == 0, "\(s.allocations) allocations in \(s.allocationCountedTicks) ticks")
            // Every tick that woke before its deadline spun; a stalled test machine may make some
            // wake late, never all of them.
            #expect(early == 0 ? s.spinTime == 0 : s.spinTime > 0, "spun \(s.spinTime) ns with early wake \(early) ns")
        }
        // At most half a period.
        let (loop, _) = try Fixtures.loop()
        #expect(ControlLoopRunner(loop: loop, periodNanoseconds: 1_000_000, earlyWakeNanoseconds: 900_000).earlyWakeNanoseconds == 500_000)
    }

    /// The counter is live in the runner: a driver that allocates on every read is caught.
    @Test func countsAllocationsOnTheControlThread() throws {
        let (loop, _) = try Fixtures.loop { $0.allocateOnRead = true }
        let runner = ControlLoopRunner(loop: loop, periodNanoseconds: 500_000, rampTicks: 0, publishEvery: 1)
        runner.start(options: testThreadOptions())
        #expect(waitUntil(seconds: 5) { runner.statistics.read().allocationCountedTicks >= 100 })
        runner.requestStop()
        runner.join()
        let s = runner.statistics.read()
        #expect(s.allocations >= s.allocationCountedTicks, "\(s.allocations) allocations in \(s.allocationCountedTicks) ticks")
    }

    @Test(.enabled(if: BuildConfiguration.isOptimized, "needs an optimised build (make test)"))
    func theRunnerTickAllocatesNothingOnTheSimulatedArm() throws {
        let (loop, _) = try Fixtures.loop()
        let runner = ControlLoopRunner(loop: loop, periodNanoseconds: 500_000, rampTicks: 0, publishEvery: 1)
        runner.start(options: testThreadOptions())
        // Counting starts after the warm-up ticks; every command below lands in the counted span.
        #expect(waitUntil(seconds: 10) { runner.statistics.read().allocationCountedTicks >= 50 })
        _ = loop.commands.send(.move(id: 1, to: [0.2, -1.0, 0.9, -0.4, 0.3, 0.2], duration: 0.1))
        #expect(waitUntil(seconds: 10) { loop.telemetry.read().mode == .move })
        #expect(waitUntil(seconds: 10) { loop.telemetry.read().mode == .hold })
        _ = loop.commands.send(LoopCommand(id: 2, kind: .estop))
        _ = loop.commands.send(LoopCommand(id: 3, kind: .reset))
        _ = loop.commands.send(LoopCommand(id: 4, kind: .setMode, mode: .idle))
        _ = loop.commands.send(LoopCommand(id: 5, kind: .setMode, mode: .hold))
        let seen = runner.statistics.read().allocationCountedTicks
        #expect(waitUntil(seconds: 10) { runner.statistics.read().allocationCountedTicks >= seen + 300 })
        runner.requestStop()
        runner.join()
        let s = runner.statistics.read()
        #expect(s.allocations == 0, "\(s.allocations) allocations in \(s.allocationCountedTicks) ticks")
    }
}

/// Records what the supervisor tells the service manager.
final class RecordingNotifier: ServiceNotifier, @unchecked Sendable {
    private let lock = NSLock()
    private var sent: [String] = []
    let watchdogInterval: Duration?
    init(watchdog: Duration?) { watchdogInterval = watchdog }
    func notify(_ state: String) -> Bool { lock.lock(); sent.append(state); lock.unlock(); return true }
    var messages: [String] { lock.lock(); defer { lock.unlock() }; return sent }
    var watchdogs: Int { messages.filter { $0 == "WATCHDOG=1" }.count }
}

@Suite struct DaemonSupervisorTests {
    final class FakeLoop: @unchecked Sendable {
        var ticks: UInt64 = 0
        var telemetry = TelemetrySnapshot()
        var stats = LoopStatistics()
    }

    static func supervisor(_ fake: FakeLoop, notifier: RecordingNotifier, recorder: FlightRecorder? = nil,
                           directory: String = "/nonexistent") -> DaemonSupervisor {
        DaemonSupervisor(
            source: .init(tickCount: { fake.ticks }, telemetry: { fake.telemetry }, statistics: { fake.stats },
                          flightRecorder: recorder, jointNames: ["a", "b"]),
            notifier: notifier, rateHz: 1000, dataDirectory: directory, logger: Logger(label: "test")
        )
    }

    /// WATCHDOG=1 goes out only while the tick counter advances: a stalled loop lets systemd's
    /// watchdog fire, and feeding resumes when the loop does.
    @Test func feedsTheWatchdogOnlyWhileTheLoopAdvances() {
        let fake = FakeLoop()
        let notifier = RecordingNotifier(watchdog: .milliseconds(400))
        let s = Self.supervisor(fake, notifier: notifier)
        #expect(s.watchdogPeriod == 0.2)
        var now = 100.0
        func run(seconds: Double, advancing: Bool) {
            let end = now + seconds
            while now < end {
                if advancing { fake.ticks += 10 }
                s.poll(now: now)
                now += 0.01
            }
        }
        run(seconds: 1, advancing: true)
        let fed = notifier.watchdogs
        #expect((4 ... 5).contains(fed), "fed \(fed) times in 1 s at a 0.2 s period")
        run(seconds: 1, advancing: false)
        // At most the check that straddles the stall still sees progress.
        #expect(notifier.watchdogs <= fed + 1)
        let stalledCount = notifier.watchdogs
        run(seconds: 1, advancing: true)
        #expect(notifier.watchdogs >= stalledCount + 4)
    }

    @Test func withoutAWatchdogNothingIsFedButStatusIsKept() {
        let fake = FakeLoop()
        fake.telemetry.mode = .hold
        let notifier = RecordingNotifier(watchdog: nil)
        let s = Self.supervisor(fake, notifier: notifier)
        for k in 0 ..< 300 {
            fake.ticks += 10
            s.poll(now: Double(k) * 0.01)
        }
        #expect(notifier.watchdogs == 0)
        let statuses = notifier.messages.filter { $0.hasPrefix("STATUS=") }
        #expect((3 ... 4).contains(statuses.count))
        #expect(statuses.last?.hasPrefix("STATUS=hold · 1000 Hz") == true)
    }

    /// A real fault (the driver's read fails) freezes the flight recorder; the supervisor writes
    /// it as CSV — the ticks up to the fault, oldest first — and thaws the recorder.
    @Test func writesTheFlightRecorderWhenTheLoopFaults() throws {
        let (loop, _) = try Fixtures.loop { $0.failReadAt = 351 }
        let dir = try Fixtures.temporaryDirectory("flight")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let notifier = RecordingNotifier(watchdog: nil)
        var k = 0
        let supervisor = DaemonSupervisor(
            source: .init(tickCount: { UInt64(k) }, telemetry: { loop.telemetry.read() }, statistics: { LoopStatistics() },
                          flightRecorder: loop.flightRecorder, jointNames: loop.model.joints.map(\.name)),
            notifier: notifier, rateHz: 1000, dataDirectory: dir, logger: Logger(label: "test")
        )
        while k < 400 {
            k += 1
            loop.tick(time: Double(k) * 0.001, overran: false)
        }
        #expect(loop.telemetry.read().mode == .faulted)
        #expect(loop.flightRecorder.isFrozen)
        supervisor.poll(now: 1)
        let path = try #require(supervisor.lastDumpPath)
        #expect(path.hasPrefix(dir) && path.contains("driver-read-failed"))
        #expect(!loop.flightRecorder.isFrozen)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines[0].contains("driver read failed"))
        let header = lines[1].split(separator: ",").map(String.init)
        #expect(header.prefix(5) == ["tick", "time_s", "mode", "flags", "command_mode"])
        #expect(header.contains("q_shoulder_pan_joint") || header.count == 5 + 4 * 6)
        let rows = lines.dropFirst(2).map { $0.split(separator: ",") }
        // The last 300 ticks up to the fault: read 351 is tick 350's (start() made the first).
        #expect(rows.count == 300)
        let ticks = rows.map { Int($0[0])! }
        #expect(ticks == Array(51 ... 350))
        #expect(rows.last.map { String($0[2]) } == "faulted")
        #expect(rows.dropLast().allSatisfy { $0[2] == "hold" })
        // Polling again writes nothing new.
        supervisor.poll(now: 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == 1)
    }
}

@Suite struct DaemonAssemblyTests {
    static func config(_ yaml: String) throws -> DaemonConfiguration {
        try ConfigLoader.parse(yaml, file: "test.yaml", baseDirectory: Fixtures.repoRoot.appendingPathComponent("configs").path)
    }

    @Test func buildsTheSimulatedLoopFromTheShippedConfig() throws {
        let c = try ConfigLoader.load(path: Fixtures.repoRoot.appendingPathComponent("configs/sim.yaml").path)
        let model = try DaemonAssembly.loadModel(c)
        let loop = try DaemonAssembly.simulationLoop(c, model: model)
        #expect(loop.model.dof == 6)
        #expect(loop.configuration.period == 0.001)
        #expect(loop.flightRecorder.capacity == 5000)
    }

    @Test func perJointListsAndJointNamesAreCheckedAgainstTheRobot() throws {
        let base = "robot: {urdf: ../hardware/robots/sim6/robot.urdf}\n"
        let wrongLength = try Self.config(base + "control: {hold: {kp: [1, 2, 3], kd: 1}}")
        let model = try DaemonAssembly.loadModel(wrongLength)
        #expect(throws: DaemonAssembly.Failure.self) { try DaemonAssembly.simulationLoop(wrongLength, model: model) }
        do {
            _ = try DaemonAssembly.simulationLoop(wrongLength, model: model)
        } catch {
            #expect("\(error)".contains("control.hold.kp") && "\(error)".contains("6 values"))
        }
        let unknownJoint = try Self.config(base + "limits: {joints: {elbow: {effort: 5}}}")
        do {
            _ = try DaemonAssembly.limits(unknownJoint, model: model)
            Issue.record("an unknown joint must be rejected")
        } catch {
            #expect("\(error)".contains("limits.joints.elbow") && "\(error)".contains("elbow_joint"))
        }
        // Overrides only tighten the description's limits.
        let looser = try Self.config(base + "limits: {joints: {elbow_joint: {effort: 1000000, velocity: 0.1}}}")
        let limits = try DaemonAssembly.limits(looser, model: model)
        let i = try #require(model.jointIndex(named: "elbow_joint"))
        #expect(limits.effort[i] == model.joints[i].effortLimit)
        #expect(limits.velocity[i] == 0.1)
    }

    /// The driver's joints must be the model's, in order, and it must take the loop's command
    /// mode; each mismatch is named with both lists.
    @Test func theDriverDescriptionIsCheckedAgainstTheRobotModel() throws {
        let model = try Fixtures.sim6()
        let names = model.joints.map(\.name)
        func failure(_ d: DriverDescription, _ mode: CommandMode = .torque) -> String? {
            do throws(DaemonAssembly.Failure) {
                try DaemonAssembly.checkDriver(d, model: model, urdf: "sim6/robot.urdf", commandMode: mode)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(failure(DriverDescription(name: "arm", jointNames: names, supportedModes: [.torque])) == nil)
        let short = try #require(failure(DriverDescription(name: "bus", jointNames: Array(names.prefix(5)), supportedModes: [.torque])))
        #expect(short.contains("driver \"bus\": 5 joints") && short.contains("sim6/robot.urdf has 6 moving joints"), "\(short)")
        #expect(short.contains(names[5]), "\(short)")
        var swapped = names
        swapped.swapAt(1, 2)
        let order = try #require(failure(DriverDescription(name: "bus", jointNames: swapped, supportedModes: [.torque])))
        #expect(order.contains("joint 1 is \"\(names[2])\"") && order.contains("has \"\(names[1])\" there"), "\(order)")
        let mode = try #require(failure(DriverDescription(name: "servos", jointNames: names, supportedModes: [.position]), .torque))
        #expect(mode.contains("does not accept torque commands") && mode.contains("position"), "\(mode)")
    }

    @Test func theLoopTakesTheFreshnessSettingsFromTheConfig() throws {
        let c = try Self.config("robot: {urdf: ../hardware/robots/sim6/robot.urdf}\nloop: {max_state_age: 0.02, stale_state_fault_ticks: 7}")
        let loop = try DaemonAssembly.simulationLoop(c, model: try DaemonAssembly.loadModel(c))
        #expect(loop.configuration.maxStateAge == 0.02 && loop.configuration.staleStateFaultTicks == 7)
        #expect(loop.policies?.actionKind == loop.configuration.commandMode)
    }

    @Test func aMissingRobotDescriptionNamesTheKeyAndPath() throws {
        let c = try Self.config("robot: {urdf: /nonexistent/robot.urdf}")
        do {
            _ = try DaemonAssembly.loadModel(c)
            Issue.record("a missing URDF must be rejected")
        } catch {
            #expect("\(error)".contains("robot.urdf") && "\(error)".contains("/nonexistent/robot.urdf"))
        }
    }
}

