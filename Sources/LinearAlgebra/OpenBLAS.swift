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

    /// The kernel set ("core") OpenBLAS chose for this CPU when it loaded, e.g. "Haswell",
    /// "SkylakeX", "Cooperlake", "Zen", or "Prescott" (SSE3) on a CPU its build does not know.
    /// The corresponding C function is `openblas_get_corename`.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// What the CPU supports, as far as choosing OpenBLAS's core goes.
    public struct CPUFeatures: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let avx2 = CPUFeatures(rawValue: 1 << 0)
        public static let fma = CPUFeatures(rawValue: 1 << 1)
        public static let avx512f = CPUFeatures(rawValue: 1 << 2)
        public static let avx512bw = CPUFeatures(rawValue: 1 << 3)
        public static let avx512vl = CPUFeatures(rawValue: 1 << 4)
        public static let avx512dq = CPUFeatures(rawValue: 1 << 5)
        public static let avx512bf16 = CPUFeatures(rawValue: 1 << 6)
        /// An AMD CPU (OpenBLAS's AVX2 kernels for it are "Zen").
        public static let amd = CPUFeatures(rawValue: 1 << 7)

        /// This CPU's (cpuid, with the kernel's AVX state in XCR0); empty off x86-64.
        /// The corresponding C function is `CLapack_cpuFeatures` (`__builtin_cpu_supports`).
        public static var current: CPUFeatures { CPUFeatures(rawValue: UInt32(CLapack_cpuFeatures())) }
    }

    /// The vector width OpenBLAS's core `name` uses: 3 AVX-512, 2 AVX2+FMA, 1 AVX, 0 SSE or
    /// unknown (names as `openblas_get_corename` spells them, compared case-insensitively).
    static func level(ofCore name: String) -> Int {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": 3
        case "haswell", "zen", "excavator": 2
        case "sandybridge", "bulldozer", "piledriver", "steamroller": 1
        default: 0
        }
    }

    /// The core type to force with `OPENBLAS_CORETYPE` when OpenBLAS chose a weaker one than the
    /// CPU runs, or nil to leave its choice: AVX-512 F+BW+VL+DQ → "SkylakeX" ("Cooperlake" with
    /// AVX512_BF16; AMD's Zen 4 runs the same AVX-512 kernels), AVX2+FMA → "Haswell" ("Zen" on
    /// AMD), anything less → nil. Why: Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) falls back to its
    /// Prescott (SSE3) kernels on CPUs newer than its tables, ~3× slower GEMMs on an AVX-512 Xeon.
    public static func coreTypeToForce(features: CPUFeatures, chosenCore: String) -> String? {
        let wanted: String
        if features.isSuperset(of: [.avx512f, .avx512bw, .avx512vl, .avx512dq]) {
            wanted = features.contains(.avx512bf16) ? "Cooperlake" : "SkylakeX"
        } else if features.isSuperset(of: [.avx2, .fma]) {
            wanted = features.contains(.amd) ? "Zen" : "Haswell"
        } else {
            return nil
        }
        return level(ofCore: chosenCore) < level(ofCore: wanted) ? wanted : nil
    }
}
