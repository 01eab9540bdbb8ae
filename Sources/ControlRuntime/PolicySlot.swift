import Learning
import Synchronization

/// One block of a policy's observation vector, in the order the file's `observation` metadata
/// lists them (e.g. `q,v,target_position`).
public enum PolicyFeature: String, Sendable, CaseIterable {
    /// Measured joint positions (rad or m), dof values.
    case q
    /// Measured joint velocities, dof values.
    case v
    /// The joint target of `target.set {"q": …}` (dof values); the measured q while none is set.
    case targetQ = "target_q"
    /// The end-effector target of `target.set {"position": …}` (m, base frame, 3 values); the
    /// measured end-effector position while none is set.
    case targetPosition = "target_position"
    /// The measured end-effector position (m, base frame), 3 values.
    case eePosition = "ee_position"

    public func size(dof: Int) -> Int {
        switch self {
        case .q, .v, .targetQ: dof
        case .targetPosition, .eePosition: 3
        }
    }

    /// The features of a comma-separated list (`q,v` when `text` is nil); throws a message
    /// naming the unknown or repeated entry.
    public static func parse(_ text: String?) throws(PolicyFeatureError) -> [PolicyFeature] {
        guard let text else { return [.q, .v] }
        var features: [PolicyFeature] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = String(part.filter { $0 != " " })
            guard let f = PolicyFeature(rawValue: name) else {
                throw PolicyFeatureError(description: "unknown observation feature \"\(name)\" (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard !features.contains(f) else { throw PolicyFeatureError(description: "observation feature \"\(name)\" is listed twice") }
            features.append(f)
        }
        return features
    }
}

public struct PolicyFeatureError: Error, CustomStringConvertible {
    public var description: String
}

/// What the policy may be asked to reach (set from the socket, read by the tick).
public struct PolicyTarget: Sendable, BitwiseCopyable {
    public var hasJoints = false
    public var joints = InlineArray<8, Double>(repeating: 0)
    public var hasPosition = false
    public var position = InlineArray<3, Double>(repeating: 0)
    public init() {}
}

/// A learned policy ready for the tick: the network, its workspace and observation/action
/// buffers, all allocated before it reaches the control thread.
///
/// Observation: the blocks of `features` in order (default q then v: 2·dof inputs). Action: one
/// value per joint in the driver's command mode (torque N·m, position goal rad, or velocity rad/s).
public final class PolicyBox: @unchecked Sendable {
    public let mlp: MLP
    public let name: String
    public let features: [PolicyFeature]
    /// `features` for the tick, without walking an Array there (`featureCount` entries).
    let layout: InlineArray<5, PolicyFeature>
    let featureCount: Int
    /// Whether the observation needs the end-effector position (forward kinematics in the tick)
    /// or the target (a seqlock read in the tick).
    let needsEndEffector: Bool
    let needsTarget: Bool
    var workspace: MLPWorkspace
    let observation: UnsafeMutablePointer<Float>
    let action: UnsafeMutablePointer<Float>

    /// - Warning: Not real-time safe (allocates).
    public init(mlp: MLP, name: String, features: [PolicyFeature] = [.q, .v]) {
        self.mlp = mlp
        self.name = name
        precondition(features.count <= PolicyFeature.allCases.count, "each feature at most once")
        self.features = features
        var layout = InlineArray<5, PolicyFeature>(repeating: .q)
        for (i, f) in features.enumerated() { layout[i] = f }
        self.layout = layout
        featureCount = features.count
        needsEndEffector = features.contains(.targetPosition) || features.contains(.eePosition)
        needsTarget = features.contains(.targetPosition) || features.contains(.targetQ)
        workspace = mlp.makeWorkspace()
        observation = .allocate(capacity: mlp.inputSize)
        observation.initialize(repeating: 0, count: mlp.inputSize)
        action = .allocate(capacity: mlp.outputSize)
        action.initialize(repeating: 0, count: mlp.outputSize)
    }

    /// Observation size of `features` for `dof` joints.
    public static func observationSize(_ features: [PolicyFeature], dof: Int) -> Int {
        features.reduce(0) { $0 + $1.size(dof: dof) }
    }

    deinit {
        observation.deallocate()
        action.deallocate()
    }
}

/// Hands policies to the control thread without ever freeing memory on it: `install` (any
/// non-real-time thread) parks a new box; the tick adopts it between ticks and parks the one it
/// replaces in `retired`, which the next `install` or `collect` releases off the control thread.
/// Targets for target-conditioned policies come in through a seqlock the tick reads without
/// waiting (it keeps the last consistent copy when a write is in progress).
public final class PolicySlot: @unchecked Sendable {
    public let dof: Int
    private let pending = Atomic<UnsafeMutableRawPointer?>(nil)
    private let retired = Atomic<UnsafeMutableRawPointer?>(nil)
    /// Owned by the control thread (+1 held in the pointer).
    private var current: UnsafeMutableRawPointer?
    private let currentName = Mutex<String?>(nil)
    private let targets = SeqLock(PolicyTarget())
    /// Serialises target writers (the seqlock has one writer at a time).
    private let targetWriter = Mutex<Void>(())
    /// The control thread's copy of the newest target.
    private var target = PolicyTarget()

    public init(dof: Int) {
        precondition(dof <= transitionMaxJoints, "up to \(transitionMaxJoints) joints")
        self.dof = dof
    }

    deinit {
        for p in [pending.exchange(nil, ordering: .acquiring), retired.exchange(nil, ordering: .acquiring), current] {
            if let p { Unmanaged<PolicyBox>.fromOpaque(p).release() }
        }
    }

    /// Parks `box` for the tick. - Warning: Not real-time safe.
    public func install(_ box: PolicyBox) {
        precondition(box.mlp.inputSize == PolicyBox.observationSize(box.features, dof: dof) && box.mlp.outputSize == dof,
                     "policy shape checked by the caller")
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
    func adopt() {
        guard pending.load(ordering: .relaxed) != nil, retired.load(ordering: .acquiring) == nil,
              let p = pending.exchange(nil, ordering: .acquiring) else { return }
        if let old = current { retired.store(old, ordering: .releasing) }
        current = p
    }

    var hasPolicy: Bool { current != nil || pending.load(ordering: .acquiring) != nil }

    /// Tick side, once per tick before `evaluate`: adopts a pending policy and says whether its
    /// observation needs the end-effector position (so the tick computes it only then). The
    /// policy it adopts is the one `evaluate` runs.
    /// - Note: Real-time safe: no allocation, no locks.
    func prepare() -> Bool {
        adopt()
        guard let p = current else { return false }
        return Unmanaged<PolicyBox>.fromOpaque(p).takeUnretainedValue().needsEndEffector
    }

    /// Runs the policy `prepare` adopted on the measured state (q, v, end-effector position `ee`,
    /// read only when `prepare` said so) and the newest target; the action into `out` (dof
    /// values). False without one.
    /// - Note: Real-time safe: no allocation, no locks.
    func evaluate(q: UnsafePointer<Double>, v: UnsafePointer<Double>, ee: SIMD3<Double>,
                  into out: UnsafeMutablePointer<Double>) -> Bool {
        guard let p = current else { return false }
        let box = Unmanaged<PolicyBox>.fromOpaque(p).takeUnretainedValue()
        if box.needsTarget, let t = targets.tryRead() { target = t }
        var o = 0
        for k in 0 ..< box.featureCount {
            let f = box.layout[k]
            switch f {
            case .q: for i in 0 ..< dof { box.observation[o + i] = Float(q[i]) }
            case .v: for i in 0 ..< dof { box.observation[o + i] = Float(v[i]) }
            case .targetQ: for i in 0 ..< dof { box.observation[o + i] = Float(target.hasJoints ? target.joints[i] : q[i]) }
            case .targetPosition: for i in 0 ..< 3 { box.observation[o + i] = Float(target.hasPosition ? target.position[i] : ee[i]) }
            case .eePosition: for i in 0 ..< 3 { box.observation[o + i] = Float(ee[i]) }
            }
            o += f.size(dof: dof)
        }
        box.mlp.forward(&box.workspace, input: box.observation, output: box.action)
        for i in 0 ..< dof { out[i] = Double(box.action[i]) }
        return true
    }
}
