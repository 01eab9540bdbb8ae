/// How the test bundle was compiled. Allocation counts are only meaningful in optimised builds
/// (debug builds box and copy where release builds do not); `make test` runs optimised.
public enum BuildConfiguration {
    public static var isOptimized: Bool {
        #if DEBUG
        return false
        #else
        return true
        #endif
    }
}
