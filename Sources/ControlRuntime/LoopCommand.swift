import Synchronization

/// A request for the control thread, from the socket or the main thread. Fixed-size so that it
/// crosses the queue without allocation.
public struct LoopCommand: Sendable, BitwiseCopyable {
    public enum Kind: UInt8, Sendable, BitwiseCopyable {
        case setMode
        case move
        case estop
        case reset
    }
    /// Caller-chosen id, echoed in the `LoopCommandResult`.
    public var id: UInt64
    public var kind: Kind
    /// For `setMode`.
    public var mode: Mode
    /// For `move`: target positions (first `dof` entries) and duration (s; ≤ 0 = from speed limits).
    public var target: InlineArray<8, Double>
    public var duration: Double

    public init(id: UInt64, kind: Kind, mode: Mode = .hold) {
        self.id = id
        self.kind = kind
        self.mode = mode
        target = InlineArray(repeating: 0)
        duration = 0
    }

    public static func move(id: UInt64, to q: [Double], duration: Double) -> LoopCommand {
        precondition(q.count <= transitionMaxJoints, "at most \(transitionMaxJoints) joints")
        var c = LoopCommand(id: id, kind: .move)
        for i in q.indices { c.target[i] = q[i] }
        c.duration = duration
        return c
    }
}

/// Why the control thread refused a command.
public enum RejectReason: UInt8, Sendable, BitwiseCopyable {
    case none
    /// The mode state machine refused the transition from the current mode.
    case refusedInMode
    /// `mpc` without a plan covering now.
    case noPlan
    /// `policy` without a loaded policy.
    case noPolicy
    /// A move target that is not finite or outside the limits.
    case invalidTarget
}

/// The control thread's answer to a `LoopCommand`.
public struct LoopCommandResult: Sendable, BitwiseCopyable, Equatable {
    public var id: UInt64
    public var accepted: Bool
    /// Mode after the command.
    public var mode: Mode
    /// Why it was refused (`none` when accepted).
    public var reason: RejectReason

    public init(id: UInt64, accepted: Bool, mode: Mode, reason: RejectReason = .none) {
        self.id = id
        self.accepted = accepted
        self.mode = mode
        self.reason = reason
    }
}

/// Bounded queue of commands into the control thread. Producers (any thread) serialise on a
/// mutex among themselves; the control thread only pops from the lock-free ring and never
/// touches the mutex.
public final class LoopCommandQueue: Sendable {
    private let ring: SPSCRing<LoopCommand>
    private let producers = Mutex(())

    public init(capacity: Int = 64) {
        ring = SPSCRing(capacity: capacity, initial: LoopCommand(id: 0, kind: .reset))
    }

    /// Returns false when the queue is full (the caller answers "busy").
    public func send(_ command: LoopCommand) -> Bool {
        producers.withLock { _ in ring.push(command) }
    }

    /// Control thread only.
    /// - Note: Real-time safe: no allocation, no locks.
    func receive() -> LoopCommand? { ring.pop() }
}
