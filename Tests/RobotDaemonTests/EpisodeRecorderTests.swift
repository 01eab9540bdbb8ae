import AllocationCounter
import BuildInfo
import ControlRuntime
import EpisodeStore
import Foundation
import Logging
import RobotDaemon
import RobotdConfig
import SimulationDriver
import Testing

/// The recorder over configs/sim.yaml's loop (1 kHz, torques), in lock step: the test ticks the
/// loop at simulated times and drives the recorder's `step` itself, so every expectation is
/// about which ticks become frames, never about the machine's scheduling. Learning is switched
/// on only so that the loop's learner ring carries the same transitions: the oracle.
@Suite(.serialized) struct EpisodeRecorderTests {
    struct Rig {
        let dir: String
        let loop: ControlLoop<SimulatedArm>
        let recorder: EpisodeRecorder
        let store: EpisodeStore
        let transitions: SPSCRing<Transition>
        var k = 0
        var period: Double { loop.configuration.period }

        init(maxPageCount: Int? = nil) throws {
            var config = try ConfigLoader.load(path: Fixtures.repoRoot.appendingPathComponent("configs/sim.yaml").path)
            config.loop.lockMemory = false
            config.loop.overrunFaultThreshold = 1000
            config.mpc.enabled = true
            config.learning.enabled = true
            dir = NSTemporaryDirectory() + "recorder-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let parts = try DaemonAssembly.parts(config, logger: Logger(label: "test"))
            loop = parts.loop
            transitions = try #require(loop.transitions)
            store = try EpisodeStore(path: EpisodeStore.path(dataDirectory: dir), access: .writer,
                                     options: .init(maxPageCount: maxPageCount))
            recorder = EpisodeRecorder(store: store, ring: try #require(loop.recordings), jointNames: loop.model.joints.map(\.name),
                                       commandMode: "effort", loopRateHz: config.loop.rateHz, logger: Logger(label: "test"))
            try loop.start()
        }

        /// Ticks `n` times; the recorder drains every `every` ticks (in simulated time).
        mutating func run(_ n: Int, every: Int = 7) {
            for _ in 0 ..< n {
                loop.tick(time: Double(k) * period, overran: false)
                k += 1
                if k % every == 0 { recorder.step(now: Double(k) * period) }
            }
        }

        var now: Double { Double(k) * period }

        /// The transitions since the last call, by the k of their time k·period.
        func drained() -> [Int: Transition] {
            var out: [Int: Transition] = [:]
            while let t = transitions.pop() { out[Int((t.time / period).rounded())] = t }
            return out
        }

        func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
    }

    static func provenance(_ task: String) -> EpisodeProvenance {
        EpisodeProvenance(robot: "sim", urdfSHA256: "u", calibrationSHA256: nil, configurationSHA256: "c", robotdVersion: "test", task: task)
    }

    /// 1 kHz loop, 50 fps: frame k is the tick 20 k after the first recorded tick, stamped k/50
    /// exactly, with that tick's q, v, effort, command and requested command bit for bit.
    /// During a fast move the limiter acts on some frames; requested differs from the action
    /// exactly on those.
    @Test func decimatesExactlyAndCopiesTheTicks() throws {
        var rig = try Rig()
        defer { rig.cleanup() }
        rig.run(5)
        rig.recorder.step(now: rig.now)
        _ = rig.drained()
        let id = try rig.recorder.start(task: "reach", fps: 50, provenance: Self.provenance("reach"), now: rig.now)
        let firstTick = rig.k
        // A fast move to a distant pose: the PD asks for more than the slew and effort limits allow.
        _ = rig.loop.commands.send(.move(id: 1, to: [1.2, -0.8, 1.0, 0.9, -0.7, 1.1], duration: 0.15))
        rig.run(1000)
        let stopped = try rig.recorder.stop(now: rig.now)
        let ticks = rig.drained()
        #expect(stopped.episode == id && stopped.frames == 50)

        let episode = try rig.store.episode(id: id)
        #expect(episode.summary.status == .complete && episode.summary.fps == 50 && episode.summary.task == "reach")
        #expect(episode.frames.count == 50)
        var limited = 0
        for f in episode.frames {
            #expect(f.timestamp == Double(f.frameIndex) / 50, "frame \(f.frameIndex): timestamp \(f.timestamp)")
            let tick = firstTick + 20 * f.frameIndex
            let t = try #require(ticks[tick], "tick \(tick)")
            #expect(f.loopTime == t.time && t.time == Double(tick) * rig.period)
            let n = rig.loop.model.dof
            func bits(_ a: InlineArray<8, Double>) -> [UInt64] { (0 ..< n).map { a[$0].bitPattern } }
            #expect(f.position.map(\.bitPattern) == bits(t.position))
            #expect(f.velocity.map(\.bitPattern) == bits(t.velocity))
            #expect(f.effort.map(\.bitPattern) == bits(t.effort))
            #expect(f.action.map(\.bitPattern) == bits(t.command))
            #expect(f.requestedAction.map(\.bitPattern) == bits(t.requested))
            #expect(f.mode == "\(t.mode)")
            #expect(f.intervention == (t.flags & Transition.Flags.intervention != 0))
            if t.flags & Transition.Flags.limited != 0 {
                limited += 1
                #expect(f.requestedAction != f.action, "frame \(f.frameIndex) limited but requested == action")
            } else {
                #expect(f.requestedAction == f.action, "frame \(f.frameIndex) not limited but requested != action")
            }
        }
        #expect(limited > 0, "the fast move never hit a limit: the test does not exercise requested ≠ action")
        #expect(episode.frames.contains { $0.mode == "move" } && episode.frames.contains { $0.mode == "hold" })
        #expect(rig.recorder.status.recording == false && rig.recorder.status.frames == 50)
        #expect(rig.recorder.status.commitP99Milliseconds != nil)
    }

    /// Frames are committed at least every 100 ms of the recorder's clock: what a crash can lose.
    @Test func commitsAtLeastEveryHundredMilliseconds() throws {
        var rig = try Rig()
        defer { rig.cleanup() }
        let id = try rig.recorder.start(task: "t", fps: 100, provenance: Self.provenance("t"), now: rig.now)
        for _ in 0 ..< 20 {
            rig.run(50)
            let stored = try rig.store.summary(episode: id).frameCount
            // Frames taken so far, less those of the last 100 ms, are in the file.
            #expect(stored >= rig.recorder.status.frames - 10, "\(stored) stored of \(rig.recorder.status.frames) at t = \(rig.now)")
        }
        _ = try rig.recorder.stop(now: rig.now)
    }

    /// Recording on: the tick still allocates nothing (it only pushes into the ring).
    @Test func theTickAllocatesNothingWhileRecording() throws {
        var rig = try Rig()
        defer { rig.cleanup() }
        _ = try rig.recorder.start(task: "t", fps: 50, provenance: Self.provenance("t"), now: rig.now)
        rig.run(100)
        var allocations: UInt64 = 0
        for _ in 0 ..< 300 {
            AllocationCounter_start()
            rig.loop.tick(time: rig.now, overran: false)
            allocations += AllocationCounter_stop()
            rig.k += 1
            if rig.k % 10 == 0 { rig.recorder.step(now: rig.now) }
        }
        if BuildConfiguration.isOptimized { #expect(allocations == 0, "\(allocations) allocations in 300 ticks while recording") }
        #expect(try rig.recorder.stop(now: rig.now).frames > 15)
    }

    /// A full disk stops the recording with the error in its status; the episode is
    /// `incomplete` with its committed frames; the loop and the draining go on; a new
    /// recording may start.
    @Test func aFullDiskStopsTheRecordingNotTheLoop() throws {
        var rig = try Rig(maxPageCount: 30)
        defer { rig.cleanup() }
        let id = try rig.recorder.start(task: "t", fps: 1000, provenance: Self.provenance("t"), now: rig.now)
        rig.run(20_000, every: 10)
        let s = rig.recorder.status
        #expect(!s.recording)
        #expect(s.lastError?.contains("disk is full") == true, "\(String(describing: s.lastError))")
        let episode = try rig.store.episode(id: id)
        #expect(episode.summary.status == .incomplete && episode.summary.error == s.lastError)
        #expect(episode.frames.count > 0 && episode.frames.map(\.frameIndex) == Array(0 ..< episode.frames.count))
        #expect(rig.loop.telemetry.read().mode == .hold)
        // The ring is still drained: nothing was dropped.
        #expect(rig.loop.recordings?.droppedCount == 0)
        #expect(throws: EpisodeRecorder.Failure.self) { try rig.recorder.stop(now: rig.now) }
    }

    @Test func refusesCallsOutOfOrderAndBadArguments() throws {
        let rig = try Rig()
        defer { rig.cleanup() }
        func kind(_ body: () throws -> Void) -> EpisodeRecorder.Failure.Kind? {
            do { try body() } catch { return (error as? EpisodeRecorder.Failure)?.kind }
            return nil
        }
        #expect(kind { _ = try rig.recorder.stop() } == .wrongState)
        #expect(kind { _ = try rig.recorder.discard() } == .wrongState)
        #expect(kind { try rig.recorder.start(task: "", fps: 50, provenance: Self.provenance("")) } == .invalidArgument)
        #expect(kind { try rig.recorder.start(task: "t", fps: 0, provenance: Self.provenance("t")) } == .invalidArgument)
        #expect(kind { try rig.recorder.start(task: "t", fps: 1001, provenance: Self.provenance("t")) } == .invalidArgument)
        let id = try rig.recorder.start(task: "t", fps: 1000, provenance: Self.provenance("t"))
        #expect(kind { try rig.recorder.start(task: "u", fps: 50, provenance: Self.provenance("u")) } == .wrongState)
        #expect(try rig.recorder.discard() == id)
        #expect(try rig.store.list().isEmpty)
    }
}
