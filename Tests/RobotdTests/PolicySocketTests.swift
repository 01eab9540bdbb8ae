import ControlProtocol
import Foundation
import Learning
import ModelFiles
import Testing

/// `policy.load` on a real daemon: refused files leave it running and unchanged; a good policy
/// is loaded and `policy` mode runs it.
@Suite struct PolicySocketTests {
    @Test func loadsGoodPoliciesAndRefusesBadOnes() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        // By path the daemon opens files only inside data_directory (issue 12).
        let dir = daemon.directory + "/data"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let c = try daemon.connect()
        #expect((try c.result("hello")["modes"] as? [String])?.contains("policy") == true)
        let early = try c.reply("mode.set", ["mode": "policy"])
        #expect(SocketReply.code(early) == -32002 && SocketReply.message(early).contains("policy.load"))

        func write(_ mlp: MLP, robot: String?, name: String, observation: String? = nil) throws -> String {
            let path = dir + "/" + name
            var metadata = robot.map { ["robot": $0] } ?? [:]
            if let observation { metadata["observation"] = observation }
            try SafeTensors.write(MLPFile.file(for: mlp, metadata: metadata), to: path)
            return path
        }
        // A small policy that outputs zero torque offsets around a constant (finite, bounded).
        var good = MLP(widths: [12, 16, 6], activation: .tanh, seed: 2)
        good.outputScale = [Float](repeating: 0.01, count: 6)
        let refusals: [(String, String)] = [
            (try write(MLP(widths: [10, 16, 6], activation: .relu), robot: "sim6", name: "in.safetensors"), "takes 10 inputs"),
            (try write(MLP(widths: [12, 16, 7], activation: .relu), robot: "sim6", name: "out.safetensors"), "gives 7 actions"),
            (try write(good, robot: "koch", name: "robot.safetensors"), "for robot \"koch\""),
            (try write(MLP(widths: [15, 16, 6], activation: .relu), robot: "sim6", name: "obs.safetensors", observation: "q,target_position,ee_position"),
             "its observation (q, target_position, ee_position) is 12 values"),
            (try write(good, robot: "sim6", name: "feature.safetensors", observation: "q,v,torque"), "unknown observation feature \"torque\""),
            (dir + "/missing.safetensors", "cannot read"),
        ]
        let corrupt = dir + "/corrupt.safetensors"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: corrupt))
        for (path, reason) in refusals + [(corrupt, "not a safetensors file")] {
            let r = try c.reply("policy.load", ["path": path])
            #expect(SocketReply.code(r) == -32602, "\(path): \(r)")
            #expect(SocketReply.message(r).contains(reason), "\(SocketReply.message(r)) lacks \(reason)")
        }
        #expect(try c.result("status")["policy"] is NSNull)

        let path = try write(good, robot: "sim6", name: "good.safetensors")
        let loaded = try c.result("policy.load", ["path": path])
        #expect(loaded["widths"] as? [Int] == [12, 16, 6])
        #expect(try c.result("mode.set", ["mode": "policy"])["mode"] as? String == "policy")
        usleep(100_000)
        let status = try c.result("status")
        #expect(status["mode"] as? String == "policy")
        #expect(status["policy"] as? String == path)
        #expect(try c.result("mode.set", ["mode": "hold"])["mode"] as? String == "hold")

        // A target-conditioned policy: observation (q, v, target_position); target.set feeds it.
        var reach = MLP(widths: [15, 16, 6], activation: .tanh, seed: 3)
        reach.outputScale = [Float](repeating: 0.01, count: 6)
        let reachPath = try write(reach, robot: "sim6", name: "reach.safetensors", observation: "q,v,target_position")
        #expect(try c.result("policy.load", ["path": reachPath])["observation"] as? [String] == ["q", "v", "target_position"])
        #expect(try c.result("target.set", ["position": [0.5, 0.2, 0.4]])["accepted"] as? Bool == true)
        #expect(try c.result("mode.set", ["mode": "policy"])["mode"] as? String == "policy")
        usleep(100_000)
        #expect(try c.result("status")["mode"] as? String == "policy")
        #expect(try c.result("target.clear")["target"] is NSNull)
        #expect(try c.result("mode.set", ["mode": "hold"])["mode"] as? String == "hold")
        c.close()
        #expect(daemon.stop() == 0)
    }
}

extension RobotctlDaemonTests {
    @Test func loadsAndRunsAPolicy() throws {
        let daemon = try SocketTestDaemon()
        defer { daemon.finish() }
        #expect(daemon.waitUntilListening(), "\(daemon.stderr)")
        var mlp = MLP(widths: [12, 16, 6], activation: .tanh, seed: 2)
        mlp.outputScale = [Float](repeating: 0.01, count: 6)
        let path = daemon.directory + "/p.safetensors"
        try SafeTensors.write(MLPFile.file(for: mlp, metadata: ["robot": "sim6"]), to: path)
        let ok = try Self.robotctl(["policy", "--go", path], socket: daemon.socketPath)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("policy loaded: \(path) (12-16-6, tanh)") && ok.stdout.contains("mode: policy"), "\(ok.stdout)")
        let missing = try Self.robotctl(["policy", daemon.directory + "/none.safetensors"], socket: daemon.socketPath)
        #expect(missing.status == 1 && missing.stderr.contains("cannot read"), "\(missing.stderr)")
        #expect(daemon.stop() == 0)
    }
}
