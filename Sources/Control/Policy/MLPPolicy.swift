import Learning
import RobotInterface

/// A learned policy: an MLP (exported from PyTorch as safetensors) with its workspace and
/// observation/action buffers, all allocated before it reaches the control thread.
///
/// Observation: the blocks of `features` in order (default q then v: 2·dof inputs), as Float32.
/// Action: one value per joint, of `actionKind` (torque N·m, position goal rad, or velocity rad/s).
public final class MLPPolicy: Policy, @unchecked Sendable {
    public let mlp: MLP
    public let name: String
    public let features: [PolicyFeature]
    public let dof: Int
    public let actionKind: CommandMode
    public let needs: PolicyObservation.Needs
    /// `features` for the tick, without walking an Array there (`featureCount` entries).
    private let layout: InlineArray<5, PolicyFeature>
    private let featureCount: Int
    private var workspace: MLPWorkspace
    /// (inputSize) and (outputSize) Float32 buffers the network reads and writes.
    private let input: UnsafeMutablePointer<Float>
    private let output: UnsafeMutablePointer<Float>

    /// - Parameters:
    ///   - mlp: a network with `observationSize(features, dof: mlp.outputSize)` inputs and one
    ///     output per joint (checked by the caller, which names the file).
    ///   - actionKind: what its outputs are; the loop applies them only in that command mode.
    /// - Warning: Not real-time safe (allocates).
    public init(mlp: MLP, name: String, features: [PolicyFeature] = [.q, .v], actionKind: CommandMode) {
        precondition(features.count <= PolicyFeature.allCases.count, "each feature at most once")
        precondition(mlp.inputSize == Self.observationSize(features, dof: mlp.outputSize), "policy shape checked by the caller")
        self.mlp = mlp
        self.name = name
        self.features = features
        dof = mlp.outputSize
        self.actionKind = actionKind
        var layout = InlineArray<5, PolicyFeature>(repeating: .q)
        for (i, f) in features.enumerated() { layout[i] = f }
        self.layout = layout
        featureCount = features.count
        var needs: PolicyObservation.Needs = []
        if features.contains(.targetPosition) || features.contains(.eePosition) { needs.insert(.endEffectorPosition) }
        if features.contains(.targetPosition) || features.contains(.targetQ) { needs.insert(.target) }
        self.needs = needs
        workspace = mlp.makeWorkspace()
        input = .allocate(capacity: mlp.inputSize)
        input.initialize(repeating: 0, count: mlp.inputSize)
        output = .allocate(capacity: mlp.outputSize)
        output.initialize(repeating: 0, count: mlp.outputSize)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// Observation size of `features` for `dof` joints.
    public static func observationSize(_ features: [PolicyFeature], dof: Int) -> Int {
        features.reduce(0) { $0 + $1.size(dof: dof) }
    }

    /// The observation blocks in `features` order into the network's input, a forward pass, and
    /// its outputs into `action`. A target block without a target set observes the measured value
    /// (q for `target_q`, the end-effector position for `target_position`): "stay where you are".
    /// - Note: Real-time safe: no allocation, no locks.
    public func action(into action: UnsafeMutableBufferPointer<Double>, observation o: borrowing PolicyObservation) -> Bool {
        let n = dof
        let target = o.target
        var k = 0
        for f in 0 ..< featureCount {
            let feature = layout[f]
            switch feature {
            case .q: for i in 0 ..< n { input[k + i] = Float(o.position[i]) }
            case .v: for i in 0 ..< n { input[k + i] = Float(o.velocity[i]) }
            case .targetQ: for i in 0 ..< n { input[k + i] = Float(target.hasJoints ? target.joints[i] : o.position[i]) }
            case .targetPosition:
                for i in 0 ..< 3 { input[k + i] = Float(target.hasPosition ? target.position[i] : o.endEffectorPosition[i]) }
            case .eePosition: for i in 0 ..< 3 { input[k + i] = Float(o.endEffectorPosition[i]) }
            }
            k += feature.size(dof: n)
        }
        mlp.forward(&workspace, input: input, output: output)
        for i in 0 ..< n { action[i] = Double(output[i]) }
        return true
    }
}

/// One block of an MLP policy's observation vector, in the order the file's `observation`
/// metadata lists them (e.g. `q,v,target_position`).
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

    /// The features of a comma-separated list (`q,v` when `text` is nil).
    /// - Throws: a message naming the unknown or repeated entry.
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
