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
    /// The daemon answered the request with a JSON-RPC error.
    case rpc(method: String, code: Int, message: String, data: String?)
    /// No reply (or notification) within the timeout.
    case timeout(method: String, seconds: Double)
    /// The daemon sent something that is not valid JSON-RPC 2.0.
    case protocolError(String)

    /// The daemon's JSON-RPC error code for "the peer's role may not call this method".
    public static let notPermittedCode = -32001
}
