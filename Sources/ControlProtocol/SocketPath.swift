/// The control socket's path limit, a fact of the protocol's transport that the configuration
/// checks without linking the socket code.
public enum SocketPath {
    /// Longest socket path in bytes of UTF-8: `sun_path` of `struct sockaddr_un` is 108 bytes on
    /// Linux, including the terminating NUL. ControlSocket's `UnixSocketAddress.maxPathBytes`
    /// derives the same number from the C struct; a test keeps them equal.
    public static let maxBytes = 107
}
