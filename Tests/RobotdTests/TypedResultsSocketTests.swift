import ControlProtocol
import ControlSocket
import Foundation
import Learning
import ModelFiles
import Testing

/// The daemon's results are ControlProtocol's typed results, byte for byte: each decodes, and
/// encoding the decoded value again gives the text the daemon sent. `status` names the installed
/// policy's version and counts the ticks without a fresh joint state.
@Suite struct TypedResultsSocketTests {
    /// `R`'s decoding of `result`, whose encoding must print exactly as the daemon's text.
    func decodedExactly<R: ControlResult>(_: R.Type, _ result: JSONValue, _ method: String) throws -> R {
        let typed = try R(json: result, method: method)
        #expect(typed.json.serialized == result.serialized, "\(method): the typed encoding differs from the wire")
        return typed
    }

    @Test func everyResultIsItsTypedEncoding() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let c = try daemon.connect()
        let hello = try decodedExactly(HelloResult.self, c.call(ControlMethod.hello), ControlMethod.hello)
        #expect(hello.protocol == 1 && hello.dof == 6 && hello.role == "operator" && hello.methods.contains(ControlMethod.status))
        #expect(try decodedExactly(ModeResult.self, c.call(ControlMethod.modeSet, ModeSetParams(mode: "hold").json), ControlMethod.modeSet)
            == ModeResult(mode: "hold"))
        // A target for the planner, so that status.mpc carries one.
        _ = try decodedExactly(TargetSetResult.self, c.call(ControlMethod.targetSet, TargetSetParams(target: .pose(position: [0.4, 0.1, 0.5], orientation: nil)).json),
                               ControlMethod.targetSet)
        var goal = try decodedExactly(StatusResult.self, c.call(ControlMethod.status), ControlMethod.status).joints.q
        goal[0] += 0.1
        let move = try decodedExactly(MoveResult.self, c.call(ControlMethod.move, MoveParams(q: goal, duration: 2).json), ControlMethod.move)
        #expect(move == MoveResult(mode: "move", durationS: 2))
        usleep(100_000)

        let status = try decodedExactly(StatusResult.self, c.call(ControlMethod.status), ControlMethod.status)
        #expect(status.mode == "move" && status.joints.names == hello.jointNames && status.joints.q.count == 6)
        #expect(status.endEffector.rotation.count == 3 && status.mpc?.target == .pose(position: [0.4, 0.1, 0.5], orientation: nil))
        #expect(status.stalls != nil && status.staleStates == 0, "the simulator's samples are always fresh")
        #expect(status.policy == nil && status.policyVersion == nil)
        let timing = try decodedExactly(TimingResult.self, c.call(ControlMethod.timing), ControlMethod.timing)
        #expect(timing.ticks > 0 && timing.computeCPUUs != nil && timing.mpc != nil)

        _ = try decodedExactly(TelemetrySubscribeResult.self, c.call(ControlMethod.telemetrySubscribe, TelemetrySubscribeParams(rateHz: 50).json),
                               ControlMethod.telemetrySubscribe)
        let (method, params) = try c.nextNotification(within: 10, waitingFor: "telemetry")
        #expect(method == ControlMethod.telemetry)
        let sample = try decodedExactly(TelemetrySample.self, params ?? .null, ControlMethod.telemetry)
        #expect(sample.q.count == 6 && sample.modelVersion == 0)
        _ = try c.call(ControlMethod.telemetryUnsubscribe)

        #expect(try decodedExactly(ModeResult.self, c.call(ControlMethod.estop), ControlMethod.estop) == ModeResult(mode: "estop"))
        let faulted = try decodedExactly(StatusResult.self, c.call(ControlMethod.status), ControlMethod.status)
        #expect(faulted.mode == "estop" && faulted.fault == nil)
        #expect(try decodedExactly(ModeResult.self, c.call(ControlMethod.reset), ControlMethod.reset) == ModeResult(mode: "hold"))
        #expect(try decodedExactly(LogSetLevelResult.self, c.call(ControlMethod.logSetLevel, LogSetLevelParams(level: "info").json),
                                   ControlMethod.logSetLevel).level == "info")
        c.close()
        #expect(daemon.stop() == 0)
    }

    /// Every install numbers the policy (1, 2, …); a refused file changes neither name nor
    /// version. `robotctl status` prints both and the stale-state count.
    @Test func statusNamesThePolicyVersionAndCountsStaleStates() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        let dir = daemon.directory + "/data"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var mlp = MLP(widths: [12, 16, 6], activation: .tanh, seed: 2)
        mlp.outputScale = [Float](repeating: 0.01, count: 6)
        let first = dir + "/first.safetensors", second = dir + "/second.safetensors", wrong = dir + "/wrong.safetensors"
        try SafeTensors.write(MLPFile.file(for: mlp, metadata: ["robot": "sim6"]), to: first)
        try SafeTensors.write(MLPFile.file(for: mlp, metadata: ["robot": "sim6"]), to: second)
        try SafeTensors.write(MLPFile.file(for: mlp, metadata: ["robot": "koch"]), to: wrong)

        let c = try daemon.connect()
        func status() throws -> StatusResult { try StatusResult(json: c.call(ControlMethod.status)) }
        #expect(try status().policyVersion == nil)
        #expect(try c.call(ControlMethod.status)["policy_version"] == .null)
        _ = try c.call(ControlMethod.policyLoad, FileParams(source: .path(first)).json)
        var s = try status()
        #expect(s.policy == first && s.policyVersion == 1)
        _ = try c.call(ControlMethod.policyLoad, FileParams(source: .path(second)).json)
        #expect(throws: ControlClientError.self) { try c.call(ControlMethod.policyLoad, FileParams(source: .path(wrong)).json) }
        s = try status()
        #expect(s.policy == second && s.policyVersion == 2, "the refused file is not counted")
        #expect(s.staleStates == 0)
        c.close()

        let text = try RobotctlDaemonTests.robotctl(["status"], socket: daemon.socketPath)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("policy  \(second) (version 2)"), "\(text.stdout)")
        #expect(text.stdout.split(separator: "\n").contains { $0.hasPrefix("stale states") && $0.hasSuffix("  0") }, "\(text.stdout)")
        #expect(daemon.stop() == 0)
    }
}
