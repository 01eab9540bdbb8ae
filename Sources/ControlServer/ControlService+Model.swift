import ControlPorts
import ControlProtocol
import ModelFiles
import NIOCore

/// `model.*`: the learned dynamics model behind the `ModelControl` port. Files go through
/// `FileAccess` on the file thread pool, never on the event loop.
extension ControlService {
    func registerModelMethods() {
        register(ControlMethod.modelStatus, role: .observer, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            return try s.learner().modelStatus().json
        })
        register(ControlMethod.modelTrain, role: .operator, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            try s.learner().train()
            return ["requested": true]
        })
        register(ControlMethod.modelRollback, role: .operator, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            guard let rolled = try s.learner().rollback() else {
                throw RPCError(code: .wrongMode, message: "nothing to roll back: the model is version 0 (the rigid-body model alone)",
                               data: ["version": 0])
            }
            return rolled.json
        })
        register(ControlMethod.modelSave, role: .operator) { (s, p, c) throws(RPCError) in try s.saveModel(p, c) }
        register(ControlMethod.modelLoad, role: .operator) { (s, p, c) throws(RPCError) in try s.loadModel(p, c) }
        register(ControlMethod.modelReset, role: .operator, sync: { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            try s.learner().resetModel()
            return ["requested": true]
        })
    }

    func learner() throws(RPCError) -> ModelControl {
        guard let m = access.models else {
            throw .wrongMode("learning is off (learning.enabled in the configuration)", mode: currentMode)
        }
        return m
    }

    func saveModel(_ p: Params, _ c: Connection) throws(RPCError) -> EventLoopFuture<JSONValue> {
        let source = try FileAccess.source(FileParams(p), received: c.takeReceivedFile())
        let models = try learner()
        let dataDirectory = access.configuration.dataDirectory
        return onFileThread { () throws(RPCError) -> JSONValue in
            // The target is checked before the model is encoded, so the refusal names the
            // target whatever the learner's state.
            try FileAccess.checkWritable(source, dataDirectory: dataDirectory)
            let encoded: EncodedModel
            do { encoded = try models.encodedModel() } catch { throw .invalidParams("\(error)") }
            try FileAccess.write(encoded.bytes, to: source, dataDirectory: dataDirectory)
            return ModelSaveResult(saved: source.name, members: encoded.members, version: encoded.version).json
        }
    }

    func loadModel(_ p: Params, _ c: Connection) throws(RPCError) -> EventLoopFuture<JSONValue> {
        let source = try FileAccess.source(FileParams(p), received: c.takeReceivedFile())
        let models = try learner()
        let dataDirectory = access.configuration.dataDirectory
        return onFileThread { () throws(RPCError) -> JSONValue in
            let bytes = try FileAccess.readSafeTensors(source, dataDirectory: dataDirectory)
            let file: SafeTensors.File
            do { file = try SafeTensors.decode(bytes, name: source.name) } catch { throw .invalidParams("\(error)") }
            do { return try models.load(file: file, name: source.name).json } catch { throw .invalidParams("\(error)") }
        }
    }
}
