import Control
import ControlProtocol
import ControlRuntime
import Learning
import ModelFiles
import NIOCore

/// `policy.load`: a safetensors MLP policy, read through `FileAccess` off the event loop,
/// checked against this robot and handed to the loop (adopted between ticks).
extension ControlService {
    func registerPolicyMethods() {
        register(ControlMethod.policyLoad, role: .operator) { (s, p, c) throws(RPCError) in try s.loadPolicy(p, c) }
    }

    /// Nothing changes when the file is refused.
    func loadPolicy(_ p: Params, _ c: Connection) throws(RPCError) -> EventLoopFuture<JSONValue> {
        let source = try FileAccess.source(FileParams(p), received: c.takeReceivedFile())
        guard let slot = access.policies else { throw .wrongMode("this daemon offers no policy mode", mode: currentMode) }
        let info = self.info
        let dataDirectory = access.configuration.dataDirectory
        let budget = (period: access.configuration.loop.period, fraction: access.configuration.policy.maxInferenceFraction)
        return onFileThread { () throws(RPCError) -> JSONValue in
            try Self.installPolicy(FileAccess.readSafeTensors(source, dataDirectory: dataDirectory), name: source.name, info: info, slot: slot,
                                   budget: budget).json
        }
    }

    /// `budget`: the loop period (s) and the fraction of it one forward pass may take, measured
    /// here on the loading thread's CPU clock.
    static func installPolicy(_ bytes: [UInt8], name path: String, info: DaemonInfo, slot: PolicySlot,
                              budget: (period: Double, fraction: Double)) throws(RPCError) -> PolicyLoadResult {
        let mlp: MLP, metadata: [String: String]
        do {
            (mlp, metadata) = try MLPFile.mlp(from: try SafeTensors.decode(bytes, name: path), name: path)
        } catch {
            throw .invalidParams("\(error)")
        }
        let n = info.jointNames.count
        let features: [PolicyFeature]
        do {
            features = try PolicyFeature.parse(metadata["observation"])
        } catch {
            throw .invalidParams("\(path): __metadata__ observation: \(error.description)")
        }
        let size = MLPPolicy.observationSize(features, dof: n)
        guard mlp.inputSize == size else {
            throw .invalidParams("\(path): the policy takes \(mlp.inputSize) inputs; its observation (\(features.map(\.rawValue).joined(separator: ", "))) is \(size) values for \(n) joints")
        }
        guard mlp.outputSize == n else {
            throw .invalidParams("\(path): the policy gives \(mlp.outputSize) actions; \(info.robot) has \(n) joints")
        }
        if let robot = metadata["robot"], robot != info.robot {
            throw .invalidParams("\(path): the policy is for robot \"\(robot)\", this daemon runs \"\(info.robot)\"")
        }
        do {
            try MLPFile.checkInferenceBudget(mlp, period: budget.period, fraction: budget.fraction, name: path)
        } catch {
            throw .invalidParams("\(error)")
        }
        slot.install(MLPPolicy(mlp: mlp, name: path, features: features, actionKind: slot.actionKind))
        return PolicyLoadResult(loaded: path, widths: mlp.widths, activation: mlp.activation.rawValue, observation: features.map(\.rawValue),
                                robot: metadata["robot"], provenance: metadata["provenance"])
    }

}
