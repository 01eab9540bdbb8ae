import Synchronization

/// Single-writer, many-reader publication of a trivially copyable value without locks: the
/// writer makes the sequence odd, copies, makes it even; a reader copies between two equal even
/// sequence reads and retries otherwise. The writer never waits. When the control thread
/// writes (telemetry, statistics), readers retry; when it reads (policy targets), it uses
/// `tryRead`, which never waits for a lower-priority writer.
public final class SeqLock<Value: BitwiseCopyable>: @unchecked Sendable {
    private let sequence = Atomic<UInt64>(0)
    private let storage: UnsafeMutablePointer<Value>

    /// - Warning: Not real-time safe (allocates).
    public init(_ initial: Value) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: initial)
    }

    deinit {
        storage.deallocate()
    }

    /// Writer side: publishes `value`.
    /// - Note: Real-time safe: no allocation, no locks.
    public func write(_ value: Value) {
        let s = sequence.load(ordering: .relaxed)
        sequence.store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        storage.pointee = value
        sequence.store(s &+ 2, ordering: .releasing)
    }

    /// Writer side: edits the published value in place (the same protocol as `write`).
    /// - Note: Real-time safe: no allocation, no locks.
    public func update(_ body: (inout Value) -> Void) {
        let s = sequence.load(ordering: .relaxed)
        sequence.store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        body(&storage.pointee)
        sequence.store(s &+ 2, ordering: .releasing)
    }

    /// Reader side, one attempt: a consistent copy, or nil when a write was in progress. For a
    /// real-time reader whose writer runs at lower priority (it must never spin on it).
    /// - Note: Real-time safe: no allocation, no locks, no waiting.
    public func tryRead() -> Value? {
        let s1 = sequence.load(ordering: .acquiring)
        if s1 & 1 == 1 { return nil }
        let value = storage.pointee
        atomicMemoryFence(ordering: .acquiring)
        return sequence.load(ordering: .relaxed) == s1 ? value : nil
    }

    /// Reader side: a consistent copy of the newest value.
    public func read() -> Value {
        while true {
            if let value = tryRead() { return value }
        }
    }
}
