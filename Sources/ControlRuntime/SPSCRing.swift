import Synchronization

/// A bounded single-producer single-consumer ring of trivially copyable elements, lock-free:
/// the producer owns `tail`, the consumer owns `head`, each publishes with release and reads the
/// other's index with acquire. A full ring refuses the push (the producer counts the drop) rather
/// than blocking the control thread.
public final class SPSCRing<Element: BitwiseCopyable>: @unchecked Sendable {
    public let capacity: Int
    private let mask: Int
    private let storage: UnsafeMutablePointer<Element>
    private let head = Atomic<Int>(0)
    private let tail = Atomic<Int>(0)
    private let dropped = Atomic<UInt64>(0)

    /// - Parameter capacity: rounded up to a power of two.
    /// - Warning: Not real-time safe (allocates the storage).
    public init(capacity: Int, initial: Element) {
        precondition(capacity > 0, "ring capacity must be positive")
        var c = 1
        while c < capacity { c <<= 1 }
        self.capacity = c
        mask = c - 1
        storage = .allocate(capacity: c)
        storage.initialize(repeating: initial, count: c)
    }

    deinit {
        storage.deallocate()
    }

    /// Producer side. Returns false (and counts a drop) when the ring is full.
    /// - Note: Real-time safe: no allocation, no locks.
    @discardableResult
    public func push(_ element: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t - head.load(ordering: .acquiring) >= capacity {
            dropped.add(1, ordering: .relaxed)
            return false
        }
        storage[t & mask] = element
        tail.store(t + 1, ordering: .releasing)
        return true
    }

    /// Consumer side: the oldest element, or nil when empty.
    /// - Note: Real-time safe: no allocation, no locks.
    public func pop() -> Element? {
        let h = head.load(ordering: .relaxed)
        if h == tail.load(ordering: .acquiring) { return nil }
        let element = storage[h & mask]
        head.store(h + 1, ordering: .releasing)
        return element
    }

    /// Elements waiting (approximate while the other side runs).
    public var count: Int { tail.load(ordering: .acquiring) - head.load(ordering: .acquiring) }

    /// Pushes refused because the ring was full.
    public var droppedCount: UInt64 { dropped.load(ordering: .relaxed) }
}
