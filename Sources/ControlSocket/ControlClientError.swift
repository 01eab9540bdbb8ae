import ControlProtocol

/// Everything that can go wrong talking to robotd over the control socket.
///
/// `robotctl` maps each case to its exit code and message; see `Robotctl`'s discussion.
public enum ControlClientError: Error {
    /// The socket path cannot be used at all (empty, longer than `sun_path`), or the request
    /// cannot be encoded.
    case usage(String)
    /// Nothing answers at the path: missing file, refused, connect timeout.
    case unreachable(path: String, reason: String)
    /// Connected, but the daemon hung up (or the connection broke) before the reply.
    case connectionLost(path: String, reason: String)
    /// EACCES/EPERM when connecting.
    case permissionDenied(path: String, reason: String)
    /// The daemon answered the request with a JSON-RPC error (the protocol's one error type).
    case rpc(method: String, RPCError)
    /// No reply (or notification) within the timeout.
    case timeout(method: String, seconds: Double)
    /// The daemon sent something that is not valid JSON-RPC 2.0.
    case protocolError(String)
}
