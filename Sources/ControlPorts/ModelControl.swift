import ControlProtocol
import ModelFiles

/// The learned-model side of the daemon (`model.*`), implemented by its learner thread. Returns
/// typed values; the server encodes them and does the file I/O (`FileAccess`).
public protocol ModelControl: AnyObject, Sendable {
    /// Starts a training round now (asynchronously).
    func train()
    /// Back to the previous model version; nil when there is none (version 0, the rigid-body model).
    func rollback() -> ModelRollbackResult?
    /// Back to the rigid-body model alone (asynchronously).
    func resetModel()
    func modelStatus() -> ModelStatus
    /// The published model as safetensors bytes, its ensemble size and version.
    /// - Throws: an error whose description says why there is none.
    func encodedModel() throws -> EncodedModel
    /// Checks a decoded model file and queues it as the next version; `name` for messages.
    /// - Throws: an error whose description names the file and what does not fit.
    func load(file: SafeTensors.File, name: String) throws -> ModelLoadResult
}

/// A model ready to be written: the safetensors bytes, the ensemble size and the version.
public struct EncodedModel: Sendable {
    public var bytes: [UInt8]
    public var members: Int
    public var version: Int

    public init(bytes: [UInt8], members: Int, version: Int) {
        self.bytes = bytes
        self.members = members
        self.version = version
    }
}
