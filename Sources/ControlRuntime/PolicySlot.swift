import Learning
import Synchronization

/// A learned policy ready for the tick: the network, its workspace and observation/action
/// buffers, all allocated before it reaches the control thread.
///
/// Observation (in order): the measured joint positions q (dof values), then the joint
/// velocities v (dof values) — 2·dof inputs. Action: one value per joint in the driver's command
/// mode (torque N·m, position goal rad, or velocity rad/s).
public final class PolicyBox: @unchecked Sendable {
    public let mlp: MLP
    public let name: String
    var workspace: MLPWorkspace
    let observation: UnsafeMutablePointer<Float>
    let action: UnsafeMutablePointer<Float>

    /// - Warning: Not real-time safe (allocates).
    public init(mlp: MLP, name: String) {
        self.mlp = mlp
        self.name = name
        workspace = mlp.makeWorkspace()
        observation = .allocate(capacity: mlp.inputSize)
        observation.initialize(repeating: 0, count: mlp.inputSize)
        action = .allocate(capacity: mlp.outputSize)
        action.initialize(repeating: 0, count: mlp.outputSize)
    }

    deinit {
        observation.deallocate()
        action.deallocate()
    }
}

/// Hands policies to the control thread without ever freeing memory on it: `install` (any
/// non-real-time thread) parks a new box; the tick adopts it between ticks and parks the one it
/// replaces in `retired`, which the next `install` or `collect` releases off the control thread.
public final class PolicySlot: @unchecked Sendable {
    public let dof: Int
    private let pending = Atomic<UnsafeMutableRawPointer?>(nil)
    private let retired = Atomic<UnsafeMutableRawPointer?>(nil)
    /// Owned by the control thread (+1 held in the pointer).
    private var current: UnsafeMutableRawPointer?
    private let currentName = Mutex<String?>(nil)

    public init(dof: Int) { self.dof = dof }

    deinit {
        for p in [pending.exchange(nil, ordering: .acquiring), retired.exchange(nil, ordering: .acquiring), current] {
            if let p { Unmanaged<PolicyBox>.fromOpaque(p).release() }
        }
    }

    /// Observation size a policy for this slot must take.
    public var observationSize: Int { 2 * dof }

    /// Parks `box` for the tick. - Warning: Not real-time safe.
    public func install(_ box: PolicyBox) {
        precondition(box.mlp.inputSize == observationSize && box.mlp.outputSize == dof, "policy shape checked by the caller")
        collect()
        let p = Unmanaged.passRetained(box).toOpaque()
        if let old = pending.exchange(p, ordering: .acquiringAndReleasing) {
            Unmanaged<PolicyBox>.fromOpaque(old).release()
        }
        currentName.withLock { $0 = box.name }
    }

    /// Releases a policy the tick has replaced. - Warning: Not real-time safe.
    public func collect() {
        if let r = retired.exchange(nil, ordering: .acquiring) { Unmanaged<PolicyBox>.fromOpaque(r).release() }
    }

    /// Name of the newest installed policy (any thread).
    public var installedName: String? { currentName.withLock { $0 } }

    /// Tick side: adopts a pending policy (if the previous one has been collected).
    /// - Note: Real-time safe: no allocation, no locks, never releases the last reference.
    @inline(__always)
    func adopt() {
        guard pending.load(ordering: .relaxed) != nil, retired.load(ordering: .acquiring) == nil,
              let p = pending.exchange(nil, ordering: .acquiring) else { return }
        if let old = current { retired.store(old, ordering: .releasing) }
        current = p
    }

    var hasPolicy: Bool { current != nil || pending.load(ordering: .acquiring) != nil }

    /// Runs the current policy on (q, v); the action into `out` (dof values). False without one.
    /// - Note: Real-time safe: no allocation, no locks.
    func evaluate(q: UnsafePointer<Double>, v: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>) -> Bool {
        adopt()
        guard let p = current else { return false }
        let box = Unmanaged<PolicyBox>.fromOpaque(p).takeUnretainedValue()
        for i in 0 ..< dof {
            box.observation[i] = Float(q[i])
            box.observation[dof + i] = Float(v[i])
        }
        box.mlp.forward(&box.workspace, input: box.observation, output: box.action)
        for i in 0 ..< dof { out[i] = Double(box.action[i]) }
        return true
    }
}
