import Synchronization

/// A planner's output for the control tick (docs/architecture.md §2): from loop time `t0`, nodes every
/// `dt` seconds with reference states x_ref[k] = (q, v) (k = 0 … count), feedforward controls
/// u_ff[k] and feedback gains K[k] (k = 0 … count−1, nu × nx row-major). The tick applies
///   u(t) = u_ff[k] + K[k] (x − x_ref(t)),  k = ⌊(t − t0)/dt⌋,
/// with x_ref linearly interpolated inside the interval (the plan's controls are held over it).
///
/// A plan is used only while t − t0 ≤ `validity`: an older one means the planner stalled or
/// died, and the tick must fall back rather than follow a stale trajectory to its end.
///
/// Published through a double-buffered slot: the planner writes the buffer the tick is not
/// reading and then flips an index; each buffer carries a sequence number so that a read that
/// raced a write is detected and discarded instead of mixing two plans.
public final class PlanSlot: @unchecked Sendable {
    public let dof: Int
    public let capacity: Int
    /// Longest time after a plan's t0 that the tick follows it (s).
    public let validity: Double

    final class Buffer {
        let sequence = Atomic<UInt64>(0)
        var t0 = 0.0
        var dt = 0.01
        var count = 0
        var id: UInt64 = 0
        var modelVersion: UInt32 = 0
        let xRef: UnsafeMutablePointer<Double>
        let uff: UnsafeMutablePointer<Double>
        let gains: UnsafeMutablePointer<Double>

        init(dof: Int, capacity: Int) {
            let nx = 2 * dof
            xRef = .allocate(capacity: (capacity + 1) * nx)
            xRef.initialize(repeating: 0, count: (capacity + 1) * nx)
            uff = .allocate(capacity: capacity * dof)
            uff.initialize(repeating: 0, count: capacity * dof)
            gains = .allocate(capacity: capacity * dof * nx)
            gains.initialize(repeating: 0, count: capacity * dof * nx)
        }

        deinit {
            xRef.deallocate()
            uff.deallocate()
            gains.deallocate()
        }
    }

    private let buffers: [Buffer]
    private let latest = Atomic<Int>(-1)
    private var nextID: UInt64 = 0
    /// Tick side: the model version of the plan the newest successful `control` or `reference`
    /// followed (control thread only; the tick records it in the transition).
    public private(set) var followedModelVersion: UInt32 = 0

    /// - Warning: Not real-time safe (allocates both buffers).
    public init(dof: Int, capacity: Int, validity: Double = .infinity) {
        precondition(dof >= 1 && capacity >= 1 && validity > 0, "a plan has at least one joint and one node, and a positive validity")
        self.dof = dof
        self.capacity = capacity
        self.validity = validity
        buffers = [Buffer(dof: dof, capacity: capacity), Buffer(dof: dof, capacity: capacity)]
    }

    /// Planner side (one thread): fills the free buffer through `fill` and publishes it.
    /// `fill` receives (xRef, uff, gains) to write `count` nodes into; `modelVersion` is the
    /// learned dynamics model's version the plan was computed with (0 = rigid body alone).
    /// - Returns: the plan's id.
    @discardableResult
    public func publish(t0: Double, dt: Double, count: Int, modelVersion: UInt32 = 0,
                        fill: (UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void) -> UInt64 {
        precondition(count >= 1 && count <= capacity, "plan length \(count) outside 1…\(capacity)")
        let current = latest.load(ordering: .acquiring)
        let b = buffers[current == 0 ? 1 : 0]
        let s = b.sequence.load(ordering: .relaxed)
        b.sequence.store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        nextID &+= 1
        b.t0 = t0
        b.dt = dt
        b.count = count
        b.id = nextID
        b.modelVersion = modelVersion
        fill(b.xRef, b.uff, b.gains)
        b.sequence.store(s &+ 2, ordering: .releasing)
        latest.store(current == 0 ? 1 : 0, ordering: .releasing)
        return nextID
    }

    /// Withdraws the plan (the tick sees none).
    public func clear() { latest.store(-1, ordering: .releasing) }

    /// Runs `body(plan, k, w)` for the newest plan's node k = ⌊(t − t0)/dt⌋ and interval fraction
    /// w, under the sequence check; a read that raced a publish is retried once (on the buffer
    /// just published). Returns the plan's t0 and model version, or nil (no plan, t outside it or
    /// past its validity, or a second race: the caller keeps its previous command).
    /// - Note: Real-time safe: no allocation, no locks.
    @inline(__always)
    private func atNode(_ t: Double, _ body: (Buffer, Int, Double) -> Void) -> (t0: Double, modelVersion: UInt32)? {
        for _ in 0 ..< 2 {
            let index = latest.load(ordering: .acquiring)
            guard index >= 0 else { return nil }
            let b = buffers[index]
            let s1 = b.sequence.load(ordering: .acquiring)
            guard s1 & 1 == 0 else { continue }
            let t0 = b.t0, count = b.count, version = b.modelVersion
            let position = (t - t0) / b.dt
            guard position >= 0, position < Double(count), t - t0 <= validity else { return nil }
            let k = min(Int(position), count - 1)
            body(b, k, position - Double(k))
            atomicMemoryFence(ordering: .acquiring)
            if b.sequence.load(ordering: .relaxed) == s1 { return (t0, version) }
        }
        return nil
    }

    /// Tick side: the control at loop time `t` for measured state `x` (nx values) into `u`
    /// (dof values). Returns the plan's t0 when a plan covered `t` (see `atNode`), and then
    /// sets `followedModelVersion`.
    /// - Note: Real-time safe: no allocation, no locks.
    public func control(at t: Double, state x: UnsafePointer<Double>, into u: UnsafeMutablePointer<Double>) -> Double? {
        let n = dof, nx = 2 * dof
        let followed = atNode(t) { b, k, w in
            let x0 = b.xRef + k * nx, x1 = b.xRef + (k + 1) * nx
            let g = b.gains + k * n * nx
            for r in 0 ..< n {
                var v = b.uff[k * n + r]
                for c in 0 ..< nx { v += g[r * nx + c] * (x[c] - (x0[c] + w * (x1[c] - x0[c]))) }
                u[r] = v
            }
        }
        if let followed { followedModelVersion = followed.modelVersion }
        return followed?.t0
    }

    /// Position-servo form of the plan at loop time `t`: the reference positions q_ref(t) into
    /// `position` and the feedforward torques u_ff[k] into `effort` (dof values each), for drivers
    /// whose servos close the position loop themselves. Same return as `control`.
    /// - Note: Real-time safe: no allocation, no locks.
    public func reference(at t: Double, position: UnsafeMutablePointer<Double>, effort: UnsafeMutablePointer<Double>) -> Double? {
        let n = dof, nx = 2 * dof
        let followed = atNode(t) { b, k, w in
            for i in 0 ..< n {
                let a = b.xRef[k * nx + i], c = b.xRef[(k + 1) * nx + i]
                position[i] = a + w * (c - a)
                effort[i] = b.uff[k * n + i]
            }
        }
        if let followed { followedModelVersion = followed.modelVersion }
        return followed?.t0
    }

    /// Whether a valid plan covers loop time `t` (what `control` and `reference` would follow).
    /// - Note: Real-time safe: no allocation, no locks.
    public func covers(_ t: Double) -> Bool { atNode(t) { _, _, _ in } != nil }

    /// The newest plan's start time and length (s), for status; nil without a plan.
    public func newest() -> (t0: Double, duration: Double, id: UInt64)? {
        let index = latest.load(ordering: .acquiring)
        guard index >= 0 else { return nil }
        let b = buffers[index]
        let s1 = b.sequence.load(ordering: .acquiring)
        let r = (b.t0, Double(b.count) * b.dt, b.id)
        atomicMemoryFence(ordering: .acquiring)
        guard s1 & 1 == 0, b.sequence.load(ordering: .relaxed) == s1 else { return nil }
        return r
    }
}
