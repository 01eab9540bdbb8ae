import ControlProtocol
import ControlSocket
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `sun_path` is 108 bytes including the NUL: a 107-byte path binds and connects, a 108-byte one
/// is refused before the kernel could cut it short.
@Suite struct UnixSocketAddressTests {
    /// A path of exactly `length` bytes inside a fresh directory under /tmp.
    static func path(ofLength length: Int) throws -> (directory: String, path: String) {
        var template = Array("/tmp/usa-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw POSIXError(.EIO) }
        let directory = String(cString: dir)
        let name = String(repeating: "s", count: length - directory.utf8.count - 1)
        return (directory, directory + "/" + name)
    }

    @Test func longestPathBindsAndAcceptsAConnection() throws {
        #expect(UnixSocketAddress.maxPathBytes == 107)
        #expect(UnixSocketAddress.maxPathBytes == SocketPath.maxBytes, "the configuration checks paths against ControlProtocol's number")
        let (directory, path) = try Self.path(ofLength: 107)
        defer { unlink(path); rmdir(directory) }
        let address = try UnixSocketAddress(path: path)
        let server = UnixSocketAddress.streamSocket()
        defer { close(server) }
        try #require(address.bind(server) == 0, "bind: \(String(cString: strerror(errno)))")
        try #require(listen(server, 1) == 0)
        #expect(FileManager.default.fileExists(atPath: path), "the socket file must carry the whole path")

        let client = UnixSocketAddress.streamSocket()
        defer { close(client) }
        #expect(address.connect(client) == 0, "connect: \(String(cString: strerror(errno)))")
        #expect(fcntl(client, F_GETFD) & FD_CLOEXEC != 0, "sockets are close-on-exec")
    }

    @Test func longerPathsAndEmptyOnesAreRefused() throws {
        let tooLong = "/tmp/" + String(repeating: "x", count: 103)
        #expect(tooLong.utf8.count == 108)
        #expect(throws: UnixSocketAddress.PathError.tooLong(path: tooLong, bytes: 108)) { try UnixSocketAddress(path: tooLong) }
        #expect(throws: UnixSocketAddress.PathError.empty) { try UnixSocketAddress(path: "") }
        #expect(throws: UnixSocketAddress.PathError.containsNUL(path: "/tmp/a\0b")) { try UnixSocketAddress(path: "/tmp/a\0b") }
    }
}
