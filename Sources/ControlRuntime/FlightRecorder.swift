import Synchronization

/// The last few seconds of ticks, kept in a preallocated ring by the control thread and frozen
/// when a fault occurs so that another thread can write them out (docs/architecture.md §3).
///
/// Protocol: the control thread calls `record` every tick and `freeze` on a fault (which bumps
/// `dumpGeneration`); a non-real-time thread sees the new generation, copies `frozenTicks()`,
/// writes them, then calls `thaw()`. While frozen the ring keeps the ticks up to the fault.
public final class FlightRecorder: @unchecked Sendable {
    public let capacity: Int
    private let storage: UnsafeMutablePointer<Transition>
    private var next = 0
    private var filled = 0
    private let frozen = Atomic<Bool>(false)
    private let generation = Atomic<UInt64>(0)

    /// - Warning: Not real-time safe (allocates).
    public init(capacity: Int) {
        precondition(capacity >= 1, "flight recorder needs at least one tick")
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: Transition(), count: capacity)
    }

    deinit { storage.deallocate() }

    /// - Note: Real-time safe: no allocation, no locks.
    public func record(_ t: Transition) {
        guard !frozen.load(ordering: .acquiring) else { return }
        storage[next] = t
        next = next + 1 == capacity ? 0 : next + 1
        filled = min(filled + 1, capacity)
    }

    /// Stops recording and announces a dump. A second freeze while frozen does nothing.
    /// - Note: Real-time safe: no allocation, no locks.
    public func freeze() {
        if frozen.exchange(true, ordering: .acquiringAndReleasing) { return }
        generation.add(1, ordering: .releasing)
    }

    /// Incremented by every `freeze`; a dumper compares it with the last one it wrote.
    public var dumpGeneration: UInt64 { generation.load(ordering: .acquiring) }

    public var isFrozen: Bool { frozen.load(ordering: .acquiring) }

    /// The recorded ticks, oldest first. Only meaningful while frozen.
    /// - Warning: Not real-time safe (allocates).
    public func frozenTicks() -> [Transition] {
        guard isFrozen else { return [] }
        let start = filled < capacity ? 0 : next
        return (0 ..< filled).map { storage[(start + $0) % capacity] }
    }

    /// Resumes recording after a dump.
    public func thaw() {
        frozen.store(false, ordering: .releasing)
    }
}
