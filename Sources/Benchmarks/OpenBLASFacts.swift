import Foundation
import LinearAlgebra

/// The OpenBLAS kernels a benchmark ran with, for its JSON: `"openblas_core"` (what
/// `openblas_get_corename` says now) and, when robotd re-executed itself to correct OpenBLAS's own
/// choice (`robotd`'s `OpenBLASCoreSelection`), `"openblas_core_default"` (the core OpenBLAS chose
/// on its own).
public enum OpenBLASFacts {
    /// Set by robotd in the process it re-executes, to the core OpenBLAS chose before.
    public static let defaultCoreVariable = "ROBOTD_OPENBLAS_DEFAULT_CORE"

    public static var report: [String: Any] {
        var facts: [String: Any] = ["openblas_core": OpenBLAS.coreName]
        if let previous = ProcessInfo.processInfo.environment[defaultCoreVariable], !previous.isEmpty {
            facts["openblas_core_default"] = previous
        }
        return facts
    }
}
