import Foundation
import Testing

/// Habits users bring from other tools: shared options before the subcommand, `--version`,
/// a suggestion for a mistyped subcommand.
@Suite struct CommandLineHabitsTests {
    @Test func sharedOptionsWorkBeforeTheSubcommand() throws {
        let daemon = try FakeDaemon(results: Sample.all)
        defer { daemon.stop() }
        let before = try Robotctl.run(["--socket", daemon.path, "--timeout", "5", "--json", "status"])
        #expect(before.status == 0, "\(before.stderr)")
        let after = try Robotctl.run(["status", "--socket", daemon.path, "--timeout", "5", "--json"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(!before.stdout.isEmpty && before.stdout == after.stdout)
        let withEquals = try Robotctl.run(["--socket=\(daemon.path)", "--timeout=5", "hello"])
        #expect(withEquals.status == 0, "\(withEquals.stderr)")
        // The numbers of move still follow `--`; the shared options move in front of them.
        let move = try Robotctl.run(["--socket", daemon.path, "move", "--", "0", "-1.2", "1", "0", "0", "0"])
        #expect(move.status == 0, "\(move.stderr)")
        #expect(daemon.requests.map { $0["method"] as? String } == ["status", "status", "hello", "move"])
        #expect(jsonEqual((daemon.requests.last?["params"] as? [String: Any])?["q"], [0, -1.2, 1, 0, 0, 0]))
    }

    @Test func sharedOptionsBeforeTheSubcommandKeepTheirChecks() throws {
        let r = try Robotctl.run(["--timeout", "0", "status", "--socket", "/tmp/none.sock"])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("--timeout"), "\(r.stderr)")
    }

    @Test func helpIgnoresSharedOptionsBeforeIt() throws {
        let r = try Robotctl.run(["--socket", "/tmp/none.sock", "help", "status"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("robotctl status"), "\(r.stdout)")
    }

    @Test func versionIsPrinted() throws {
        let r = try Robotctl.run(["--version"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines == ["0.1.0"])
    }

    @Test func aMistypedSubcommandSuggestsTheNearest() throws {
        for (typo, meant) in [("stauts", "status"), ("tmiing", "timing"), ("estpo", "estop"), ("polcy", "policy")] {
            let r = try Robotctl.run([typo, "--socket", "/tmp/none.sock"])
            #expect(r.status == 64, "\(typo): \(r.stderr)")
            #expect(r.stderr.contains("did you mean '\(meant)'"), "\(typo): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        let far = try Robotctl.run(["xyzzy"])
        #expect(far.status == 64, "\(far.stderr)")
        #expect(!far.stderr.contains("did you mean"), "\(far.stderr)")
    }
}
