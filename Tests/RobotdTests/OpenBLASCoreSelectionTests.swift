import Foundation
import Testing

/// robotd re-executes itself with `OPENBLAS_CORETYPE` when OpenBLAS chose weaker kernels than the
/// CPU runs (Debian's 0.3.21 picks Prescott on CPUs newer than its tables). The hook
/// `ROBOTD_TEST_OPENBLAS_CORENAME` makes robotd believe OpenBLAS chose that core.
@Suite struct OpenBLASCoreSelectionTests {
    /// Whether this CPU has AVX2 and FMA (then robotd has a stronger core than Prescott to force).
    static var cpuHasAVX2: Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return set.contains("avx2") && set.contains("fma")
    }

    static func benchPolicy(_ environment: [String]) throws -> (report: [String: Any], stderr: String) {
        let run = try TestSupport.run("/usr/bin/env", ["-u", "OPENBLAS_CORETYPE", "-u", "ROBOTD_OPENBLAS_DEFAULT_CORE"] + environment
                                        + [TestSupport.robotdPath, "bench", "policy", "--calls", "10", "--rounds", "1", "--no-anchor"])
        try #require(run.status == 0, "\(run.stderr)")
        return (try #require(try TestSupport.json(run.stdout) as? [String: Any]), run.stderr)
    }

    @Test func aWeakerCoreIsReplacedOnceBeforeMain() throws {
        let (report, stderr) = try Self.benchPolicy(["ROBOTD_TEST_OPENBLAS_CORENAME=Prescott"])
        let core = try #require(report["openblas_core"] as? String)
        if Self.cpuHasAVX2 {
            #expect(report["openblas_core_default"] as? String == "Prescott", "\(report)")
            #expect(!["Prescott", "unknown"].contains(core), "ran with \(core)")
            #expect(stderr.contains("OPENBLAS_CORETYPE=\(core)"), "one line says so: \(stderr)")
        } else {
            #expect(report["openblas_core_default"] == nil, "nothing stronger to force on this CPU")
        }
    }

    @Test func theUsersCoreTypeIsLeftAlone() throws {
        let (report, stderr) = try Self.benchPolicy(["OPENBLAS_CORETYPE=Prescott", "ROBOTD_TEST_OPENBLAS_CORENAME=Prescott"])
        #expect(report["openblas_core"] as? String == "Prescott")
        #expect(report["openblas_core_default"] == nil)
        #expect(!stderr.contains("OPENBLAS_CORETYPE"))
    }

    @Test func aCoreOpenBLASChoseWellIsKept() throws {
        let (report, _) = try Self.benchPolicy([])
        #expect(report["openblas_core_default"] == nil, "no re-exec when OpenBLAS knows the CPU: \(report)")
    }

    /// Re-executed under socket activation: the pid (LISTEN_PID), the listening socket on fd 3 and
    /// the environment carry over through execv, so the daemon still answers on the socket it was
    /// handed.
    @Test func socketActivationSurvivesTheReexec() throws {
        let dir = try SocketTempDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try DaemonProcessTests.writeConfig(extra: "socket: {path: \(dir)/unused.sock}", in: dir)
        let activated = dir + "/a.sock"
        let r = try TestSupport.run("/usr/bin/env", ["-u", "OPENBLAS_CORETYPE", "-u", "ROBOTD_OPENBLAS_DEFAULT_CORE",
                                                      "ROBOTD_TEST_OPENBLAS_CORENAME=Prescott", "python3",
                                                      TestSupport.repoRoot.appendingPathComponent("Tests/oracles/socket_activation.py").path,
                                                      TestSupport.robotdPath, config, activated])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try TestSupport.json(r.stdout) as? [String: Any], "\(r.stdout)\n\(r.stderr)")
        let hello = (report["hello"] as? [String: Any])?["result"] as? [String: Any]
        #expect(hello?["daemon"] as? String == "robotd", "\(report)\n\(r.stderr)")
        #expect(report["exit"] as? Int == 0, "\(report)\n\(r.stderr)")
        #expect(r.stderr.contains("socket activation"), "\(r.stderr)")
        if Self.cpuHasAVX2 { #expect(r.stderr.contains("OPENBLAS_CORETYPE="), "re-executed: \(r.stderr)") }
    }
}
