import Foundation
import Testing

/// Issue 12 items 8 and 9 end to end: the inputs that crashed or hung `robotd model inspect` and
/// `robotd check-config` now exit 1 with `FILE:LINE: …` naming the limit.
@Suite struct HostileInputCLITests {
    private func withDirectory(_ body: (URL) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("robotd-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try body(dir)
    }

    @Test func modelInspectOfDeeplyNestedXMLFailsCleanly() throws {
        try withDirectory { dir in
            // SIGSEGV (stack overflow releasing the tree) before the depth limit.
            let file = dir.appendingPathComponent("deep.urdf")
            try (String(repeating: "<a>\n", count: 48_500) + String(repeating: "</a>", count: 48_500))
                .write(to: file, atomically: true, encoding: .utf8)
            let run = try TestSupport.run(TestSupport.robotdPath, ["model", "inspect", "--urdf", file.path])
            #expect(run.status == 1, "status \(run.status): \(run.stderr)")
            #expect(run.stderr.contains("deep.urdf:1025:") && run.stderr.contains("more than 1024 levels"), "\(run.stderr)")
        }
    }

    @Test func modelInspectRefusesWhatIsNotARegularFile() throws {
        // Read until memory ran out before.
        let run = try TestSupport.run(TestSupport.robotdPath, ["model", "inspect", "--urdf", "/dev/zero"])
        #expect(run.status == 1 && run.stderr.contains("/dev/zero: not a regular file"), "\(run.stderr)")
    }

    @Test func checkConfigOfDeeplyNestedYAMLFailsCleanly() throws {
        try withDirectory { dir in
            // SIGSEGV inside Yams' recursive composer before the pre-pass.
            let file = dir.appendingPathComponent("deep.yaml")
            try ("mpc:\n  weights: " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000) + "\n")
                .write(to: file, atomically: true, encoding: .utf8)
            let run = try TestSupport.run(TestSupport.robotdPath, ["check-config", file.path])
            #expect(run.status == 1, "status \(run.status): \(run.stderr)")
            #expect(run.stderr.hasPrefix("\(file.path):2: ") && run.stderr.contains("more than 64 levels"), "\(run.stderr)")
        }
    }

    @Test func checkConfigRefusesADeviceAsTheURDFAndALongSocketPath() throws {
        try withDirectory { dir in
            let file = dir.appendingPathComponent("bad.yaml")
            try "robot:\n  urdf: /dev/zero\n".write(to: file, atomically: true, encoding: .utf8)
            let urdf = try TestSupport.run(TestSupport.robotdPath, ["check-config", file.path])
            #expect(urdf.status == 1 && urdf.stderr.hasPrefix("\(file.path):2: robot.urdf: /dev/zero: not a regular file"), "\(urdf.stderr)")

            try "socket:\n  path: /\(String(repeating: "s", count: 119))\n".write(to: file, atomically: true, encoding: .utf8)
            let socket = try TestSupport.run(TestSupport.robotdPath, ["check-config", file.path])
            #expect(socket.status == 1 && socket.stderr.hasPrefix("\(file.path):2: socket.path: 120 bytes"), "\(socket.stderr)")

            try "loop:\n  cpu_affinity: 100000\n".write(to: file, atomically: true, encoding: .utf8)
            let cpu = try TestSupport.run(TestSupport.robotdPath, ["check-config", file.path])
            #expect(cpu.status == 1 && cpu.stderr.hasPrefix("\(file.path):2: loop.cpu_affinity: CPU 100000 is out of range 0…1023"), "\(cpu.stderr)")
        }
    }
}
