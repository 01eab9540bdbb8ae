import CLapack

/// Process-wide OpenBLAS settings.
public enum OpenBLAS {
    private static let configured: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Makes OpenBLAS run every call on the calling thread. Call once at start-up, before any
    /// BLAS call: robotd's matrices are small, and BLAS worker threads would compete with the
    /// control thread for the machine's few cores. Idempotent and thread-safe.
    /// The corresponding C function is `openblas_set_num_threads`.
    public static func configureSingleThreaded() {
        _ = configured
    }
}
