/// Time on a UART line at 8N1: 10 bits per byte (start, 8 data, stop), no gaps.
public enum WireTime {
    /// `bytes · 10 / baud` in nanoseconds, e.g. 10 µs per byte at 1 Mbaud.
    /// - Precondition: `baud > 0`.
    /// - Note: Real-time safe.
    @inline(__always)
    public static func nanoseconds(bytes: Int, baud: Int) -> UInt64 {
        precondition(baud > 0, "baud must be positive")
        return UInt64(max(0, bytes)) &* 10_000_000_000 / UInt64(baud)
    }
}
