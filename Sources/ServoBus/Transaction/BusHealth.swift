/// Counters of a bus's health since it was opened: what `robotd bench bus` and status report.
public struct BusHealth: Sendable, Equatable {
    /// Calls of `transact`.
    public var transactions = 0
    /// Attempts that got every expected reply.
    public var completed = 0
    /// Attempts whose deadline passed before every expected reply had arrived.
    public var timeouts = 0
    /// Attempts repeated after a timeout (each also counts in `timeouts`).
    public var retries = 0
    /// Calls that failed after their last retry.
    public var failures = 0
    /// Bytes the framer rejected (noise, corrupt checksums, echoes it recognised).
    public var garbageBytes = 0
    /// Valid replies from an id that was not expected next (a late reply to an earlier request,
    /// an out-of-order sync-read reply): dropped, never delivered.
    public var unexpectedReplies = 0
    /// Bytes thrown away while waiting for the line to settle after a timeout, or left over after
    /// a complete transaction: evidence of late replies.
    public var discardedBytes = 0
    /// Transport errors (the port vanished, a write that could not finish).
    public var transportErrors = 0

    public init() {}

    /// Things that went wrong, as one number for a health summary: timed-out attempts, replies
    /// dropped as unexpected, transport errors. (Garbage is counted in bytes, separately.)
    public var errors: Int { timeouts + unexpectedReplies + transportErrors }
}
