import ControlPorts
import ControlProtocol
import NIOCore

/// `record.*` and `dataset.*`: demonstration recording behind the `RecordingControl` port.
/// Every call touches SQLite, so it runs on the file thread pool, never on the event loop.
/// Observers may list episodes; starting, stopping, discarding and deleting need an operator.
extension ControlService {
    func registerRecordingMethods() {
        register(ControlMethod.recordStart, role: .operator) { (s, p, c) throws(RPCError) in
            let params = try RecordStartParams(p)
            let recording = try s.recorder()
            let uid = UInt32(c.uid)
            return s.onFileThread { () throws(RPCError) -> JSONValue in try recording.start(params, operatorUID: uid).json }
        }
        register(ControlMethod.recordStop, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            let recording = try s.recorder()
            return s.onFileThread { () throws(RPCError) -> JSONValue in try recording.stop().json }
        }
        register(ControlMethod.recordDiscard, role: .operator) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            let recording = try s.recorder()
            return s.onFileThread { () throws(RPCError) -> JSONValue in try recording.discard().json }
        }
        register(ControlMethod.datasetList, role: .observer) { (s, p, _) throws(RPCError) in
            try p.allowOnly([])
            let recording = try s.recorder()
            return s.onFileThread { () throws(RPCError) -> JSONValue in try recording.list().json }
        }
        register(ControlMethod.datasetDelete, role: .operator) { (s, p, _) throws(RPCError) in
            let params = try DatasetDeleteParams(p)
            let recording = try s.recorder()
            return s.onFileThread { () throws(RPCError) -> JSONValue in try recording.delete(params).json }
        }
    }

    func recorder() throws(RPCError) -> RecordingControl {
        guard let r = access.recording else {
            throw .wrongMode("this daemon does not record", mode: currentMode)
        }
        return r
    }
}
