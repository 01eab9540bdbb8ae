#if canImport(Glibc)
import Glibc
#endif
import Benchmarks
import LinearAlgebra

/// Runs robotd with the OpenBLAS kernels its CPU supports.
///
/// OpenBLAS picks its core type in its library constructor, before `main`, from `OPENBLAS_CORETYPE`
/// or else its own cpuid tables; Debian's 0.3.21 falls back to Prescott (SSE3) on CPUs newer than
/// those tables (an AVX-512 Xeon, issue 17: ~3× slower training). So the choice can only be
/// corrected by starting again: when the user has not set `OPENBLAS_CORETYPE` and OpenBLAS chose a
/// weaker core than `OpenBLAS.coreTypeToForce` finds for this CPU, `main` sets the variable and
/// re-executes `/proc/self/exe` with the same argv. `execv` keeps the pid, the environment and every
/// descriptor not marked close-on-exec, so systemd's `Type=notify` (`NOTIFY_SOCKET`), socket
/// activation (`LISTEN_FDS`/`LISTEN_PID`, descriptors 3…) and a parent's pipes carry over; this runs
/// before anything else opens a descriptor or starts a thread.
///
/// `ROBOTD_OPENBLAS_DEFAULT_CORE` marks the re-executed process (with the core OpenBLAS chose on its
/// own), so that it never re-executes twice and can report what it corrected. For tests,
/// `ROBOTD_TEST_OPENBLAS_CORENAME` pretends that OpenBLAS chose that core.
enum OpenBLASCoreSelection {
    static let markerVariable = OpenBLASFacts.defaultCoreVariable
    static let testVariable = "ROBOTD_TEST_OPENBLAS_CORENAME"

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let s = String(cString: value)
        return s.isEmpty ? nil : s
    }

    /// Re-executes this process with `OPENBLAS_CORETYPE` set when that gives it a stronger core;
    /// returns (doing nothing) otherwise, or when `execv` fails. Call first thing in `main`.
    static func reexecIfWeakerCore() {
        if let previous = environment(markerVariable), let core = environment("OPENBLAS_CORETYPE") {
            // The re-executed process: one line for the journal, the CPU was misdetected.
            // A build without DYNAMIC_ARCH ignores the variable: the line then names both cores.
            let running = OpenBLAS.coreName
            let result = running.lowercased() == core.lowercased() ? "" : " (OpenBLAS ignored it: running \(running))"
            let line = "robotd: OpenBLAS chose its \(previous) kernels on this CPU; re-executed with OPENBLAS_CORETYPE=\(core)\(result) (set OPENBLAS_CORETYPE to choose)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            return
        }
        guard environment("OPENBLAS_CORETYPE") == nil, environment(markerVariable) == nil else { return }
        let chosen = environment(testVariable) ?? OpenBLAS.coreName
        guard let core = OpenBLAS.coreTypeToForce(features: .current, chosenCore: chosen) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(markerVariable, chosen, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: no /proc, or exec refused. Run on with the core OpenBLAS chose.
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(markerVariable)
    }
}
