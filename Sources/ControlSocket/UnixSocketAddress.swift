import ControlProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A filesystem path checked to fit a `sockaddr_un`, the one place robotd, robotctl, the
/// benchmarks and the tests build a Unix socket address.
///
/// `sun_path` is 108 bytes on Linux including the terminating NUL, so a path holds at most
/// 107 bytes of UTF-8. A longer path is refused: the kernel would silently cut it and bind or
/// connect to a different file.
public struct UnixSocketAddress: Sendable, Hashable {
    /// Why a path cannot be a Unix socket address.
    public enum PathError: Error, Hashable, CustomStringConvertible {
        case empty
        case tooLong(path: String, bytes: Int)
        /// A NUL byte inside the path would end it early.
        case containsNUL(path: String)

        public var description: String {
            switch self {
            case .empty: "the socket path is empty"
            case let .tooLong(path, _): "socket path is longer than \(UnixSocketAddress.maxPathBytes) bytes: \(path)"
            case let .containsNUL(path): "socket path contains a NUL byte: \(path.debugDescription)"
            }
        }
    }

    /// Longest path in bytes: `MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1`, the
    /// number ControlProtocol states as `SocketPath.maxBytes` for the configuration (a test
    /// keeps the two equal).
    public static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    public let path: String

    /// - Throws: `PathError` when `path` is empty, holds a NUL or exceeds `maxPathBytes`.
    public init(path: String) throws(PathError) {
        let bytes = path.utf8.count
        guard bytes > 0 else { throw .empty }
        guard bytes <= Self.maxPathBytes else { throw .tooLong(path: path, bytes: bytes) }
        guard !path.utf8.contains(0) else { throw .containsNUL(path: path) }
        self.path = path
    }

    /// Calls `body` with the address as a `sockaddr` pointer and its length.
    public func withSockaddr<R, E: Error>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(E) -> R) throws(E) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (p) throws(E) -> R in
                try body(p, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    /// Binds `descriptor` to this address; 0 on success, -1 with `errno` set otherwise.
    ///
    /// The corresponding C function is `bind`.
    public func bind(_ descriptor: Int32) -> Int32 {
        withSockaddr { address, length in system_bind(descriptor, address, length) }
    }

    /// Connects `descriptor` to this address, retrying on `EINTR`; 0 on success, -1 with `errno`
    /// set otherwise.
    ///
    /// The corresponding C function is `connect`.
    public func connect(_ descriptor: Int32) -> Int32 {
        withSockaddr { address, length in
            var result: Int32
            repeat {
                result = system_connect(descriptor, address, length)
            } while result != 0 && errno == EINTR
            return result
        }
    }

    /// A new Unix stream socket that is closed on exec; -1 with `errno` set on failure.
    ///
    /// The corresponding C function is `socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)`.
    public static func streamSocket() -> Int32 {
        #if canImport(Glibc)
        socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
    }
}

private func system_bind(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    bind(fd, address, length)
}

private func system_connect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}
