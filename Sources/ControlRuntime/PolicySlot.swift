import Control
import RobotInterface
import Synchronization

/// Hands policies to the control thread without ever freeing memory on it: `install` (any
/// non-real-time thread) parks a new policy; the tick adopts it between ticks and parks the one
/// it replaces in `retired`, which the next `install` or `collect` releases off the control thread.
/// Targets for target-conditioned policies come in through a seqlock the tick reads without
/// waiting (it keeps the last consistent copy when a write is in progress).
///
/// Every install gets the next version (1, 2, …; 0 = no policy), which the tick records in each
/// `Transition` it commands with that policy.
public final class PolicySlot: @unchecked Sendable {
    /// A policy with the version its install got; immutable, reference-counted across threads.
    final class Installed {
        let policy: any Policy
        let version: UInt32
        init(_ policy: any Policy, version: UInt32) {
            self.policy = policy
            self.version = version
        }
    }

    public let dof: Int
    /// The action kind the loop applies (its driver's command mode); `install` takes only
    /// policies of this kind.
    public let actionKind: CommandMode
    private let pending = Atomic<UnsafeMutableRawPointer?>(nil)
    private let retired = Atomic<UnsafeMutableRawPointer?>(nil)
    /// Owned by the control thread (+1 held in the pointer).
    private var current: UnsafeMutableRawPointer?
    /// The newest install's name and version, and the last version handed out.
    private let newest = Mutex<(name: String?, version: UInt32)>((nil, 0))
    /// The newest installed policy itself, for whoever feeds it (a teleop source's poster).
    private let newestPolicy = Mutex<(any Policy)?>(nil)
    private let targets = SeqLock(PolicyTarget())
    /// Serialises target writers (the seqlock has one writer at a time).
    private let targetWriter = Mutex<Void>(())
    /// The control thread's copy of the newest target.
    private var target = PolicyTarget()

    public init(dof: Int, actionKind: CommandMode = .torque) {
        precondition(dof <= transitionMaxJoints, "up to \(transitionMaxJoints) joints")
        self.dof = dof
        self.actionKind = actionKind
    }

    deinit {
        for p in [pending.exchange(nil, ordering: .acquiring), retired.exchange(nil, ordering: .acquiring), current] {
            if let p { Unmanaged<Installed>.fromOpaque(p).release() }
        }
    }

    /// Parks `policy` for the tick, which adopts it between two ticks.
    /// - Returns: the version it was given (recorded in the transitions it commands).
    /// - Warning: Not real-time safe.
    @discardableResult
    public func install(_ policy: any Policy) -> UInt32 {
        precondition(policy.dof == dof && policy.actionKind == actionKind, "policy shape and action kind checked by the caller")
        collect()
        let version = newest.withLock { n -> UInt32 in
            n.version &+= 1
            n.name = policy.name
            return n.version
        }
        newestPolicy.withLock { $0 = policy }
        let p = Unmanaged.passRetained(Installed(policy, version: version)).toOpaque()
        if let old = pending.exchange(p, ordering: .acquiringAndReleasing) {
            Unmanaged<Installed>.fromOpaque(old).release()
        }
        return version
    }

    /// Releases a policy the tick has replaced. - Warning: Not real-time safe.
    public func collect() {
        if let r = retired.exchange(nil, ordering: .acquiring) { Unmanaged<Installed>.fromOpaque(r).release() }
    }

    /// Name of the newest installed policy (any thread).
    public var installedName: String? { newest.withLock { $0.name } }

    /// The newest installed policy, nil before the first (any thread).
    public var installedPolicy: (any Policy)? { newestPolicy.withLock { $0 } }

    /// Version of the newest installed policy, 0 before the first (any thread).
    public var installedVersion: UInt32 { newest.withLock { $0.version } }

    /// The newest installed policy's name and version, read together (two reads could straddle
    /// an install); nil before the first install. Any thread.
    public var installed: (name: String, version: UInt32)? {
        newest.withLock { n in n.name.map { ($0, n.version) } }
    }

    /// Sets (or with nils clears) the target policies observe: joint positions (dof values)
    /// and/or an end-effector position (3 values, m). Any non-real-time thread.
    public func setTarget(joints: [Double]?, position: [Double]?) {
        precondition(joints.map { $0.count == dof } ?? true && position.map { $0.count == 3 } ?? true, "target sizes checked by the caller")
        var t = PolicyTarget()
        if let joints {
            t.hasJoints = true
            for i in 0 ..< dof { t.joints[i] = joints[i] }
        }
        if let position {
            t.hasPosition = true
            for i in 0 ..< 3 { t.position[i] = position[i] }
        }
        targetWriter.withLock { _ in targets.write(t) }
    }

    /// The newest target (any thread).
    public var currentTarget: PolicyTarget { targets.read() }

    /// Tick side: adopts a pending policy (if the previous one has been collected).
    /// - Note: Real-time safe: no allocation, no locks, never releases the last reference.
    @inline(__always)
    private func adopt() {
        guard pending.load(ordering: .relaxed) != nil, retired.load(ordering: .acquiring) == nil,
              let p = pending.exchange(nil, ordering: .acquiring) else { return }
        if let old = current { retired.store(old, ordering: .releasing) }
        current = p
    }

    var hasPolicy: Bool { current != nil || pending.load(ordering: .acquiring) != nil }

    /// The adopted policy (control thread).
    @inline(__always)
    private var active: Installed? {
        guard let p = current else { return nil }
        return Unmanaged<Installed>.fromOpaque(p).takeUnretainedValue()
    }

    /// Tick side, once per tick before `evaluate`: adopts a pending policy and says which
    /// optional observation parts it reads (so the tick computes only those); nil without a
    /// policy. The policy it adopts is the one `evaluate` runs.
    /// - Note: Real-time safe: no allocation, no locks.
    func prepare() -> PolicyObservation.Needs? {
        adopt()
        return active?.policy.needs
    }

    /// Runs the policy `prepare` adopted on `observation` (its target filled here from the
    /// newest one when the policy reads it) into `action` (dof values).
    /// - Returns: the policy's version and whether a person operates it, or nil when there is
    ///   no policy or it had no action this tick.
    /// - Note: Real-time safe: no allocation, no locks.
    func evaluate(_ observation: inout PolicyObservation, into action: UnsafeMutableBufferPointer<Double>)
        -> (version: UInt32, operatedByPerson: Bool)? {
        guard let installed = active else { return nil }
        let policy = installed.policy
        if policy.needs.contains(.target) {
            if let t = targets.tryRead() { target = t }
            observation.target = target
        }
        guard policy.action(into: action, observation: observation) else { return nil }
        return (installed.version, policy.isOperatedByPerson)
    }
}
