import ControlProtocol

/// Demonstration recording (`record.*`, `dataset.*`), implemented by the daemon's episode
/// recorder over the episode store. The server runs every call on its file thread pool (they
/// touch SQLite), never on the event loop.
///
/// Errors are protocol errors: *wrong mode* for a call out of order (a second `start`, `stop`
/// while not recording, deleting the episode being recorded), *invalid params* for an unknown
/// episode or an fps above the loop's rate, *internal error* naming the store's file and cause
/// (disk full, unwritable, corrupt).
public protocol RecordingControl: AnyObject, Sendable {
    /// Begins an episode; `operatorUID` is the peer's uid (SO_PEERCRED), kept in its provenance.
    func start(_ params: RecordStartParams, operatorUID: UInt32) throws(RPCError) -> RecordingStatusResult
    /// Ends the recording; every frame up to the call is stored and the episode is `complete`.
    func stop() throws(RPCError) -> RecordingStatusResult
    /// Ends the recording and deletes its episode.
    func discard() throws(RPCError) -> RecordingStatusResult
    /// The recorder's state (cheap: no file I/O; `status` calls it on the event loop).
    func status() -> RecordingStatusResult
    func list() throws(RPCError) -> DatasetListResult
    func delete(_ params: DatasetDeleteParams) throws(RPCError) -> DatasetDeleteResult
}
